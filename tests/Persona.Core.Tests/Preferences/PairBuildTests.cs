using System.Security.Cryptography;
using System.Text.Json;
using Persona.Llm;
using Persona.Preferences;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Preferences;

public sealed class PairBuildTests
{
    private static PairBuildOptions PairOptions(string personas, string prompts, string outDir, Shard? shard = null, string verify = "all", string baseAnswer = PairTask.BaseShared) => new()
    {
        PersonasPath = personas,
        PromptsPath = prompts,
        OutputDirectory = outDir,
        Schedule = new ScheduleOptions { TrainPrompts = 6, HeldOutPrompts = 2, TrainPairs = 4, Seed = 3 },
        Chain = new PairChainOptions { BaseAnswer = baseAnswer },
        Verify = VerifySpec.Parse(verify),
        Shard = shard ?? Shard.Whole,
    };

    private static async Task<PairBuildResult> Build(PairBuildOptions o, string? world = null, string? runDir = null)
    {
        await using var rt = LlmRuntime.Open(Options(runDir ?? o.OutputDirectory, "offline") with { WorldPath = world });
        var plan = await PairBuilder.PlanAsync(o, new[] { "model", "critic", "judge" }.Select(r => $"{r}={rt.Role(r).Identity.Identity}"));
        return await PairBuilder.RunAsync(o, plan, rt);
    }

