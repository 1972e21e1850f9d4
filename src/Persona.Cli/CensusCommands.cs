using System.CommandLine;
using System.Globalization;
using Persona.Census;
using Persona.Personas;
using Persona.Fidelity;
using Persona.Report;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona census ...`: verbs over Persona.Census. Each verb is built by its own method.</summary>
internal static class CensusCommands
{
    public static Command Create(IAnsiConsole console)
    {
        var census = new Command("census", "Census-grounded personas: sample from ACS PUMS and check fidelity.");
        census.Subcommands.Add(Sample(console));
        census.Subcommands.Add(Fidelity(console));
        return census;
    }

    private static Command Sample(IAnsiConsole console)
    {
        var n = new Option<int>("--n") { Description = "Number of personas to draw.", Required = true }.Between(1, 100_000_000);
        var seed = new Option<long>("--seed") { Description = "Random seed; the same seed and inputs give a byte-identical file.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Output file: .jsonl (one persona per line) or .parquet.", Required = true };
        var unweighted = new Option<bool>("--unweighted") { Description = "Draw every record with equal probability instead of proportional to PWGTP." };
        var withoutReplacement = new Option<bool>("--without-replacement") { Description = "Never draw the same person twice (Efraimidis-Spirakis weighted sampling)." };
        var independent = new Option<bool>("--independent-traits") { Description = "Draw psychodemographics from unconditional marginals (ablation) instead of conditionally on demographics." };

        var cmd = new Command("sample",
            "Draw personas from ACS PUMS person records, weighted by PWGTP, decoded with the data dictionary of the same year.\n\n" +
            "Examples:\n" +
            "  persona census sample --n 1000 --seed 7 --out personas.jsonl\n" +
            "  persona census sample --n 500 --seed 1 --source csv_pwy.zip --out wy.parquet\n" +
            "  persona census sample --n 2000 --source 'pums/p_*.parquet' --states CA,TX --min-age 18 --out adults.jsonl\n" +
            "  persona census sample --n 100 --source psam_p56.csv --household psam_h56.csv --without-replacement --out wy.jsonl")
        {
            n, seed, output, unweighted, withoutReplacement, independent,
        };
        var census = new CensusSourceOptions();
        census.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            var options = census.Read(parse, parse.GetValue(n)) with
            {
                Seed = parse.GetValue(seed),
                OutputPath = parse.GetValue(output),
                Unweighted = parse.GetValue(unweighted),
                WithoutReplacement = parse.GetValue(withoutReplacement),
            };
            var psycho = PsychodemographicSampler.LoadBundled(parse.GetValue(independent));
            var result = await RunWithProgress(console, (progress, token) => CensusSampler.SampleAsync(options, psycho, progress, token), ct);
            console.Write(Summary(result, options));
            if (result.Draw.DictionaryNotes.Count > 0)
                console.MarkupLineInterpolated($"[grey]dictionary: {result.Draw.DictionaryNotes.Count} range(s) written high-to-low as published, read low-to-high (first: {result.Draw.DictionaryNotes[0]})[/]");
            return 0;
        });
        return cmd;
    }

    private static Command Fidelity(IAnsiConsole console)
    {
        var personas = new Option<string>("--personas") { Description = "Persona file to check (.jsonl or .parquet), as written by `census sample`.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder: fidelity.json and one synthetic-vs-census histogram PNG per attribute.", Required = true };
        var cmd = new Command("fidelity",
            "Compare a persona file with the weighted census it was drawn from: total variation distance per attribute\n" +
            "(with the distance a random sample of that size shows by chance), Cramér's V gaps for the main attribute pairs,\n" +
            "a console summary, fidelity.json and side-by-side histograms. Give the same --source and universe filters as the draw.\n\n" +
            "Examples:\n" +
            "  persona census fidelity --personas personas.jsonl --out fidelity/\n" +
            "  persona census fidelity --personas wy.parquet --source csv_pwy.zip --out wy-fidelity/\n" +
            "  persona census fidelity --personas adults.jsonl --source 'pums/p_*.parquet' --states CA,TX --min-age 18 --out f/")
        {
            personas, output,
        };
        var census = new CensusSourceOptions();
        census.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            var options = census.Read(parse, n: 1);
            OutputPaths.EnsureFolderTarget(parse.GetValue(output)!, "--out");
            OutputPaths.EnsureOutsideInputs(parse.GetValue(output)!, "--out", ("--personas", Directory.Exists(parse.GetValue(personas)) ? parse.GetValue(personas) : null));
            OutputPaths.EnsureFolderSparesInputs(parse.GetValue(output)!, "--out", ["fidelity.json"], ("--personas", parse.GetValue(personas)));
            var result = await RunWithProgress(console,
                (progress, token) => PopulationFidelity.RunAsync(parse.GetValue(personas)!, options, parse.GetValue(output), progress, token), ct);
            WriteFidelity(console, result);
            return 0;
        });
        return cmd;
    }

    internal static void WriteFidelity(IAnsiConsole console, PopulationFidelityResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        var rep = r.Report;
        var level = rep.Chance.Level.ToString("0%", inv);
        var t = new Table().Border(TableBorder.Rounded)
            .AddColumn("attribute").AddColumn(new TableColumn("TVD").RightAligned()).AddColumn(new TableColumn("by chance").RightAligned())
            .AddColumn(new TableColumn($"chance {level}").RightAligned())
            .AddColumn("most over-represented").AddColumn("most under-represented");
        foreach (var a in rep.Attributes)
        {
            var tvd = a.Tvd.ToString("0.000", inv);
            // Flagged only beyond what a random sample of the same size from the census shows.
            var colour = a.BeyondChance ? "yellow" : "green";
            t.AddRow(Markup.Escape(a.Attribute), $"[{colour}]{tvd}[/]", a.ExpectedSamplingTvd.ToString("0.000", inv), a.ChanceTvd.ToString("0.000", inv),
                Markup.Escape(Describe(a.MostOverRepresented)), Markup.Escape(Describe(a.MostUnderRepresented)));
        }
        console.Write(t);
        var p = new Table().Border(TableBorder.Rounded).AddColumn("pair").AddColumn(new TableColumn("V synthetic").RightAligned())
            .AddColumn(new TableColumn("V census").RightAligned()).AddColumn(new TableColumn("gap").RightAligned())
            .AddColumn(new TableColumn($"gap by chance ({level})").RightAligned());
        string F(double? v) => v?.ToString("0.000", inv) ?? "-";
        string G(double? v) => v?.ToString("+0.000;-0.000;0.000", inv) ?? "-";
        foreach (var pair in rep.Pairs)
        {
            var gap = pair.Gap is null ? "-" : $"[{(pair.BeyondChance ? "yellow" : "green")}]{G(pair.Gap)}[/]";
            var range = pair.ChanceGapLow is null ? "-" : $"{G(pair.ChanceGapLow)}..{G(pair.ChanceGapHigh)}";
            p.AddRow(Markup.Escape($"{pair.First} x {pair.Second}"), F(pair.SyntheticCramersV), F(pair.CensusCramersV), gap, range);
        }
        console.Write(p);
        console.MarkupLineInterpolated(
            $"{rep.SyntheticCount:N0} personas vs {r.CensusRows:N0} census persons ({r.Vintage}); mean TVD {rep.Summary.MeanTvd:0.000} (by chance {rep.Summary.MeanExpectedSamplingTvd:0.000}), worst {rep.Summary.WorstAttribute} {rep.Summary.MaxTvd:0.000}.");
        console.MarkupLineInterpolated(
            $"beyond chance ({rep.Chance.Replicates} random samples of {rep.SyntheticCount:N0} from the weighted census, seed {rep.Chance.Seed}): {rep.Summary.AttributesBeyondChance} of {rep.Attributes.Count} attributes, {rep.Summary.PairsBeyondChance} of {rep.Pairs.Count} pairs.");
        if (r.SkippedAttributes.Count > 0)
            console.MarkupLineInterpolated($"[grey]not in the source, not compared: {string.Join(", ", r.SkippedAttributes)}[/]");
        if (r.UnavailableAttributes.Count > 0)
            console.MarkupLineInterpolated($"[grey]not in source (stand-ins compared as they are): {string.Join(", ", r.UnavailableAttributes)}[/]");
        console.MarkupLineInterpolated($"[grey]household fields: {r.HouseholdFields}[/]");
        if (r.JsonPath is not null)
            console.MarkupLineInterpolated($"wrote {r.JsonPath} and {r.Plots.Count} histograms");
        foreach (var w in r.Warnings)
            console.MarkupLineInterpolated($"[yellow]warning:[/] {w}");
    }

    private static string Describe(CategoryShare? c) =>
        c is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{(c.Category.Length <= 40 ? c.Category : c.Category[..39] + "…")} ({Math.Round(c.Difference * 100, 1):+0.0;-0.0;0.0} pts)");

    internal static async Task<T> RunWithProgress<T>(IAnsiConsole console, Func<IProgress<CensusProgress>, CancellationToken, Task<T>> work, CancellationToken ct)
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
                        "compare" => "Comparing with the census",
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
        Row("vintage", r.Draw.Vintage);
        Row("sources", r.Draw.Sources.Count == 1 ? r.Draw.Sources[0] : $"{r.Draw.Sources.Count} files");
        Row("dictionary", r.Draw.DictionaryPath);
        Row("persons loaded", r.Draw.PersonsLoaded.ToString("N0", inv));
        Row("universe", $"{r.Draw.UniverseSize.ToString("N0", inv)} persons, weight {r.Draw.UniverseWeight.ToString("N0", inv)}");
        Row("drawn", $"{r.Personas.Count.ToString("N0", inv)} ({r.Draw.DistinctPersons.ToString("N0", inv)} distinct persons; " +
                     $"{(o.Unweighted ? "uniform" : "PWGTP-weighted")}, {(o.WithoutReplacement ? "without" : "with")} replacement, seed {o.Seed.ToString(inv)})");
        Row("household fields", r.Draw.HouseholdFields);
        Row("psychodemographics", r.TraitSource ?? "not drawn (no sampler installed)");
        if (r.Draw.UnavailableAttributes.Count > 0)
            Row("not in source", string.Join(", ", r.Draw.UnavailableAttributes));
        Row("output", r.OutputPath ?? "-");
        return t;
    }
}
