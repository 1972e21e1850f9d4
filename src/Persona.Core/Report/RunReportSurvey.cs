using System.Globalization;

namespace Persona.Report;

// The survey stage in the run report: what survey/ holds (survey-results.json, survey-results-unsteered.json,
// survey-modes.json, figures/survey-heatmap.svg), read as the files' own shapes, and its section.

public sealed record SurveyReportInterval(double? Lower, double? Upper);

public sealed record SurveyReportMean(double? MeanDistance);

public sealed record SurveyReportOpposing(string Group, double? MeanDistance);

public sealed record SurveyReportBaselines(SurveyReportMean Uniform, SurveyReportMean PopulationPrior, SurveyReportOpposing? OpposingGroup = null);

public sealed record SurveyReportPair(string A, string B, double? MeanDistance, int N);

public sealed record SurveyReportOverallBaselines(SurveyReportMean Uniform, SurveyReportMean PopulationPrior, IReadOnlyList<SurveyReportPair> OpposingGroups);

public sealed record SurveyReportOverall(double? MeanDistance, SurveyReportInterval? Interval, int N);

public sealed record SurveyReportVersusPrior(double? Gain, SurveyReportInterval? Interval, string Verdict);

public sealed record SurveyReportGroup(string Attribute, string Group, double? MeanDistance, SurveyReportInterval? Interval, int N, SurveyReportBaselines Baselines,
    SurveyReportVersusPrior VersusPrior);

public sealed record SurveyReportAttribute(string Attribute, double? MeanDistance, SurveyReportInterval? Interval, int N, int Groups, SurveyReportBaselines Baselines);

public sealed record SurveyReportDispersion(double? PredictedMeanDistanceToGroupMean, double? RealMeanDistanceToGroupMean, double? Ratio);

public sealed record SurveyReportWithheld(string Attribute, string Group, int Personas, string Reason);

/// <summary>A survey-results*.json file (the fields the report shows).</summary>
public sealed record SurveyReportResults(string Survey, string Metric, double Confidence, int BootstrapResamples, SurveyReportOverall Overall,
    SurveyReportOverallBaselines Baselines, IReadOnlyList<SurveyReportAttribute> Attributes, IReadOnlyList<SurveyReportGroup> Groups,
    SurveyReportDispersion Dispersion, IReadOnlyList<SurveyReportWithheld> Withheld, bool Simulated = false, string? Predictions = null);

public sealed record SurveyReportGain(string Attribute, string Group, double? Gain);

public sealed record SurveyReportSteerability(double? MeanGain, double? SdGainAcrossGroups, IReadOnlyList<SurveyReportGain> Groups);

public sealed record SurveyReportMode(string Mode, string File, double? MeanDistance, SurveyReportInterval? Interval, int Groups, double? Uniform, double? PopulationPrior,
    double? DispersionRatio, SurveyReportSteerability? Steerability = null);

/// <summary>survey-modes.json.</summary>
public sealed record SurveyReportModes(int Questions, int Panelists, int Failed, IReadOnlyList<SurveyReportMode> Modes, bool Simulated = false);

/// <summary>What the survey section shows: the panel's results (or, without mode persona, the first mode's), the unsteered model's, the modes, the heat map.</summary>
public sealed record SurveyReport(string ShownMode, SurveyReportResults Shown, SurveyReportResults? Unsteered, SurveyReportModes? Modes, ReportFigure? Heatmap)
{
    public bool Simulated => Shown.Simulated || Modes?.Simulated == true;
}

public sealed partial record RunReportData
{
    public const string SurveyDir = "survey";
    public const string SurveyResultsPath = SurveyDir + "/" + Survey.SurveyResultsJson.FileName;

    /// <summary>The survey stage's files, or why they could not be read; missing when the stage did not run.</summary>
    public Loaded<SurveyReport> SurveyFidelity { get; init; } = Loaded<SurveyReport>.Missing;

    private static Loaded<SurveyReport> LoadSurvey(string runDir)
    {
        var modes = Read<SurveyReportModes>(runDir, SurveyDir + "/" + Survey.SurveyStage.ModesFile);
        if (modes.Error is { } me) return new Loaded<SurveyReport>(null, me);
        var panel = Read<SurveyReportResults>(runDir, SurveyResultsPath);
        if (panel.Error is { } pe) return new Loaded<SurveyReport>(null, pe);
        var unsteered = Read<SurveyReportResults>(runDir, SurveyDir + "/" + Survey.SurveyStage.UnsteeredFile);
        if (unsteered.Error is { } ue) return new Loaded<SurveyReport>(null, ue);
        // survey-results.json is the panel's (mode persona) in a run, or that of predictions made elsewhere when `survey score` wrote it.
        var (mode, shown) = panel.Value is { } p ? (p.Predictions is { } file ? $"predictions ({Path.GetFileName(file)})" : Survey.SurveyModes.Persona, p) : (Survey.SurveyModes.None, unsteered.Value);
        if (shown is null && modes.Value?.Modes.FirstOrDefault() is { } first)
        {
            var other = Read<SurveyReportResults>(runDir, SurveyDir + "/" + first.File);
            if (other.Error is { } oe) return new Loaded<SurveyReport>(null, oe);
            (mode, shown) = (first.Mode, other.Value);
        }
        if (shown is null) return modes.Value is null ? Loaded<SurveyReport>.Missing
            : new Loaded<SurveyReport>(null, $"{SurveyDir}/{Survey.SurveyStage.ModesFile} names results files that are not in the folder{Left}");
        var heatmap = Figure(runDir, $"{SurveyDir}/{Survey.SurveyHeatmap.Folder}/{Path.GetFileNameWithoutExtension(Survey.SurveyHeatmap.FileName)}", "Distance per question and group");
        return new Loaded<SurveyReport>(new SurveyReport(mode, shown, panel.Value is null ? null : unsteered.Value, modes.Value, heatmap), null);
    }
}

