using System.CommandLine;
using System.Globalization;
using Persona.Census;
using Persona.Llm;
using Persona.Personas;
using Persona.Store;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona personas ...`: build the enriched, filtered persona population and audit what the LM wrote.</summary>
internal static class PersonasCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var cmd = new Command("personas", "The 33-attribute persona population: census + psychodemographics + LM-written fields, consistency-filtered; and its drift audit.");
        cmd.Subcommands.Add(Build(console));
        cmd.Subcommands.Add(Audit(console));
        return cmd;
    }

    private static Command Build(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the --out folder (so re-running the same command resumes)");
        var n = new Option<int>("--n") { Description = "Personas in the population (the original study: 1586).", DefaultValueFactory = _ => 1586 }.Between(1, 10_000_000);
        var seed = new Option<long>("--seed") { Description = "Seed of census draws, traits, categories and the split; same seed + inputs + answers = byte-identical files.", DefaultValueFactory = _ => 0 };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: personas.jsonl, personas.parquet, split.json, rejections.jsonl, build-report.json (+ store.sqlite, manifest.json).", Required = true };
        var limit = new Option<int?>("--limit") { Description = "Build only the first this-many personas (exactly the first ones a full build keeps): a quick, cheap try." }.Between(1, 10_000_000);
        var independent = new Option<bool>("--independent-traits") { Description = "Draw psychodemographics from unconditional marginals (ablation)." };
        var categories = new Option<int>("--categories") { Description = "High-level categories (data/personas/enrichment-categories.csv) given to the LM per persona.", DefaultValueFactory = _ => 3 }.Between(0, 1_000);
        var categoriesFile = new Option<string>("--categories-file") { Description = "Your own category,prompt CSV instead of the bundled one." };
        var attempts = new Option<int>("--enrichment-attempts") { Description = "Answers asked per persona before it is replaced, when the LM's answer touches anything but its five fields.", DefaultValueFactory = _ => 3 }.Between(1, 100);
        var noLmCheck = new Option<bool>("--no-lm-check") { Description = "Run only the cheap rules, not the LM's consistency verdict." };
        var trainFraction = new Option<double>("--train-fraction") { Description = "Share of personas in the train split (default 1000/1586, the original's).", DefaultValueFactory = _ => PersonaSplit.OriginalTrainFraction }.Between(0.0, 1.0);

        var cmd = new Command("build",
            "Build the persona population: census sampling -> psychodemographics -> LM enrichment of the five idiosyncratic\n" +
            "fields (each persona given a few random categories) -> consistency filter (rules, then an LM verdict) -> replace\n" +
            "rejected personas with the next census draws until N pass. Cached, budgeted and resumable through the LM runtime.\n\n" +
            RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n" +
            "  persona personas build --n 30 --seed 1 --model offline --out personas-demo\n" +
            "  persona personas build --n 1586 --seed 7 --model openai:gpt-4o-mini --out personas --max-cost 10\n" +
            "  persona personas build --n 1586 --model openai:qwen2.5-7b --base-url http://gpu1:8000/v1 --out personas --limit 50\n" +
            "  persona personas build --n 500 --model ollama:llama3.1 --states CA --min-age 18 --out ca-adults");
        runtime.AddTo(cmd);
        foreach (var o in new Option[] { n, seed, output, limit, independent, categories, categoriesFile, attempts, noLmCheck, trainFraction })
            cmd.Options.Add(o);
        var census = new CensusSourceOptions();
        census.AddTo(cmd);

        cmd.SetAction(async (parse, ct) =>
        {
            var outDir = parse.GetValue(output)!.FullName;
            OutputChecks.BuildFolder(outDir, parse.GetValue(categoriesFile), parse.GetValue(census.Dictionary), parse.GetValue(census.Source), parse.GetValue(census.Household));
            var options = new PersonaBuildOptions
            {
                N = parse.GetValue(n),
                Seed = parse.GetValue(seed),
                Limit = parse.GetValue(limit),
                Census = census.Read(parse, parse.GetValue(n)),
                IndependentTraits = parse.GetValue(independent),
                CategoriesPerPersona = parse.GetValue(categories),
                CategoriesPath = parse.GetValue(categoriesFile),
                MaxEnrichmentAttempts = parse.GetValue(attempts),
                LmCheck = !parse.GetValue(noLmCheck),
                TrainFraction = parse.GetValue(trainFraction),
                OutputDirectory = outDir,
            };
            return (await BuildAsync(console, options, runtime.Build(parse, outDir), ct)).ExitCode;
        });
        return cmd;
    }

    /// <summary>
    /// Opens the runtime, builds the population with progress, writes the manifest and prints the
    /// summary; `personas build` and the `run` main job share it. A budget or breaker stop returns
    /// its exit code and no result.
    /// </summary>
    internal static Task<(int ExitCode, PersonaBuildResult? Result)> BuildAsync(IAnsiConsole console, PersonaBuildOptions options,
        LlmRuntimeOptions runtimeOptions, CancellationToken ct) =>
        RunDirectoryUndo.GuardAsync(runtimeOptions.RunDirectory, () => BuildInRunDirAsync(console, options, runtimeOptions, ct));

    private static async Task<(int ExitCode, PersonaBuildResult? Result)> BuildInRunDirAsync(IAnsiConsole console, PersonaBuildOptions options,
        LlmRuntimeOptions runtimeOptions, CancellationToken ct)
    {
        await using var rt = LlmRuntime.Open(runtimeOptions);
        options = options with { ModelLabel = rt.ModelIdentity, Concurrency = rt.TotalConcurrency };
        await rt.EnsureReachableAsync(ct);
        PersonaBuildResult? built = null;
        try
        {
            var code = await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var result = await StageProgress.RunAsync(console, DescribeBuildStage, p =>
                    PersonaBuilder.BuildAsync(options, rt.ChatClient,
                        new SyncProgress<PersonaBuildProgress>(x => p.Report(x.Stage, x.Done, x.Total,
                            x.Stage == "personas" ? $"passed {x.Accepted}  rejected {x.Rejected}" : null)), ct, Interrupts.Abort), StageProgress.WaitingOf(rt));
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?>
                {
                    ["personas"] = result.Personas.Count,
                    ["evaluated"] = result.Report.Evaluated,
                    ["rejected"] = result.Report.Rejected,
                    ["train"] = result.Split.TrainCount,
                    ["test"] = result.Split.TestCount,
                });
                console.Write(BuildSummary(result, rt));
                if (result.Report.RejectedByRule.Count > 0) console.Write(RuleTable(result.Report));
                if (rt.Simulated)
                    console.MarkupLine("[yellow]simulated:[/] the offline simulator wrote the text and gave coin-flip verdicts; use a real --model for a real population.");
                built = result;
                return 0;
            });
            return (code, built);
        }
        catch (OperationCanceledException) when (built is null)
        {
            throw; // UntilStoppedAsync wrote the manifest
        }
    }

    private static string DescribeBuildStage(string stage) => stage switch
    {
        "census:load" => "Loading PUMS files",
        "census:households" => "Household fields",
        "census:sample" => "Drawing census persons",
        "personas" => "Enriching and filtering",
        "write" => "Writing outputs",
        var other => other,
    };

    private static Table BuildSummary(PersonaBuildResult r, LlmRuntime rt)
    {
        var rep = r.Report;
        var spend = rt.Budget.Snapshot();
        var t = new Table().Border(TableBorder.Rounded).AddColumn("personas build").AddColumn("");
        void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
        Row("model", rt.ModelIdentity + (rt.Simulated ? " (simulated)" : ""));
        Row("personas", $"{rep.Built.ToString("N0", Inv)} of {rep.NRequested.ToString("N0", Inv)}" + (rep.Limit is { } l ? $" (--limit {l})" : ""));
        Row("census", $"{rep.CensusVintage}, universe {rep.UniverseSize.ToString("N0", Inv)} persons, traits {rep.TraitSource ?? "none"}");
        Row("household fields", rep.HouseholdFields);
        if (rep.UnavailableAttributes.Count > 0) Row("not in source", string.Join(", ", rep.UnavailableAttributes));
        Row("evaluated", rep.Evaluated.ToString("N0", Inv));
        Row("rejected", string.Create(Inv, $"{rep.Rejected:N0} ({rep.RejectionRate:P1}; the original rejected {rep.OriginalRejectionRate:P1})"));
        Row("rejected by stage", string.Join(", ", rep.RejectedByStage.Select(kv => $"{kv.Key} {kv.Value}")));
        Row("enrichment answers refused", $"{rep.EnrichmentAnswersRefused}" + (rep.EnrichmentRefusedByRule.Count > 0 ? " (" + string.Join(", ", rep.EnrichmentRefusedByRule.Select(kv => $"{kv.Key} {kv.Value}")) + ")" : ""));
        Row("split", $"train {r.Split.TrainCount}, test {r.Split.TestCount}");
        Row("paid calls", $"{spend.Completed.ToString("N0", Inv)} (tokens {(spend.PromptTokens + spend.CompletionTokens).ToString("N0", Inv)}, ${spend.CostUsd.ToString("0.0000", Inv)})");
        Row("elapsed", $"{r.Timings.Total.TotalSeconds.ToString("0.0", Inv)} s");
        Row("output", r.OutputDirectory ?? "-");
        return t;
    }

    private static Table RuleTable(PersonaBuildReport rep)
    {
        var t = new Table().Border(TableBorder.Rounded).AddColumns("rule", "what", "rejected");
        var names = ConsistencyRules.All.ToDictionary(r => r.Id, r => r.Description);
        foreach (var (rule, count) in rep.RejectedByRule)
            t.AddRow(Markup.Escape(rule), Markup.Escape(rule switch
            {
                "LM" => "the LM's verdict: inconsistent",
                "C1" => "no readable LM verdict",
                "E1" or "E2" or "E3" or "E4" or "E5" => "enrichment refused on every attempt",
                _ => names.GetValueOrDefault(rule, rule),
            }), count.ToString(Inv));
        return t;
    }

    private static Command Audit(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the personas folder (shares the build's cache)");
        var personas = new Option<string>("--personas") { Description = "A build folder (with personas.jsonl) or a persona file (.jsonl or .parquet).", Required = true };
        var output = new Option<string>("--out") { Description = "Audit JSON file. Default: drift-audit.json in the personas folder." };
        var noLmCheck = new Option<bool>("--no-lm-check") { Description = "Skip the LM contradiction check (rules and theme shares only)." };
        var cmd = new Command("audit",
            "Drift audit of LM-written persona text: contradictions with census fields (the consistency rules and an LM check\n" +
            "naming the contradicted fields) and panel-level shares of personas whose text mentions hardship, affluence,\n" +
            "religion, politics, health or family (data/personas/drift-lexicons.csv) by age band, sex, race, education, income\n" +
            "band and religion, so you see what the LM added beyond the census.\n\n" +
            RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n" +
            "  persona personas audit --personas personas-demo --model offline\n" +
            "  persona personas audit --personas personas/personas.parquet --model openai:gpt-4o-mini --out audit.json");
        runtime.AddTo(cmd);
        cmd.Options.Add(personas);
        cmd.Options.Add(output);
        cmd.Options.Add(noLmCheck);
        cmd.SetAction(async (parse, ct) =>
        {
            var input = parse.GetValue(personas)!;
            var file = Directory.Exists(input) ? Path.Combine(input, PersonaBuilder.PersonasJsonl) : input;
            if (!File.Exists(file))
                throw new PersonaException(Directory.Exists(input)
                    ? $"'{input}' has no {PersonaBuilder.PersonasJsonl}; point --personas at a `personas build` output folder or a persona file."
                    : $"Persona file '{input}' does not exist.");
            var list = await PersonaFiles.ReadAsync(file, ct);
            var folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
            var outPath = parse.GetValue(output) ?? Path.Combine(folder, "drift-audit.json");
            OutputPaths.EnsureFileTarget(outPath, "--out", "drift-audit.json");
            OutputPaths.EnsureNotAnInput(outPath, "--out", ("--personas", file));
            var lm = !parse.GetValue(noLmCheck);
            if (!lm)
            {
                // Rules and theme shares need no model, so no store: the personas folder is only read.
                var rulesOnly = await StageProgress.RunAsync(console, _ => "Auditing personas", p =>
                    DriftAudit.RunAsync(list, null, new DriftAuditOptions { LmCheck = false },
                        new SyncProgress<(int Done, int Total)>(x => p.Report("audit", x.Done, x.Total)), ct));
                await DriftAudit.WriteAsync(outPath, rulesOnly, ct);
                WriteAudit(console, rulesOnly, outPath);
                return 0;
            }
            var runOptions = runtime.Build(parse, folder);
            OutputChecks.SparesRunStore(outPath, runOptions.RunDirectory);
            return await RunDirectoryUndo.GuardAsync(runOptions.RunDirectory, async () => {
            await using var rt = LlmRuntime.Open(runOptions);
            await rt.EnsureReachableAsync(ct);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var report = await StageProgress.RunAsync(console, _ => "Auditing personas", p =>
                    DriftAudit.RunAsync(list, rt.ChatClient, new DriftAuditOptions { LmCheck = lm, ModelLabel = rt.ModelIdentity, Concurrency = rt.TotalConcurrency, Abort = Interrupts.Abort },
                        new SyncProgress<(int Done, int Total)>(x => p.Report("audit", x.Done, x.Total)), ct), StageProgress.WaitingOf(rt));
                await DriftAudit.WriteAsync(outPath, report, ct);
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?> { ["audited"] = report.Enriched });
                WriteAudit(console, report, outPath);
                return 0;
            });
            });
        });
        return cmd;
    }

    private static void WriteAudit(IAnsiConsole console, DriftAuditReport r, string outPath)
    {
        var t = new Table().Border(TableBorder.Rounded).AddColumn("drift audit").AddColumn("");
        void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
        Row("personas with LM text", $"{r.Enriched} of {r.Personas}");
        Row("written by", string.Join(", ", r.WrittenBy) + (r.Simulated ? " (simulated)" : ""));
        Row("rule contradictions", string.Create(Inv, $"{r.RuleFlagged} personas") + (r.RuleFlaggedByRule.Count > 0 ? " (" + string.Join(", ", r.RuleFlaggedByRule.Select(kv => $"{kv.Key} {kv.Value}")) + ")" : ""));
        if (r.AuditModel is not null)
        {
            Row("LM contradictions", $"{r.LmContradictions} of {r.LmChecked} ({r.LmUnreadable} unreadable), by {r.AuditModel}");
            if (r.LmContradictionsByField.Count > 0)
                Row("contradicted fields", string.Join(", ", r.LmContradictionsByField.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));
        }
        Row("json", Path.GetFullPath(outPath));
        console.Write(t);

        var overall = new Table().Border(TableBorder.Rounded).AddColumn("theme").AddColumn("share of personas mentioning it");
        foreach (var th in r.Themes) overall.AddRow(Markup.Escape(th.Theme), th.Share.ToString("P1", Inv));
        console.Write(overall);
        foreach (var dimension in DriftAudit.Dimensions.Select(d => d.Dimension))
        {
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape("by " + dimension)).AddColumn(Markup.Escape(dimension)).AddColumn("n");
            foreach (var th in r.Themes) table.AddColumn(Markup.Escape(th.Theme));
            var groups = r.Themes[0].Groups.Where(g => g.Dimension == dimension).Select(g => (g.Group, g.N)).ToArray();
            foreach (var (group, count) in groups)
                table.AddRow(new[] { Markup.Escape(group), count.ToString(Inv) }
                    .Concat(r.Themes.Select(th => th.Groups.First(g => g.Dimension == dimension && g.Group == group).Share.ToString("P0", Inv))).ToArray());
            console.Write(table);
        }
    }
}
