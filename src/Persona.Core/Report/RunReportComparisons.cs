using Persona.Benchmark;
using Persona.Statistics;

namespace Persona.Report;

/// <summary>
/// One of our figures beside the original study's published one (method.md, arXiv 2407.17387).
/// <see cref="Verdict"/> says how they relate, judged from our interval where there is one
/// (an interval holding the published value is "consistent"), never from the point alone when an
/// interval exists.
/// </summary>
public sealed record PaperComparison(string Section, string Figure, string Original, string Ours, string Verdict);

/// <summary>The paper-comparison rows of a run report; every "ours" comes from the run's files.</summary>
public static class RunReportComparisons
{
    public const string Consistent = "consistent", Differs = "differs", Holds = "holds", DoesNotHold = "does not hold",
        Unresolved = "not resolved", OtherScale = "other scale", NotComparable = "not comparable";

    // The original's published figures (method.md).
    public const double OriginalRejectionRate = 0.085, OriginalAgreement = 0.96, OriginalBaseline = 0.05;
    public const int OriginalPersonas = 1586, OriginalTrainPersonas = 1000, OriginalTestPersonas = 586;
    public const int OriginalSourcePrompts = 8011, OriginalPrompts = 3868, OriginalTrainPrompts = 3000, OriginalHeldOutPrompts = 868;
    public const int OriginalPairsPerPersona = 200, OriginalPairs = 317_200, OriginalPassK = 16;
    public const int OriginalStudyPersonas = 20, OriginalRatersPerPersona = 4, OriginalStudyQuestions = 10;

    public static IReadOnlyList<PaperComparison> Rows(RunReportData d)
    {
        var rows = new List<PaperComparison>();
        if (d.Build.Value is { } b)
        {
            Interval? ci = b.Evaluated > 0 ? Proportion.Wilson(b.Rejected, b.Evaluated) : null;
            rows.Add(new("population", "Personas rejected by the consistency filter", "about " + Fmt.Pct(OriginalRejectionRate),
                $"{Fmt.Pct(b.RejectionRate)} ({Fmt.Int(b.Rejected)} of {Fmt.Int(b.Evaluated)} evaluated) {Fmt.Ci(ci)}",
                Within(ci, OriginalRejectionRate)));
            rows.Add(new("population", "Personas (train / test)", $"{Fmt.Int(OriginalPersonas)} ({Fmt.Int(OriginalTrainPersonas)} / {Fmt.Int(OriginalTestPersonas)})",
                $"{Fmt.Int(b.Built)} ({Fmt.Int(b.Train)} / {Fmt.Int(b.Test)})", b.Built == OriginalPersonas ? Consistent : OtherScale));
        }
        if (d.Prompts.Value is { } p)
        {
            var source = p.Filters.Count > 0 ? p.Filters[0].Before : 0;
            rows.Add(new("prompts", "Source prompts (PRISM opening prompts)", Fmt.Int(OriginalSourcePrompts), Fmt.Int(source),
                source == OriginalSourcePrompts ? Consistent : Differs));
            var kept = p.Train + p.HeldOut;
            rows.Add(new("prompts", "Prompts kept after the filters", Fmt.Int(OriginalPrompts),
                Fmt.Int(kept) + (p.Limit is { } l ? $" (classifier limited to {Fmt.Int(l)} prompts by --limit)" : ""),
                p.Limit is not null ? NotComparable : kept == OriginalPrompts ? Consistent : Differs));
            double originalShare = (double)OriginalHeldOutPrompts / OriginalPrompts;
            var share = kept > 0 ? (double)p.HeldOut / kept : double.NaN;
            rows.Add(new("prompts", "Split train / held-out", $"{Fmt.Int(OriginalTrainPrompts)} / {Fmt.Int(OriginalHeldOutPrompts)} ({Fmt.Pct(originalShare)} held out)",
                $"{Fmt.Int(p.Train)} / {Fmt.Int(p.HeldOut)} ({Fmt.Pct(share)} held out)",
                double.IsNaN(share) ? NotComparable : Math.Abs(share - originalShare) <= 0.01 ? Consistent : Differs));
        }
        if (d.Pairs.Value is { } pr)
        {
            var one = pr.Verification.ChosenFirstOrder;
            rows.Add(new("pairs", "Role-play check agreed with the assumed preference (one order)", Fmt.Pct(OriginalAgreement),
                $"{Fmt.Share(one)} in the first order; {Fmt.Share(pr.Verification.Agreement)} in both orders, flip rate {Fmt.Share(pr.Verification.FlipRate)}",
                one.Lower is { } lo && one.Upper is { } hi ? Within(new Interval(lo, hi), OriginalAgreement) : NotComparable));
            rows.Add(new("pairs", "Pairs per persona (total)", $"{Fmt.Int(OriginalPairsPerPersona)} ({Fmt.Int(OriginalPairs)})",
                pr.Personas > 0 ? $"{Fmt.Num((double)pr.Pairs / pr.Personas, "0.#")} ({Fmt.Int(pr.Pairs)})" : Fmt.Int(pr.Pairs),
                pr.Pairs == OriginalPairs ? Consistent : OtherScale));
        }
        if (d.Bench.Value is { } bench) rows.AddRange(BenchRows(bench));
        if (d.Summaries.Value is { } s && s.Attributes.Count > 0)
        {
            var top = s.Attributes.Take(2).Select(a => a.Attribute).ToList();
            var hits = top.Count(a => a is "age" or "lifestyle");
            rows.Add(new("bench", "Attributes most often dropped by demographic summaries", "age and lifestyle",
                string.Join(" and ", s.Attributes.Take(2).Select(a => $"{a.Attribute} ({Fmt.Pct(a.Rate)})")),
                hits == 2 ? Holds : hits == 1 ? "partly" : DoesNotHold));
        }
        if (d.Loo.Value is { } loo)
        {
            var ranked = loo.Ranking.Where(a => a.Influence is not null).OrderByDescending(a => a.Influence).ToList();
            if (ranked.Count >= 2)
            {
                var first = ranked[0];
                // "Dominates": its interval lies above every other attribute's.
                var dominates = first.InfluenceInterval is { } fi && ranked.Skip(1).All(o => o.InfluenceInterval is { } oi && fi.Lower > oi.Upper);
                rows.Add(new("bench", "Leave-one-attribute-out: no single attribute dominates", "no single attribute dominates",
                    $"most influential {first.Attribute} ({Fmt.Num(first.Influence!.Value, "0.00")} {Fmt.Ci(first.InfluenceInterval, pct: false)}), next {ranked[1].Attribute} ({Fmt.Num(ranked[1].Influence!.Value, "0.00")})",
                    dominates ? DoesNotHold : Holds));
            }
        }
        if (d.PassK.Value is { } pk)
            rows.Add(new("bench", "pass@k: k", Fmt.Int(OriginalPassK), Fmt.Int(pk.K), pk.K == OriginalPassK ? Consistent : OtherScale));
        if (d.Study.Value is { } st)
        {
            var raters = st.Personas > 0 ? st.RaterPlaces / st.Personas : 0;
            var items = st.Personas > 0 ? st.PairItems / st.Personas : 0;
            rows.Add(new("study", "Human study: personas x raters per persona x questions",
                $"{OriginalStudyPersonas} x {OriginalRatersPerPersona} x {OriginalStudyQuestions} ({OriginalStudyPersonas * OriginalRatersPerPersona} raters)",
                $"{Fmt.Int(st.Personas)} x {Fmt.Int(raters)} x {Fmt.Int(items)} ({Fmt.Int(st.RaterPlaces)} rater places)",
                st.Personas == OriginalStudyPersonas && raters == OriginalRatersPerPersona && items == OriginalStudyQuestions ? Consistent : OtherScale));
        }
        return rows;
    }