    private static List<JsonElement> Rows(string dir) =>
        File.ReadAllLines(Path.Combine(dir, PairFileWriter.JsonlFile)).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public async Task The_report_of_rows_whose_personas_interleave_equals_the_report_of_the_build()
    {
        // The report keeps only the last persona's parsed attributes (rows come grouped by persona);
        // rows out of that order (a hand-concatenated file, a reordered merge) must still be grouped
        // by their own persona, not the previous row's.
        var dir = PairFixtures.Dir();
        var result = await Build(PairOptions(PairFixtures.PersonaTextFile(dir, 12), PairFixtures.Prompts(dir, 20, 6), Path.Combine(dir, "out")));
        var rows = PairFileWriter.Read(Path.Combine(dir, "out", PairFileWriter.JsonlFile)).ToList();
        var shuffled = rows.OrderBy(r => r.Slot).ThenBy(r => r.PersonaId, StringComparer.Ordinal).ToList();
        Assert.NotEqual(rows.Select(r => r.PersonaId), shuffled.Select(r => r.PersonaId));
        var report = new PairReport();
        foreach (var r in shuffled) report.Add(r);
        Assert.Equal(JsonSerializer.Serialize(result.Report, PairReport.Json), JsonSerializer.Serialize(report.Build(), PairReport.Json));
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "out", PairBuilder.ReportFile)), JsonSerializer.Serialize(report.Build(), PairReport.Json));
    }

    [Fact]
    public async Task A_build_writes_the_original_columns_ids_flags_and_verdicts_and_shares_one_generic_answer_per_prompt()
    {
        var dir = PairFixtures.Dir();
        var personas = PairFixtures.PersonaTextFile(dir, 12);
        var prompts = PairFixtures.Prompts(dir, 20, 6);
        var result = await Build(PairOptions(personas, prompts, Path.Combine(dir, "out")));
        var rows = Rows(Path.Combine(dir, "out"));
        Assert.Equal(12 * 8, rows.Count);
        Assert.Equal(96, result.Report.Pairs);
        string[] original = ["persona", "instruction", "original", "critique", "data", "question type"];
        Assert.Equal(original, rows[0].EnumerateObject().Take(6).Select(p => p.Name));
        foreach (var key in new[] { "pair_id", "persona_id", "prompt_id", "split", "prompt_topic", "answer_model", "critic_model", "judge_model", "template_version",
                                     "original_tokens", "revision_tokens", "flag_not_shorter", "flag_quotes_attribute", "verification", "verify_chosen_first", "verify_chosen_second" })
            Assert.True(rows[0].TryGetProperty(key, out _), key);
        Assert.All(rows, r => Assert.Equal(r.GetProperty("split").GetString() == "train" ? "train" : "test", r.GetProperty("question type").GetString()));
        // One generic answer per prompt, shared by every persona (as in the original release).
        foreach (var g in rows.GroupBy(r => r.GetProperty("prompt_id").GetString()))
            Assert.Single(g.Select(r => r.GetProperty("original").GetString()).Distinct());
        Assert.All(rows, r => Assert.Contains(r.GetProperty("verification").GetString(), new[] { "agree", "disagree", "flip" }));
        // Revisions that pass their checks are shorter than the original.
        Assert.All(rows.Where(r => !r.GetProperty("flagged").GetBoolean()), r => Assert.True(r.GetProperty("revision_tokens").GetInt32() < r.GetProperty("original_tokens").GetInt32()));
        Assert.True(result.Report.Simulated);
        Assert.True(File.Exists(Path.Combine(dir, "out", PairFileWriter.ParquetFile)));
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", PairBuilder.ReportFile))).RootElement;
        Assert.Equal(96, report.GetProperty("verification").GetProperty("verified").GetInt32());
        Assert.Contains(report.GetProperty("by_group").EnumerateArray(), g => g.GetProperty("dimension").GetString() == "age band");
    }

    [Fact]
    public async Task Per_pair_base_answers_differ_across_personas()
    {
        var dir = PairFixtures.Dir();
        await Build(PairOptions(PairFixtures.PersonaTextFile(dir, 6), PairFixtures.Prompts(dir, 8, 2), Path.Combine(dir, "out"), verify: "none", baseAnswer: PairTask.BasePerPair)
            with { Schedule = new ScheduleOptions { TrainPrompts = 8, HeldOutPrompts = 2, TrainPairs = 6 } });
        var rows = Rows(Path.Combine(dir, "out"));
        Assert.All(rows.GroupBy(r => r.GetProperty("prompt_id").GetString()), g => Assert.Equal(6, g.Select(r => r.GetProperty("original").GetString()).Distinct().Count()));
        Assert.All(rows, r => Assert.Equal("not_verified", r.GetProperty("verification").GetString()));
    }

    [Fact]
    public async Task A_rerun_pays_nothing_and_writes_byte_identical_files()
    {
        var dir = PairFixtures.Dir();
        var o = PairOptions(PairFixtures.PersonaTextFile(dir, 8), PairFixtures.Prompts(dir, 12, 4), Path.Combine(dir, "out"));
        await Build(o);
        var first = Hashes(o.OutputDirectory);
        await using (var rt = LlmRuntime.Open(Options(o.OutputDirectory, "offline")))
        {
            var plan = await PairBuilder.PlanAsync(o, new[] { "model", "critic", "judge" }.Select(r => $"{r}={rt.Role(r).Identity.Identity}"));
            await PairBuilder.RunAsync(o, plan, rt);
            Assert.Equal(0, rt.Budget.Snapshot().Completed);
        }
        Assert.Equal(first, Hashes(o.OutputDirectory));
    }

    [Fact]
    public async Task Merged_shards_are_byte_identical_to_one_unsharded_run_and_bad_merges_are_refused()
    {
        var dir = PairFixtures.Dir();
        var personas = PairFixtures.PersonaTextFile(dir, 10);
        var prompts = PairFixtures.Prompts(dir, 12, 4);
        await Build(PairOptions(personas, prompts, Path.Combine(dir, "whole")));
        var shards = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var s = Path.Combine(dir, $"shard{i}");
            await Build(PairOptions(personas, prompts, s, new Shard(i, 3)));
            shards.Add(s);
        }
        Assert.Equal(10 * 8, shards.Sum(s => Rows(s).Count));
        await PairMerge.MergeAsync(shards, Path.Combine(dir, "merged"));
        Assert.Equal(Hashes(Path.Combine(dir, "whole")), Hashes(Path.Combine(dir, "merged")));

        Assert.Contains("Missing shard(s) 2/3", (await Assert.ThrowsAsync<PersonaException>(() => PairMerge.MergeAsync(shards.Take(2).ToList(), Path.Combine(dir, "m2")))).Message);
        Assert.Contains("given twice", (await Assert.ThrowsAsync<PersonaException>(() => PairMerge.MergeAsync([shards[0], shards[0], shards[1], shards[2]], Path.Combine(dir, "m3")))).Message);
        var other = Path.Combine(dir, "other");
        await Build(PairOptions(personas, prompts, other, new Shard(2, 3)) with { Schedule = new ScheduleOptions { TrainPrompts = 6, HeldOutPrompts = 2, TrainPairs = 4, Seed = 99 } });
        Assert.Contains("different run or settings", (await Assert.ThrowsAsync<PersonaException>(() => PairMerge.MergeAsync([shards[0], shards[1], other], Path.Combine(dir, "m4")))).Message);
        File.WriteAllText(Path.Combine(shards[1], PairBuilder.ShardFile), "{not json");
        Assert.Contains("unreadable", (await Assert.ThrowsAsync<PersonaException>(() => PairMerge.MergeAsync(shards, Path.Combine(dir, "m5")))).Message);
        Assert.False(Directory.Exists(Path.Combine(dir, "m5")) && File.Exists(Path.Combine(dir, "m5", PairFileWriter.JsonlFile)));
    }

    [Fact]
    public async Task The_planted_worst_served_group_and_position_bias_show_in_the_report()
    {
        var dir = PairFixtures.Dir();
        var world = Path.Combine(dir, "world.json");
        // Everyone prefers the personalised answer, but the judge role-plays personas of 60+ faithfully only half the time.
        File.WriteAllText(world, """
            {"format":"persona-world/1","seed":11,"preference":{"intercept":5},
             "fidelity":{"default":0.97,"offsets":{"age":{"60+":-0.5}}},"judge":{"position_bias":0.9,"length_preference":0},
             "revision":{"length_ratio_min":0.6,"length_ratio_max":0.9}}
            """);
        var o = PairOptions(PairFixtures.PersonaTextFile(dir, 40), PairFixtures.Prompts(dir, 30, 10), Path.Combine(dir, "out"))
            with { Schedule = new ScheduleOptions { TrainPrompts = 16, HeldOutPrompts = 4, TrainPairs = 10, Seed = 1 } };
        var result = await Build(o, world);
        var ages = result.Report.ByGroup.Where(g => g.Dimension == "age band" && g.Figures.Verified >= 30).ToList();
        var worst = ages.OrderBy(g => g.Figures.Agreement.Value).First();
        Assert.Equal("65+", worst.Group);
        // An unfaithful judge with position bias 0.9 picks the first answer in both orders most of the time: flips, not disagreements.
        Assert.True(worst.Figures.FlipRate.Value > 0.3, $"flip rate {worst.Figures.FlipRate.Value}");
        // Expected agreement of the faithful groups: 0.97^2-ish + flips; at least clearly above the worst group's upper bound.
        var best = ages.OrderByDescending(g => g.Figures.Agreement.Value).First();
        Assert.True(best.Figures.Agreement.Lower > worst.Figures.Agreement.Upper);
    }

    [Fact]
    public async Task Three_roles_on_three_servers_each_get_only_their_own_calls()
    {
        await using var answerer = await FakeLlmServer.StartAsync();
        await using var critic = await FakeLlmServer.StartAsync();
        await using var judge = await FakeLlmServer.StartAsync();
        answerer.Responder = r => r.Messages.Any(m => m.Content.Contains("Revised answer:")) ? "Short." : "A long generic answer with many words in it for everyone.";
        critic.Responder = _ => "Evaluation: ... Suggestions: ...";
        judge.Responder = r => """{"reasoning":"mine","preferred":"A"}""";
        var dir = PairFixtures.Dir();
        var o = PairOptions(PairFixtures.PersonaTextFile(dir, 3), PairFixtures.Prompts(dir, 8, 2), Path.Combine(dir, "out"));
        var rtOptions = Options(o.OutputDirectory, "openai:answer", answerer.BaseUrl) with
        {
            Roles = new Dictionary<string, RoleOptions>
            {
                ["critic"] = new() { Model = "openai:critic", BaseUrls = [critic.BaseUrl] },
                ["judge"] = new() { Model = "openai:judge", BaseUrls = [judge.BaseUrl] },
            },
        };
        await using (var rt = LlmRuntime.Open(rtOptions))
        {
            var plan = await PairBuilder.PlanAsync(o, []);
            var result = await PairBuilder.RunAsync(o, plan, rt);
            Assert.Equal(24, result.Report.Succeeded);
            // Always "A": agree when the chosen answer is first, so every verified pair flips.
            Assert.Equal(1.0, result.Report.Verification.FlipRate.Value);
        }
        var prompts = Rows(o.OutputDirectory).Select(r => r.GetProperty("prompt_id").GetString()).Distinct().Count();
        Assert.Equal(prompts + 24, answerer.TotalPaid);  // one shared generic answer per prompt + one revision per pair
        Assert.Equal(24, critic.TotalPaid);
        Assert.Equal(48, judge.TotalPaid);               // both orders
        Assert.All(judge.Requests, r => Assert.Equal("judge", r.Model));
    }

    [Fact]
    public async Task Exports_write_trl_rows_and_a_hugging_face_folder_with_a_card_and_checksums()
    {
        var dir = PairFixtures.Dir();
        var o = PairOptions(PairFixtures.PersonaTextFile(dir, 6), PairFixtures.Prompts(dir, 12, 4), Path.Combine(dir, "out"));
        var built = await Build(o);
        var trl = Path.Combine(dir, "trl");
        var r = await PairExport.ExportAsync(o.OutputDirectory, trl, new PairExportOptions { Format = "trl" });
        Assert.Equal(6 * 4, r.Train);
        Assert.Equal(6 * 4, r.Test);
        var row = JsonDocument.Parse(File.ReadLines(Path.Combine(trl, "train.jsonl")).First()).RootElement;
        Assert.Equal("system", row.GetProperty("prompt")[0].GetProperty("role").GetString());
        Assert.Equal("user", row.GetProperty("prompt")[1].GetProperty("role").GetString());
        Assert.Equal("assistant", row.GetProperty("chosen")[0].GetProperty("role").GetString());
        Assert.Equal(1, row.GetProperty("rejected").GetArrayLength());
        await using (var fs = File.OpenRead(Path.Combine(trl, "train.parquet")))
        {
            var back = (await Parquet.Serialization.ParquetSerializer.DeserializeAsync<PairExport.TrlRow>(fs)).Data;
            Assert.Equal(24, back.Count);
            Assert.Equal(row.GetProperty("chosen")[0].GetProperty("content").GetString(), back[0].Chosen[0].Content);
        }

        var implicitDir = Path.Combine(dir, "rm");
        await PairExport.ExportAsync(o.OutputDirectory, implicitDir, new PairExportOptions { Format = "trl", PromptStyle = "implicit", PersonaIn = "prompt" });
        var rm = JsonDocument.Parse(File.ReadLines(Path.Combine(implicitDir, "train.jsonl")).First()).RootElement;
        Assert.False(rm.TryGetProperty("prompt", out _));
        Assert.Equal(["user", "assistant"], rm.GetProperty("chosen").EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.StartsWith("About me:", rm.GetProperty("chosen")[0].GetProperty("content").GetString());

        var hf = Path.Combine(dir, "hf");
        var verified = await PairExport.ExportAsync(o.OutputDirectory, hf, new PairExportOptions { Format = "hf", VerifiedOnly = true });
        Assert.Equal(built.Report.Verification.Agreement.Count, verified.Train + verified.Test);
        var card = File.ReadAllText(Path.Combine(hf, "README.md"));
        Assert.StartsWith("---\n", card);
        foreach (var key in new[] { "pretty_name:", "license:", "size_categories:", "task_categories:", "configs:", "path: data/train-*", "path: data/test-*" })
            Assert.Contains(key, card);
        Assert.Contains("Simulated", card);
        foreach (var line in File.ReadAllLines(Path.Combine(hf, "SHA256SUMS")))
        {
            var (hash, file) = (line[..64], line[66..]);
            Assert.Equal(hash, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(hf, file)))));
        }
        Assert.Contains("pairs folder itself", (await Assert.ThrowsAsync<PersonaException>(() => PairExport.ExportAsync(o.OutputDirectory, o.OutputDirectory, new PairExportOptions { Format = "hf" }))).Message);
    }

    [Fact]
    public async Task Personas_in_the_synthetic_personas_table_format_build_too_and_bad_inputs_fail_before_any_call()
    {
        var dir = PairFixtures.Dir();
        var table = Path.Combine(dir, "personas.csv");
        File.WriteAllLines(table, ["age,sex,race,education,income", "34,Female,White alone,Bachelor's degree,156000.0", "71,Male,Asian alone,Master's degree,nan", "19,Female,Black or African American alone,Regular high school diploma,0"]);
        var prompts = PairFixtures.Prompts(dir, 10, 3);
        var result = await Build(PairOptions(table, prompts, Path.Combine(dir, "out")));
        Assert.Equal(3 * 8, result.Report.Pairs);
        Assert.DoesNotContain("income: nan", Rows(Path.Combine(dir, "out"))[8].GetProperty("persona").GetString());

        File.WriteAllLines(Path.Combine(dir, "dup.csv"), ["age,sex,race", "34,Female,White alone", "34,Female,White alone"]);
        Assert.Contains("appears twice", (await Assert.ThrowsAsync<PersonaException>(() => Build(PairOptions(Path.Combine(dir, "dup.csv"), prompts, Path.Combine(dir, "o2"))))).Message);
        File.WriteAllLines(Path.Combine(dir, "weird.csv"), ["foo,bar", "1,2"]);
        Assert.Contains("unknown persona format", (await Assert.ThrowsAsync<PersonaException>(() => Build(PairOptions(Path.Combine(dir, "weird.csv"), prompts, Path.Combine(dir, "o3"))))).Message);
        File.WriteAllLines(Path.Combine(dir, "nosplit.csv"), ["question", "What is fair?", "Is it right?"]);
        Assert.Contains("no split", (await Assert.ThrowsAsync<PersonaException>(() => Build(PairOptions(table, Path.Combine(dir, "nosplit.csv"), Path.Combine(dir, "o4"))))).Message);
        Assert.False(File.Exists(Path.Combine(dir, "o4", PairFileWriter.JsonlFile)));
    }

    private static Dictionary<string, string> Hashes(string dir) =>
        new[] { PairFileWriter.JsonlFile, PairFileWriter.ParquetFile, PairBuilder.ReportFile, PairBuilder.ShardFile }
            .ToDictionary(f => f, f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, f)))));
}
