using System.CommandLine;
using System.Globalization;
using Persona.Benchmark;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Prompts;
using Persona.Store;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona bench ...`: PERSONA Bench (four modes + few-shot preferences, a debate critic), its variants, re-scoring and comparison.</summary>
internal static class BenchCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var cmd = new Command("bench", "PERSONA Bench: answer questions personalised for personas in four modes, graded by a debate critic; leave-one-out, intersections, pass@k, summary audits; re-score and compare runs.");
        cmd.Subcommands.Add(Run(console, intersect: false));
        cmd.Subcommands.Add(Run(console, intersect: true));
        cmd.Subcommands.Add(PassK(console));
        cmd.Subcommands.Add(Loo(console));
        cmd.Subcommands.Add(Summaries(console));
        cmd.Subcommands.Add(Score(console));
        cmd.Subcommands.Add(Compare(console));
        return cmd;
    }

    /// <summary>The inputs and sampling options every generating verb shares.</summary>
    private sealed class Inputs
    {
        public readonly Option<string> Personas = new("--personas") { Description = "A `personas build` folder, a persona file (.jsonl/.parquet/.csv), the PERSONA release's `persona` column, or the Synthetic-Personas table.", Required = true };
        public readonly Option<string> Prompts = new("--prompts") { Description = "A `prompts curate` folder or a question file (.jsonl/.csv with a `question` or `text` column, optional `split`).", Required = true };
        public readonly Option<string> Split = new("--split") { Description = "Questions from this split: train, held_out or all.", DefaultValueFactory = _ => "held_out" };
        public readonly Option<string> PersonaSplit = new("--persona-split") { Description = "Personas from this split: train, test or all.", DefaultValueFactory = _ => "all" };
        public readonly Option<string> Pairing = new("--pairing") { Description = "zip (persona i gets the next questions in order), random (seeded questions per persona) or cross (every persona x every question).", DefaultValueFactory = _ => "random" };
        public readonly Option<int> PerPersona = new Option<int>("--per-persona") { Description = "Questions per persona (zip, random).", DefaultValueFactory = _ => 1 }.Between(1, 100_000);
        public readonly Option<int?> Samples = new Option<int?>("--samples") { Description = "Keep a seeded subset of this many (persona, question) pairs." }.Between(1, int.MaxValue);
        public readonly Option<long> Seed = new("--seed") { Description = "Seed of the pairing and subsets.", DefaultValueFactory = _ => 0 };
        public readonly Option<string?> Templates = new("--templates") { Description = "Your own prompt templates (format persona-bench-prompts/1). Default: data/bench/prompts.json." };

        public (string, string?)[] Named(ParseResult parse) => [("--personas", parse.GetValue(Personas)), ("--prompts", parse.GetValue(Prompts))];

        public void AddTo(Command c) { foreach (var o in new Option[] { Personas, Prompts, Split, PersonaSplit, Pairing, PerPersona, Samples, Seed, Templates }) c.Options.Add(o); }

        public async Task<(IReadOnlyList<PersonaInput> Personas, IReadOnlyList<QuestionInput> Questions, IReadOnlyList<(PersonaInput, QuestionInput)> Pairs, BenchPrompts Prompts)> LoadAsync(ParseResult parse, CancellationToken ct)
        {
            var prompts = BenchPrompts.Load(parse.GetValue(Templates));
            var personas = await PersonaInputs.LoadAsync(parse.GetValue(Personas)!, ct);
            var questions = QuestionInputs.Load(parse.GetValue(Prompts)!);
            var pairs = BenchTask.Pair(personas, questions, new BenchSampling
            {
                Pairing = parse.GetValue(Pairing)!, PerPersona = parse.GetValue(PerPersona), Samples = parse.GetValue(Samples),
                QuestionSplit = parse.GetValue(Split)!, PersonaSplit = parse.GetValue(PersonaSplit)!, Seed = (ulong)parse.GetValue(Seed),
            });
            return (personas, questions, pairs, prompts);
        }
    }

    private static readonly Option<int> Resamples = new Option<int>("--resamples") { Description = "Bootstrap resamples of every interval.", DefaultValueFactory = _ => 1000 }.Between(1, OptionRules.MaxResamples);
    private static readonly Option<int> MinCell = new Option<int>("--min-cell") { Description = "Groups with fewer samples are counted but their accuracy is withheld.", DefaultValueFactory = _ => 30 }.Between(0, int.MaxValue);
    private static readonly Option<bool> NoFigures = new("--no-figures") { Description = "Skip the PNG/SVG figures." };

    private static void WarnIfSelfGraded(IAnsiConsole console, LlmRuntime rt, string role)
    {
        var r = rt.Role(role);
        if (r.FallsBackToDefault || r.Identity.Identity == rt.ModelIdentity)
            console.MarkupLineInterpolated($"[yellow]warning:[/] the {role} is the model under test ({rt.ModelIdentity}); give --{role}-model for an independent grader. The results say so.");
    }

    /// <summary>Runs a bench job under a progress bar labelled <paramref name="label"/> (its statistics step has its own).</summary>
    private static Task<T> WithProgress<T>(IAnsiConsole console, string label, Func<StepProgress, Task<T>> job) =>
        StageProgress.RunAsync(console, step => step == "statistics" ? "Statistics" : label, p => job((step, done, total) => p.Report(step, done, total)));

    private static Task<List<SampleRecord>> RunTaskAsync<T>(IAnsiConsole console, EvalTask<T> task, LlmRuntime rt, long total, string label, CancellationToken ct) =>
        WithProgress(console, label, p => TaskCollector.CollectAsync(task, rt, null, total, task.Name, p, ct, Interrupts.Abort));

    private static BenchOutput Output(string outDir, ParseResult parse) => new(outDir, !parse.GetValue(NoFigures), parse.GetValue(Parquet));

    private static readonly Option<bool> Parquet = new("--parquet") { Description = "Also write samples.parquet (3.2 s for the 7,930 samples of the paper-scale bench here)." };

    private static async Task ExportAsync(LlmRuntime rt, string task, string outDir, ParseResult parse, CancellationToken ct)
    {
        Directory.CreateDirectory(outDir);
        await SampleLogExport.WriteJsonlAsync(rt.Store, task, Path.Combine(outDir, "samples.jsonl"), ct);
        if (parse.GetValue(Parquet)) await SampleLogExport.WriteParquetAsync(rt.Store, task, Path.Combine(outDir, "samples.parquet"), ct);
    }

    private static Command Run(IAnsiConsole console, bool intersect)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the --out folder (so re-running resumes and pays nothing twice)", defaultModel: null, BenchTask.CriticRole);
        var inputs = new Inputs();
        var mode = new Option<string>("--mode") { Description = "baseline, output_only, chain_of_thought, demographic_summary, few_shot_preferences, rm_best_of_n (needs --rm), a comma-separated list, or all (the four; plus few_shot_preferences with --pairs).", DefaultValueFactory = _ => "all" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: samples.jsonl (samples.parquet with --parquet), results.json, figures/ (+ store.sqlite, manifest.json).", Required = true };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature of the model under test.", DefaultValueFactory = _ => 0 }.Between(0f, 2f);
        var pairs = new Option<string?>("--pairs") { Description = "Preference pairs (a folder with pairs.jsonl, or the file) for few_shot_preferences: each persona's own train pairs are shown." };
        var shots = new Option<int>("--shots") { Description = "Train pairs shown per persona in few_shot_preferences.", DefaultValueFactory = _ => 3 }.Between(1, 100, "give --mode without few_shot_preferences to show none");
        var intersections = new Option<string>("--intersections") { Description = "The original's intersections JSON: [{\"attributes\": [{\"attribute\": ..., \"values\": [...]}]}].", Required = true };
        var rm = new Option<string?>("--rm") { Description = "Reward models for rm_best_of_n: a `persona rm train` output folder (or RUN/rm of a `persona run`), or one of its models/NAME folders." };
        var benchRm = new Option<string>("--bench-rm") { Description = "Which model of --rm picks: auto (pal_mixture if trained, else per_persona, conditioned, global), or one of those names; a persona the model never saw is scored after adapting it on up to 20 of the persona's --pairs train-prompt pairs.", DefaultValueFactory = _ => Rewards.AnswerRewardScorer.Auto };
        var bestOfN = new Option<int>("--best-of-n") { Description = "Answers drawn per question in rm_best_of_n (each its own cached call).", DefaultValueFactory = _ => BestOfN.DefaultN }.Between(2, BestOfN.MaxN);
        var bestOfNTemperature = new Option<float>("--best-of-n-temperature") { Description = "Sampling temperature of rm_best_of_n's draws (above 0, or the draws are one answer).", DefaultValueFactory = _ => BestOfN.DefaultTemperature }.Between(0.01f, 2f, "at temperature 0 the N draws are the same answer");
        var cmd = new Command(intersect ? "intersect" : "run", (intersect
                ? "Accuracy per demographic intersection (the original's intersections file): runs (or reuses) the bench samples,\nthen reports each intersection's accuracy with its cell size (samples, personas) and intervals.\n"
                : "Run PERSONA Bench: the model under test answers each question for each persona in each mode (structured JSON,\n" +
                  "only answer_to_question judged); the critic (its own role: --critic-model) debates and says whether the answer\n" +
                  "needs revision. Accuracy with the bootstrap SE the original reports, clustered intervals (personas x questions),\n" +
                  "census-weighted accuracy per group for every attribute with the worst group and the gap, and paired mode\n" +
                  "comparisons with Holm adjustment.\n") + "\n" +
            RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n" +
            "  persona bench run --personas personas --prompts prompts --model offline --critic-model offline --out bench-demo\n" +
            "  persona bench run --personas personas --prompts questions.jsonl --split all --per-persona 3 --model openai:qwen2.5-7b \\\n" +
            "      --base-url http://gpu1:8000/v1 --critic-model openai:gpt-4o-mini --mode output_only,demographic_summary --out bench\n" +
            "  persona bench intersect --personas personas --prompts prompts --model offline --critic-model offline --intersections x.json --out bench-demo");
        runtime.AddTo(cmd);
        inputs.AddTo(cmd);
        foreach (var o in new Option[] { mode, output, temperature, pairs, shots, rm, benchRm, bestOfN, bestOfNTemperature, Resamples, MinCell, NoFigures, Parquet }) cmd.Options.Add(o);
        if (intersect) cmd.Options.Add(intersections);
        cmd.SetAction(async (parse, ct) =>
        {
            var outDir = parse.GetValue(output)!.FullName;
            CheckOut(outDir, inputs.Named(parse), ("--pairs", parse.GetValue(pairs)), ("--intersections", intersect ? parse.GetValue(intersections) : null), ("--templates", parse.GetValue(inputs.Templates)),
                ("--rm", parse.GetValue(rm)));
            var pairsPath = parse.GetValue(pairs);
            // Checked before anything is loaded or paid: rm_best_of_n without a reward model is a usage error.
            var modes = BenchModes.Parse(parse.GetValue(mode), pairsPath is not null, parse.GetValue(rm) is not null);
            var best = modes.Contains(BenchModes.RmBestOfN)
                ? Persona.Run.BenchRm.Open(parse.GetValue(rm)!, parse.GetValue(benchRm)!, pairsPath, parse.GetValue(bestOfN), parse.GetValue(bestOfNTemperature))
                : null;
            var (personas, _, pairList, prompts) = await inputs.LoadAsync(parse, ct);
            var examples = pairsPath is null ? null : PreferencePairsFile.TrainExamples(pairsPath, pairList, parse.GetValue(shots));
            var cells = intersect ? Intersections.Read(parse.GetValue(intersections)!) : null;
            if (cells is not null) Intersections.CheckAttributes(cells, personas.Select(p => p.Attributes), parse.GetValue(intersections)!);
            var total = (long)pairList.Count * modes.Count;
            await using var rt = LlmRuntime.Open(runtime.Build(parse, outDir));
            WarnIfSelfGraded(console, rt, BenchTask.CriticRole);
            await rt.EnsureReachableAsync(ct);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var task = BenchTask.Create(BenchTask.Items(pairList, modes, 1, examples, parse.GetValue(shots)), prompts, [BenchTask.Critic(prompts)], parse.GetValue(temperature), bestOfN: best);
                var (samples, tally, results) = await WithProgress(console, "Generating and critiquing", p => BenchJobs.BenchAsync(task, total, rt, Output(outDir, parse),
                    parse.GetValue(Resamples), parse.GetValue(MinCell), task.Name, p, ct, Interrupts.Abort));
                if (cells is not null)
                    BenchReport.Write(Path.Combine(outDir, "intersections.json"), Intersections.Compute(tally, cells, parse.GetValue(Resamples)));
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?> { ["samples"] = samples, ["modes"] = modes, ["pairs"] = pairList.Count, ["templates"] = prompts.Version });
                console.Write(ResultsTable(results));
                if (best is not null) console.MarkupLineInterpolated($"rm_best_of_n: best of {best.N} at temperature {best.Temperature.ToString(Inv)}, picked by {best.RewardModel}; per group against baseline: {Path.Combine(outDir, BestOfNReport.File)}");
                if (cells is not null) console.Write(IntersectionTable(Intersections.Compute(tally, cells, 200)));
                console.MarkupLineInterpolated($"results: {Path.Combine(outDir, cells is null ? "results.json" : "intersections.json")}");
                if (rt.Simulated) console.MarkupLine("[yellow]simulated:[/] the offline simulator answered and graded; the numbers follow the planted world, not any model.");
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>Adds a row of plain text (intervals print brackets, which Spectre would read as markup).</summary>
    private static void Row(Table t, params string[] cells) => t.AddRow(cells.Select(Markup.Escape).ToArray());

    private static string Pct(double? x) => x is { } v ? v.ToString("P1", Inv) : "-";
    private static string Ci(Statistics.Interval? i) => i is { } v ? $"[{v.Lower.ToString("P1", Inv)}, {v.Upper.ToString("P1", Inv)}]" : "-";

    private static Table ResultsTable(BenchResults r)
    {
        var t = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"PERSONA Bench, score set {r.ScoreSet} ({r.CriticModel}{(r.CriticIsModelUnderTest ? ", the model under test itself" : "")})"))
            .AddColumns("mode", "accuracy", "± SE (bootstrap)", "clustered 95%", "census-weighted", "scored / samples", "failures (gen, critic)", "worst group");
        foreach (var m in r.Modes)
        {
            var a = m.Accuracy;
            Row(t, m.Mode, Pct(a.Accuracy), a.BootstrapStandardError is { } se ? se.ToString("0.0000", Inv) : "-", Ci(a.Clustered), Pct(a.CensusWeighted),
                $"{a.Scored} / {a.Samples}", $"{a.GenerationFailures}, {a.CriticFailures}",
                m.WorstGroup is { } w ? $"{w.Attribute} = {w.Group}: {w.Mean.ToString("P1", Inv)} (n {w.N})" : "-");
        }
        return t;
    }

    private static Table IntersectionTable(IntersectionResults r)
    {
        var t = new Table().Border(TableBorder.Rounded).AddColumns("intersection", "mode", "personas", "samples", "accuracy", "95% (Wilson)");
        foreach (var x in r.Rows)
            Row(t, x.Intersection, x.Mode, x.Personas.ToString(Inv), x.Accuracy.Scored.ToString(Inv), Pct(x.Accuracy.Accuracy), Ci(x.Accuracy.Wilson));
        return t;
    }

    private static Command PassK(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the --out folder", defaultModel: null, BenchTask.CriticRole);
        var inputs = new Inputs();
        var mode = new Option<string>("--mode") { Description = "Mode(s) to sample, as for bench run.", DefaultValueFactory = _ => BenchModes.OutputOnly };
        var k = new Option<int>("--k") { Description = "Largest k of pass@k.", DefaultValueFactory = _ => 16 }.Between(1, 1_000);
        var n = new Option<int?>("--n") { Description = "Independent samples per item (at least --k). Default: --k." }.Between(1, 10_000);
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (above 0: the samples must differ).", DefaultValueFactory = _ => 1 }.Between(0.01f, 2f, "at temperature 0 every sample is the same answer, so pass@k would equal pass@1");
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: samples.jsonl, samples.parquet, passk.json, figures/pass-at-k.png|svg.", Required = true };
        var cmd = new Command("passk",
            "pass@k: n >= k independent samples per (persona, question), each in a fresh conversation with its own sample index,\n" +
            "each critiqued against the real question; pass@1..k by the unbiased estimator of Chen et al. (2021), with\n" +
            "two-way clustered intervals.\n\n" + RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n  persona bench passk --personas personas --prompts prompts --model offline --critic-model offline --k 16 --samples 100 --out passk-demo");
        runtime.AddTo(cmd);
        inputs.AddTo(cmd);
        foreach (var o in new Option[] { mode, k, n, temperature, output, Resamples, NoFigures, Parquet }) cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var outDir = parse.GetValue(output)!.FullName;
            CheckOut(outDir, inputs.Named(parse), ("--templates", parse.GetValue(inputs.Templates)));
            var kk = parse.GetValue(k);
            var nn = parse.GetValue(n) ?? kk;
            if (kk < 1) throw new PersonaException("--k must be at least 1.");
            if (nn < kk) throw new PersonaException($"--n {nn} is below --k {kk}: the unbiased estimator needs at least k samples per item.");
            var (_, _, pairList, prompts) = await inputs.LoadAsync(parse, ct);
            var modes = BenchModes.Parse(parse.GetValue(mode), false);
            await using var rt = LlmRuntime.Open(runtime.Build(parse, outDir));
            WarnIfSelfGraded(console, rt, BenchTask.CriticRole);
            await rt.EnsureReachableAsync(ct);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var task = BenchTask.Create(BenchTask.Items(pairList, modes, nn), prompts, [BenchTask.Critic(prompts)], parse.GetValue(temperature), BenchTask.PassAtKTaskName);
                var (samples, r) = await WithProgress(console, "Sampling and critiquing", p => BenchJobs.PassKAsync(task, (long)pairList.Count * modes.Count * nn, kk, rt,
                    Output(outDir, parse), parse.GetValue(Resamples), task.Name, p, ct, Interrupts.Abort));
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?> { ["samples"] = samples.Count, ["k"] = kk, ["n"] = nn });
                // Each k once: with --k 4 (or 1) the fixed 1, 4, k columns repeated a head.
                var shown = new[] { 1, 4, kk }.Where(x => x <= kk).Distinct().ToArray();
                var t = new Table().Border(TableBorder.Rounded).AddColumns(["mode", "items", .. shown.Select(x => $"pass@{x}"), $"95% of pass@{kk}"]);
                foreach (var m in r.Modes)
                    Row(t, [m.Mode, m.Items.ToString(Inv), .. shown.Select(x => Pct(m.Points[x - 1].Estimate)), Ci(m.Points[^1].Interval)]);
                console.Write(t);
                console.MarkupLineInterpolated($"results: {Path.Combine(outDir, "passk.json")}");
                return 0;
            });
        });
        return cmd;
    }

    private static Command Loo(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the --out folder", defaultModel: null, LeaveOneOut.JudgeRole, BenchTask.CriticRole);
        var dropMode = new Option<string?>("--drop-mode") { Description = "Also the original bench's variant: answers in this mode with the full persona and with each attribute dropped, judged by the critic (--critic-model) against the full persona; accuracy change per attribute (drop.json)." };
        var personasOpt = new Option<string>("--personas") { Description = "Personas (any format bench run reads).", Required = true };
        var promptsOpt = new Option<string>("--prompts") { Description = "Questions (any format bench run reads).", Required = true };
        var split = new Option<string>("--split") { Description = "Questions from this split: train, held_out or all.", DefaultValueFactory = _ => "all" };
        var attributes = new Option<string?>("--attributes") { Description = "Comma-separated attributes to study. Default: every one of the 33 original attributes the personas have." };
        var nPersonas = new Option<int>("--loo-personas") { Description = "Personas per attribute (the original: 40).", DefaultValueFactory = _ => 40 }.Between(2, 1_000_000);
        var nQuestions = new Option<int>("--loo-questions") { Description = "Questions (the original: 20).", DefaultValueFactory = _ => 20 }.Between(1, 1_000_000);
        var orders = new Option<int>("--orders") { Description = "2: judge each choice in both answer orders (a choice that flips with the order is 'inconsistent'); 1: one seeded order, half the calls.", DefaultValueFactory = _ => 2 }.Between(1, 2);
        var baseAttrs = new Option<int>("--base-attributes") { Description = "Random attributes of each reduced persona besides the studied one (the original: 3).", DefaultValueFactory = _ => 3 }.Between(0, 64);
        var seed = new Option<long>("--seed") { Description = "Seed of the persona, attribute and question draws.", DefaultValueFactory = _ => 0 };
        var templates = new Option<string?>("--templates") { Description = "Your own prompt templates (persona-bench-prompts/1)." };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: samples.jsonl, samples.parquet, loo.json, figures/loo-influence.png|svg.", Required = true };
        var cmd = new Command("loo",
            "Leave-one-attribute-out (the original study): for each attribute a, personas of a few random attributes without a\n" +
            "and the same personas with a (only where a applies); the judge (--judge-model) role-plays each persona choosing\n" +
            "between a generic and a personalised answer; Cohen's kappa between the with-a and without-a choices; attributes\n" +
            "ranked by influence 1 - kappa with intervals.\n\n" + RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n  persona bench loo --personas personas --prompts prompts --model offline --judge-model offline --attributes age,sex,ideology --out loo-demo");
        runtime.AddTo(cmd);
        foreach (var o in new Option[] { personasOpt, promptsOpt, split, attributes, nPersonas, nQuestions, baseAttrs, orders, seed, templates, output, dropMode, NoFigures, Parquet }) cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var outDir = parse.GetValue(output)!.FullName;
            CheckOut(outDir, [("--personas", parse.GetValue(personasOpt)), ("--prompts", parse.GetValue(promptsOpt))], ("--templates", parse.GetValue(templates)));
            // The variant's mode is checked before the first call, not after the main stage was paid.
            var dropModes = parse.GetValue(dropMode) is { } dm ? DropModes(dm) : null;
            var prompts = BenchPrompts.Load(parse.GetValue(templates));
            var personas = await PersonaInputs.LoadAsync(parse.GetValue(personasOpt)!, ct);
            var questions = QuestionInputs.Load(parse.GetValue(promptsOpt)!);
            var s = parse.GetValue(split)!;
            if (s != "all") questions = questions.Where(q => q.Split == s).ToList();
            if (questions.Count == 0) throw new PersonaException($"No question is in split '{s}'; use --split all.");
            var attrs = parse.GetValue(attributes) is { } list
                ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => a.ToLowerInvariant().Replace('_', ' ')).ToList()
                : PersonaInputs.OriginalKeys.Where(k => personas.Any(p => LeaveOneOut.Applies(p, k))).ToList();
            var options = new LooOptions { Personas = parse.GetValue(nPersonas), Questions = parse.GetValue(nQuestions), BaseAttributes = parse.GetValue(baseAttrs), Orders = parse.GetValue(orders), Seed = (ulong)parse.GetValue(seed) };
            var (items, skipped) = LeaveOneOut.Plan(personas, questions, attrs, options);
            if (items.Count == 0) throw new PersonaException($"No attribute of {string.Join(", ", attrs)} applies to at least two personas with {options.BaseAttributes} other attributes.");
            await using var rt = LlmRuntime.Open(runtime.Build(parse, outDir));
            WarnIfSelfGraded(console, rt, LeaveOneOut.JudgeRole);
            await rt.EnsureReachableAsync(ct);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var (samples, r) = await WithProgress(console, "Role-play choices", p => BenchJobs.LooAsync(items, prompts, LlmRuntime.DefaultRole, options, skipped, rt,
                    Output(outDir, parse), LeaveOneOut.TaskName, p, ct, Interrupts.Abort));
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?> { ["samples"] = samples.Count, ["attributes"] = r.Ranking.Count });
                var t = new Table().Border(TableBorder.Rounded).AddColumns("rank", "attribute", "influence (1 - kappa)", "95%", "choices changed", "order-inconsistent", "pairs");
                var rank = 0;
                foreach (var a in r.Ranking)
                    Row(t, (++rank).ToString(Inv), a.Attribute, a.Influence is { } v ? v.ToString("0.000", Inv) : "-",
                        a.InfluenceInterval is { } i ? $"[{i.Lower.ToString("0.000", Inv)}, {i.Upper.ToString("0.000", Inv)}]" : "-", Pct(a.Disagreement), Pct(a.InconsistentShare), a.Pairs.ToString(Inv));
                console.Write(t);
                if (skipped.Count > 0) console.MarkupLineInterpolated($"skipped (fewer than 2 personas where it applies): {string.Join(", ", skipped)}");
                console.MarkupLineInterpolated($"results: {Path.Combine(outDir, "loo.json")}");
                if (dropModes is { } m)
                {
                    WarnIfSelfGraded(console, rt, BenchTask.CriticRole);
                    var (dropItems, dropSkipped) = DropOneAttribute.Plan(personas, questions, attrs, options, m[0]);
                    var dropTask = BenchTask.Create(BenchTask.Stream(dropItems), prompts, [BenchTask.Critic(prompts)], 0, DropOneAttribute.TaskName);
                    var dropSamples = await RunTaskAsync(console, dropTask, rt, dropItems.Count, "Full vs dropped attribute", ct);
                    var dropDir = Path.Combine(outDir, "drop");
                    await ExportAsync(rt, dropTask.Name, dropDir, parse, ct);
                    var dr = DropOneAttribute.Compute(dropSamples, m[0], BenchTask.DefaultScoreSet, options, dropSkipped);
                    BenchReport.Write(Path.Combine(dropDir, "drop.json"), dr);
                    var dt = new Table().Border(TableBorder.Rounded).AddColumns("attribute", "pairs", "accuracy full", "dropped", "change", "95%", "p (Holm)");
                    foreach (var a in dr.Ranking)
                        Row(dt, a.Attribute, a.Pairs.ToString(Inv), Pct(a.AccuracyFull), Pct(a.AccuracyDropped), a.Change.ToString("+0.0%;-0.0%;0.0%", Inv), Ci(a.Interval), a.PValueHolm.ToString("0.0000", Inv));
                    console.Write(dt);
                    console.MarkupLineInterpolated($"results: {Path.Combine(dropDir, "drop.json")}");
                }
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>Bench files written into --out (and its runtime's cache and manifest).</summary>
    private static readonly string[] Writes = ["samples.jsonl", "samples.parquet", "results.json", BestOfNReport.File, "intersections.json", "passk.json", "loo.json", "store.sqlite", "manifest.json"];

    /// <summary>--out of a generating verb: a folder, outside every folder it reads and every `persona run` folder, replacing no input file.</summary>
    private static void CheckOut(string outDir, (string, string?)[] inputs, params (string, string?)[] more)
    {
        (string, string?)[] all = [.. inputs, .. more];
        OutputPaths.EnsureFolderTarget(outDir, "--out");
        OutputPaths.EnsureOutsideInputs(outDir, "--out", all);
        OutputPaths.EnsureNotInsideRun(outDir, "--out", Persona.Run.TestbedRun.Format);
        OutputPaths.EnsureFolderSparesInputs(outDir, "--out", Writes, all);
    }

    private static IReadOnlyList<string> DropModes(string spec)
    {
        IReadOnlyList<string> m;
        try { m = BenchModes.Parse(spec, false); }
        catch (PersonaException) { m = []; }
        return m.Count == 1 && m[0] != BenchModes.Baseline && m[0] != BenchModes.FewShotPreferences ? m
            : throw new PersonaException($"--drop-mode '{spec}': expected one mode that shows the persona: {BenchModes.OutputOnly}, {BenchModes.ChainOfThought} or {BenchModes.DemographicSummary}.");
    }

    private static string RunDir(string run)
    {
        var full = Path.GetFullPath(run);
        if (!File.Exists(Path.Combine(full, "store.sqlite")))
            throw new PersonaException($"'{run}' is not a bench run folder (no store.sqlite); give the --out (or --run-dir) folder of `persona bench run`.");
        return full;
    }

    private static Command Summaries(IAnsiConsole console)
    {
        var runtime = RuntimeOptions.ForRole("RUN (the bench run's own store)", SummaryAudit.JudgeRole);
        var run = new Argument<string>("run") { Description = "A `persona bench run` folder with demographic_summary samples." };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Output folder: samples.jsonl, summaries.json, figures/. Default: RUN/summaries." };
        var templates = new Option<string?>("--templates") { Description = "Your own prompt templates (persona-bench-prompts/1)." };
        var cmd = new Command("summaries",
            "For a bench run's demographic_summary samples, a judge (--judge-model) lists which persona attributes each summary\n" +
            "dropped; reports the share of summaries dropping each attribute with Wilson intervals.\n\n" + RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n  persona bench summaries bench-demo --judge-model offline");
        cmd.Arguments.Add(run);
        runtime.AddTo(cmd);
        cmd.Options.Add(output);
        cmd.Options.Add(templates);
        cmd.Options.Add(NoFigures);
        cmd.Options.Add(Parquet);
        cmd.SetAction(async (parse, ct) =>
        {
            var runDir = RunDir(parse.GetValue(run)!);
            var outDir = parse.GetValue(output)?.FullName ?? Path.Combine(runDir, "summaries");
            OutputPaths.EnsureFolderTarget(outDir, "--out");
            OutputPaths.EnsureFolderSparesInputs(outDir, "--out", ["samples.jsonl", "samples.parquet", "summaries.json"],
                [.. new[] { "samples.jsonl", "samples.parquet", "results.json", "store.sqlite", "manifest.json" }.Select(f => ("RUN", (string?)Path.Combine(runDir, f)))]);
            var prompts = BenchPrompts.Load(parse.GetValue(templates));
            var options = runtime.Build(parse, runDir);
            if (!options.Roles.ContainsKey(SummaryAudit.JudgeRole)) throw new PersonaException("bench summaries needs --judge-model (the judge that lists dropped attributes).");
            if (parse.GetResult(runtime.Model) is not { Implicit: false }) options = options with { Model = options.Roles[SummaryAudit.JudgeRole].Model ?? options.Model, BaseUrls = options.Roles[SummaryAudit.JudgeRole].BaseUrls ?? options.BaseUrls };
            await using var rt = LlmRuntime.Open(options);
            await rt.EnsureReachableAsync(ct);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                if ((await BenchJobs.SummaryTaskAsync(prompts, rt)).Items == 0)
                    throw new PersonaException($"'{runDir}' holds no successful demographic_summary samples; run `persona bench run --mode demographic_summary` first.");
                var r = await WithProgress(console, "Judging summaries", p => BenchJobs.SummariesAsync(prompts, rt, Output(outDir, parse), SummaryAudit.TaskName, p, ct, Interrupts.Abort));
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?> { ["summaries"] = r.Summaries });
                var t = new Table().Border(TableBorder.Rounded).AddColumns("attribute", "dropped", "of summaries", "share", "95% (Wilson)");
                foreach (var a in r.Attributes) Row(t, a.Attribute, a.Dropped.ToString(Inv), a.Summaries.ToString(Inv), Pct(a.Rate), Ci(a.Interval));
                console.Write(t);
                console.MarkupLineInterpolated($"results: {Path.Combine(outDir, "summaries.json")}");
                return 0;
            });
        });
        return cmd;
    }

    private static Command Score(IAnsiConsole console)
    {
        var runtime = RuntimeOptions.ForRole("RUN", BenchTask.CriticRole);
        var run = new Argument<string>("run") { Description = "A `persona bench run` folder." };
        var name = new Option<string?>("--name") { Description = "Name of the new score set. Default: critic@MODEL." };
        var templates = new Option<string?>("--templates") { Description = "Your own prompt templates (persona-bench-prompts/1)." };
        var cmd = new Command("score",
            "Re-score a bench run's stored answers with another critic (--critic-model, --critic-base-url) into a new named score\n" +
            "set; nothing is regenerated, only the critic's calls are paid. Writes RUN/scores/NAME/results.json and refreshes\n" +
            "RUN/samples.jsonl with every score set.\n\n" + RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n  persona bench score bench-demo --critic-model openai:gpt-4o --max-cost 5");
        cmd.Arguments.Add(run);
        runtime.AddTo(cmd);
        foreach (var o in new Option[] { name, templates, Resamples, MinCell, NoFigures }) cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var runDir = RunDir(parse.GetValue(run)!);
            var prompts = BenchPrompts.Load(parse.GetValue(templates));
            var options = runtime.Build(parse, runDir);
            if (!options.Roles.TryGetValue(BenchTask.CriticRole, out var critic) || critic.Model is null)
                throw new PersonaException("bench score needs --critic-model (the new critic); its answers form a new score set.");
            // Only the critic is called: the default role need not be the run's model.
            if (parse.GetResult(runtime.Model) is not { Implicit: false }) options = options with { Model = critic.Model, BaseUrls = critic.BaseUrls ?? options.BaseUrls };
            var scoreSet = parse.GetValue(name) ?? "critic@" + critic.Model;
            if (scoreSet == BenchTask.DefaultScoreSet) throw new PersonaException($"--name {scoreSet} is the run's own score set; pick another name.");
            await using var rt = LlmRuntime.Open(options);
            await rt.EnsureReachableAsync(ct);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var total = rt.Store.Samples.ListTasks().FirstOrDefault(t => t.Task == BenchTask.TaskName).Samples;
                var done = 0L;
                await StageProgress.RunAsync(console, _ => "Re-scoring", async p =>
                {
                    await TaskRunner.RunToEndAsync(TaskRunner.RescoreAsync(rt, BenchTask.TaskName, BenchTask.Critic(prompts, scoreSet),
                        new TaskRunOptions { FanOut = rt.FanOutOptions(rt.Role(BenchTask.CriticRole), Interrupts.Abort) }, ct), BenchTask.TaskName, _ => p.Report("score", ++done, total));
                    return 0;
                });
                var samples = SampleLogExport.Read(rt.Store, BenchTask.TaskName).ToList();
                var outDir = Path.Combine(runDir, "scores", Safe(scoreSet));
                Directory.CreateDirectory(outDir);
                var results = BenchReport.Compute(samples, scoreSet, parse.GetValue(Resamples), 1, parse.GetValue(MinCell));
                BenchReport.Write(Path.Combine(outDir, "results.json"), results);
                if (!parse.GetValue(NoFigures)) BenchPlots.AccuracyByMode(results, Path.Combine(outDir, "figures"));
                await SampleLogExport.WriteJsonlAsync(rt.Store, BenchTask.TaskName, Path.Combine(runDir, "samples.jsonl"), ct);
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?> { ["rescored"] = done, ["score_set"] = scoreSet });
                console.Write(ResultsTable(results));
                console.MarkupLineInterpolated($"results: {Path.Combine(outDir, "results.json")}");
                return 0;
            });
        });
        return cmd;
    }

    private static string Safe(string name) => new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@' ? c : '_').ToArray());

    private static Command Compare(IAnsiConsole console)
    {
        var runs = new Argument<string[]>("runs") { Description = "Bench run folders (two or more, or one with several score sets).", Arity = ArgumentArity.OneOrMore };
        var scoreSet = new Option<string?>("--score-set") { Description = "Compare only this score set. Default: every score set of every run." };
        var output = new Option<string?>("--out") { Description = "Write the comparison as JSON here." };
        var cmd = new Command("compare",
            "Table bench runs (and score sets) side by side: accuracy per mode with clustered intervals, and each run/score set\n" +
            "against the first on the same samples (same persona, question, mode and draw), paired bootstrap intervals, Holm-\n" +
            "adjusted p-values. Reads the run stores only; makes no call.\n\n" +
            "Examples:\n  persona bench compare bench-qwen bench-llama --out compare.json");
        cmd.Arguments.Add(runs);
        cmd.Options.Add(scoreSet);
        cmd.Options.Add(output);
        cmd.Options.Add(Resamples);
        cmd.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(output) is { } outPath)
            {
                // Checked before any store is read: a comparison written over a run's cache or sample log destroyed it.
                OutputPaths.EnsureFileTarget(outPath, "--out", "compare.json");
                OutputPaths.EnsureOutsideInputs(outPath, "--out", [.. parse.GetValue(runs)!.Select(r => ("RUN", (string?)r))]);
                OutputPaths.EnsureNotInsideRun(outPath, "--out", Persona.Run.TestbedRun.Format);
            }
            var columns = parse.GetValue(runs)!.SelectMany(run => BenchCompare.Load(RunDir(run), parse.GetValue(scoreSet), parse.GetValue(Resamples))).ToList();
            var comparison = BenchCompare.Compare(columns, parse.GetValue(Resamples));
            var t = new Table().Border(TableBorder.Rounded).AddColumn("mode");
            foreach (var c in columns) t.AddColumn(Markup.Escape(c.Label));
            foreach (var m in comparison.Modes)
                Row(t, new[] { m }.Concat(columns.Select(c => c.Results.Modes.FirstOrDefault(x => x.Mode == m) is { } r ? $"{Pct(r.Accuracy.Accuracy)} {Ci(r.Accuracy.Clustered)}" : "-")).ToArray());
            console.Write(t);
            var ct2 = new Table().Border(TableBorder.Rounded).AddColumns("A", "B", "paired n", "A - B", "95%", "p (Holm)");
            foreach (var x in comparison.Comparisons)
                Row(ct2, x.A, x.B, x.N.ToString(Inv), x.Difference.ToString("+0.0%;-0.0%", Inv), Ci(x.Interval), x.PValueHolm.ToString("0.0000", Inv));
            console.Write(ct2);
            if (parse.GetValue(output) is { } path)
                BenchReport.Write(path, comparison.ToJson());
            return 0;
        });
        return cmd;
    }
}
