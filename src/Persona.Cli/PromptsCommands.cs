using System.CommandLine;
using System.Globalization;
using Persona.Embeddings;
using Persona.Llm;
using Persona.Prompts;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona prompts ...`: curate the value-laden prompt set.</summary>
internal static class PromptsCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var cmd = new Command("prompts", "The value-laden prompt set: PRISM opening prompts (or yours), filtered, LM-classified, clustered into topics and split.");
        cmd.Subcommands.Add(Curate(console));
        return cmd;
    }

    private static Command Curate(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the --out folder (so re-running the same command resumes)");
        var output = new Option<DirectoryInfo>("--out") { Description = $"Output folder: {PromptCurationWriter.PromptsFile}, {PromptCurationWriter.RejectedFile}, {PromptCurationWriter.ReportFile} (+ store.sqlite, manifest.json).", Required = true };
        var source = new Option<string>("--source") { Description = "Your prompts: .json (PRISM layout), .jsonl ({\"id\"?, \"text\"} per line) or .csv (a text column). Default: the bundled PRISM opening prompts." };
        var limit = new Option<int?>("--limit") { Description = "Send at most this many prompts (after the cheap filters) to the LM classifier: a quick, cheap try." }.Between(1, int.MaxValue);
        var seed = new Option<int>("--seed") { Description = "Seed of k-means, the silhouette sample and the split.", DefaultValueFactory = _ => 1 };
        var k = new Option<int?>("--k") { Description = "Fixed number of topic clusters. Default: chosen from 8..40 by silhouette (reported)." }.Between(2, 10_000);
        var cmd = new Command("curate",
            "Curate prompts as the original study did: keep questions ('?'), at least five words, drop near-duplicates,\n" +
            "ask the LM whether each is controversial (structured yes/no + reason), cluster the kept ones into topics\n" +
            "(MiniLM embeddings, k-means) and split train/held-out within each topic. Counts after each filter are printed.\n\n" +
            RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n" +
            "  persona prompts curate --model offline --out prompts-demo --limit 200 --k 8\n" +
            "  persona prompts curate --model openai:gpt-4o-mini --out prompts --max-cost 5\n" +
            "  persona prompts curate --model ollama:llama3.1 --source my-questions.csv --out my-prompts");
        runtime.AddTo(cmd);
        foreach (var o in new Option[] { output, source, limit, seed, k })
            cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var outDir = parse.GetValue(output)!.FullName;
            var sourcePath = parse.GetValue(source);
            OutputChecks.CurationFolder(outDir, sourcePath);
            var prompts = sourcePath is null ? PromptLoader.LoadBundledPrism() : PromptLoader.Load(sourcePath); // bad input fails before any call
            if (parse.GetValue(k) is { } fixedK && fixedK > prompts.Count)
                throw new PersonaException($"--k {fixedK} is more than the {prompts.Count} prompts of the source; choose --k at most {prompts.Count}, or leave it out to choose k by silhouette.");
            var runtimeOptions = runtime.Build(parse, outDir);
            var options = new PromptCurationOptions
            {
                Seed = parse.GetValue(seed),
                Limit = parse.GetValue(limit),
                K = parse.GetValue(k),
                MaxConcurrency = runtimeOptions.Resilience.Concurrency,
            };
            return await Persona.Store.RunDirectoryUndo.GuardAsync(runtimeOptions.RunDirectory, async () => {
            await using var rt = LlmRuntime.Open(runtimeOptions);
            options = options with { MaxConcurrency = rt.TotalConcurrency, Abort = Interrupts.Abort };
            await rt.EnsureReachableAsync(ct);
            using var embedder = new MiniLmEmbedder();
            var curator = new PromptCurator(rt.ChatClient, embedder, options);
            try
            {
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var result = await StageProgress.RunAsync(console, stage => stage switch
                    {
                        "classify" => "LM controversy classifier",
                        "embed" => "MiniLM embeddings",
                        "topics" => "Choosing k and clustering",
                        var other => other,
                    },
                    p => curator.CurateAsync(prompts, sourcePath ?? "bundled:prism",
                        new SyncProgress<CurationProgress>(x => p.Report(x.Stage, x.Done, x.Total)), ct), StageProgress.WaitingOf(rt));
                await PromptCurationWriter.WriteAsync(outDir, result, ct);
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?>
                {
                    ["source_prompts"] = prompts.Count,
                    ["train"] = result.Report.Train,
                    ["held_out"] = result.Report.HeldOut,
                });
                WriteSummary(console, result.Report, rt, outDir);
                return 0;
            });
            }
            catch (OperationCanceledException)
            {
                await rt.WriteManifestAsync("cancelled"); // as personas build does: what was paid is on record
                throw;
            }
            });
        });
        return cmd;
    }

    private static void WriteSummary(IAnsiConsole console, PromptCurationReport r, LlmRuntime rt, string outDir)
    {
        var filters = new Table().Border(TableBorder.Rounded).AddColumns("filter", "before", "after", "removed");
        foreach (var f in r.Filters)
            filters.AddRow(Markup.Escape(f.Filter), f.Before.ToString("N0", Inv), f.After.ToString("N0", Inv), (f.Before - f.After).ToString("N0", Inv));
        console.Write(filters);
        var t = new Table().Border(TableBorder.Rounded).AddColumn("prompts curate").AddColumn("");
        void Row(string key, string v) => t.AddRow(Markup.Escape(key), Markup.Escape(v));
        Row("source", r.Source);
        Row("model", rt.ModelIdentity + (rt.Simulated ? " (simulated)" : ""));
        Row("classifier", $"{r.Classifier.Controversial} controversial, {r.Classifier.NotControversial} not, {r.Classifier.Unparsed} unreadable of {r.Classifier.Classified}");
        Row("topics", $"k = {r.Topics.K} ({r.Topics.Criterion})");
        Row("split", $"train {r.Train.ToString("N0", Inv)}, held-out {r.HeldOut.ToString("N0", Inv)} (the original: 3,000 / 868)");
        Row("paid calls", rt.Budget.Snapshot().Completed.ToString("N0", Inv));
        Row("output", outDir);
        console.Write(t);
        if (rt.Simulated) console.MarkupLine("[yellow]simulated:[/] the offline simulator classified the prompts; use a real --model for a real prompt set.");
    }
}
