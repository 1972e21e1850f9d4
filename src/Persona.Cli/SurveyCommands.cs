using System.CommandLine;
using System.Globalization;
using Persona.Personas;
using Persona.Store;
using Persona.Survey;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona survey ...`: survey fidelity against real answer distributions per subgroup (GSS 2022 by default).</summary>
internal static class SurveyCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var cmd = new Command("survey", "Survey fidelity: how far predicted answer distributions per subgroup are from what real people answered.");
        cmd.Subcommands.Add(ScoreVerb(console));
        cmd.Subcommands.Add(ExportVerb(console));
        return cmd;
    }

    private static Command ExportVerb(IAnsiConsole console)
    {
        var output = new Option<string>("--out") { Description = "The JSON Lines file to write (one Inspect sample per question and group).", Required = true };
        var survey = new Option<string>("--survey") { Description = "The survey set to export. Default: the bundled GSS 2022 set (data/survey)." };
        var cmd = new Command("export",
            "Writes the survey's items as Inspect-ready sample JSON Lines (input, choices, no target, metadata with qkey,\n" +
            "attribute, group, ordinal, the real responses and refusal rate), so Inspect AI users can take them over.\n\n" +
            "Examples:\n" +
            "  persona survey export --out gss-inspect.jsonl\n" +
            "  persona survey export --survey opinionqa.jsonl --out opinionqa-inspect.jsonl")
        {
            output, survey,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var outPath = parse.GetValue(output)!;
            var surveyPath = parse.GetValue(survey) ?? SurveySet.BundledPath;
            OutputPaths.EnsureFileTarget(outPath, "--out", "gss-inspect.jsonl");
            OutputPaths.EnsureNotAnInput(outPath, "--out", ("--survey", surveyPath));
            var set = SurveySetFile.Read(surveyPath);
            await AtomicFile.WriteAsync(outPath, (s, _) => { SurveyInspectExport.Write(s, set); return Task.CompletedTask; }, ct);
            console.MarkupLineInterpolated($"wrote {set.Items.Count.ToString("N0", Inv)} Inspect samples ({set.Questions.Count} questions x {set.Groups.Count} groups) to [bold]{Path.GetFullPath(outPath)}[/]");
            return 0;
        });
        return cmd;
    }

    private static Command ScoreVerb(IAnsiConsole console)
    {
        var predictions = new Option<string>("--predictions") { Description = "Predicted distributions, JSON Lines: {\"qkey\", \"attribute\", \"group\", \"distribution\"} with one share per entry of the question's ordinal (optional \"refusal_rate\").", Required = true };
        var output = new Option<string>("--out") { Description = "Folder to write survey-results.json into (created if missing).", Required = true };
        var survey = new Option<string>("--survey") { Description = "Real answers per group (JSON Lines: qkey, attribute, group, question, options, ordinal, responses, refusal_rate). Default: the bundled GSS 2022 set (data/survey)." };
        var resamples = new Option<int>("--resamples") { Description = "Bootstrap resamples for the intervals over questions.", DefaultValueFactory = _ => 1000 }.Between(100, OptionRules.MaxResamples, "an interval needs at least 100");
        var seed = new Option<long>("--seed") { Description = "Seed of the bootstrap; the same seed and files give the same intervals.", DefaultValueFactory = _ => 1 };
        var model = new Option<string>("--model") { Description = "The model that made the predictions, as named in the Every Eval Ever record (model_info); a label only, nothing is called.", DefaultValueFactory = _ => "unknown" };
        var cmd = new Command("score",
            "Scores answer distributions made elsewhere against real ones, per group and attribute, beside the\n" +
            "baselines: the uniform answer, the population prior (mean of the groups' real answers) and, for\n" +
            "Democrat/Republican and Liberal/Conservative, the opposite group. Distance = normalised ordinal\n" +
            "1-Wasserstein (OpinionQA/SubPOP convention; 0 = same answers, 1 = opposite ends); lower is better.\n\n" +
            "Examples:\n" +
            "  persona survey score --predictions preds.jsonl --out results/\n" +
            "  persona survey score --predictions preds.jsonl --survey opinionqa.jsonl --out results/ --resamples 5000\n\n" +
            "Writes DIR/survey-results.json, DIR/figures/survey-heatmap.svg (question x group distances) and an Every Eval Ever\n" +
            "record (schema 0.2.2) in DIR/every-eval-ever/: {uuid}.json (aggregate) and {uuid}.jsonl (one row per question x group).")
        {
            predictions, output, survey, resamples, seed, model,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var predPath = parse.GetValue(predictions)!;
            var outDir = parse.GetValue(output)!;
            var surveyPath = parse.GetValue(survey) ?? SurveySet.BundledPath;
            var target = Path.Combine(outDir, SurveyResultsJson.FileName);
            var retrieved = RecordClock.Now(); // a bad SOURCE_DATE_EPOCH is refused before anything is written
            OutputPaths.EnsureFolderTarget(outDir, "--out");
            OutputPaths.EnsureFolderSparesInputs(outDir, "--out", [SurveyResultsJson.FileName], ("--predictions", predPath), ("--survey", surveyPath));

            var set = SurveySetFile.Read(surveyPath);
            var rows = SurveyPredictionsFile.Read(predPath, set);
            ct.ThrowIfCancellationRequested();
            var results = SurveyScoring.Score(set, rows, resamples: parse.GetValue(resamples), seed: unchecked((ulong)parse.GetValue(seed)), ct: ct);
            Directory.CreateDirectory(outDir);
            await AtomicFile.WriteAsync(target, (s, _) => { SurveyResultsJson.Write(s, results, predPath); return Task.CompletedTask; }, ct);
            await SurveyHeatmap.WriteAsync(outDir, results, simulated: false, ct);
            var eee = await SurveyEveryEvalEver.WriteAsync(Path.Combine(outDir, SurveyEveryEvalEver.Folder), set, [new SurveyEeeEntry("predictions", results)],
                parse.GetValue(model)!, elicitation: null, simulated: false, retrieved, ct);
            Render(console, results, rows.Count);
            console.MarkupLineInterpolated($"wrote [bold]{Path.GetFullPath(target)}[/], the heat map {Path.Combine(SurveyHeatmap.Folder, SurveyHeatmap.FileName)} and an Every Eval Ever record ({eee.Results} results, {eee.Rows} instances) in {Path.GetFullPath(Path.GetDirectoryName(eee.Aggregate)!)}");
            return 0;
        });
        return cmd;
    }

    /// <summary>The per-group table with its baselines; shared with the `survey` stage's summary.</summary>
    internal static void Render(IAnsiConsole console, SurveyResults r, int predictions)
    {
        string F(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("0.000", Inv) : "-";
        string I(Statistics.Interval? i) => i is { } x ? $"{F(x.Lower)} to {F(x.Upper)}" : "-";
        console.MarkupLineInterpolated($"[bold]{Path.GetFileName(r.Survey)}[/]: {predictions.ToString("N0", Inv)} predictions scored by {r.Metric}; lower is better, representativeness = 1 - distance.");
        var t = new Table().Border(TableBorder.Rounded)
            .AddColumns("attribute", "group", "n", "distance", $"{r.Level:P0} interval", "uniform", "prior", "opposite", "vs prior");
        foreach (var g in r.Groups)
            t.AddRow(Markup.Escape(g.Group.Attribute), Markup.Escape(g.Group.Group), g.Score.N.ToString(Inv), F(g.Score.MeanDistance), I(g.Score.Interval),
                F(g.Baselines.Uniform), F(g.Baselines.PopulationPrior), F(g.Baselines.Opposing), Markup.Escape(g.VersusPrior.Verdict));
        foreach (var a in r.Attributes)
            t.AddRow(Markup.Escape(a.Attribute), "(all groups)", a.Score.N.ToString(Inv), F(a.Score.MeanDistance), I(a.Score.Interval),
                F(a.Baselines.Uniform), F(a.Baselines.PopulationPrior), "", "");
        t.AddRow("overall", "", r.Overall.N.ToString(Inv), F(r.Overall.MeanDistance), I(r.Overall.Interval), F(r.OverallBaselines.Uniform), F(r.OverallBaselines.PopulationPrior), "", "");
        console.Write(t);
        foreach (var p in r.OpposingPairs)
            console.MarkupLineInterpolated($"real gap {p.A.Group} vs {p.B.Group}: {F(p.MeanDistance)} over {p.N} questions (a reference scale).");
        if (r.Dispersion.Ratio is { } ratio)
            console.MarkupLineInterpolated($"dispersion: predicted groups sit {F(r.Dispersion.PredictedMean)} from their mean, real groups {F(r.Dispersion.RealMean)} (ratio {F(ratio)}; below 1 the predictions flatten the differences between groups).");
        foreach (var w in r.Withheld)
            console.MarkupLineInterpolated($"withheld {w.Group.Attribute}={w.Group.Group}: {w.Personas} personas ({w.Reason}).");
        if (r.Unscorable > 0)
            console.MarkupLineInterpolated($"{r.Unscorable} predictions put no mass on the answer scale and were not scored.");
    }
}
