using MathNet.Numerics.Distributions;

namespace Persona.Statistics;

/// <summary>
/// Two systems scored on the same samples: the mean difference A − B with a bootstrap interval and
/// a two-sided bootstrap p-value (twice the smaller share of resampled differences on either side
/// of 0, at least 1/B).
/// </summary>
public sealed record PairedDifference(double MeanA, double MeanB, double Difference, double StandardError, Interval Interval,
    double Level, double PValue, int N, int Resamples, ulong Seed, string Method);

/// <summary>
/// McNemar's test of two classifiers on the same items: b items right only under A, c right only
/// under B. ChiSquare is (b−c)²/(b+c); the corrected one uses (|b−c|−1)²; the exact p-value is the
/// two-sided binomial test of b out of b+c at ½. With b + c = 0 the statistics are 0 and p is 1.
/// </summary>
public sealed record McNemarResult(int Both, int OnlyA, int OnlyB, int Neither, double ChiSquare, double PValue,
    double ChiSquareCorrected, double PValueCorrected, double PValueExact);

public static class Paired
{
    public static PairedDifference Bootstrap(IReadOnlyList<double> a, IReadOnlyList<double> b, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        var d = Differences(a, b);
        var (est, reps) = Statistics.Bootstrap.OneWayReplicates(d, Enumerable.Range(0, d.Length).ToArray(), resamples, seed, level);
        return Summarise(a, b, est, reps, level, seed, "paired percentile");
    }

    /// <summary>The paired difference with the two-way clustered bootstrap (personas × prompts) of the per-sample differences.</summary>
    public static PairedDifference TwoWayClustered<TPersona, TPrompt>(IReadOnlyList<double> a, IReadOnlyList<double> b,
        IReadOnlyList<TPersona> personaIds, IReadOnlyList<TPrompt> promptIds, int resamples = 1000, ulong seed = 1, double level = 0.95)
        where TPersona : notnull where TPrompt : notnull
    {
        var d = Differences(a, b);
        Stat.CheckResamples(resamples);
        Stat.CheckLevel(level);
        var (est, reps) = Statistics.Bootstrap.TwoWayReplicates(d, personaIds, promptIds, resamples, seed, level);
        return Summarise(a, b, est, reps, level, seed, "paired two-way clustered percentile");
    }

    private static PairedDifference Summarise(IReadOnlyList<double> a, IReadOnlyList<double> b, double estimate, double[] reps, double level, ulong seed, string method)
    {
        int atOrBelow = 0, atOrAbove = 0;
        foreach (var x in reps) { if (x <= 0) atOrBelow++; if (x >= 0) atOrAbove++; }
        var p = Math.Clamp(2.0 * Math.Min(atOrBelow, atOrAbove) / reps.Length, 1.0 / reps.Length, 1);
        var r = Stat.Percentile(estimate, reps, level, seed, method);
        return new PairedDifference(a.Average(), b.Average(), estimate, r.StandardError, r.Interval, level, p, a.Count, reps.Length, seed, method);
    }

    private static double[] Differences(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count) throw new ArgumentException($"Paired scores need the same samples: {a.Count} scores for A, {b.Count} for B.");
        if (a.Count == 0) throw new UndefinedStatisticException("A paired comparison", "no samples");
        var d = new double[a.Count];
        for (var i = 0; i < d.Length; i++) d[i] = a[i] - b[i];
        return d;
    }

    public static McNemarResult McNemar(IReadOnlyList<bool> correctA, IReadOnlyList<bool> correctB)
    {
        ArgumentNullException.ThrowIfNull(correctA);
        ArgumentNullException.ThrowIfNull(correctB);
        if (correctA.Count != correctB.Count) throw new ArgumentException($"McNemar's test needs the same items: {correctA.Count} results for A, {correctB.Count} for B.");
        int both = 0, onlyA = 0, onlyB = 0, neither = 0;
        for (var i = 0; i < correctA.Count; i++)
        {
            if (correctA[i] && correctB[i]) both++;
            else if (correctA[i]) onlyA++;
            else if (correctB[i]) onlyB++;
            else neither++;
        }
        return McNemar(both, onlyA, onlyB, neither);
    }

    public static McNemarResult McNemar(int both, int onlyA, int onlyB, int neither)
    {
        if (both < 0 || onlyA < 0 || onlyB < 0 || neither < 0) throw new ArgumentException("Counts must be non-negative.");
        var discordant = onlyA + onlyB;
        if (discordant == 0) return new McNemarResult(both, onlyA, onlyB, neither, 0, 1, 0, 1, 1);
        double diff = onlyA - onlyB;
        var chi = diff * diff / discordant;
        var corr = Math.Pow(Math.Max(0, Math.Abs(diff) - 1), 2) / discordant;
        var exact = Math.Min(1, 2 * Binomial.CDF(0.5, discordant, Math.Min(onlyA, onlyB)));
        return new McNemarResult(both, onlyA, onlyB, neither, chi, 1 - ChiSquared.CDF(1, chi), corr, 1 - ChiSquared.CDF(1, corr), exact);
    }
}

/// <summary>Adjusted p-values for a table of many tests, returned in the input order.</summary>
public static class MultipleTesting
{
    /// <summary>Holm's (1979) step-down adjustment: controls the family-wise error rate.</summary>
    public static double[] Holm(IReadOnlyList<double> pValues)
    {
        var order = Order(pValues);
        var m = order.Length;
        var adjusted = new double[m];
        double running = 0;
        for (var i = 0; i < m; i++)
        {
            running = Math.Max(running, Math.Min(1, (m - i) * pValues[order[i]]));
            adjusted[order[i]] = running;
        }
        return adjusted;
    }

    /// <summary>Benjamini and Hochberg's (1995) step-up adjustment: controls the false discovery rate.</summary>
    public static double[] BenjaminiHochberg(IReadOnlyList<double> pValues)
    {
        var order = Order(pValues);
        var m = order.Length;
        var adjusted = new double[m];
        double running = 1;
        for (var i = m - 1; i >= 0; i--)
        {
            running = Math.Min(running, m * pValues[order[i]] / (i + 1));
            adjusted[order[i]] = running;
        }
        return adjusted;
    }

    private static int[] Order(IReadOnlyList<double> pValues)
    {
        ArgumentNullException.ThrowIfNull(pValues);
        for (var i = 0; i < pValues.Count; i++)
            if (!(pValues[i] >= 0 && pValues[i] <= 1)) throw new ArgumentException($"p-value {i} is {pValues[i]}; p-values lie in [0, 1].");
        return Enumerable.Range(0, pValues.Count).OrderBy(i => pValues[i]).ThenBy(i => i).ToArray();
    }
}
