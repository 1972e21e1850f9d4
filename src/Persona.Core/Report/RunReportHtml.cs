using Persona.Fidelity;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Persona.Preferences;

namespace Persona.Report;

/// <summary>
/// Renders <see cref="RunReportData"/> as one HTML page. Every value from a file passes through
/// <see cref="Fmt.Html"/>; numbers through <see cref="Fmt"/> (invariant culture); nothing reads the
/// clock, the machine or the absolute path, so the page depends on the run folder's files alone.
/// </summary>
internal sealed partial class RunReportHtml(RunReportData d)
{
    private readonly StringBuilder _sb = new(1 << 20);
    private readonly IReadOnlyList<string> _simulated = d.SimulatedStages();
    private readonly IReadOnlyList<PaperComparison> _comparisons = RunReportComparisons.Rows(d);

    /// <summary>Lowest-agreement groups listed in the pairs section.</summary>
    internal const int LowestGroups = 10;

    /// <summary>Lowest groups listed per bench mode.</summary>
    internal const int LowestBenchGroups = 5;

    private static string E(string? s) => Fmt.Html(s);

    public string Render()
    {
        _sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>Persona run report</title>\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n");
        // The folder's name is left out: the same run copied or made under another name gives the same page.
        _sb.Append("<header>\n<h1>Persona run report</h1>\n<p class=\"sub\">The run in the folder that holds this file")
            .Append(". A re-implementation of PERSONA (Castricato et al., COLING 2025, arXiv 2407.17387); our figures beside the original's.</p>\n");
        Banner("top");
        Unfinished();
        _sb.Append("<nav><a href=\"#summary\">Beside the original</a> <a href=\"#population\">Population</a> <a href=\"#survey\">Survey</a> <a href=\"#prompts\">Prompts</a> ")
            .Append("<a href=\"#pairs\">Pairs</a> <a href=\"#rm\">Reward models</a> <a href=\"#bench\">Bench</a> <a href=\"#study\">Study kit</a> <a href=\"#costs\">Models and costs</a> ")
            .Append("<a href=\"#reproducibility\">Reproducibility</a></nav>\n</header>\n<main>\n");
        Summary();
        Population();
        Survey();
        Prompts();
        Pairs();
        Rm();
        Bench();
        Study();
        Costs();
        Reproducibility();
        _sb.Append("</main>\n<footer>Written by <code>persona report</code> from the files of the run folder only; ")
            .Append("rebuilding it from the same folder gives the same bytes.</footer>\n</body>\n</html>\n");
        return _sb.ToString();
    }

    // ---- page parts ------------------------------------------------------------------------

    private void Banner(string where)
    {
        if (_simulated.Count == 0) return;
        _sb.Append("<div class=\"simulated\" role=\"alert\" data-banner=\"").Append(E(where)).Append("\"><strong>SIMULATED</strong> — ")
            .Append("the offline simulator (a planted, illustrative world) produced stages of this run: ").Append(E(string.Join(", ", _simulated)))
            .Append(". Numbers from the simulator are never findings.</div>\n");
    }

    /// <summary>
    /// An unfinished run says so at the top: which stages did not complete, and how to finish it. Its
    /// stage folders may still hold files of an earlier run of the folder, which the sections then mark.
    /// </summary>
    private void Unfinished()
    {
        if (d.Completion is not { ResultsComplete: false } c) return;
        _sb.Append("<div class=\"unfinished\" role=\"alert\" data-unfinished=\"top\"><strong>UNFINISHED</strong> — This run did not finish: ")
            .Append(E(c.Explain())).Append(". The stages below that did not complete in this run are marked; files shown for them were left by an earlier run ")
            .Append("of the folder. ").Append(Code(E(c.HowToFinish("RUN")))).Append(", then <code>persona report RUN</code>.</div>\n");
    }

    /// <summary>Backquoted spans of escaped text as &lt;code&gt;.</summary>
    private static string Code(string escaped) => System.Text.RegularExpressions.Regex.Replace(escaped, "`([^`]*)`", "<code>$1</code>");

    /// <summary>A section's stage that did not complete in this (unfinished) run: said at its head, and whether what follows is an earlier run's.</summary>
    private void StageNotice(string stage, bool filesPresent)
    {
        if (d.UnfinishedStages.FirstOrDefault(s => s.Stage == stage) is not { } st) return;
        _sb.Append("<p class=\"notrun\" data-stage-unfinished=\"").Append(E(stage)).Append("\">Stage <strong>").Append(E(stage)).Append("</strong>: ")
            .Append(E(st.Text)).Append(" in this run (manifest.json)")
            .Append(filesPresent ? ". What follows comes from files an earlier run of the folder left, not from this run.</p>\n" : ".</p>\n");
    }

    private void Open(string id, string title)
    {
        _sb.Append("<section id=\"").Append(id).Append("\">\n<h2>").Append(E(title)).Append("</h2>\n");
        Banner(id);
    }

    private void Close() => _sb.Append("</section>\n");

    private void NotRun<T>(Loaded<T> loaded, string file) where T : class
    {
        if (loaded.Error is { } e) _sb.Append("<p class=\"error\">Could not read this stage: ").Append(E(e)).Append("</p>\n");
        else _sb.Append("<p class=\"notrun\">Not run: <code>").Append(E(file)).Append("</code> is not in the run folder.</p>\n");
    }

