using System.CommandLine;
using System.Globalization;
using Persona.Personas;
using Persona.Statistics;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona stats ...`: statistics over result files (agreement among raters).</summary>
internal static class StatsCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var cmd = new Command("stats", "Statistics over ratings and scores: agreement among raters, with intervals.");
        cmd.Subcommands.Add(AgreementVerb(console));
        return cmd;
    }

    private static Command AgreementVerb(IAnsiConsole console)
    {
        var ratings = new Option<string>("--ratings") { Description = "Ratings in long form: .csv with columns item, rater, label[, group], or .jsonl objects with those keys.", Required = true };
        var output = new Option<string>("--out") { Description = "Also write every coefficient, its interval and the counts as JSON to this file." };
        var level = new Option<string>("--level") { Description = "Level of measurement of the labels for Krippendorff's alpha: nominal, ordinal, interval or ratio.", DefaultValueFactory = _ => "nominal" };
        var order = new Option<string>("--order") { Description = "Ordinal labels that are not numbers, lowest first, comma-separated (e.g. 'disagree,neutral,agree'); implies --level ordinal." };
        var resamples = new Option<int>("--resamples") { Description = "Bootstrap resamples for the alpha intervals.", DefaultValueFactory = _ => 1000 }.Between(100, OptionRules.MaxResamples, "an interval needs at least 100");
        var seed = new Option<long>("--seed") { Description = "Seed of the bootstrap; the same seed and file give the same intervals.", DefaultValueFactory = _ => 1 };
        var cmd = new Command("agreement",
            "Agreement among raters: percent agreement, Krippendorff's alpha (Hayes-Krippendorff and unit bootstrap\n" +
            "intervals), Fleiss' kappa and, for exactly two raters, Cohen's kappa (weighted for ordered levels).\n" +
            "Per group as well when the file has a group column. Undefined coefficients are shown with the reason.\n\n" +
            "Examples:\n" +
            "  persona stats agreement --ratings ratings.csv\n" +
            "  persona stats agreement --ratings ratings.jsonl --level interval --out agreement.json\n" +
            "  persona stats agreement --ratings likert.csv --order 'disagree,neutral,agree' --resamples 5000 --seed 7")
        {
            ratings, output, level, order, resamples, seed,
        };
        cmd.SetAction((parse, ct) =>
        {
            var path = parse.GetValue(ratings)!;
            var outPath = parse.GetValue(output);
            var orderText = parse.GetValue(order);
            var lvl = ParseLevel(parse.GetValue(level)!, orderText is not null);
            var n = parse.GetValue(resamples);
            if (n < 100) throw new PersonaException($"--resamples must be at least 100 for an interval; got {n}.");
            if (outPath is not null && SamePath(outPath, path))
                throw new PersonaException($"--out '{outPath}' is the ratings file itself; choose another output file.");
            var ordered = orderText?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (ordered is { Length: < 2 }) throw new PersonaException("--order needs at least two labels, comma-separated.");
            if (ordered is not null && ordered.Distinct(StringComparer.Ordinal).Count() != ordered.Length)
                throw new PersonaException("--order lists a label twice.");
            var set = ordered is null ? RatingsFile.Read(path, lvl) : RatingsFile.Read(path, ordered);
            ct.ThrowIfCancellationRequested();
            var report = AgreementReport.Compute(set, lvl, ordered, n, unchecked((ulong)parse.GetValue(seed)));
            Summary(console, report);
            if (outPath is not null)
            {
                AtomicFile.WriteAsync(outPath, (s, _) => { AgreementReport.WriteJson(s, report); return Task.CompletedTask; }, ct).GetAwaiter().GetResult();
                console.MarkupLineInterpolated($"wrote [bold]{Path.GetFullPath(outPath)}[/]");
            }
            return Task.FromResult(0);
        });
        return cmd;
    }

    private static MeasurementLevel ParseLevel(string text, bool ordered)
    {
        if (!Enum.TryParse<MeasurementLevel>(text, ignoreCase: true, out var lvl) || int.TryParse(text, out _))
            throw new PersonaException($"--level '{text}': expected nominal, ordinal, interval or ratio.");
        if (ordered && lvl is not (MeasurementLevel.Ordinal or MeasurementLevel.Nominal))
            throw new PersonaException($"--order applies to ordinal labels; it cannot be combined with --level {text}.");
        return ordered ? MeasurementLevel.Ordinal : lvl;
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);

    private static void Summary(IAnsiConsole console, AgreementReportResult r)
    {
        var dropped = r.DuplicatesDropped > 0 ? $" ({r.DuplicatesDropped} repeated identical rows dropped)" : "";
        console.MarkupLineInterpolated($"[bold]{r.Source}[/]: {r.Overall.Ratings.ToString("N0", Inv)} ratings of {r.Overall.Items.ToString("N0", Inv)} items by {r.Overall.Raters.ToString("N0", Inv)} raters, level {r.Level.ToString().ToLowerInvariant()}{dropped}");
        foreach (var block in new[] { r.Overall }.Concat(r.Groups))
        {
            var title = block.Group is null ? "all ratings" : $"group {block.Group}";
            var t = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"{title}: {block.Items} items, {block.PairableItems} with 2+ ratings, {block.Raters} raters"))
                .AddColumns("coefficient", "value", $"{r.Confidence:P0} interval", "note");
            foreach (var c in block.Coefficients)
                t.AddRow(Markup.Escape(c.Name),
                    c.Value is { } v ? v.ToString("0.000", Inv) : "undefined",
                    c.Interval is { } ci ? $"{ci.Lower.ToString("0.000", Inv)} to {ci.Upper.ToString("0.000", Inv)}" : "",
                    Markup.Escape(c.Undefined ?? c.Note ?? ""));
            console.Write(t);
        }
        console.MarkupLine($"intervals: alpha by the bootstrap named in JSON ({r.Resamples.ToString("N0", Inv)} resamples, seed {r.Seed}); Cohen's kappa asymptotic.");
    }
}
