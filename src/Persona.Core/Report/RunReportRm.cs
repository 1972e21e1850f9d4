using System.Text.Json;
using Persona.Rewards;
using Persona.Statistics;

namespace Persona.Report;

public sealed partial record RunReportData
{
    public const string RmResultsPath = "rm/" + RmTrack.ResultsFile;

    /// <summary>The reward-model track's results (rm/rm-results.json), when the rm stage ran.</summary>
    public Loaded<RmResults> Rm { get; init; } = Loaded<RmResults>.Missing;
    public IReadOnlyList<ReportFigure> RmFigures { get; init; } = [];

    internal static Loaded<RmResults> ReadRm(string runDir)
    {
        var path = Path.Combine(runDir, RmResultsPath);
        if (!File.Exists(path)) return Loaded<RmResults>.Missing;
        try { return new Loaded<RmResults>(JsonSerializer.Deserialize<RmResults>(File.ReadAllBytes(path), RmTrack.Json), null); }
        catch (Exception ex) when (ex is JsonException or IOException or NotSupportedException)
        {
            return new Loaded<RmResults>(null, $"{RmResultsPath}: unreadable ({ex.Message}); rerun the stage with `persona run --from rm`");
        }
    }

    internal static IReadOnlyList<ReportFigure> ReadRmFigures(string runDir) =>
        Figures(runDir, ("rm/figures/" + RmPlots.CurveName, "Reward models on unseen personas, by pairs given"), ("rm/figures/" + RmPlots.GroupsName, "Reward-model accuracy per group"));
}

internal sealed partial class RunReportHtml
{
    private void Rm()
    {
        Open("rm", "Reward models");
        StageNotice(Persona.Run.TestbedStages.Rm, d.Rm.Ran);
        if (d.Rm.Value is not { } r) { NotRun(d.Rm, RunReportData.RmResultsPath); Close(); return; }
        if (r.Simulated) Para("<strong>Simulated</strong>: trained on the offline simulator's pairs, whose marker words plant a known preference; the numbers check the track, they are not findings.");
        Para($"Features: {E(r.Features)}. Split: {E(r.Split)}. {Fmt.Int(r.SeenPersonas)} seen personas ({Fmt.Int(r.TrainPairs)} labelled train pairs, {Fmt.Int(r.SeenTestPairs)} test pairs), " +
             $"{Fmt.Int(r.UnseenPersonas)} unseen ({Fmt.Int(r.UnseenEvalPairs)} evaluation pairs). Accuracy is census-weighted with 95% intervals from a bootstrap over personas.");
        if (r.PersonaSample is { } sample)
            Para($"Fitted and scored on a sample: {Fmt.Int(sample.Personas)} of the population's {Fmt.Int(sample.Of)} personas, drawn with seed {sample.Seed} in proportion to the groups of '{E(sample.Stratify)}' (the run's --rm-personas cap; 0 takes every persona).");
        static string Acc(double a, RmInterval i) => double.IsFinite(a) ? $"{Fmt.Pct(a)} [{Fmt.Pct(i.Lower)}, {Fmt.Pct(i.Upper)}]" : Fmt.Pct(a);
        Table(["Model", "Seen personas", "Unseen, k = 0", "Unseen, largest k", "Worst group"], r.Models.Select(m => (IReadOnlyList<string>)
        [
            E(m.Name), Acc(m.Seen.Accuracy, m.Seen.Interval),
            m.UnseenCurve.Count == 0 ? Fmt.Dash : Acc(m.UnseenCurve[0].Accuracy, m.UnseenCurve[0].Interval),
            m.UnseenCurve.Count == 0 ? Fmt.Dash : $"k = {m.UnseenCurve[^1].K}: " + Acc(m.UnseenCurve[^1].Accuracy, m.UnseenCurve[^1].Interval),
            m.WorstGroup is { } w ? E($"{w.Attribute} = {w.Group} ") + Acc(w.Accuracy, w.Interval) : Fmt.Dash,
        ]), caption: "Accuracy: the persona's preferred answer of a pair scored higher");
        Table(["Attribute", "Group", "Global model", "Best personalised", "Majority tax"],
            r.MajorityTax.OrderByDescending(t => t.Tax).Take(LowestGroups).Select(t => (IReadOnlyList<string>)
                [E(t.Attribute), E(t.Group), Fmt.Pct(t.Global), E(t.Model) + " " + Fmt.Pct(t.Personalised),
                    t.Interval is { } ti ? $"{Fmt.Pp(t.Tax)} {Fmt.CiPp(new Interval(ti.Lower, ti.Upper))}" : Fmt.Pp(t.Tax)]),
            caption: $"Majority tax: what one model for everyone loses against the best personalised model on the same pairs (percentage points, paired interval), the {LowestGroups} largest (all in rm/rm-results.json)");
        Figures(d.RmFigures);
        Close();
    }
}
