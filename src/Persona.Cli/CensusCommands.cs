using System.CommandLine;
using System.Globalization;
using Persona.Census;
using Persona.Personas;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona census ...`: verbs over Persona.Census. Each verb is built by its own method.</summary>
internal static class CensusCommands
{
    public static Command Create(IAnsiConsole console)
    {
        var census = new Command("census", "Census-grounded personas: sample from ACS PUMS and check fidelity.");
        census.Subcommands.Add(Sample(console));
        return census;
    }

    private static Command Sample(IAnsiConsole console)
    {
        var n = new Option<int>("--n") { Description = "Number of personas to draw.", Required = true };
        var seed = new Option<long>("--seed") { Description = "Random seed; the same seed and inputs give a byte-identical file.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Output file: .jsonl (one persona per line) or .parquet.", Required = true };
        var source = new Option<string[]>("--source")
        {
            Description = $"PUMS person files, folders or globs: p_*.parquet, psam_p*.csv, or the Census zip csv_p??.zip (read in place). Default: data/{CensusSampler.BundledSource}.",
            AllowMultipleArgumentsPerToken = true,
        };
        var household = new Option<string[]>("--household")
        {
            Description = "PUMS household files (psam_h*.csv or csv_h??.zip) to join on SERIALNO for household type, language and children. Without them these are derived from the household's persons when the person file has RELP.",
            AllowMultipleArgumentsPerToken = true,
        };
        var dictionary = new Option<string>("--dictionary") { Description = "PUMS data dictionary CSV of the data's year. Default: the bundled one for the detected vintage (2024 data: the 2023 dictionary)." };
        var minAge = new Option<int?>("--min-age") { Description = "Keep persons at least this old (0-99)." };
        var maxAge = new Option<int?>("--max-age") { Description = "Keep persons at most this old (0-99)." };
        var states = new Option<string>("--states") { Description = "Keep persons of these states: postal or FIPS codes, e.g. \"CA,TX,06\"." };
        var unweighted = new Option<bool>("--unweighted") { Description = "Draw every record with equal probability instead of proportional to PWGTP." };
        var withoutReplacement = new Option<bool>("--without-replacement") { Description = "Never draw the same person twice (Efraimidis-Spirakis weighted sampling)." };
        var keepUnknown = new Option<bool>("--keep-unknown-codes") { Description = "Keep codes missing from the dictionary as raw codes instead of failing." };
        var independent = new Option<bool>("--independent-traits") { Description = "Draw psychodemographics from unconditional marginals (ablation) instead of conditionally on demographics." };

        var cmd = new Command("sample",
            "Draw personas from ACS PUMS person records, weighted by PWGTP, decoded with the data dictionary of the same year.\n\n" +
            "Examples:\n" +
            "  persona census sample --n 1000 --seed 7 --out personas.jsonl\n" +
            "  persona census sample --n 500 --seed 1 --source csv_pwy.zip --out wy.parquet\n" +
            "  persona census sample --n 2000 --source 'pums/p_*.parquet' --states CA,TX --min-age 18 --out adults.jsonl\n" +
            "  persona census sample --n 100 --source psam_p56.csv --household psam_h56.csv --without-replacement --out wy.jsonl")
        {
            n, seed, output, source, household, dictionary, minAge, maxAge, states, unweighted, withoutReplacement, keepUnknown, independent,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var options = new CensusSampleOptions
            {
                N = parse.GetValue(n),
                Seed = parse.GetValue(seed),
                OutputPath = parse.GetValue(output),
                Sources = parse.GetValue(source) ?? [],
                Households = parse.GetValue(household) ?? [],
                DictionaryPath = parse.GetValue(dictionary),
                MinAge = parse.GetValue(minAge),
                MaxAge = parse.GetValue(maxAge),
                States = parse.GetValue(states) is { } s ? StateCodes.Parse(s) : null,
                Unweighted = parse.GetValue(unweighted),
                WithoutReplacement = parse.GetValue(withoutReplacement),
                KeepUnknownCodes = parse.GetValue(keepUnknown),
            };
            var psycho = PsychodemographicSampler.LoadBundled(parse.GetValue(independent));
            var result = await RunWithProgress(console, (progress, token) => CensusSampler.SampleAsync(options, psycho, progress, token), ct);
            console.Write(Summary(result, options));
            return 0;
        });
        return cmd;
    }

    private static async Task<T> RunWithProgress<T>(IAnsiConsole console, Func<IProgress<CensusProgress>, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        T result = default!;
        await console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                result = await work(new SpectreProgress(ctx), ct);
            });
        return result;
    }

    /// <summary>Maps stage reports onto Spectre tasks; Spectre's tasks are safe to update from any thread.</summary>
    private sealed class SpectreProgress(ProgressContext ctx) : IProgress<CensusProgress>
    {
        private readonly Dictionary<string, ProgressTask> _tasks = new();

        public void Report(CensusProgress value)
        {
            lock (_tasks)
            {
                if (!_tasks.TryGetValue(value.Stage, out var task))
                    _tasks[value.Stage] = task = ctx.AddTask(value.Stage switch
                    {
                        "load" => "Loading PUMS files",
                        "households" => "Household fields",
                        "sample" => "Drawing and decoding",
                        "write" => "Writing personas",
                        var other => other,
                    });
                task.MaxValue = Math.Max(1, value.Total);
                task.Value = value.Done;
            }
        }
    }

    private static Table Summary(CensusSampleResult r, CensusSampleOptions o)
    {
        var t = new Table().Border(TableBorder.Rounded).AddColumn("census sample").AddColumn("");
        void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
        var inv = CultureInfo.InvariantCulture;
        Row("vintage", r.Vintage);
        Row("sources", r.Sources.Count == 1 ? r.Sources[0] : $"{r.Sources.Count} files");
        Row("dictionary", r.DictionaryPath);
        Row("persons loaded", r.PersonsLoaded.ToString("N0", inv));
        Row("universe", $"{r.UniverseSize.ToString("N0", inv)} persons, weight {r.UniverseWeight.ToString("N0", inv)}");
        Row("drawn", $"{r.Personas.Count.ToString("N0", inv)} ({r.DistinctPersons.ToString("N0", inv)} distinct persons; " +
                     $"{(o.Unweighted ? "uniform" : "PWGTP-weighted")}, {(o.WithoutReplacement ? "without" : "with")} replacement, seed {o.Seed.ToString(inv)})");
        Row("household fields", r.HouseholdFields);
        Row("psychodemographics", r.TraitSource ?? "not drawn (no sampler installed)");
        if (r.UnavailableAttributes.Count > 0)
            Row("not in source", string.Join(", ", r.UnavailableAttributes));
        Row("output", r.OutputPath ?? "-");
        return t;
    }
}
