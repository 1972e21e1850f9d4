using System.CommandLine;
using System.Globalization;
using Persona.Llm;
using Persona.Preferences;
using Persona.Store;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona pairs ...`: build the preference pairs (DPF chain + role-play verification), merge shards, export for training.</summary>
internal static class PairsCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var cmd = new Command("pairs", "Preference feedback at the original's scale: DPF pairs (generic answer vs persona-personalised revision), verified by the persona in both orders, exported for training.");
        cmd.Subcommands.Add(Build(console));
        cmd.Subcommands.Add(Merge(console));
        cmd.Subcommands.Add(Export(console));
        return cmd;
    }

    private static Command Build(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the --out folder (re-running resumes)", defaultModel: null, "critic", "judge");
        var personas = new Option<string>("--personas") { Description = "A `personas build` folder, a persona file (.jsonl/.parquet), or the original release's personas (a CSV/JSONL/Parquet with a 'persona' text column, or the Synthetic-Personas table).", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "A `prompts curate` folder, or a JSONL/CSV with 'question' (or 'text') and 'split' (train / held_out) columns.", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: pairs.jsonl, pairs.parquet, pairs-report.json, shard.json (+ store.sqlite, manifest.json).", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed of the schedule and of the verification sample.", DefaultValueFactory = _ => 1 };
        var trainPrompts = new Option<int>("--train-prompts") { Description = "Prompts per persona from the train pool (the original: 150).", DefaultValueFactory = _ => 150 }.Between(0, 100_000);
        var heldoutPrompts = new Option<int>("--heldout-prompts") { Description = "Prompts per persona from the held-out pool (the original: 50).", DefaultValueFactory = _ => 50 }.Between(0, 100_000);
        var trainPairs = new Option<int>("--train-pairs") { Description = "Of the train-pool prompts, how many make train pairs; the rest are test pairs on seen prompts (the original: 100).", DefaultValueFactory = _ => 100 }.Between(0, 100_000);
        var attempts = new Option<int>("--attempts") { Description = "Critique + revision attempts per pair while a check fails (not shorter, quotes an attribute, truncated, empty).", DefaultValueFactory = _ => 3 }.Between(1, 100);
        var baseAnswer = new Option<string>("--base-answer") { Description = "shared: one generic answer per prompt for every persona (the original release); per-pair: one sampled per pair.", DefaultValueFactory = _ => PairTask.BaseShared };
        var verify = new Option<string>("--verify") { Description = "Role-play verification in both orders: none, sample:N (a seeded sample of N pairs), or all.", DefaultValueFactory = _ => "all" };
        var shard = new Option<string?>("--shard") { Description = "i/n: build only shard i of n (by persona). Default: SLURM_ARRAY_TASK_ID/COUNT, or JOB_COMPLETION_INDEX with --shard-count, else the whole set." };
        var shardCount = new Option<int?>("--shard-count") { Description = "Shards in all, for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX holds only the index)." }.Between(1, 1_000_000);
        var templates = new Option<FileInfo?>("--templates") { Description = "Your own prompt templates (default data/preferences/templates.json)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the calls, tokens and estimated cost per role and in total; send nothing." };
        var batchExport = new Option<DirectoryInfo?>("--batch-export") { Description = "Send nothing: write the next stage's pending requests as OpenAI Batch files (also `vllm run-batch` input) in this folder. Needs no key." };
        var batchImport = new Option<FileInfo[]>("--batch-import") { Description = "Batch result files (OpenAI or vLLM envelope) to read into the cache first; joined on custom_id, in any order.", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("build",
            "Build preference pairs: per persona a seeded schedule of prompts (train pairs, test pairs on seen prompts, test pairs on\n" +
            "held-out prompts); per pair the generic answer (rejected), the persona's critique (--critic-model) and a subtle, shorter\n" +
            "revision (chosen), checked and retried; then the persona, role-played by --judge-model, picks its preferred answer in both orders.\n\n" +
            RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n" +
            "  persona pairs build --personas personas --prompts prompts --model offline --out pairs --train-prompts 15 --heldout-prompts 5 --train-pairs 10\n" +
            "  persona pairs build --personas personas --prompts prompts --model openai:gpt-4o-mini --judge-model openai:gpt-4o --out pairs --dry-run\n" +
            "  persona pairs build --personas persona.csv --prompts prism-filter.jsonl --model openai:llama-3.1-70b --base-url http://gpu1:8000/v1 --out pairs --shard 0/8");
        runtime.AddTo(cmd);
        foreach (var o in new Option[] { personas, prompts, output, seed, trainPrompts, heldoutPrompts, trainPairs, attempts, baseAnswer, verify, shard, shardCount, templates, dryRun, batchExport, batchImport })
            cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var outDir = parse.GetValue(output)!.FullName;
            (string, string?)[] pairInputs = [("--personas", parse.GetValue(personas)), ("--prompts", parse.GetValue(prompts)), ("--templates", parse.GetValue(templates)?.FullName)];
            OutputPaths.EnsureFolderTarget(outDir, "--out");
            OutputPaths.EnsureOutsideInputs(outDir, "--out", pairInputs);
            OutputPaths.EnsureNotInsideRun(outDir, "--out", Persona.Run.TestbedRun.Format);
            OutputPaths.EnsureFolderSparesInputs(outDir, "--out", [PairFileWriter.JsonlFile, PairFileWriter.ParquetFile, PairBuilder.ReportFile, PairBuilder.ShardFile, "store.sqlite", "manifest.json"], pairInputs);
            var options = new PairBuildOptions
            {
                PersonasPath = parse.GetValue(personas)!,
                PromptsPath = parse.GetValue(prompts)!,
                OutputDirectory = outDir,
                Schedule = new ScheduleOptions
                {
                    TrainPrompts = parse.GetValue(trainPrompts), HeldOutPrompts = parse.GetValue(heldoutPrompts),
                    TrainPairs = parse.GetValue(trainPairs), Seed = parse.GetValue(seed),
                },
                Chain = new PairChainOptions { Attempts = parse.GetValue(attempts), BaseAnswer = parse.GetValue(baseAnswer)! },
                Verify = VerifySpec.Parse(parse.GetValue(verify)),
                Shard = Shard.Resolve(parse.GetValue(shard), parse.GetValue(shardCount), Environment.GetEnvironmentVariable),
                TemplatesPath = parse.GetValue(templates)?.FullName,
            };
            var rtOptions = runtime.Build(parse, outDir);
            if (parse.GetValue(dryRun))
            {
                var planOnly = await PairBuilder.PlanAsync(options, [], ct);
                WriteEstimate(console, PairDryRun.Estimate(options, planOnly, rtOptions));
                return 0;
            }
            using var exporter = parse.GetValue(batchExport) is { } exportDir ? new BatchExportWriter(exportDir.FullName) : null;
            await using var rt = LlmRuntime.Open(rtOptions with { BatchExport = exporter });
            var roles = new[] { rt.Default, rt.Role("critic"), rt.Role("judge") };
            var plan = await PairBuilder.PlanAsync(options, roles.Select(r => $"{r.Name}={r.Identity.Identity}"), ct);
            if (parse.GetValue(batchImport) is { Length: > 0 } imports)
            {
                var imported = await BatchImport.ImportAsync(rt.Store, imports.Select(f => f.FullName));
                console.MarkupLineInterpolated($"batch import: {imported.Imported:N0} results cached, {imported.AlreadyCached:N0} already cached, {imported.Errors:N0} errors{(imported.ErrorKinds.Count > 0 ? " (" + string.Join(", ", imported.ErrorKinds.Select(kv => $"{kv.Key} {kv.Value}")) + ")" : "")}, {imported.Unknown:N0} not from this run.");
            }
            if (exporter is null) await rt.EnsureReachableAsync(ct);
            foreach (var r in roles.Where(r => r.FallsBackToDefault))
                console.MarkupLineInterpolated($"[yellow]note:[/] the {r.Name} is the answering model ({r.Identity.Identity}); give --{r.Name}-model for an independent {r.Name}.");
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var result = await StageProgress.RunAsync(console, _ => $"Pairs (shard {options.Shard})", p =>
                    PairBuilder.RunAsync(options, plan, rt, new SyncProgress<PairBuildProgress>(x => p.Report("pairs", x.Done, x.Total, $"failed {x.Failed}")), ct, Interrupts.Abort));
                if (result.Deferred > 0 && exporter is not null)
                {
                    await rt.WriteManifestAsync("batch_exported", new Dictionary<string, object?> { ["pending_pairs"] = result.Deferred, ["requests"] = exporter.Requests });
                    var t = new Table().Border(TableBorder.Rounded).Title("batch export (nothing was sent)").AddColumns("file", "requests");
                    foreach (var (file, n) in exporter.Files.OrderBy(kv => kv.Key, StringComparer.Ordinal)) t.AddRow(Markup.Escape(file), n.ToString("N0", Inv));
                    console.Write(t);
                    console.MarkupLineInterpolated($"{result.Deferred:N0} pairs wait for these {exporter.Requests:N0} requests in {exporter.Directory_}. Run them (OpenAI Batch API, or `vllm run-batch -i FILE -o RESULTS --model ...`), then rerun this command with --batch-import RESULTS... (and --batch-export for the next stage).");
                    return 0;
                }
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?>
                {
                    ["pairs"] = result.Report.Pairs, ["succeeded"] = result.Report.Succeeded, ["failed"] = result.Report.Failed,
                    ["verified"] = result.Report.Verification.Verified, ["shard"] = options.Shard.ToString(),
                });
                WriteReport(console, result.Report, outDir);
                if (rt.Simulated) console.MarkupLine("[yellow]simulated:[/] the offline simulator wrote every answer and verdict (a planted world); nothing here is a finding.");
                return 0;
            });
        });
        return cmd;
    }

    private static Command Merge(IAnsiConsole console)
    {
        var shards = new Argument<string[]>("SHARD_DIR") { Description = "The output folders of every shard of one `pairs build` (--shard 0/n ... n-1/n).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<DirectoryInfo>("--out") { Description = "Merged folder: the same files, byte for byte, as one unsharded run.", Required = true };
        var cmd = new Command("merge", "Merge the shards of one pairs build.\n\nExample:\n  persona pairs merge pairs-0 pairs-1 pairs-2 pairs-3 --out pairs") { shards, output };
        cmd.SetAction(async (parse, ct) =>
        {
            var outDir = parse.GetValue(output)!.FullName;
            OutputPaths.EnsureFolderTarget(outDir, "--out");
            OutputPaths.EnsureOutsideInputs(outDir, "--out", [.. parse.GetValue(shards)!.Select(d => ("SHARD_DIR", (string?)d))]);
            OutputPaths.EnsureNotInsideRun(outDir, "--out", Persona.Run.TestbedRun.Format);
            var report = await PairMerge.MergeAsync(parse.GetValue(shards)!, parse.GetValue(output)!.FullName, ct);
            WriteReport(console, report, parse.GetValue(output)!.FullName);
            return 0;
        });
        return cmd;
    }

    private static Command Export(IAnsiConsole console)
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "A `pairs build` or `pairs merge` output folder." };
        var format = new Option<string>("--format") { Description = "trl: TRL preference rows (JSONL + Parquet); hf: a Hugging Face dataset folder with a card.", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Export folder.", Required = true };
        var style = new Option<string>("--prompt-style") { Description = "explicit: a prompt column (DPO, ORPO, CPO); implicit: chosen/rejected hold the whole conversation (reward models).", DefaultValueFactory = _ => "explicit" };
        var personaIn = new Option<string>("--persona-in") { Description = "system: the persona as a system message; prompt: folded into the user turn.", DefaultValueFactory = _ => "system" };
        var verifiedOnly = new Option<bool>("--verified-only") { Description = "Only pairs whose chosen answer the persona preferred in both orders." };
        var dropFlagged = new Option<bool>("--drop-flagged") { Description = "Drop pairs a check flagged (not shorter, quotes an attribute, truncated, empty)." };
        var cmd = new Command("export", "Export pairs for training.\n\nExamples:\n  persona pairs export pairs --format trl --out trl\n  persona pairs export pairs --format hf --out hf-dataset --verified-only --drop-flagged")
        {
            dir, format, output, style, personaIn, verifiedOnly, dropFlagged,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            // The hf export keeps the original release's columns; these two shape TRL rows only.
            if (parse.GetValue(format) == "hf")
                foreach (var o in new Option[] { style, personaIn })
                    if (parse.GetResult(o) is { Implicit: false })
                        throw new PersonaException($"{o.Name} shapes --format trl rows only; the hf export keeps the original release's columns (persona, instruction, original, critique, data). Drop {o.Name}, or use --format trl.");
            var outDir = parse.GetValue(output)!.FullName;
            OutputPaths.EnsureFolderTarget(outDir, "--out");
            OutputPaths.EnsureOutsideInputs(outDir, "--out", ("DIR", parse.GetValue(dir)!.FullName));
            OutputPaths.EnsureNotInsideRun(outDir, "--out", Persona.Run.TestbedRun.Format);
            var result = await PairExport.ExportAsync(parse.GetValue(dir)!.FullName, parse.GetValue(output)!.FullName, new PairExportOptions
            {
                Format = parse.GetValue(format)!, PromptStyle = parse.GetValue(style)!, PersonaIn = parse.GetValue(personaIn)!,
                VerifiedOnly = parse.GetValue(verifiedOnly), DropFlagged = parse.GetValue(dropFlagged),
            }, ct);
            var t = new Table().Border(TableBorder.Rounded).AddColumn("pairs export").AddColumn("");
            t.AddRow("train rows", result.Train.ToString("N0", Inv));
            t.AddRow("test rows", result.Test.ToString("N0", Inv));
            t.AddRow("left out (failed, unverified or flagged)", result.Skipped.ToString("N0", Inv));
            t.AddRow("files", Markup.Escape(string.Join(", ", result.Files)));
            console.Write(t);
            return 0;
        });
        return cmd;
    }

    private static void WriteReport(IAnsiConsole console, PairReportData r, string dir)
    {
        var t = new Table().Border(TableBorder.Rounded).AddColumn("pairs").AddColumn("");
        void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
        Row("pairs", $"{r.Pairs.ToString("N0", Inv)} ({r.Succeeded.ToString("N0", Inv)} built, {r.Failed.ToString("N0", Inv)} failed) for {r.Personas.ToString("N0", Inv)} personas x {r.Prompts.ToString("N0", Inv)} prompts");
        Row("splits", string.Join(", ", r.BySplit.Select(kv => $"{kv.Key} {kv.Value.ToString("N0", Inv)}")));
        Row("check flags (after retries)", string.Join(", ", r.Flags.Select(kv => $"{kv.Key} {kv.Value.ToString("N0", Inv)}")) + $"; flagged {r.Flagged.ToString("N0", Inv)}");
        Row("attempts", string.Join(", ", r.AttemptsHistogram.Select(kv => $"{kv.Key}: {kv.Value.ToString("N0", Inv)}")));
        Row("tokens (original / revision, mean)", $"{r.MeanOriginalTokens?.ToString("0.0", Inv) ?? "-"} / {r.MeanRevisionTokens?.ToString("0.0", Inv) ?? "-"}");
        var v = r.Verification;
        if (v.Verified > 0)
        {
            string Pct(Share s) => s.Value is null ? "-" : string.Create(Inv, $"{s.Value:P1} [{s.Lower:P1}, {s.Upper:P1}]");
            Row("verified pairs", v.Verified.ToString("N0", Inv) + (v.Unreadable > 0 ? $" ({v.Unreadable} unreadable verdicts)" : ""));
            Row("agreement, both orders (original: 96%, one order)", Pct(v.Agreement));
            Row("flip rate (position bias)", Pct(v.FlipRate));
            Row("rejected preferred in both orders", Pct(v.Disagreement));
        }
        else Row("verification", "none");
        Row("models", $"answer {string.Join(",", r.AnswerModels)}; critic {string.Join(",", r.CriticModels)}; judge {(r.JudgeModels.Count > 0 ? string.Join(",", r.JudgeModels) : "-")}");
        Row("output", dir);
        console.Write(t);
        var worst = r.ByGroup.Where(g => g.Figures.Verified >= r.MinGroupSize && g.Figures.Agreement.Value is not null)
            .OrderBy(g => g.Figures.Agreement.Value).Take(5).ToArray();
        if (worst.Length > 0)
        {
            var w = new Table().Border(TableBorder.Rounded).Title("lowest agreement by group (n >= " + r.MinGroupSize.ToString(Inv) + ")")
                .AddColumns("attribute", "group", "verified", "agreement [[95% CI]]", "flip rate");
            foreach (var g in worst)
                w.AddRow(Markup.Escape(g.Dimension), Markup.Escape(g.Group), g.Figures.Verified.ToString(Inv),
                    Markup.Escape(string.Create(Inv, $"{g.Figures.Agreement.Value:P1} [{g.Figures.Agreement.Lower:P1}, {g.Figures.Agreement.Upper:P1}]")),
                    Markup.Escape(string.Create(Inv, $"{g.Figures.FlipRate.Value:P1}")));
            console.Write(w);
        }
    }

    private static void WriteEstimate(IAnsiConsole console, PairDryRun.Result e)
    {
        var t = new Table().Border(TableBorder.Rounded).Title("pairs build --dry-run (nothing sent)").AddColumns("role", "model", "stage", "calls", "prompt tokens", "completion tokens", "est. cost");
        foreach (var s in e.Stages)
            t.AddRow(Markup.Escape(s.Role), Markup.Escape(s.Model), Markup.Escape(s.Stage), s.Calls.ToString("N0", Inv), s.PromptTokens.ToString("N0", Inv),
                s.CompletionTokens.ToString("N0", Inv), s.PriceKnown ? "$" + s.CostUsd.ToString("0.00", Inv) : "unpriced");
        foreach (var r in e.Stages.GroupBy(s => s.Role))
            t.AddRow(Markup.Escape(r.Key), "", "[bold]role total[/]", r.Sum(s => s.Calls).ToString("N0", Inv), r.Sum(s => s.PromptTokens).ToString("N0", Inv),
                r.Sum(s => s.CompletionTokens).ToString("N0", Inv), "$" + r.Sum(s => s.CostUsd).ToString("0.00", Inv));
        t.AddRow("[bold]total[/]", "", "", e.Stages.Sum(s => s.Calls).ToString("N0", Inv), e.Stages.Sum(s => s.PromptTokens).ToString("N0", Inv),
            e.Stages.Sum(s => s.CompletionTokens).ToString("N0", Inv), "$" + e.Stages.Sum(s => s.CostUsd).ToString("0.00", Inv));
        console.Write(t);
        console.MarkupLineInterpolated($"{e.Pairs:N0} pairs for {e.Personas:N0} personas. {e.Note}");
    }
}
