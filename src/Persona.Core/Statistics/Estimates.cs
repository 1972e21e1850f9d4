using MathNet.Numerics.Distributions;

namespace Persona.Statistics;

/// <summary>A closed interval [Lower, Upper] at a stated confidence level.</summary>
public readonly record struct Interval(double Lower, double Upper)
{
    public bool Contains(double x) => x >= Lower && x <= Upper;
    public double Width => Upper - Lower;
}

/// <summary>
/// A bootstrap estimate: the statistic on the full data, the standard deviation of the resampled
/// statistics as its standard error, and an interval whose construction <see cref="Method"/> names
/// (e.g. "percentile", "BCa", "two-way clustered percentile").
/// </summary>
public sealed record BootstrapResult(double Estimate, double StandardError, Interval Interval, double Level, int Resamples, ulong Seed, string Method);

/// <summary>
/// A statistic that is not defined for the data given (one category only, no unit with two
/// ratings, empty input). Thrown instead of returning NaN so that no NaN reaches a file; the
/// message says which statistic and why, for the user.
/// </summary>
public sealed class UndefinedStatisticException(string statistic, string reason)
    : PersonaException($"{statistic} is undefined: {reason}.")
{
    public string Statistic { get; } = statistic;
    public string Reason { get; } = reason;
}

internal static class Stat
{
    /// <summary>Two-sided standard-normal critical value for a confidence level (0.95 → 1.95996).</summary>
    public static double Z(double level)
    {
        CheckLevel(level);
        return Normal.InvCDF(0, 1, 1 - (1 - level) / 2);
    }

    public static void CheckLevel(double level)
    {
        if (!(level > 0 && level < 1))
            throw new ArgumentOutOfRangeException(nameof(level), level, "The confidence level must lie strictly between 0 and 1 (e.g. 0.95).");
    }

    public static void CheckResamples(int resamples)
    {
        if (resamples < 2)
            throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "At least two bootstrap resamples are needed (1,000 or more for an interval).");
    }

    public static double TwoSidedP(double z) => 2 * Normal.CDF(0, 1, -Math.Abs(z));

    /// <summary>Quantile of sorted data by linear interpolation between order statistics (Hyndman-Fan type 7, R's default).</summary>
    public static double Quantile(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.Length == 0) throw new ArgumentException("No values.", nameof(sorted));
        var h = (sorted.Length - 1) * p;
        var lo = (int)Math.Floor(h);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    public static (double Mean, double Sd) MeanSd(ReadOnlySpan<double> xs)
    {
        double mean = 0;
        for (var i = 0; i < xs.Length; i++) mean += xs[i];
        mean /= xs.Length;
        double ss = 0;
        for (var i = 0; i < xs.Length; i++) ss += (xs[i] - mean) * (xs[i] - mean);
        return (mean, xs.Length > 1 ? Math.Sqrt(ss / (xs.Length - 1)) : 0);
    }

    /// <summary>Percentile interval and standard error of bootstrap replicates (sorts them in place).</summary>
    public static BootstrapResult Percentile(double estimate, double[] replicates, double level, ulong seed, string method)
    {
        var (_, sd) = MeanSd(replicates);
        Array.Sort(replicates);
        var a = (1 - level) / 2;
        return new BootstrapResult(estimate, sd, new Interval(Quantile(replicates, a), Quantile(replicates, 1 - a)), level, replicates.Length, seed, method);
    }

    /// <summary>Distinct ids to dense indices 0..k-1 in order of first appearance.</summary>
    public static int[] Index<T>(IReadOnlyList<T> ids, out int distinct) where T : notnull
    {
        var map = new Dictionary<T, int>();
        var idx = new int[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            if (!map.TryGetValue(ids[i], out var k)) map.Add(ids[i], k = map.Count);
            idx[i] = k;
        }
        distinct = map.Count;
        return idx;
    }
}