    private void Para(string html) => _sb.Append("<p>").Append(html).Append("</p>\n");

    /// <summary>A table; headers are plain text, cells are HTML already escaped by the caller.</summary>
    private void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, string? cls = null, string? caption = null)
    {
        _sb.Append("<table").Append(cls is null ? "" : $" class=\"{cls}\"").Append(">\n");
        if (caption is not null) _sb.Append("<caption>").Append(E(caption)).Append("</caption>\n");
        _sb.Append("<thead><tr>");
        foreach (var h in headers) _sb.Append("<th>").Append(E(h)).Append("</th>");
        _sb.Append("</tr></thead>\n<tbody>\n");
        var any = false;
        foreach (var r in rows)
        {
            any = true;
            _sb.Append("<tr>");
            foreach (var c in r) _sb.Append("<td>").Append(c).Append("</td>");
            _sb.Append("</tr>\n");
        }
        if (!any) _sb.Append("<tr><td colspan=\"").Append(headers.Count.ToString(CultureInfo.InvariantCulture)).Append("\" class=\"empty\">none</td></tr>\n");
        _sb.Append("</tbody>\n</table>\n");
    }

    private void Figures(IReadOnlyList<ReportFigure> figures, string cls = "figures")
    {
        if (figures.Count == 0) return;
        _sb.Append("<div class=\"").Append(cls).Append("\">\n");
        foreach (var f in figures)
            _sb.Append("<figure><img alt=\"").Append(E(f.Title)).Append("\" src=\"data:").Append(f.MediaType).Append(";base64,")
                .Append(Convert.ToBase64String(f.Bytes)).Append("\"><figcaption>").Append(E(f.Title)).Append(" <span class=\"src\">(")
                .Append(E(f.RelativePath)).Append(")</span></figcaption></figure>\n");
        _sb.Append("</div>\n");
    }

    private void Comparisons(string section)
    {
        var rows = _comparisons.Where(c => c.Section == section).ToList();
        if (rows.Count == 0) return;
        ComparisonTable(rows, false);
    }

    private void ComparisonTable(IReadOnlyList<PaperComparison> rows, bool withSection) =>
        Table(withSection ? ["Section", "Figure", "Original study", "This run", "Verdict"] : ["Figure", "Original study", "This run", "Verdict"],
            rows.Select(c => (IReadOnlyList<string>)(withSection
                ? [E(c.Section), E(c.Figure), E(c.Original), E(c.Ours), Verdict(c.Verdict)]
                : [E(c.Figure), E(c.Original), E(c.Ours), Verdict(c.Verdict)])), "paper", "Beside the original study");

    private static string Verdict(string v)
    {
        var cls = v.StartsWith(RunReportComparisons.Consistent, StringComparison.Ordinal) || v.StartsWith(RunReportComparisons.Holds, StringComparison.Ordinal) ? "ok"
            : v.StartsWith(RunReportComparisons.Differs, StringComparison.Ordinal) || v.StartsWith(RunReportComparisons.DoesNotHold, StringComparison.Ordinal) ? "bad" : "na";
        return $"<span class=\"verdict {cls}\">{E(v)}</span>";
    }

    /// <summary>A horizontal bar (value) with a tick (reference) on a shared scale: TVD beside its chance level.</summary>
    private static string Bar(double value, double reference, double max)
    {
        if (!(max > 0) || !double.IsFinite(value)) return "";
        string W(double v) => Math.Clamp(v / max * 100, 0, 100).ToString("0.0", CultureInfo.InvariantCulture);
        var over = double.IsFinite(reference) && value > reference ? " over" : "";
        return $"<div class=\"bar{over}\"><span style=\"width:{W(value)}%\"></span>" +
               (double.IsFinite(reference) ? $"<i style=\"left:{W(reference)}%\"></i>" : "") + "</div>";
    }

    // ---- sections --------------------------------------------------------------------------

    private void Summary()
    {
        Open("summary", "Beside the original study");
        var run = RunReport.StagesRun(d);
        Para($"Stages found: {E(run.Count == 0 ? "none" : string.Join(", ", run))}. " +
             "A verdict reads our interval where there is one: <em>consistent</em> when it holds the published value, <em>differs</em> when not; " +
             "<em>other scale</em> marks a run smaller than the original's.");
        if (_comparisons.Count == 0) Para("No stage with a published figure to compare has run.");
        else ComparisonTable(_comparisons, true);
        var problems = RunReport.Problems(d);
        if (problems.Count > 0)
            _sb.Append("<ul class=\"error\">").Append(string.Concat(problems.Select(p => $"<li>{E(p)}</li>"))).Append("</ul>\n");
        Close();
    }

    private void Population()
    {
        Open("population", "Population and its fidelity to the census");
        StageNotice(Persona.Run.TestbedStages.Population, d.Build.Ran || d.Fidelity.Ran);
        if (d.Build.Value is { } b)
        {
            _sb.Append("<h3>Build</h3>\n");
            Para($"{Fmt.Int(b.Built)} personas built of {Fmt.Int(b.NRequested)} requested ({Fmt.Int(b.Train)} train / {Fmt.Int(b.Test)} test), " +
                 $"census {E(b.CensusVintage)}, model <code>{E(b.Model ?? "none")}</code>. {Fmt.Int(b.Evaluated)} profiles evaluated, " +
                 $"{Fmt.Int(b.Rejected)} rejected ({Fmt.Pct(b.RejectionRate)}).");
            Comparisons("population");
            Table(["Rejected at", "Personas"], b.RejectedByStage.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => (IReadOnlyList<string>)[E(kv.Key), Fmt.Int(kv.Value)]), caption: "Rejections by stage");
            if (b.UnavailableAttributes.Count > 0)
                Para("Attributes the census source does not hold: " + E(string.Join("; ", b.UnavailableAttributes)) + ".");
        }
        else NotRun(d.Build, RunReportData.BuildReportPath);

        _sb.Append("<h3>Fidelity</h3>\n");
        if (d.Fidelity.Value is { } f)
        {
            var s = f.Summary;
            Para($"{Fmt.Int(f.SyntheticCount)} synthetic personas against {Fmt.Int(f.CensusCount)} weighted census persons " +
                 $"(effective size {Fmt.Num(f.CensusEffectiveSize, "N0")}). Mean TVD {Fmt.Num(s.MeanTvd)} (sampling noise alone ≈ {Fmt.Num(s.MeanExpectedSamplingTvd)}); " +
                 $"{Fmt.Int(s.AttributesBeyondChance)} of {Fmt.Int(s.Attributes)} attributes and {Fmt.Int(s.PairsBeyondChance)} of {Fmt.Int(s.Pairs)} associations " +
                 $"beyond chance. Chance levels: {Fmt.Int(f.Chance.Replicates)} random samples of the same size from the weighted census, " +
                 $"level {Fmt.Pct(f.Chance.Level, "0")}, seed {f.Chance.Seed.ToString(CultureInfo.InvariantCulture)}. The original published histograms only.");
            var max = f.Attributes.Select(a => Math.Max(a.Tvd, double.IsFinite(a.ChanceTvd) ? a.ChanceTvd : 0)).DefaultIfEmpty(0).Max();
            Table(["Attribute", "Categories", "TVD", "Chance TVD", "TVD (bar) vs chance (tick)", "Beyond chance", "Most over-represented", "Most under-represented"],
                f.Attributes.Select(a => (IReadOnlyList<string>)[E(a.Attribute), Fmt.Int(a.Categories), Fmt.Num(a.Tvd), Fmt.Num(a.ChanceTvd),
                    Bar(a.Tvd, a.ChanceTvd, max), a.BeyondChance ? "<strong>yes</strong>" : "no", Share(a.MostOverRepresented), Share(a.MostUnderRepresented)]),
                "fidelity", "Marginals: total variation distance per attribute");
            Table(["Pair", "V synthetic", "V census", "Gap", "Chance interval of the gap", "Beyond chance"],
                f.Pairs.Select(p => (IReadOnlyList<string>)[E($"{p.First} x {p.Second}"), Fmt.Num(p.SyntheticCramersV), Fmt.Num(p.CensusCramersV), Fmt.Num(p.Gap),
                    p.ChanceGapLow is { } lo && p.ChanceGapHigh is { } hi ? $"[{Fmt.Num(lo)}, {Fmt.Num(hi)}]" : Fmt.Dash, p.BeyondChance ? "<strong>yes</strong>" : "no"]),
                caption: $"Associations: Cramér's V{(f.BiasCorrectedCramersV ? " (bias-corrected)" : "")}, synthetic vs census vs chance");
            _sb.Append("<h3>Histograms: synthetic vs census</h3>\n");
            if (d.FidelityFigures.Count == 0) Para("No histograms in <code>" + E(RunReportData.FidelityDir) + "</code>.");
            Figures(d.FidelityFigures, "figures small");
        }
        else NotRun(d.Fidelity, RunReportData.FidelityPath);
        Close();
    }

    private static string Share(CategoryShare? s) =>
        s is null ? Fmt.Dash : $"{E(s.Category)} ({Fmt.Pct(s.Synthetic)} vs {Fmt.Pct(s.Census)})";

    private void Prompts()
    {
        Open("prompts", "Prompt set");
        StageNotice(Persona.Run.TestbedStages.Prompts, d.Prompts.Ran);
        if (d.Prompts.Value is not { } p) { NotRun(d.Prompts, RunReportData.PromptsReportPath); Close(); return; }
        Para($"Source <code>{E(p.Source)}</code>, seed {p.Seed.ToString(CultureInfo.InvariantCulture)}, classifier template <code>{E(p.TemplateVersion)}</code>, " +
             $"near duplicates: {E(p.NearDuplicates.ToString())}. Kept {Fmt.Int(p.Train + p.HeldOut)}: {Fmt.Int(p.Train)} train / {Fmt.Int(p.HeldOut)} held-out.");
        Comparisons("prompts");
        Table(["Filter (in order)", "Before", "After", "Removed"],
            p.Filters.Select(x => (IReadOnlyList<string>)[E(x.Filter), Fmt.Int(x.Before), Fmt.Int(x.After), Fmt.Int(x.Before - x.After)]), caption: "Counts after each filter");
        var c = p.Classifier;
        Para($"Controversy classifier: {Fmt.Int(c.Classified)} classified, {Fmt.Int(c.Controversial)} controversial, {Fmt.Int(c.NotControversial)} not, {Fmt.Int(c.Unparsed)} unreadable answers.");
        Para($"Topics: k = {Fmt.Int(p.Topics.K)} ({E(p.Topics.Criterion)}); the split keeps every topic in both train and held-out.");
        Table(["Topic", "Prompts", "Train", "Held-out"],
            p.Topics.Clusters.OrderBy(x => x.Cluster).Select(x => (IReadOnlyList<string>)[Fmt.Int(x.Cluster), Fmt.Int(x.Total), Fmt.Int(x.Train), Fmt.Int(x.HeldOut)]),
            caption: "Topics and split");
        Close();
    }

    private void Pairs()
    {
        Open("pairs", "Preference pairs");
        StageNotice(Persona.Run.TestbedStages.Pairs, d.Pairs.Ran);
        if (d.Pairs.Value is not { } p) { NotRun(d.Pairs, RunReportData.PairsReportPath); Close(); return; }
        Para($"{Fmt.Int(p.Pairs)} pairs ({Fmt.Int(p.Succeeded)} succeeded, {Fmt.Int(p.Failed)} failed) for {Fmt.Int(p.Personas)} personas and {Fmt.Int(p.Prompts)} prompts; " +
             $"answers by <code>{E(string.Join(", ", p.AnswerModels))}</code>, verified by <code>{E(string.Join(", ", p.JudgeModels))}</code>.");
        Comparisons("pairs");
        Table(["Schedule split", "Pairs"], p.BySplit.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (IReadOnlyList<string>)[E(kv.Key), Fmt.Int(kv.Value)])
            .Concat(p.ByQuestionType.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (IReadOnlyList<string>)[E("question type: " + kv.Key), Fmt.Int(kv.Value)])),
            caption: "Schedule counts by split");
        Table(["Check flag", "Pairs"], p.Flags.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (IReadOnlyList<string>)[E(kv.Key), Fmt.Int(kv.Value)])
            .Append([E("flagged (any)"), Fmt.Int(p.Flagged)]), caption: "Check flags");
        var v = p.Verification;
        Table(["Verification (both orders)", "Share [95% Wilson]"],
        [
            ["agreement: chosen in both orders", Fmt.Share(v.Agreement)],
            ["flip rate: the choice follows the position", Fmt.Share(v.FlipRate)],
            ["disagreement: rejected in both orders", Fmt.Share(v.Disagreement)],
            ["chosen in the first order (the original's one-order check)", Fmt.Share(v.ChosenFirstOrder)],
            ["chosen in the second order", Fmt.Share(v.ChosenSecondOrder)],
            ["unreadable verdicts", Fmt.Int(v.Unreadable)],
        ], caption: $"Verification overall ({Fmt.Int(v.Verified)} verified)");
        Para(E(p.OriginalAgreementNote));
        var groups = p.ByGroup.Where(g => g.Figures.Agreement.Value is not null && g.Figures.Verified >= p.MinGroupSize)
            .OrderBy(g => g.Figures.Agreement.Value).ThenBy(g => g.Dimension, StringComparer.Ordinal).ThenBy(g => g.Group, StringComparer.Ordinal)
            .Take(LowestGroups).ToList();
        Table(["Dimension", "Group", "Pairs", "Agreement (both orders)", "Flip rate"],
            groups.Select(g => (IReadOnlyList<string>)[E(g.Dimension), E(g.Group), Fmt.Int(g.Pairs), Fmt.Share(g.Figures.Agreement), Fmt.Share(g.Figures.FlipRate)]),
            caption: $"The {LowestGroups} groups with the lowest agreement (groups of at least {p.MinGroupSize} verified pairs; {p.ByGroup.Count} groups in pairs-report.json)");
        Close();
    }

    private void Bench()
    {
        Open("bench", "PERSONA Bench");
        StageNotice(Persona.Run.TestbedStages.Bench, d.Bench.Ran);
        if (d.Bench.Value is { } r)
        {
            Para($"Model under test <code>{E(r.ModelUnderTest ?? "unknown")}</code>, critic <code>{E(r.CriticModel ?? r.ScoreSet)}</code>" +
                 (r.CriticIsModelUnderTest ? " — <strong>the critic is the model under test</strong>" : "") +
                 $". Score set {E(r.ScoreSet)}, {Fmt.Int(r.Resamples)} bootstrap resamples, seed {r.Seed.ToString(CultureInfo.InvariantCulture)}, groups under {Fmt.Int(r.MinCell)} samples suppressed.");
            Comparisons("bench");
            Table(["Mode", "Samples", "Scored", "Accuracy", "Bootstrap SE", "Interval", "Census-weighted", "Failures (gen / critic)", "Worst group"],
                r.Modes.Select(m =>
                {
                    var a = m.Accuracy;
                    var ci = a.Clustered ?? a.Wilson;
                    return (IReadOnlyList<string>)[E(m.Mode), Fmt.Int(a.Samples), Fmt.Int(a.Scored), Fmt.Pct(a.Accuracy), Fmt.Pct(a.BootstrapStandardError),
                        Fmt.Ci(ci) + (a.Clustered is not null ? " <span class=\"src\">clustered</span>" : a.Wilson is not null ? " <span class=\"src\">Wilson</span>" : ""),
                        Fmt.Pct(a.CensusWeighted) + " " + Fmt.Ci(a.CensusWeightedInterval), $"{Fmt.Int(a.GenerationFailures)} / {Fmt.Int(a.CriticFailures)}",
                        m.WorstGroup is { } w ? $"{E(w.Attribute)} = {E(w.Group)}: {Fmt.Pct(w.Mean)} {Fmt.Ci(w.Interval)} (n = {Fmt.Int(w.N)})" : Fmt.Dash];
                }), caption: "Accuracy by mode (share of answers the critic says need no revision)");
            Table(["A", "B", "Pairs", "A − B", "Interval", "p (Holm)"],
                r.Comparisons.Select(c => (IReadOnlyList<string>)[E(c.A), E(c.B), Fmt.Int(c.N), Fmt.Pp(c.Difference), Fmt.CiPp(c.Interval), Fmt.Num(c.PValueHolm, "0.0000")]),
                caption: "Paired comparisons of modes (same persona, question and draw)");
            BestOfNTable();
            if (d.DatasetComparison.Value is { } dc)
                Table(["A", "B", "Pairs", "A − B", "Interval", "p (Holm)"],
                    dc.Comparisons.Select(c => (IReadOnlyList<string>)[E(c.A), E(c.B), Fmt.Int(c.N), Fmt.Pp(c.Difference), Fmt.CiPp(c.Interval), Fmt.Num(c.PValueHolm, "0.0000")]),
                    caption: "The dataset run's model under test against this run's, on the same personas, questions and pairs (paired per sample)");
            else if (d.DatasetComparison.Error is { } de)
                Para(E(de));
            // The lowest groups of each mode: pluralism is about who is served worst, and one mode's groups would crowd out the others'.
            var perGroup = r.Modes.SelectMany(m => m.Groups.SelectMany(g => g.Rows.Where(x => !x.Suppressed && x.Mean is not null).Select(x => (m.Mode, g.Attribute, Row: x)))
                    .OrderBy(x => x.Row.Mean).ThenBy(x => x.Attribute, StringComparer.Ordinal).ThenBy(x => x.Row.Group, StringComparer.Ordinal).Take(LowestBenchGroups))
                .ToList();
            Table(["Mode", "Attribute", "Group", "n", "Accuracy (census-weighted)", "Interval"],
                perGroup.Select(x => (IReadOnlyList<string>)[E(x.Mode), E(x.Attribute), E(x.Row.Group), Fmt.Int(x.Row.N), Fmt.Pct(x.Row.Mean), Fmt.Ci(x.Row.Interval)]),
                caption: $"Per group: the {LowestBenchGroups} lowest groups of each mode (groups of at least {r.MinCell} samples)");
            Figures(d.BenchFigures);
        }
        else NotRun(d.Bench, RunReportData.BenchResultsPath);

        _sb.Append("<h3>Leave-one-attribute-out</h3>\n");
        StageNotice(Persona.Run.TestbedStages.Loo, d.Loo.Ran);
        if (d.Loo.Value is { } loo)
        {
            Para($"{Fmt.Int(loo.Options.Personas)} personas of {Fmt.Int(loo.Options.BaseAttributes)} attributes, {Fmt.Int(loo.Options.Questions)} questions, " +
                 $"{Fmt.Int(loo.Options.Orders)} answer order(s), judge <code>{E(loo.JudgeModel ?? "unknown")}</code>. Influence = 1 − Cohen's kappa between the choices with and without the attribute." +
                 (loo.SkippedAttributes.Count > 0 ? $" Skipped (too few personas): {E(string.Join(", ", loo.SkippedAttributes))}." : ""));
            Table(["Attribute", "Personas", "Pairs", "Influence", "Interval", "Kappa", "Inconsistent (order)", "Failures"],
                loo.Ranking.Select(a => (IReadOnlyList<string>)[E(a.Attribute), Fmt.Int(a.Personas), Fmt.Int(a.Pairs), Fmt.Num(a.Influence, "0.00"), Fmt.Ci(a.InfluenceInterval, pct: false),
                    Fmt.Num(a.Kappa, "0.00"), Fmt.Pct(a.InconsistentShare), Fmt.Int(a.Failures)]), caption: "Influence ranking");
            Figures(d.LooFigures);
        }
        else NotRun(d.Loo, RunReportData.LooPath);

        _sb.Append("<h3>pass@k</h3>\n");
        StageNotice(Persona.Run.TestbedStages.PassK, d.PassK.Ran);
        if (d.PassK.Value is { } pk)
        {
            Para($"k = {Fmt.Int(pk.K)} (the original: {RunReportComparisons.OriginalPassK}); unbiased estimator per item (persona x question).");
            var ks = Enumerable.Range(1, pk.K).ToList();
            Table(["Mode", "Items", .. ks.Select(k => $"pass@{k}")],
                pk.Modes.Select(m => (IReadOnlyList<string>)[E(m.Mode), Fmt.Int(m.Items), .. ks.Select(k => m.Points.FirstOrDefault(x => x.K == k) is { } pt ? Fmt.Pct(pt.Estimate) : Fmt.Dash)]),
                caption: "pass@k curve");
            Figures(d.PassKFigures);
        }
        else NotRun(d.PassK, RunReportData.PassKPath);

        _sb.Append("<h3>Attributes dropped by demographic summaries</h3>\n");
        StageNotice(Persona.Run.TestbedStages.Summaries, d.Summaries.Ran);
        if (d.Summaries.Value is { } s)
        {
            Para($"{Fmt.Int(s.Summaries)} summaries judged by <code>{E(s.JudgeModel ?? "unknown")}</code> ({Fmt.Int(s.Failures)} failures).");
            Table(["Attribute", "Summaries", "Dropped", "Rate", "Interval"],
                s.Attributes.Select(a => (IReadOnlyList<string>)[E(a.Attribute), Fmt.Int(a.Summaries), Fmt.Int(a.Dropped), Fmt.Pct(a.Rate), Fmt.Ci(a.Interval)]),
                caption: "Share of summaries that dropped each attribute");
            Figures(d.SummaryFigures);
        }
        else NotRun(d.Summaries, RunReportData.SummariesPath);
        Close();
    }

    private void Study()
    {
        Open("study", "Human-study kit");
        StageNotice(Persona.Run.TestbedStages.Study, d.Study.Ran);
        if (d.Study.Value is not { } s) { NotRun(d.Study, RunReportData.StudyPath); Close(); return; }
        Comparisons("study");
        Table(["", ""],
        [
            ["personas", Fmt.Int(s.Personas)],
            ["rater places", Fmt.Int(s.RaterPlaces)],
            ["questions (pair items, all personas)", Fmt.Int(s.PairItems)],
            ["attention checks", Fmt.Int(s.AttentionItems)],
            ["rater sessions so far (completed)", $"{Fmt.Int(s.Sessions)} ({Fmt.Int(s.CompletedSessions)})"],
            ["answers stored", Fmt.Int(s.Answers)],
            ["LM judges stored", s.JudgeModels.Count == 0 ? "none" : E(string.Join(", ", s.JudgeModels))],
            ["title", E(s.Title ?? "")],
            ["seed", s.Seed is { } seed ? seed.ToString(CultureInfo.InvariantCulture) : Fmt.Dash],
        ], caption: "The study database");
        Para($"It is in <code>{E(RunReportData.StudyPath)}</code> beside this report. Serve it to raters: " +
             "<code>persona study serve RUN/study</code> (RUN: the folder of this report); then <code>persona study analyze</code> compares raters with LMs.");
        Close();
    }

    private void Costs()
    {
        Open("costs", "Models and costs");
        if (d.RunManifest is { } whole && (Scalar(whole, "format") == Persona.Run.TestbedRun.Format
                                           || whole.TryGetProperty("answers", out _)))
        {
            // A whole run (`persona run`): only what follows from the inputs and the answers, so the
            // same run always gives the same page (a sharded and merged run's too); timings and each invocation's spend are in invocations.jsonl.
            // Every stage, a stage without a record as "not run": an absent row would read as nothing to report.
            // The report stage is left out: it is this page, and it renders before the manifest records it.
            var stages = whole.TryGetProperty("stages", out var st0) && st0.ValueKind == JsonValueKind.Object ? st0 : default;
            Table(["Stage", "Status", "What it made"], Persona.Run.TestbedStages.All.Where(name => name != Persona.Run.TestbedStages.Report).Select(name =>
                {
                    var rec = stages.ValueKind == JsonValueKind.Object && stages.TryGetProperty(name, out var r) ? r : default;
                    var status = rec.ValueKind != JsonValueKind.Object ? Persona.Run.RunCompletion.NotRun : (Scalar(rec, "status") is { Length: > 0 } recorded ? recorded : "no status");
                    return (IReadOnlyList<string>)[E(name), E(status),
                        E(string.Join("; ", (rec.ValueKind == JsonValueKind.Object && rec.TryGetProperty("counts", out var counts) ? Flatten(Made(name, counts), "") : []).Select(x => $"{x.Key} = {x.Value}")))];
                }),
                caption: "Stages of the run (manifest.json; each invocation's wall time and spend are in invocations.jsonl beside it)");
            if (!whole.TryGetProperty("answers", out var answers) || answers.ValueKind != JsonValueKind.Object)
                // Between stages the manifest leaves the answer totals out (they scan the whole store); a run killed there has none yet.
                Para("The answer totals per role are recorded when the run finishes, and this run's manifest was written between two stages " +
                     "(the run was stopped there, or is still going). Finish it with <code>persona run --out RUN</code> (it reuses every completed stage), then <code>persona report RUN</code>.");
            else Table(["Role", "Model", "Simulated", "Answers", "Tokens (prompt / completion)", "Cost (USD)"],
                answers.EnumerateObject().Select(r => (IReadOnlyList<string>)[E(r.Name), $"<code>{E(Scalar(r.Value, "model_identity"))}</code>",
                    RunReportData.Bool(r.Value, "simulated") ? "<strong>yes</strong>" : "no", Number(r.Value, "answers"),
                    $"{Number(r.Value, "prompt_tokens")} / {Number(r.Value, "completion_tokens")}", Number(r.Value, "estimated_cost_usd", "0.0000")]),
                caption: "Per role: the distinct answers the run used and what they cost when paid, each counted once (reruns and cache hits add nothing)");
        }
        else if (d.RunManifest is { } rm)
        {
            if (rm.TryGetProperty("stages", out var stages) && stages.ValueKind == JsonValueKind.Object)
                Table(["Stage", "Status", "Seconds", "Details"], stages.EnumerateObject().Select(st => (IReadOnlyList<string>)[E(st.Name), E(Scalar(st.Value, "status")),
                    Number(st.Value, "seconds", "0.0"), E(string.Join("; ", Flatten(st.Value, "").Where(x => x.Key is not "status" and not "seconds").Select(x => $"{x.Key} = {x.Value}")))]),
                    caption: "Stages of the run (manifest.json)");
            if (rm.TryGetProperty("roles", out var roles)) RolesTable([("run", roles)], "Roles over the whole run (manifest.json)");
        }
        else if (d.ManifestProblem is { } damaged) _sb.Append("<p class=\"error\">").Append(E(damaged)).Append(".</p>\n");
        else Para("No run manifest (<code>manifest.json</code>): the figures below come from each stage folder's own manifest.");
        if (d.StageManifests.Count > 0)
            RolesTable(d.StageManifests.Where(m => m.Json.TryGetProperty("roles", out _)).Select(m => (m.Stage, m.Json.GetProperty("roles"))).ToList(),
                "Roles per stage (each stage folder's manifest.json; usage of the stage's last invocation)");
        Table(["Stage", "Status", "Logged calls", "Cache hits", "Failures", "Paid tokens (prompt / completion)", "Estimated cost (USD)"],
            d.StageManifests.Select(m =>
            {
                var t = m.Json.TryGetProperty("store_totals", out var x) ? x : default;
                return (IReadOnlyList<string>)[E(m.Stage), E(Scalar(m.Json, "status")), Number(t, "calls_logged"), Number(t, "cache_hits"), Number(t, "failures"),
                    $"{Number(t, "paid_prompt_tokens")} / {Number(t, "paid_completion_tokens")}", Number(t, "estimated_cost_usd", "0.0000")];
            }), caption: "Totals per stage store (every invocation)");
        Close();
    }

    private void RolesTable(IReadOnlyList<(string Stage, JsonElement Roles)> sets, string caption) =>
        Table(["Stage", "Role", "Model", "Simulated", "Paid calls", "Cache hits", "Failed", "Tokens (prompt / completion)", "Cost (USD)"],
            sets.Where(s => s.Roles.ValueKind == JsonValueKind.Object).SelectMany(s => s.Roles.EnumerateObject().Select(r => (IReadOnlyList<string>)[E(s.Stage), E(r.Name),
                $"<code>{E(Scalar(r.Value, "model_identity") is { Length: > 0 } id ? id : Scalar(r.Value, "model"))}</code>",
                RunReportData.Bool(r.Value, "simulated") ? "<strong>yes</strong>" : "no", Number(r.Value, "paid_calls"), Number(r.Value, "cache_hits"), Number(r.Value, "failed_calls"),
                $"{Number(r.Value, "prompt_tokens")} / {Number(r.Value, "completion_tokens")}", Number(r.Value, "estimated_cost_usd", "0.0000")])), caption: caption);

    private void Reproducibility()
    {
        Open("reproducibility", "Reproducibility");
        var seeds = new List<IReadOnlyList<string>>();
        void Add(string where, string what, string? value) { if (value is not null) seeds.Add([E(where), E(what), $"<code>{E(value)}</code>"]); }
        string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        if (d.RunManifest is { } rm)
            foreach (var key in new[] { "seed", "scale" })
                if (rm.TryGetProperty(key, out var v)) Add("run", key, Text(v));
        if (d.Build.Value is { } b)
        {
            Add("population", "seed", I(b.Seed));
            Add("population", "census vintage", b.CensusVintage);
            Add("population", "templates", $"{b.EnrichmentTemplateVersion}, {b.CheckTemplateVersion ?? "no LM check"}");
        }
        if (d.Fidelity.Value is { } f) Add("fidelity", "chance seed / replicates", $"{I(f.Chance.Seed)} / {I(f.Chance.Replicates)}");
        if (d.Prompts.Value is { } p) Add("prompts", "seed / template", $"{I(p.Seed)} / {p.TemplateVersion}");
        if (d.Pairs.Value is { } pr) Add("pairs", "templates", string.Join(", ", pr.TemplateVersions));
        if (d.Bench.Value is { } r) Add("bench", "seed / resamples", $"{r.Seed.ToString(CultureInfo.InvariantCulture)} / {I(r.Resamples)}");
        if (d.Loo.Value is { } loo) Add("bench loo", "seed", loo.Options.Seed.ToString(CultureInfo.InvariantCulture));
        if (d.PassK.Value is { } pk) Add("bench passk", "seed / resamples", $"{pk.Seed.ToString(CultureInfo.InvariantCulture)} / {I(pk.Resamples)}");
        if (d.Study.Value?.Seed is { } ss) Add("study", "seed", I(ss));
        foreach (var m in d.StageManifests)
        {
            if (m.Json.TryGetProperty("parameters", out var par) && par.TryGetProperty("offline_seed", out var os) && os.ValueKind == JsonValueKind.Number)
                Add(m.Stage, "offline simulator seed", Text(os));
            if (m.Json.TryGetProperty("world", out var w) && w.ValueKind == JsonValueKind.Object)
                Add(m.Stage, "simulated world", $"{Scalar(w, "source")} sha256 {Scalar(w, "sha256")}");
        }
        // The same value in several stages (one simulated world, one offline seed) is one row naming them all.
        var merged = seeds.GroupBy(r => (r[1], r[2])).Select(g => (IReadOnlyList<string>)[string.Join(", ", g.Select(r => r[0])), g.Key.Item1, g.Key.Item2]);
        Table(["Stage", "What", "Value"], merged, caption: "Seeds, templates and pinned inputs");

        if (d.RunManifest is { } rm2)
        {
            // Outputs are left out: the manifest records report.html's own hash after it is written.
            var hashes = new[] { "inputs", "hashes" }.Where(k => rm2.TryGetProperty(k, out _))
                .SelectMany(k => Flatten(rm2.GetProperty(k), k)).ToList();
            if (hashes.Count > 0)
                Table(["Entry (manifest.json)", "Value"], hashes.Select(h => (IReadOnlyList<string>)[E(h.Key), $"<code>{E(h.Value)}</code>"]), caption: "Input and output hashes recorded by the run");
        }
        Table(["File", "Bytes", "SHA-256"], d.Hashes.Select(h => (IReadOnlyList<string>)[$"<code>{E(h.RelativePath)}</code>", Fmt.Int(h.Bytes), $"<code class=\"hash\">{h.Sha256}</code>"]),
            caption: "The run's files as this report read them");
        Close();
    }

    // ---- JSON helpers ----------------------------------------------------------------------

    /// <summary>A stage's recorded result read through its stage's type (a record of another shape is shown as it stands).</summary>
    private static JsonElement Made(string stage, JsonElement counts) => Persona.Run.TestbedStages.Get(stage).ReadResult(counts)?.ToJson() ?? counts;

    private static string Scalar(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? Text(v) : "";

    private static string Number(JsonElement e, string name, string format = "N0") =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? Fmt.Num(v.GetDouble(), format) : Fmt.Dash;

    /// <summary>A JSON value as text: strings as written, numbers in their JSON form (already invariant), others raw.</summary>
    private static string Text(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString() ?? "",
        JsonValueKind.Null or JsonValueKind.Undefined => "null",
        _ => v.GetRawText(),
    };

    /// <summary>Scalars of a JSON tree as dotted paths, in document order (at most 200: a report is not a dump).</summary>
    private static IEnumerable<(string Key, string Value)> Flatten(JsonElement e, string prefix)
    {
        var list = new List<(string, string)>();
        void Walk(JsonElement x, string path)
        {
            if (list.Count >= 200) return;
            switch (x.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in x.EnumerateObject()) Walk(p.Value, path.Length == 0 ? p.Name : path + "." + p.Name);
                    break;
                case JsonValueKind.Array:
                    var i = 0;
                    foreach (var item in x.EnumerateArray()) Walk(item, $"{path}[{i++}]");
                    break;
                default:
                    list.Add((path, Text(x)));
                    break;
            }
        }
        Walk(e, prefix);
        return list;
    }

    private const string Css = """
        :root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --soft: #f6f8fa; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.5 "DejaVu Sans", system-ui, sans-serif; color: var(--ink); background: var(--bg); }
        header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
        header { padding-top: 16px; }
        h1 { margin: 8px 0 4px; font-size: 28px; }
        h2 { margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); font-size: 22px; }
        h3 { margin: 20px 0 6px; font-size: 17px; }
        .sub, .src, footer { color: var(--muted); }
        .src { font-size: 12px; }
        nav { margin: 10px 0; display: flex; flex-wrap: wrap; gap: 6px 14px; }
        nav a { color: #0969da; text-decoration: none; }
        code { font: 13px "DejaVu Sans Mono", monospace; background: var(--soft); padding: 0 3px; border-radius: 3px; overflow-wrap: anywhere; }
        code.hash { font-size: 11px; }
        .simulated { margin: 10px 0; padding: 10px 14px; background: #fff8c5; border: 2px solid #bf8700; border-radius: 6px; color: #4d2d00; }
        .simulated strong { letter-spacing: 0.08em; }
        .unfinished { margin: 10px 0; padding: 10px 14px; background: #ffebe9; border: 2px solid var(--bad); border-radius: 6px; color: #82071e; }
        .unfinished strong { letter-spacing: 0.08em; }
        .notrun { padding: 8px 12px; background: var(--soft); border-left: 4px solid var(--line); color: var(--muted); }
        .error { color: var(--bad); }
        table { border-collapse: collapse; margin: 10px 0 16px; width: 100%; font-size: 14px; }
        caption { text-align: left; font-weight: bold; padding: 4px 0; }
        th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
        th { background: var(--soft); }
        td.empty { color: var(--muted); font-style: italic; }
        .verdict { font-weight: bold; white-space: nowrap; }
        .verdict.ok { color: var(--ok); } .verdict.bad { color: var(--bad); } .verdict.na { color: var(--warn); }
        .bar { position: relative; width: 160px; height: 12px; background: var(--soft); border: 1px solid var(--line); }
        .bar span { position: absolute; left: 0; top: 0; bottom: 0; background: #1f77b4; }
        .bar.over span { background: var(--bad); }
        .bar i { position: absolute; top: -3px; bottom: -3px; width: 2px; background: var(--ink); }
        .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 12px; margin: 12px 0; }
        .figures.small { grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); }
        figure { margin: 0; border: 1px solid var(--line); padding: 6px; background: #fff; }
        figure img { width: 100%; height: auto; display: block; }
        figcaption { font-size: 13px; margin-top: 4px; }
        footer { margin: 40px auto 24px; font-size: 13px; }
        @media print { .figures { grid-template-columns: 1fr 1fr; } }

        """;
}
