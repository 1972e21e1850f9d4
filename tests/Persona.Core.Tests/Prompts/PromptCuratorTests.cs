using System.Text.Json;
using Persona.Prompts;
using Xunit.Abstractions;

namespace Persona.Core.Tests.Prompts;

public class PromptCuratorTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = TempDir.Create();
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Crafted =
    [
        "Hello",                                               // 1: no question mark
        "Why?",                                                // 2: too short
        "Is it ever right to lie to a friend?",                // 3: kept
        "Is it ever RIGHT to lie to a friend??",               // 4: duplicate of 3 (normalised text)
        "To a friend, is it ever right to lie?",               // 5: duplicate of 3 (token set)
        "Should the death penalty be abolished everywhere?",   // 6: kept
        "What is the boiling point of water at sea level?",    // 7: classifier says no
        "Is café culture better than pub culture in Europe?",  // 8: kept
        "Is cafe culture better than pub-culture in Europe?",  // 9: duplicate of 8 (diacritics, punctuation)
        "Can you tell me something nice please?",              // 10: classifier answers garbage
    ];

    private static IReadOnlyList<SourcePrompt> CraftedPrompts() =>
        Crafted.Select((t, i) => new SourcePrompt($"c{i + 1}", t, i + 1)).ToList();

    private static FakeChatClient CraftedClassifier() => new(q => q switch
    {
        _ when q.StartsWith("What is the boiling") => """{"controversial": false, "reason": "factual"}""",
        _ when q.StartsWith("Can you tell") => "I'd rather not say.",
        _ => "```json\n{\"controversial\": true, \"reason\": \"values differ\"}\n```",
    });

    [Fact]
    public async Task Filters_run_in_order_and_report_counts()
    {
        var chat = CraftedClassifier();
        var result = await new PromptCurator(chat, new HashEmbedder()).CurateAsync(CraftedPrompts(), "crafted");
        var f = result.Report.Filters;
        Assert.Equal(
            [
                new FilterCount(PromptCurator.FilterQuestionMark, 10, 9),
                new FilterCount(PromptCurator.FilterMinWords, 9, 8),
                new FilterCount(PromptCurator.FilterDuplicateText, 8, 6),
                new FilterCount(PromptCurator.FilterDuplicateTokenSet, 6, 5),
                new FilterCount(PromptCurator.FilterControversial, 5, 3),
            ], f);
        Assert.Equal(5, chat.Calls);
        Assert.Equal(new ClassifierReport(5, 3, 1, 1), result.Report.Classifier);

        // Only the kept prompts are the curated set; the classifier's rejects are rejections.
        Assert.Equal(["c3", "c6", "c8"], result.Prompts.Select(p => p.Id));
        var byId = result.Prompts.ToDictionary(p => p.Id);
        Assert.All(new[] { "c3", "c6", "c8" }, id =>
        {
            Assert.True(byId[id].Controversial);
            Assert.Equal("values differ", byId[id].Reason);
            Assert.NotNull(byId[id].Cluster);
            Assert.Null(byId[id].Raw);
        });

        Assert.Contains(new PromptRejection("c1", PromptCurator.FilterQuestionMark), result.Rejections);
        Assert.Contains(new PromptRejection("c2", PromptCurator.FilterMinWords), result.Rejections);
        Assert.Contains(new PromptRejection("c4", PromptCurator.FilterDuplicateText, "c3"), result.Rejections);
        Assert.Contains(new PromptRejection("c9", PromptCurator.FilterDuplicateText, "c8"), result.Rejections);
        Assert.Contains(new PromptRejection("c5", PromptCurator.FilterDuplicateTokenSet, "c3"), result.Rejections);
        Assert.Contains(new PromptRejection("c7", PromptCurator.FilterControversial, null, false, "factual"), result.Rejections);
        Assert.Contains(new PromptRejection("c10", PromptCurator.FilterControversial, null, null, null, "I'd rather not say."), result.Rejections);
        Assert.Equal(7, result.Rejections.Count);

        // Three kept prompts are fewer than any default k candidate: one topic, said so.
        Assert.Equal(1, result.Report.Topics.K);
        Assert.Contains("too few", result.Report.Topics.Criterion);
    }

    [Fact]
    public async Task Exact_mode_keeps_token_set_duplicates()
    {
        var result = await new PromptCurator(CraftedClassifier(), new HashEmbedder(), new PromptCurationOptions { NearDuplicates = NearDuplicateMode.NormalizedText })
            .CurateAsync(CraftedPrompts(), "crafted");
        Assert.DoesNotContain(result.Report.Filters, f => f.Filter == PromptCurator.FilterDuplicateTokenSet);
        Assert.Contains(result.Prompts, p => p.Id == "c5");
    }

    [Fact]
    public async Task Min_words_is_an_option()
    {
        var result = await new PromptCurator(CraftedClassifier(), new HashEmbedder(), new PromptCurationOptions { MinWords = 1 })
            .CurateAsync(CraftedPrompts(), "crafted");
        Assert.Equal(new FilterCount(PromptCurator.FilterMinWords, 9, 9), result.Report.Filters[1]);
    }

    [Fact]
    public async Task Limit_caps_classifier_calls()
    {
        var chat = CraftedClassifier();
        var result = await new PromptCurator(chat, new HashEmbedder(), new PromptCurationOptions { Limit = 2 })
            .CurateAsync(CraftedPrompts(), "crafted");
        Assert.Equal(2, chat.Calls);
        Assert.Contains(new FilterCount(PromptCurator.FilterLimit, 5, 2), result.Report.Filters);
        Assert.Equal(["c3", "c6"], result.Prompts.Select(p => p.Id));
        Assert.Equal(2, result.Report.Limit);
    }

    [Fact]
    public async Task Nothing_kept_gives_an_empty_topic_report()
    {
        var chat = new FakeChatClient(_ => """{"controversial": false, "reason": "no"}""");
        var embedder = new HashEmbedder();
        var result = await new PromptCurator(chat, embedder).CurateAsync(CraftedPrompts(), "crafted");
        Assert.Equal(0, result.Report.Topics.K);
        Assert.Equal(0, result.Report.Train + result.Report.HeldOut);
        Assert.Empty(result.Prompts);
        Assert.Equal(5, result.Rejections.Count(r => r.Filter == PromptCurator.FilterControversial && r.Controversial == false));
        Assert.Equal(0, embedder.Calls);
    }

    [Fact]
    public async Task Bad_embedder_output_is_reported()
    {
        var bad = new LambdaEmbedder(texts => texts.Skip(1).Select(_ => new float[] { 1, 2 }).ToArray());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            new PromptCurator(FakeChatClient.AlwaysYes(), bad).CurateAsync(CraftedPrompts(), "crafted"));
        Assert.Contains("vectors for", e.Message);
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        Assert.Throws<PersonaException>(() => new PromptCurator(FakeChatClient.AlwaysYes(), new HashEmbedder(), new PromptCurationOptions { HeldOutFraction = 1 }));
        Assert.Throws<PersonaException>(() => new PromptCurator(FakeChatClient.AlwaysYes(), new HashEmbedder(), new PromptCurationOptions { MaxConcurrency = 0 }));
        Assert.Throws<PersonaException>(() => new PromptCurator(FakeChatClient.AlwaysYes(), new HashEmbedder(), new PromptCurationOptions { KCandidates = [1, 5] }));
    }

    [Fact]
    public async Task Cancelled_run_throws()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new PromptCurator(FakeChatClient.AlwaysYes(), new HashEmbedder()).CurateAsync(CraftedPrompts(), "crafted", ct: cts.Token));
    }

    private static PromptCurationOptions FastOptions(int seed = 1) => new()
    {
        Seed = seed,
        KCandidates = [6, 10, 14],
        KMeansRestarts = 2,
        SilhouetteSampleSize = 800,
    };

    [Fact]
    public async Task End_to_end_on_bundled_prism_is_deterministic()
    {
        var prism = PromptLoader.LoadBundledPrism();
        var progress = new List<CurationProgress>();
        var r1 = await new PromptCurator(FakeChatClient.HashVerdicts(), new HashEmbedder(), FastOptions())
            .CurateAsync(prism, "bundled:prism", new SyncProgress(progress));
        var r2 = await new PromptCurator(FakeChatClient.HashVerdicts(), new HashEmbedder(), FastOptions())
            .CurateAsync(prism, "bundled:prism");

        var rep = r1.Report;
        output.WriteLine(PromptCurationWriter.ReportJson(rep));
        // Counts chain: each filter starts where the previous ended.
        Assert.Equal(8011, rep.Filters[0].Before);
        for (int i = 1; i < rep.Filters.Count; i++) Assert.Equal(rep.Filters[i - 1].After, rep.Filters[i].Before);
        Assert.Equal(rep.Classifier.Controversial, r1.Prompts.Count);
        Assert.Equal(rep.Classifier.Classified, rep.Classifier.Controversial + rep.Classifier.NotControversial + rep.Classifier.Unparsed);
        Assert.True(rep.Classifier.Unparsed > 0 && rep.Classifier.NotControversial > 0);
        Assert.Equal(8011 - rep.Classifier.Controversial, r1.Rejections.Count);

        // Topics: chosen k is one of the candidates, the best by silhouette; splits cover every cluster.
        Assert.Contains(rep.Topics.K, new[] { 6, 10, 14 });
        Assert.Equal(rep.Topics.Candidates.MaxBy(c => c.Silhouette)!.K, rep.Topics.K);
        Assert.Equal(rep.Classifier.Controversial, rep.Train + rep.HeldOut);
        Assert.Equal((int)Math.Round(rep.Classifier.Controversial * 868.0 / 3868.0, MidpointRounding.AwayFromZero), rep.HeldOut);
        Assert.All(rep.Topics.Clusters, c =>
        {
            Assert.Equal(c.Total, c.Train + c.HeldOut);
            Assert.InRange(c.HeldOut, Math.Floor(c.Total * 868.0 / 3868.0), Math.Ceiling(c.Total * 868.0 / 3868.0));
            Assert.True(c.Train > 0 && c.HeldOut > 0, $"cluster {c.Cluster} missing from a split");
        });
        var kept = r1.Prompts;
        Assert.All(kept, p => Assert.True(p.Controversial));
        Assert.All(kept, p => Assert.Contains(p.Split, new[] { PromptSplit.Train, PromptSplit.HeldOut }));
        Assert.Equal(rep.Classifier.NotControversial + rep.Classifier.Unparsed, r1.Rejections.Count(r => r.Filter == PromptCurator.FilterControversial));
        Assert.Equal(rep.Topics.Clusters.Select(c => c.Total), Enumerable.Range(0, rep.Topics.K).Select(c => kept.Count(p => p.Cluster == c)));
        Assert.Contains(progress, p => p.Stage == "embed" && p.Done == p.Total && p.Total == kept.Count);

        // Determinism: identical outputs byte for byte.
        var d1 = Path.Combine(_dir, "run1");
        var d2 = Path.Combine(_dir, "run2");
        await PromptCurationWriter.WriteAsync(d1, r1);
        await PromptCurationWriter.WriteAsync(d2, r2);
        foreach (var f in new[] { PromptCurationWriter.PromptsFile, PromptCurationWriter.RejectedFile, PromptCurationWriter.ReportFile })
            Assert.Equal(File.ReadAllBytes(Path.Combine(d1, f)), File.ReadAllBytes(Path.Combine(d2, f)));

        // A different seed changes the split (and may change clusters) but not the filter counts.
        var r3 = await new PromptCurator(FakeChatClient.HashVerdicts(), new HashEmbedder(), FastOptions(seed: 2)).CurateAsync(prism, "bundled:prism");
        Assert.Equal(rep.Filters, r3.Report.Filters);
        Assert.NotEqual(r1.Prompts.Select(p => p.Split), r3.Prompts.Select(p => p.Split));
    }

    [Fact]
    public async Task Deterministic_filters_on_bundled_prism()
    {
        // Expected counts come from an independent re-implementation of the three cheap filters
        // (perf/prompts/filter_counts.py), so a regression in either shows up here.
        var result = await new PromptCurator(FakeChatClient.AlwaysYes(), new HashEmbedder(), FastOptions() with { K = 6, KMeansRestarts = 1 })
            .CurateAsync(PromptLoader.LoadBundledPrism(), "bundled:prism");
        Assert.Equal(6, result.Report.Topics.K);
        Assert.StartsWith("fixed k", result.Report.Topics.Criterion);
        Assert.Single(result.Report.Topics.Candidates);
        foreach (var f in result.Report.Filters) output.WriteLine($"{f.Filter}: {f.Before} -> {f.After}");
        Assert.Equal(new FilterCount(PromptCurator.FilterQuestionMark, 8011, PrismCounts.AfterQuestionMark), result.Report.Filters[0]);
        Assert.Equal(PrismCounts.AfterMinWords, result.Report.Filters[1].After);
        Assert.Equal(PrismCounts.AfterDuplicateText, result.Report.Filters[2].After);
        Assert.Equal(PrismCounts.AfterDuplicateTokenSet, result.Report.Filters[3].After);
        Assert.Equal(PrismCounts.AfterDuplicateTokenSet, result.Report.Filters[4].After); // classifier said yes to all
    }

    [Fact]
    public async Task Writer_outputs_are_complete_and_read_back()
    {
        var result = await new PromptCurator(CraftedClassifier(), new HashEmbedder()).CurateAsync(CraftedPrompts(), "crafted");
        var dir = Path.Combine(_dir, "out");
        await PromptCurationWriter.WriteAsync(dir, result);
        Assert.Equal(
            [PromptCurationWriter.ReportFile, PromptCurationWriter.PromptsFile, PromptCurationWriter.RejectedFile],
            Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // prompts.jsonl is the curated set: exactly the kept prompts, each in train or held-out.
        var lines = File.ReadAllLines(Path.Combine(dir, PromptCurationWriter.PromptsFile));
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("{\"id\":\"c3\",\"text\":\"Is it ever right to lie to a friend?\",\"cluster\":0,\"split\":", lines[0]);
        Assert.All(lines, l => Assert.DoesNotContain("\"raw\"", l));
        Assert.All(lines, l => Assert.Matches("\"split\":\"(train|held_out)\"", l));
        Assert.All(lines, l => Assert.Contains("\"controversial\":true", l));
        Assert.Contains("café", lines[2]); // readable UTF-8, not \u escapes
        Assert.Equal(result.Prompts, PromptCurationWriter.ReadPrompts(Path.Combine(dir, PromptCurationWriter.PromptsFile)));

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, PromptCurationWriter.ReportFile)));
        var root = report.RootElement;
        Assert.Equal("crafted", root.GetProperty("source").GetString());
        Assert.Equal("token_set", root.GetProperty("near_duplicates").GetString());
        Assert.Equal(5, root.GetProperty("filters").GetArrayLength());
        Assert.Equal(3, root.GetProperty("classifier").GetProperty("controversial").GetInt32());
        Assert.Equal(1, root.GetProperty("topics").GetProperty("k").GetInt32());
        Assert.Equal(3, root.GetProperty("topics").GetProperty("clusters")[0].GetProperty("total").GetInt32());

        var rejected = File.ReadAllLines(Path.Combine(dir, PromptCurationWriter.RejectedFile));
        Assert.Contains("{\"id\":\"c4\",\"filter\":\"duplicate_normalized_text\",\"duplicate_of\":\"c3\"}", rejected);
        Assert.Contains("{\"id\":\"c7\",\"filter\":\"controversial\",\"controversial\":false,\"reason\":\"factual\"}", rejected);
        Assert.Contains("{\"id\":\"c10\",\"filter\":\"controversial\",\"controversial\":null,\"reason\":null,\"raw\":\"I'd rather not say.\"}", rejected);
        Assert.Equal(7, rejected.Length);

        // Rewriting over existing files replaces them and leaves no temp files.
        await PromptCurationWriter.WriteAsync(dir, result);
        Assert.Equal(3, Directory.GetFiles(dir).Length);
    }

    [Fact]
    public void Reading_a_broken_prompts_file_names_the_line()
    {
        var p = Path.Combine(_dir, "prompts.jsonl");
        File.WriteAllText(p, "{\"id\":\"a\",\"text\":\"t\",\"cluster\":0,\"split\":\"train\",\"controversial\":true,\"reason\":null}\n{\"id\":\"b\"}\n");
        var e = Assert.Throws<PersonaException>(() => PromptCurationWriter.ReadPrompts(p));
        Assert.Contains("prompts.jsonl:2", e.Message);
        Assert.Contains("'text'", e.Message);

        // A file of the old layout (excluded prompts mixed in) is refused, not silently used.
        File.WriteAllText(p, "{\"id\":\"a\",\"text\":\"t\",\"cluster\":null,\"split\":\"excluded\",\"controversial\":false,\"reason\":null}\n");
        e = Assert.Throws<PersonaException>(() => PromptCurationWriter.ReadPrompts(p));
        Assert.Contains("prompts.jsonl:1", e.Message);
        Assert.Contains("rejected.jsonl", e.Message);
    }

    private sealed class LambdaEmbedder(Func<IReadOnlyList<string>, float[][]> f) : ITextEmbedder
    {
        public ValueTask<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct) => ValueTask.FromResult(f(texts));
    }
}

/// <summary>Counts of the cheap filters on the bundled PRISM prompts, computed by perf/prompts/filter_counts.py.</summary>
internal static class PrismCounts
{
    public const int AfterQuestionMark = 5007;
    public const int AfterMinWords = 4645;
    public const int AfterDuplicateText = 4591;
    public const int AfterDuplicateTokenSet = 4589;
}