    private static IEnumerable<PaperComparison> BenchRows(BenchResults r)
    {
        var acc = r.Modes.Where(m => m.Accuracy.Accuracy is not null).ToDictionary(m => m.Mode, m => m.Accuracy, StringComparer.Ordinal);
        if (acc.TryGetValue(BenchModes.Baseline, out var baseline))
        {
            var ci = baseline.Clustered ?? baseline.Wilson;
            yield return new("bench", "Baseline accuracy (no persona)", "about " + Fmt.Pct(OriginalBaseline, "0"),
                $"{Fmt.Pct(baseline.Accuracy!.Value)} {Fmt.Ci(ci)}", Within(ci, OriginalBaseline));
        }
        if (acc.TryGetValue(BenchModes.ChainOfThought, out var cot) && acc.TryGetValue(BenchModes.OutputOnly, out var direct))
        {
            var cmp = r.Comparisons.FirstOrDefault(c => c.A == BenchModes.ChainOfThought && c.B == BenchModes.OutputOnly)
                      ?? Flip(r.Comparisons.FirstOrDefault(c => c.A == BenchModes.OutputOnly && c.B == BenchModes.ChainOfThought));
            string verdict;
            var ours = $"chain_of_thought {Fmt.Pct(cot.Accuracy!.Value)} vs output_only {Fmt.Pct(direct.Accuracy!.Value)}";
            if (cmp is not null)
            {
                ours += $"; paired difference {Fmt.Pp(cmp.Difference)} {Fmt.CiPp(cmp.Interval)}";
                verdict = cmp.Interval.Upper < 0 ? Holds : cmp.Interval.Lower > 0 ? DoesNotHold : Unresolved;
            }
            else verdict = cot.Accuracy < direct.Accuracy ? Holds + " (point estimates only)" : DoesNotHold + " (point estimates only)";
            yield return new("bench", "Chain of thought below no chain of thought (output_only)", "yes: chain of thought hurts", ours, verdict);
        }
        if (acc.Count >= 2 && acc.ContainsKey(BenchModes.DemographicSummary))
        {
            var best = acc.OrderByDescending(kv => kv.Value.Accuracy).ThenBy(kv => kv.Key, StringComparer.Ordinal).First();
            yield return new("bench", "Summarising the demographics first is the best mode", "yes, for every model",
                $"best: {best.Key} ({Fmt.Pct(best.Value.Accuracy!.Value)}); demographic_summary {Fmt.Pct(acc[BenchModes.DemographicSummary].Accuracy!.Value)} (point estimates)",
                best.Key == BenchModes.DemographicSummary ? Holds : DoesNotHold);
        }
    }

    /// <summary>B vs A as A vs B: the difference and its interval change sign.</summary>
    private static Comparison? Flip(Comparison? c) => c is null ? null
        : c with { A = c.B, B = c.A, MeanA = c.MeanB, MeanB = c.MeanA, Difference = -c.Difference, Interval = new Interval(-c.Interval.Upper, -c.Interval.Lower), OnlyA = c.OnlyB, OnlyB = c.OnlyA };

    private static string Within(Interval? ci, double published) =>
        ci is not { } v ? NotComparable : v.Lower <= published && published <= v.Upper ? Consistent : Differs;
}
