namespace Persona.Statistics;

/// <summary>
/// A weighted mean Σwᵢyᵢ/Σwᵢ with its linearisation standard error
/// √(n/(n−1)·Σwᵢ²(yᵢ−ȳ)²)/Σwᵢ and Kish's effective sample size (Σw)²/Σw².
/// </summary>
public sealed record WeightedMean(double Mean, double StandardError, double EffectiveN, int N, double WeightTotal)
{
    public static WeightedMean Compute(IReadOnlyList<double> values, IReadOnlyList<double>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (weights is not null && weights.Count != values.Count)
            throw new ArgumentException($"{values.Count} values but {weights.Count} weights; give one weight per value.");
        if (values.Count == 0) throw new UndefinedStatisticException("A mean", "no values");
        double sw = 0, sw2 = 0, swy = 0;
        for (var i = 0; i < values.Count; i++)
        {
            var w = weights?[i] ?? 1;
            if (!(w >= 0) || !double.IsFinite(w)) throw new ArgumentException($"Weight {i} is {w}; weights must be finite and non-negative.");
            if (!double.IsFinite(values[i])) throw new ArgumentException($"Value {i} is {values[i]}; values must be finite.");
            sw += w; sw2 += w * w; swy += w * values[i];
        }
        if (sw <= 0) throw new UndefinedStatisticException("A weighted mean", "every weight is 0");
        var mean = swy / sw;
        double ss = 0;
        for (var i = 0; i < values.Count; i++)
        {
            var w = weights?[i] ?? 1;
            ss += w * w * (values[i] - mean) * (values[i] - mean);
        }
        var n = values.Count;
        var se = n > 1 ? Math.Sqrt(n / (n - 1.0) * ss) / sw : 0;
        return new WeightedMean(mean, se, sw * sw / sw2, n, sw);
    }
}

/// <summary>One stratum of a post-stratified mean: its population share and its sample mean.</summary>
public sealed record StratumRow(string Stratum, double PopulationShare, int N, double Mean, double Variance);

/// <summary>
/// Post-stratified mean Σ_h W_h·ȳ_h, W_h the population share of stratum h, with standard error
/// √(Σ W_h² s_h²/n_h) (no finite-population correction). Strata with a single sample contribute
/// no variance; they are listed in <see cref="SingletonStrata"/> so a reader can judge.
/// </summary>
public sealed record PostStratifiedMean(double Mean, double StandardError, Interval Interval, double Level,
    IReadOnlyList<StratumRow> Strata, IReadOnlyList<string> SingletonStrata)
{
    /// <summary>
    /// Population totals per stratum from census weights (e.g. the personas' PWGTP weights, or a
    /// census table's counts): Σ of the weights of each stratum.
    /// </summary>
    public static IReadOnlyDictionary<string, double> PopulationTotals(IReadOnlyList<string> strata, IReadOnlyList<double> censusWeights)
    {
        ArgumentNullException.ThrowIfNull(strata);
        ArgumentNullException.ThrowIfNull(censusWeights);
        if (strata.Count != censusWeights.Count) throw new ArgumentException($"{strata.Count} strata but {censusWeights.Count} weights.");
        var totals = new SortedDictionary<string, double>(StringComparer.Ordinal);
        for (var i = 0; i < strata.Count; i++)
        {
            if (!(censusWeights[i] >= 0) || !double.IsFinite(censusWeights[i])) throw new ArgumentException($"Census weight {i} is {censusWeights[i]}; weights must be finite and non-negative.");
            totals[strata[i]] = totals.GetValueOrDefault(strata[i]) + censusWeights[i];
        }
        return totals;
    }

    public static PostStratifiedMean Compute(IReadOnlyList<double> values, IReadOnlyList<string> strata,
        IReadOnlyDictionary<string, double> populationTotals, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(strata);
        ArgumentNullException.ThrowIfNull(populationTotals);
        if (values.Count != strata.Count) throw new ArgumentException($"{values.Count} values but {strata.Count} strata labels.");
        if (values.Count == 0) throw new UndefinedStatisticException("A post-stratified mean", "no values");
        var groups = Enumerable.Range(0, values.Count).GroupBy(i => strata[i], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(i => values[i]).ToArray(), StringComparer.Ordinal);
        var unknown = groups.Keys.Where(k => !populationTotals.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"No population total for stratum '{unknown[0]}' ({unknown.Count} such); every sampled stratum needs one.");
        var total = populationTotals.Where(kv => kv.Value > 0).Sum(kv => kv.Value);
        if (total <= 0) throw new UndefinedStatisticException("A post-stratified mean", "the population totals are all 0");
        var empty = populationTotals.Where(kv => kv.Value > 0 && !groups.ContainsKey(kv.Key)).Select(kv => kv.Key).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (empty.Count > 0)
            throw new UndefinedStatisticException("A post-stratified mean", $"stratum '{empty[0]}' ({empty.Count} such) has population but no sample; merge it with a neighbour");
        double mean = 0, variance = 0;
        var rows = new List<StratumRow>();
        var singletons = new List<string>();
        foreach (var (name, ys) in groups.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var share = populationTotals[name] / total;
            var (m, sd) = Stat.MeanSd(ys);
            var v = sd * sd;
            if (ys.Length == 1) singletons.Add(name);
            mean += share * m;
            variance += share * share * v / ys.Length;
            rows.Add(new StratumRow(name, share, ys.Length, m, v));
        }
        var se = Math.Sqrt(variance);
        var z = Stat.Z(level);
        return new PostStratifiedMean(mean, se, new Interval(mean - z * se, mean + z * se), level, rows, singletons);
    }
}

