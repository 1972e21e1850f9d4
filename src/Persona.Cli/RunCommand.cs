using System.CommandLine;
using System.Globalization;
using Persona.Embeddings;
using Persona.Llm;
using Persona.Run;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>
/// `persona run`: the whole testbed with one command — population, prompts, preference pairs with
/// verification, PERSONA Bench in every mode, leave-one-out, pass@k, summaries, a human-study kit,
/// a dataset folder and report.html — on one runtime, resumable, offline by default.
/// </summary>
internal static class RunCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the --out folder (re-running resumes)", defaultModel: "offline", TestbedRoles.Writer, TestbedRoles.Critic, TestbedRoles.Judge);
        var output = new Option<DirectoryInfo>("--out") { Description = "Run folder (one sub-folder per stage, report.html, manifest.json, store.sqlite).", DefaultValueFactory = _ => new DirectoryInfo("out") };
        var scale = new Option<string>("--scale") { Description = "default: a few minutes on the offline world (200 personas, 20 pairs each); paper: the original's scale (1,586 personas, every kept prompt, 317,200 pairs, leave-one-out 40 x 20).", DefaultValueFactory = _ => "default" };
        var seed = new Option<long>("--seed") { Description = "Seed of every stage; the same seed, inputs and answers give byte-identical outputs.", DefaultValueFactory = _ => 1 };
        var personas = new Option<int?>("--personas", "--n") { Description = "Personas in the population (overrides the scale's)." }.Between(1, 10_000_000);
        var prompts = new Option<string?>("--prompts") { Description = "Your prompts (.json PRISM layout, .jsonl, .csv) instead of the bundled PRISM opening prompts." };
        var survey = new Option<string?>("--survey") { Description = "Real answers per group for the survey stage (JSON Lines: qkey, attribute, group, question, options, ordinal, responses, refusal_rate) instead of the bundled GSS 2022 set." };
        var surveyModes = new Option<string>("--survey-modes") { Description = $"How the survey stage asks: some of {string.Join(", ", Survey.SurveyModes.All)}, comma-separated, or all.", DefaultValueFactory = _ => "all" };
        var surveyElicitation = new Option<string>("--survey-elicitation") { Description = "How the survey stage gets a distribution: verbalized (the model states one as JSON), logprobs (the first answer token's top 20 log-probabilities; the server must return them, as OpenAI and vLLM do) or sample:N (N answers at temperature 1, counted; N calls each).", DefaultValueFactory = _ => "verbalized" };
        var from = new Option<string?>("--from") { Description = $"Rerun from this stage on even if its inputs are unchanged: {string.Join(", ", TestbedStages.All)}." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the calls, tokens and estimated cost of every stage per role; send nothing." };
        var dataset = new Option<string?>("--dataset") { Description = $"A finished run whose dataset ({string.Join(", ", DatasetRun.Taken)}) this run takes byte for byte: only the stages that call the model under test run, so models compare on the same personas and pairs (then `persona bench compare RUN OUT`)." };
        var batchExport = new Option<DirectoryInfo?>("--batch-export") { Description = "Send nothing: write every request the run needs next (all stages and roles that can go on) as OpenAI Batch files (also `vllm run-batch` input) in this folder and stop with exit code 6. Needs no key." };
        var bestOfN = new Option<int>("--best-of-n") { Description = $"Adds the bench mode rm_best_of_n: N answers drawn per question (e.g. {Benchmark.BestOfN.DefaultN}) for the rm stage's reward models to pick from; 0 (default): off. Not with --shard (the models are fitted at the merge).", DefaultValueFactory = _ => 0 }.Between(0, Benchmark.BestOfN.MaxN);
        var benchRm = new Option<string>("--bench-rm") { Description = "Which reward model picks in rm_best_of_n: auto (pal_mixture if trained, else per_persona, conditioned, global), or one of those names; a persona the model never saw is scored after adapting it on up to 20 of its train-prompt pairs.", DefaultValueFactory = _ => Rewards.AnswerRewardScorer.Auto };
        var rmPersonas = new Option<int>("--rm-personas") { Description = "The rm stage fits and scores its reward models on a seeded sample of at most this many personas, in proportion to their political views (0: every persona). Both scales are within the default; past it the stage's memory stops growing with the population.", DefaultValueFactory = _ => 2000 }.Between(0, 10_000_000);
        var batchImport = new Option<FileInfo[]>("--batch-import") { Description = "Batch result files (OpenAI or vLLM envelope) to read into the run's cache first; joined on custom_id, in any order.", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("run",
            "The whole testbed, one command: population (census draw, LM-written detail, consistency filter, fidelity) -> prompts\n" +
            "(filters, controversy classifier, topics, split) -> preference pairs + role-play verification in both orders -> PERSONA\n" +
            "Bench (every mode, debate critic) -> leave-one-out -> pass@k -> attributes dropped by summaries -> human-study kit ->\n" +
            "Hugging Face dataset folder -> report.html. Roles by job: --writer-model makes the dataset (persona detail, consistency,\n" +
            "controversy verdicts, the pairs' answers, critiques and revisions), --model is the model under test (bench answers only),\n" +
            "--critic-model grades the bench, --judge-model role-plays the personas; a role not given is --model (the run says so).\n" +
            "Killed and rerun, it resumes and pays nothing twice; a stage is reused while what it declares (its options, the models of\n" +
            "the roles it calls, the files it reads) is unchanged. With the default --model offline every answer is simulated and\n" +
            "labelled so; offline:NAME is a second simulated model (offline:b has a planted lower bench score).\n\n" +
            RuntimeOptions.ExitCodes + "\n  6 requests written to --batch-export: run them, then rerun with --batch-import RESULTS... (resumable).\n\n" +
            "Examples:\n" +
            "  persona run\n" +
            "  persona run --model openai:gpt-4o-mini --out runs/b --batch-export runs/b-requests   (then, per round: --batch-import RESULTS... --batch-export ...)\n" +
            "  persona run --scale paper --out runs/paper\n" +
            "  persona run --model openai:gpt-4o-mini --critic-model openai:gpt-4o --judge-model openai:gpt-4o --dry-run\n" +
            "  OPENAI_API_KEY=... persona run --model openai:gpt-4o-mini --critic-model openai:gpt-4o --max-cost 20 --out runs/gpt4o-mini\n" +
            "  persona run --out runs/paper --from bench\n" +
            "  persona run --dataset out --model offline:b --out out-b && persona bench compare out out-b")
        {
            output, scale, seed, personas, prompts, survey, surveyModes, surveyElicitation, from, dryRun, dataset, batchExport, batchImport, bestOfN, benchRm, rmPersonas,
        };
        runtime.AddTo(cmd);
        // Across machines: --shared-only, --shard/--shared and `persona run merge` (RunShardCommands.cs).
        var shards = new RunShardOptions();
        shards.AddTo(cmd);
        cmd.Subcommands.Add(RunShardOptions.Merge(console));
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(output)!.FullName;
            var o = TestbedOptions.ForScale(parse.GetValue(scale)!, dir) with
            {
                Seed = parse.GetValue(seed), From = parse.GetValue(from), PromptSource = parse.GetValue(prompts),
                Dataset = parse.GetValue(dataset) is { } d ? Path.GetFullPath(d) : null,
            };
            if (parse.GetValue(personas) is { } n) o = o with { Personas = n };
            if (o.Dataset is { } datasetDir)
            {
                if (!File.Exists(Path.Combine(datasetDir, TestbedRun.ManifestFile)))
                    throw new PersonaException($"--dataset '{parse.GetValue(dataset)}' is not a finished `persona run` folder (no {TestbedRun.ManifestFile}).");
                // Neither run may hold the other: the new run's files would become new files of the dataset run.
                OutputPaths.EnsureOutsideInputs(dir, "--out", ("--dataset", datasetDir));
                OutputPaths.EnsureOutsideInputs(datasetDir, "--dataset", ("--out", Directory.Exists(dir) ? dir : null));
                o = DatasetOptions(parse, o, datasetDir, scale, seed, personas, prompts);
                // The dataset run's writer made the dataset: a writer given here would be taken and never asked.
                if (runtime.RoleGiven(parse, TestbedRoles.Writer))
                    throw new PersonaException("--writer-model (and --writer-base-url, --writer-concurrency) has nothing to write with --dataset: the dataset is that run's. Drop the writer flags, or drop --dataset to make a new dataset.");
            }
            o = o with { SurveySource = parse.GetValue(survey) is { } sf ? Path.GetFullPath(sf) : null, SurveyModes = Survey.SurveyModes.Parse(parse.GetValue(surveyModes)!),
                SurveyElicitation = Survey.SurveyElicitation.Parse(parse.GetValue(surveyElicitation)!),
                BenchBestOfN = parse.GetValue(bestOfN), BenchRm = parse.GetValue(benchRm)!.Trim().ToLowerInvariant(),
                RmPersonas = parse.GetValue(rmPersonas) };
            // Read in full now, like --prompts: a broken line found by the survey stage would come after the population was paid.
            if (o.SurveySource is { } surveyFile) Survey.SurveySetFile.Read(surveyFile);
            // With --dataset the prompts are the dataset run's, already curated: its source file is not read again.
            if (o.Dataset is null && o.PromptSource is { } folder) InputFile.NotAFolder(folder, "--prompts");
            if (o.Dataset is null && o.PromptSource is { } src && !File.Exists(src)) throw new PersonaException($"--prompts '{src}' does not exist.");
            // Read in full now: a broken line found by the prompts stage came after the population was paid.
            if (o.Dataset is null && o.PromptSource is { } source) Prompts.PromptLoader.Load(source);
            o.Validate();
            var rtOptions = runtime.Build(parse, dir);
            // rm_best_of_n needs the reward models, which a sharded run fits only at the merge, after every shard's bench.
            if (shards.Requested(parse) && o.BenchBestOfN > 0)
                throw new PersonaException("--best-of-n cannot go with a sharded run: rm_best_of_n needs the reward models, which are fitted at the merge after every shard's bench. Drop --best-of-n, or run unsharded.");
            if (shards.Requested(parse)) return await shards.RunAsync(console, parse, o, rtOptions, parse.GetValue(dryRun), ct);
            // --refresh asks for new answers, which a reused stage would never request.
            if (rtOptions.Refresh && o.From is null) o = o with { From = TestbedStages.Population };
            if (parse.GetValue(dryRun))
            {
                WriteEstimate(console, o, await TestbedDryRun.EstimateAsync(o, rtOptions, ct: ct));
                return 0;
            }
            OutputChecks.BuildFolder(dir, null, null, null, null);
            if (o.PromptSource is { } ps && Path.GetFullPath(ps).StartsWith(dir.TrimEnd('/') + "/", StringComparison.Ordinal))
                throw new PersonaException($"--prompts '{ps}' lies inside the run folder '{dir}', whose files the run replaces; copy it elsewhere first.");
            using var exporter = parse.GetValue(batchExport) is { } exportDir ? new BatchExportWriter(exportDir.FullName) : null;
            await using var rt = LlmRuntime.Open(rtOptions with { BatchExport = exporter });
            if (parse.GetValue(batchImport) is { Length: > 0 } imports)
            {
                var imported = await BatchImport.ImportAsync(rt.Store, imports.Select(f => f.FullName), rtOptions.Prices);
                console.MarkupLineInterpolated($"batch import: {imported.Imported:N0} results cached, {imported.AlreadyCached:N0} already cached, {imported.Errors:N0} errors{(imported.ErrorKinds.Count > 0 ? " (" + string.Join(", ", imported.ErrorKinds.Select(kv => $"{kv.Key} {kv.Value}")) + ")" : "")}, {imported.Unknown:N0} not from this run.");
            }
            if (exporter is null) await rt.EnsureReachableAsync(ct);
            // With --dataset the writer is never asked: the dataset is that run's.
            foreach (var role in new[] { TestbedRoles.Writer, TestbedRoles.Critic, TestbedRoles.Judge }.Where(r => r != TestbedRoles.Writer || o.Dataset is null)
                         .Select(rt.Role).Where(r => r.FallsBackToDefault || r.Identity.Identity == rt.ModelIdentity))
                console.MarkupLineInterpolated($"[yellow]note:[/] the {role.Name} is the model under test ({rt.ModelIdentity}); give --{role.Name}-model for an independent {role.Name}{(role.Name == TestbedRoles.Writer ? " (or --dataset RUN), so the dataset stays fixed while models under test change" : "")}. The report says so.");
            TestbedResult result;
            try
            {
                result = await Display(console, rt, p => TestbedRun.RunAsync(o, rt, () => new MiniLmEmbedder(), WriteReportAsync, p, ct, Interrupts.Abort));
            }
            catch (BatchPendingException ex) when (exporter is not null)
            {
                exporter.Dispose(); // the files are complete before they are named
                var t = new Table().Border(TableBorder.Rounded).Title("batch export (nothing was sent)").AddColumns("file", "requests");
                foreach (var (file, count) in exporter.Files.OrderBy(kv => kv.Key, StringComparer.Ordinal)) t.AddRow(Markup.Escape(file), count.ToString("N0", Inv));
                console.Write(t);
                console.MarkupLineInterpolated($"{ex.Message} {exporter.Requests:N0} requests are in {exporter.Directory_}. Run them (OpenAI Batch API, or `vllm run-batch -i FILE -o RESULTS --model ...`), then run this command again with --batch-import RESULTS... (and --batch-export for the next round); the run goes on where it stopped.");
                return BatchPendingException.Code;
            }
            WriteSummary(console, result, rt);
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// A run on a dataset takes the dataset run's scale, seed, population size and prompts, so the bench
    /// asks the same questions of the same personas (its samples pair one for one); a flag that says
    /// otherwise is refused rather than silently pairing nothing.
    /// </summary>
    /// <summary>The run's report stage: the report room writes the page from the run folder.</summary>
    internal static async Task<ReportOutcome> WriteReportAsync(string runDirectory, CancellationToken ct)
    {
        var r = await Persona.Report.RunReport.WriteAsync(runDirectory, ct).ConfigureAwait(false);
        return new ReportOutcome(r.SimulatedStages, r.Problems);
    }

    private static TestbedOptions DatasetOptions(ParseResult parse, TestbedOptions given, string datasetDir,
        Option<string> scale, Option<long> seed, Option<int?> personas, Option<string?> prompts)
    {
        System.Text.Json.JsonElement m;
        try { m = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(datasetDir, TestbedRun.ManifestFile))).RootElement; }
        catch (System.Text.Json.JsonException) { throw new PersonaException($"--dataset '{datasetDir}': its {TestbedRun.ManifestFile} is damaged; `persona verify {datasetDir}` says more."); }
        string? Str(System.Text.Json.JsonElement e, string name) => e.ValueKind == System.Text.Json.JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String ? v.GetString() : null;
        long? Num(System.Text.Json.JsonElement e, string name) => e.ValueKind == System.Text.Json.JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number && v.TryGetInt64(out var x) ? x : null;
        var testbed = m.ValueKind == System.Text.Json.JsonValueKind.Object && m.TryGetProperty("testbed", out var t) ? t : default;
        if (Str(m, "scale") is not { } recordedScale || Num(m, "seed") is not { } recordedSeed || Num(testbed, "personas") is not { } recordedPersonas)
            throw new PersonaException($"--dataset '{datasetDir}': its {TestbedRun.ManifestFile} does not record the run's scale, seed and population size; give a folder `persona run` wrote.");
        var recorded = TestbedOptions.ForScale(recordedScale, given.OutputDirectory) with
        {
            Seed = recordedSeed, Personas = (int)recordedPersonas, PromptSource = Str(testbed, "prompt_source"), From = given.From, Dataset = given.Dataset,
        };
        void Same<T>(Option<T> option, object? value, object? mine)
        {
            if (parse.GetResult(option) is { Implicit: false } && !Equals(value, mine))
                throw new PersonaException($"{option.Name} {value} differs from the dataset run's ({mine ?? "none"}): a run on a dataset uses that run's scale, seed, personas and prompts, so both models answer the same questions. Drop {option.Name}.");
        }
        Same(scale, given.Scale, recorded.Scale);
        Same(seed, given.Seed, recorded.Seed);
        Same(personas, given.Personas, recorded.Personas);
        Same(prompts, given.PromptSource is null ? null : Path.GetFullPath(given.PromptSource), recorded.PromptSource is null ? null : Path.GetFullPath(recorded.PromptSource));
        return recorded;
    }

    /// <summary>One progress display for the whole run: a line per stage (i of n, its step, items, rate, time left).</summary>
    internal static async Task<T> Display<T>(IAnsiConsole console, LlmRuntime rt, Func<IProgress<TestbedProgress>, Task<T>> work)
    {
        T result = default!;
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var rows = new Dictionary<string, (ProgressTask Task, DateTime Started, string Step)>(StringComparer.Ordinal);
                var gate = new object();
                var progress = new SyncProgress<TestbedProgress>(x =>
                {
                    lock (gate)
                    {
                        if (!rows.TryGetValue(x.Stage, out var row))
                            rows[x.Stage] = row = (ctx.AddTask(Markup.Escape($"[{x.Index}/{x.Count}] {x.Stage}")), DateTime.UtcNow, "");
                        if (row.Step != x.Step)
                        {
                            // A new step restarts the bar so its ETA is about this step's items, not the stage's first step.
                            rows[x.Stage] = row = (row.Task, DateTime.UtcNow, x.Step);
                        }
                        var secs = (DateTime.UtcNow - row.Started).TotalSeconds;
                        var rate = secs > 0.5 && x.Done > 0 ? $", {(x.Done / secs).ToString("N0", Inv)}/s" : "";
                        var what = x.Reused ? "reused (inputs unchanged)" : x.Step == "done" ? "done" : $"{x.Step} {x.Done.ToString("N0", Inv)}/{x.Total.ToString("N0", Inv)}{rate}";
                        row.Task.Description = Markup.Escape($"[{x.Index}/{x.Count}] {x.Stage}: {what}");
                        row.Task.MaxValue = Math.Max(1, x.Total);
                        row.Task.Value = Math.Min(x.Done, row.Task.MaxValue);
                        if (x.Step == "done" || x.Reused) row.Task.StopTask();
                    }
                });
                using var stop = new CancellationTokenSource();
                var waiting = StageProgress.WaitingOf(rt);
                var ticker = Task.Run(async () =>
                {
                    ProgressTask? line = null;
                    while (!stop.IsCancellationRequested)
                    {
                        try { await Task.Delay(500, stop.Token); } catch (OperationCanceledException) { break; }
                        var text = waiting();
                        if (text.Length == 0 && line is null) continue;
                        line ??= ctx.AddTask("LM calls", maxValue: 1);
                        line.IsIndeterminate = text.Length > 0;
                        line.Description = Markup.Escape(text.Length > 0 ? "LM calls " + text : "LM calls: none waiting");
                    }
                });
                try { result = await work(progress); }
                finally
                {
                    await stop.CancelAsync();
                    await ticker;
                }
            });
        return result;
    }

    internal static void WriteSummary(IAnsiConsole console, TestbedResult r, LlmRuntime rt)
    {
        var t = new Table().Border(TableBorder.Rounded).Title("persona run").AddColumns("stage", "status", "seconds", "paid calls", "cache hits", "est. cost", "key figures");
        foreach (var stage in TestbedStages.All)
        {
            if (!r.Stages.TryGetValue(stage, out var s)) continue;
            // A reused stage cost nothing now; what it cost when it ran is in invocations.jsonl (`persona report` shows it).
            var paid = s.Reused ? 0 : s.Spend.Values.Sum(x => x.PaidCalls);
            var hits = s.Reused ? 0 : s.Spend.Values.Sum(x => x.CacheHits);
            var cost = s.Reused ? 0 : s.Spend.Values.Sum(x => x.EstimatedCostUsd);
            t.AddRow(Markup.Escape(stage), s.From is not null ? "from dataset" : s.Reused ? "reused" : s.Status, s.Reused ? "-" : s.Seconds.ToString("0.0", Inv), paid.ToString("N0", Inv), hits.ToString("N0", Inv),
                "$" + cost.ToString("0.00", Inv), Markup.Escape(KeyFigures(TestbedStages.Get(stage).ReadResult(s.Counts))));
        }
        console.Write(t);
        if (r.Stages.TryGetValue(TestbedStages.Survey, out var sv) && TestbedStages.Get(TestbedStages.Survey).ReadResult(sv.Counts) is SurveyStageResult sr)
        {
            static string Shown(double? v) => v is { } x ? Math.Round(x, 3).ToString(Inv) : "-";
            var subset = sr.Questions < sr.OfQuestions ? " (a fixed seeded subset to keep the default run fast; --scale paper asks all)" : "";
            console.MarkupLineInterpolated($"survey: {sr.Questions} of {sr.OfQuestions} GSS questions asked of each panelist{subset}; panel's mean distance to the real groups {Shown(sr.MeanDistance)}, unsteered {Shown(sr.UnsteeredMeanDistance)}, population prior {Shown(sr.PriorMeanDistance)}; lower is better ({Path.Combine(r.RunDirectory, TestbedStages.Folder(TestbedStages.Survey), "survey-modes.json")}){(r.Simulated ? "; simulated, not a finding" : "")}.");
        }
        var roles = new Table().Border(TableBorder.Rounded).AddColumns("role", "model", "paid calls", "tokens", "est. cost");
        foreach (var role in rt.Roles)
        {
            var u = role.Usage.Snapshot();
            roles.AddRow(Markup.Escape(role.Name), Markup.Escape(role.Identity.Identity + (role.Identity.Simulated ? " (simulated)" : "")), u.PaidCalls.ToString("N0", Inv),
                (u.PromptTokens + u.CompletionTokens).ToString("N0", Inv), "$" + u.CostUsd.ToString("0.00", Inv));
        }
        console.Write(roles);
        console.MarkupLineInterpolated($"report: [link]{Path.Combine(r.RunDirectory, TestbedStages.ReportFile)}[/]   manifest: {Path.Combine(r.RunDirectory, TestbedRun.ManifestFile)}");
        // The folder cannot vouch for its own manifest: a digest kept elsewhere can (see `persona verify --help`).
        if (r.ManifestSha256 is { } digest)
        {
            var shown = r.RunDirectory.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$' or '`') ? $"'{r.RunDirectory.Replace("'", "'\\''")}'" : r.RunDirectory;
            console.MarkupLineInterpolated($"manifest sha256: {digest} (also in {ManifestDigest.FileName}). Keep it outside the folder; it proves the manifest unedited:");
            console.MarkupLineInterpolated($"  persona verify {shown} --expect {digest}");
        }
        console.MarkupLineInterpolated($"study kit: persona study serve {Path.Combine(r.RunDirectory, TestbedStages.Folder(TestbedStages.Study))}   dataset: huggingface-cli upload <you>/<name> {Path.Combine(r.RunDirectory, TestbedStages.Folder(TestbedStages.Dataset))} --repo-type dataset");
        if (r.Simulated) console.MarkupLine("[yellow]simulated:[/] the offline simulator wrote every answer and verdict (a planted world); nothing here is a finding. Give --model (and --critic-model, --judge-model) for a real run.");
    }

    private static string KeyFigures(StageResult? result) => result is null ? "" : string.Join(", ", result.KeyFigures()
        .Where(f => f.Value is not null).Select(f => $"{f.Name} {Convert.ToString(f.Value is double d ? Math.Round(d, 3) : f.Value, Inv)}"));

    private static void WriteEstimate(IAnsiConsole console, TestbedOptions o, TestbedDryRun.Result e)
    {
        var t = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"persona run --dry-run, scale {o.Scale} (nothing sent)"))
            .AddColumns("stage", "role", "model", "step", "calls", "prompt tokens", "completion tokens", "est. cost");
        foreach (var l in e.Lines)
            t.AddRow(Markup.Escape(l.Stage), Markup.Escape(l.Role), Markup.Escape(l.Model), Markup.Escape(l.Step), l.Calls.ToString("N0", Inv), l.PromptTokens.ToString("N0", Inv),
                l.CompletionTokens.ToString("N0", Inv), l.PriceKnown ? "$" + l.CostUsd.ToString("0.00", Inv) : "unpriced");
        foreach (var g in e.Lines.GroupBy(l => l.Role))
            t.AddRow("", Markup.Escape(g.Key), "", "[bold]role total[/]", g.Sum(l => l.Calls).ToString("N0", Inv), g.Sum(l => l.PromptTokens).ToString("N0", Inv),
                g.Sum(l => l.CompletionTokens).ToString("N0", Inv), "$" + g.Sum(l => l.CostUsd).ToString("0.00", Inv));
        t.AddRow("[bold]total[/]", "", "", "", e.Lines.Sum(l => l.Calls).ToString("N0", Inv), e.Lines.Sum(l => l.PromptTokens).ToString("N0", Inv),
            e.Lines.Sum(l => l.CompletionTokens).ToString("N0", Inv), "$" + e.Lines.Sum(l => l.CostUsd).ToString("0.00", Inv) + (e.Lines.Any(l => !l.PriceKnown) ? " + unpriced" : ""));
        console.Write(t);
        console.MarkupLineInterpolated($"{e.Note}");
    }
}