internal sealed partial class RunReportHtml
{
    private void Survey()
    {
        Open("survey", "Survey fidelity: do the personas answer like the people they stand for?");
        StageNotice(Persona.Run.TestbedStages.Survey, d.SurveyFidelity.Ran);
        if (d.SurveyFidelity.Value is not { } s)
        {
            NotRun(d.SurveyFidelity, RunReportData.SurveyResultsPath);
            Close();
            return;
        }
        var r = s.Shown;
        var level = Fmt.Pct(r.Confidence, "0");
        _sb.Append("<p data-survey=\"summary\">");
        if (s.Simulated)
            _sb.Append("<strong class=\"sim\">SIMULATED</strong> — the offline simulator answered from the world file's planted group shifts, never from the survey: these numbers show the machinery, not a finding. ");
        if (s.Modes is { } m)
            _sb.Append(Fmt.Int(m.Questions)).Append(" questions asked of ").Append(Fmt.Int(m.Panelists)).Append(" panelists")
               .Append(m.Failed > 0 ? $" ({Fmt.Int(m.Failed)} answers failed and are left out)" : "").Append("; ");
        _sb.Append("real answers: <code>").Append(E(Path.GetFileName(r.Survey))).Append("</code>. Distance = ").Append(E(r.Metric))
           .Append(" between the group's census-weighted answers and what the group really answered (0 = the same, 1 = opposite ends; lower is better). ")
           .Append("Intervals: ").Append(level).Append(" percentile bootstrap over questions (").Append(Fmt.Int(r.BootstrapResamples)).Append(" resamples). ")
           .Append("Beside it, on the same questions: the uniform answer, the population prior (the mean of every group's real answers), the opposing group's real answers, ")
           .Append("and the model with no persona. A group <em>beats the prior</em> when the interval of its distance minus the prior's lies below 0.</p>\n");

        var unsteered = s.Unsteered?.Groups.ToDictionary(g => (g.Attribute, g.Group), g => g.MeanDistance) ?? [];
        var better = r.Groups.Count(g => g.VersusPrior.Verdict == "better");
        var worse = r.Groups.Count(g => g.VersusPrior.Verdict == "worse");
        Para($"Mode <code>{E(s.ShownMode)}</code>: overall distance <strong data-survey-overall=\"{Fmt.Num(r.Overall.MeanDistance)}\">{Fmt.Num(r.Overall.MeanDistance)}</strong> {Ci(r.Overall.Interval)} " +
             $"over {Fmt.Int(r.Overall.N)} cells, against {Fmt.Num(r.Baselines.Uniform.MeanDistance)} for the uniform answer and {Fmt.Num(r.Baselines.PopulationPrior.MeanDistance)} for the population prior. " +
             $"Verdict: nearer than the prior for <strong data-survey-better=\"{better}\">{Fmt.Int(better)}</strong> of {Fmt.Int(r.Groups.Count)} groups, farther for {Fmt.Int(worse)}, not distinguishable (or too few questions) for the rest.");
        Table(["Attribute", "Group", "Questions", "Distance", $"{level} interval", "Uniform", "Population prior", "Opposing group", "Unsteered model", "Distance − prior", "Beats the prior?"],
            r.Groups.Select(g => (IReadOnlyList<string>)[
                $"<span data-survey-group=\"{E(g.Attribute)}={E(g.Group)}\">{E(g.Attribute)}</span>", E(g.Group), Fmt.Int(g.N),
                $"<strong>{Fmt.Num(g.MeanDistance)}</strong>", Ci(g.Interval), Fmt.Num(g.Baselines.Uniform.MeanDistance), Fmt.Num(g.Baselines.PopulationPrior.MeanDistance),
                g.Baselines.OpposingGroup is { } o ? $"{Fmt.Num(o.MeanDistance)} ({E(o.Group)})" : Fmt.Dash,
                unsteered.TryGetValue((g.Attribute, g.Group), out var u) ? Fmt.Num(u) : Fmt.Dash,
                $"{Signed(g.VersusPrior.Gain)} {Ci(g.VersusPrior.Interval)}", VerdictOf(g.VersusPrior.Verdict)]),
            "survey", "Per group: the panel's distance beside the baselines");
        Table(["Attribute", "Groups", "Cells", "Distance", $"{level} interval", "Uniform", "Population prior"],
            r.Attributes.Select(a => (IReadOnlyList<string>)[E(a.Attribute), Fmt.Int(a.Groups), Fmt.Int(a.N), Fmt.Num(a.MeanDistance), Ci(a.Interval),
                Fmt.Num(a.Baselines.Uniform.MeanDistance), Fmt.Num(a.Baselines.PopulationPrior.MeanDistance)])
                .Append([E("overall"), Fmt.Int(r.Groups.Count), Fmt.Int(r.Overall.N), Fmt.Num(r.Overall.MeanDistance), Ci(r.Overall.Interval),
                    Fmt.Num(r.Baselines.Uniform.MeanDistance), Fmt.Num(r.Baselines.PopulationPrior.MeanDistance)]),
            caption: "Per attribute (intervals clustered by question)");
        if (r.Baselines.OpposingGroups.Count > 0)
            Para("For scale, how far apart real opposing groups answer: " + string.Join("; ", r.Baselines.OpposingGroups.Select(p =>
                $"{E(p.A)} vs {E(p.B)} {Fmt.Num(p.MeanDistance)} ({Fmt.Int(p.N)} questions)")) + ".");
        if (r.Withheld.Count > 0)
            Para("Withheld (too few personas to report): " + string.Join("; ", r.Withheld.Select(w => $"{E(w.Attribute)}={E(w.Group)}: {Fmt.Int(w.Personas)} personas")) + ".");

        _sb.Append("<p data-survey=\"dispersion\">Dispersion: the panel's groups sit ").Append(Fmt.Num(r.Dispersion.PredictedMeanDistanceToGroupMean))
           .Append(" from their mean, the real groups ").Append(Fmt.Num(r.Dispersion.RealMeanDistanceToGroupMean)).Append(": ratio <strong data-survey-dispersion=\"")
           .Append(Fmt.Num(r.Dispersion.Ratio)).Append("\">").Append(Fmt.Num(r.Dispersion.Ratio)).Append("</strong>")
           .Append(r.Dispersion.Ratio is { } ratio && double.IsFinite(ratio)
               ? ratio < 1 ? " (below 1: the panel flattens the differences between groups)." : " (1 or more: the panel's groups are at least as far apart as the real ones)."
               : ".").Append("</p>\n");

        _sb.Append("<h3>Question x group</h3>\n");
        if (s.Heatmap is { } h) Figures([h]);
        else Para($"No heat map in <code>{E(RunReportData.SurveyDir)}/{E(global::Persona.Survey.SurveyHeatmap.Folder)}</code>.");

        if (s.Modes is { Modes.Count: > 0 } modes)
        {
            _sb.Append("<h3>Modes and steerability</h3>\n");
            Para("Steerability: a steering mode's distance minus the unsteered model's, per group (below 0: naming the group brings the answers closer to its real ones). " +
                 "Its spread across groups says whether the gains are uniform.");
            Table(["Mode", "Groups", "Distance", $"{level} interval", "Dispersion ratio", "Mean gain vs unsteered", "SD of the gain across groups"],
                modes.Modes.Select(x => (IReadOnlyList<string>)[$"<code data-survey-mode=\"{E(x.Mode)}\">{E(x.Mode)}</code>", Fmt.Int(x.Groups), Fmt.Num(x.MeanDistance), Ci(x.Interval),
                    Fmt.Num(x.DispersionRatio), x.Steerability is { } st ? Signed(st.MeanGain) : Fmt.Dash, x.Steerability is { } st2 ? Fmt.Num(st2.SdGainAcrossGroups) : Fmt.Dash]),
                caption: "Every mode asked");
            var steered = modes.Modes.Where(x => x.Steerability is not null).ToList();
            if (steered.Count > 0)
            {
                var keys = steered.SelectMany(x => x.Steerability!.Groups.Select(g => (g.Attribute, g.Group))).Distinct().ToList();
                var gain = steered.ToDictionary(x => x.Mode, x => x.Steerability!.Groups.ToDictionary(g => (g.Attribute, g.Group), g => g.Gain));
                Table(["Group", .. steered.Select(x => x.Mode)],
                    keys.Select(k => (IReadOnlyList<string>)[E($"{k.Attribute}={k.Group}"), .. steered.Select(x => gain[x.Mode].TryGetValue(k, out var v) ? Signed(v) : Fmt.Dash)]),
                    caption: "Steerability per group: steered minus unsteered distance");
            }
        }
        Close();
    }

    private static string Ci(SurveyReportInterval? i) =>
        i is { Lower: { } lo, Upper: { } hi } ? $"[{Fmt.Num(lo)}, {Fmt.Num(hi)}]" : Fmt.Dash;

    private static string Signed(double? v) =>
        v is { } x && double.IsFinite(x) ? (x > 0 ? "+" : x < 0 ? "−" : "") + Math.Abs(x).ToString("0.000", CultureInfo.InvariantCulture) : Fmt.Dash;

    private static string VerdictOf(string v) => v switch
    {
        "better" => "<span class=\"verdict ok\">yes</span>",
        "worse" => "<span class=\"verdict bad\">no, worse</span>",
        _ => $"<span class=\"verdict na\">{E(v)}</span>",
    };
}