/// <summary>
/// One group's row: its (weighted) mean and interval. Groups with fewer than the minimum cell
/// size are <see cref="Suppressed"/>: counted, but their mean and interval are withheld (null) and
/// they take no part in the worst group or the disparity. A group of one non-binary value has a
/// mean but no interval.
/// </summary>
public sealed record GroupRow(string Group, int N, double WeightTotal, double EffectiveN, double? Mean, Interval? Interval, string IntervalMethod, bool Suppressed);

/// <summary>
/// Spread of the group means: the gap between the best and worst group and the Gini coefficient
/// of the group means (each group counts once, Σᵢ Σⱼ |xᵢ−xⱼ| / (2k²·x̄); null when the means are
/// not all non-negative or average 0, where the Gini is not meaningful).
/// </summary>
public sealed record Disparity(double MaxMinGap, double? Gini, string Best, string Worst, int Groups);

public sealed record GroupTableResult(IReadOnlyList<GroupRow> Rows, GroupRow? Worst, Disparity? Disparity, int MinCell, double Level);

public static class GroupTable
{
    /// <summary>Joins several attributes into one intersectional group label per sample ("Female × 18-29").</summary>
    public static string[] Intersect(params IReadOnlyList<string>[] attributes)
    {
        if (attributes.Length == 0) throw new ArgumentException("At least one attribute is needed.");
        var n = attributes[0].Count;
        if (attributes.Any(a => a.Count != n)) throw new ArgumentException("Every attribute needs one value per sample.");
        return Enumerable.Range(0, n).Select(i => string.Join(" × ", attributes.Select(a => a[i]))).ToArray();
    }

