using Persona.Statistics;

namespace Persona.Survey;

/// <summary>How two answer distributions of one question are compared.</summary>
public enum SurveyMetric
{
    /// <summary>1-Wasserstein over the ordinal values, divided by their range (OpinionQA, SubPOP).</summary>
    Wasserstein,
    /// <summary>Total variation (half the L1 distance), for a question without an ordinal scale.</summary>
    TotalVariation,
}

/// <summary>
/// Distances between answer distributions, by the field's convention (Santurkar et al. 2023,
/// OpinionQA; Suh et al. 2025, SubPOP): options outside the scale (ordinal -1) are dropped and both
/// sides renormalised, then the 1-Wasserstein distance over the ordinal values is divided by
/// (largest - smallest ordinal), so 0 = same answers and 1 = all mass at opposite ends.
/// Representativeness is 1 - distance. Refusals never enter: they are reported apart.
/// </summary>
public static class SurveyDistance
{
    /// <summary>The metric a question's scale allows: Wasserstein when it has two or more distinct ordinal values, else total variation.</summary>
    public static SurveyMetric MetricOf(IReadOnlyList<double> ordinal)
    {
        double? first = null;
        foreach (var o in ordinal)
        {
            if (o == -1) continue;
            if (first is null) first = o;
            else if (o != first) return SurveyMetric.Wasserstein;
        }
        return SurveyMetric.TotalVariation;
    }

    /// <summary>
    /// The distance by the question's metric (<see cref="MetricOf"/>), or null when a side has no mass
    /// on the options the metric keeps (e.g. a model that answered only "Not sure"): such an answer
    /// has no place on the scale, and is counted apart rather than given an arbitrary distance.
    /// </summary>
    public static double? Distance(IReadOnlyList<double> ordinal, IReadOnlyList<double> p, IReadOnlyList<double> q) =>
        MetricOf(ordinal) == SurveyMetric.Wasserstein ? OrdinalWasserstein(ordinal, p, q) : TotalVariation(p, q);

    /// <summary>
    /// Normalised ordinal 1-Wasserstein distance. Throws when the ordinals are missing or constant
    /// (no scale to measure along); null when either side has no mass on the scale.
    /// </summary>
    public static double? OrdinalWasserstein(IReadOnlyList<double> ordinal, IReadOnlyList<double> p, IReadOnlyList<double> q)
    {
        Check(ordinal.Count, p, q);
        var keep = new List<int>(ordinal.Count);
        for (var i = 0; i < ordinal.Count; i++) if (ordinal[i] != -1) keep.Add(i);
        if (keep.Count == 0) throw new UndefinedStatisticException("The ordinal Wasserstein distance", "the question has no ordinal options (every ordinal is -1)");
        keep.Sort((a, b) => ordinal[a].CompareTo(ordinal[b]));
        var lo = ordinal[keep[0]];
        var hi = ordinal[keep[^1]];
        if (hi == lo) throw new UndefinedStatisticException("The ordinal Wasserstein distance", "the ordinal values are all the same");
        double sp = 0, sq = 0;
        foreach (var i in keep) { sp += p[i]; sq += q[i]; }
        if (sp <= 0 || sq <= 0) return null;
        // W1 on the line = integral of |F_p - F_q|: the CDF gap times the step to the next value.
        double cp = 0, cq = 0, w = 0;
        for (var k = 0; k < keep.Count - 1; k++)
        {
            cp += p[keep[k]] / sp;
            cq += q[keep[k]] / sq;
            w += Math.Abs(cp - cq) * (ordinal[keep[k + 1]] - ordinal[keep[k]]);
        }
        return w / (hi - lo);
    }

    /// <summary>Total variation of the two distributions, each renormalised to sum to 1; null when a side sums to 0.</summary>
    public static double? TotalVariation(IReadOnlyList<double> p, IReadOnlyList<double> q)
    {
        Check(p.Count, p, q);
        double sp = 0, sq = 0;
        for (var i = 0; i < p.Count; i++) { sp += p[i]; sq += q[i]; }
        if (sp <= 0 || sq <= 0) return null;
        double d = 0;
        for (var i = 0; i < p.Count; i++) d += Math.Abs(p[i] / sp - q[i] / sq);
        return d / 2;
    }

    /// <summary>The uniform answer over a question's shares (one per ordinal entry).</summary>
    public static double[] Uniform(int options)
    {
        var u = new double[options];
        Array.Fill(u, 1.0 / options);
        return u;
    }

    private static void Check(int n, IReadOnlyList<double> p, IReadOnlyList<double> q)
    {
        if (p.Count != n || q.Count != n)
            throw new ArgumentException($"Distributions of {p.Count} and {q.Count} shares for a question of {n} options; give one share per option.");
    }
}