    /// <summary>
    /// Per-group means of <paramref name="values"/> (weighted by e.g. census weights when given),
    /// with Wilson intervals on Kish's effective sample size when every value is 0 or 1, normal
    /// intervals on the linearisation SE otherwise, or percentile bootstrap intervals of the
    /// weighted mean when <paramref name="bootstrapResamples"/> &gt; 0 (seeded per group by its
    /// position in name order). The worst group is the lowest mean (highest when
    /// <paramref name="higherIsBetter"/> is false) among groups of at least <paramref name="minCell"/>.
    /// </summary>
    public static GroupTableResult Compute(IReadOnlyList<double> values, IReadOnlyList<double>? weights, IReadOnlyList<string> groups,
        int minCell = 30, double level = 0.95, int bootstrapResamples = 0, ulong seed = 1, bool higherIsBetter = true)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(groups);
        if (values.Count != groups.Count) throw new ArgumentException($"{values.Count} values but {groups.Count} group labels.");
        if (weights is not null && weights.Count != values.Count) throw new ArgumentException($"{values.Count} values but {weights.Count} weights.");
        if (minCell < 1) throw new ArgumentOutOfRangeException(nameof(minCell), minCell, "The minimum cell size is at least 1.");
        Stat.CheckLevel(level);
        if (values.Count == 0) throw new UndefinedStatisticException("A group table", "no values");
        var binary = values.All(v => v is 0 or 1);
        var rows = new List<GroupRow>();
        var g = 0;
        foreach (var grp in Enumerable.Range(0, values.Count).GroupBy(i => groups[i], StringComparer.Ordinal).OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            var idx = grp.ToArray();
            var ys = idx.Select(i => values[i]).ToArray();
            var ws = weights is null ? null : idx.Select(i => weights[i]).ToArray();
            var wm = WeightedMean.Compute(ys, ws);
            if (idx.Length < minCell)
            {
                rows.Add(new GroupRow(grp.Key, idx.Length, wm.WeightTotal, wm.EffectiveN, null, null, $"suppressed (n < {minCell})", true));
                g++;
                continue;
            }
            Interval? interval;
            string method;
            if (idx.Length < 2 && (bootstrapResamples > 0 || !binary))
                (interval, method) = (null, "none (a single observation)");
            else if (bootstrapResamples > 0)
            {
                var w = ws ?? Enumerable.Repeat(1.0, ys.Length).ToArray();
                var pairs = Enumerable.Range(0, ys.Length).Select(i => (Y: ys[i], W: w[i])).ToArray();
                var b = Bootstrap.Percentile(pairs, s => WeightedShare(s), bootstrapResamples, DeterministicRng.Mix(seed, (ulong)g), level);
                (interval, method) = (b.Interval, "percentile bootstrap");
            }
            else if (binary)
                (interval, method) = (Proportion.Wilson(wm.Mean, wm.EffectiveN, level), "Wilson (Kish effective n)");
            else
            {
                var z = Stat.Z(level);
                (interval, method) = (new Interval(wm.Mean - z * wm.StandardError, wm.Mean + z * wm.StandardError), "normal (linearisation SE)");
            }
            rows.Add(new GroupRow(grp.Key, idx.Length, wm.WeightTotal, wm.EffectiveN, wm.Mean, interval, method, false));
            g++;
        }
        var shown = rows.Where(r => !r.Suppressed).ToList();
        if (shown.Count == 0) return new GroupTableResult(rows, null, null, minCell, level);
        var ordered = shown.OrderBy(r => higherIsBetter ? r.Mean : -r.Mean).ThenBy(r => r.Group, StringComparer.Ordinal).ToList();
        var worst = ordered[0];
        var best = ordered[^1];
        var means = shown.Select(r => r.Mean!.Value).ToArray();
        return new GroupTableResult(rows, worst, new Disparity(Math.Abs(best.Mean!.Value - worst.Mean!.Value), Gini(means), best.Group, worst.Group, shown.Count), minCell, level);
    }

    private static double WeightedShare(IReadOnlyList<(double Y, double W)> s)
    {
        double sw = 0, swy = 0;
        foreach (var (y, w) in s) { sw += w; swy += w * y; }
        return sw > 0 ? swy / sw : 0;
    }

    /// <summary>Gini coefficient of non-negative values (mean absolute difference over twice the mean); null if undefined.</summary>
    public static double? Gini(IReadOnlyList<double> xs)
    {
        ArgumentNullException.ThrowIfNull(xs);
        if (xs.Count == 0 || xs.Any(x => x < 0)) return null;
        var mean = xs.Average();
        if (mean <= 0) return null;
        double sum = 0;
        foreach (var a in xs) foreach (var b in xs) sum += Math.Abs(a - b);
        return sum / (2.0 * xs.Count * xs.Count * mean);
    }
}
