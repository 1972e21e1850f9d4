using System.Globalization;
using Persona.Census;

namespace Persona.Statistics;

/// <summary>Level of measurement of Krippendorff's alpha, which fixes its difference function δ².</summary>
public enum MeasurementLevel { Nominal, Ordinal, Interval, Ratio }

/// <summary>
/// Ratings grouped by unit, each value an index into <see cref="Values"/> (sorted ascending for
/// numeric data, in the given order for ordinal labels). Units may have any number of ratings;
/// units with fewer than two are kept but are not pairable and do not count.
/// </summary>
public sealed class ReliabilityData
{
    internal readonly int[] UnitStart; // CSR: unit u holds ValueIndex[UnitStart[u] .. UnitStart[u+1])
    internal readonly int[] ValueIndex;

    /// <summary>The distinct values as labels, in value order.</summary>
    public IReadOnlyList<string> Values { get; }
    /// <summary>The numeric value of each entry of <see cref="Values"/>; null for nominal and non-numeric ordinal data.</summary>
    public IReadOnlyList<double>? Numbers { get; }
    public MeasurementLevel Level { get; }
    /// <summary>Number of observers (coders); the Hayes-Krippendorff bootstrap uses it to size its resamples.</summary>
    public int Raters { get; }
    public int Units => UnitStart.Length - 1;
    public int Ratings => ValueIndex.Length;

    private ReliabilityData(int[] unitStart, int[] valueIndex, IReadOnlyList<string> values, double[]? numbers, MeasurementLevel level, int raters)
    {
        UnitStart = unitStart;
        ValueIndex = valueIndex;
        Values = values;
        Numbers = numbers;
        Level = level;
        var maxPerUnit = 0;
        for (var u = 0; u < unitStart.Length - 1; u++) maxPerUnit = Math.Max(maxPerUnit, unitStart[u + 1] - unitStart[u]);
        if (raters != 0 && raters < maxPerUnit)
            throw new ArgumentException($"{raters} raters cannot give {maxPerUnit} ratings to one unit.", nameof(raters));
        Raters = raters == 0 ? maxPerUnit : raters;
    }

    /// <summary>
    /// Labelled ratings, one list per unit. Nominal labels are any strings. Ordinal labels follow
    /// <paramref name="order"/> when given, else must all be numbers. Interval and ratio labels
    /// must be numbers (ratio: non-negative). <paramref name="raters"/> defaults to the largest
    /// number of ratings of any unit.
    /// </summary>
    public static ReliabilityData FromLabels(IEnumerable<IReadOnlyList<string>> unitLabels, MeasurementLevel level,
        IReadOnlyList<string>? order = null, int raters = 0)
    {
        ArgumentNullException.ThrowIfNull(unitLabels);
        var units = unitLabels as IReadOnlyList<IReadOnlyList<string>> ?? unitLabels.ToList();
        IReadOnlyList<string> values;
        double[]? numbers = null;
        if (order is not null)
        {
            if (level is MeasurementLevel.Interval or MeasurementLevel.Ratio)
                throw new ArgumentException("An order of labels applies to nominal and ordinal data; interval and ratio data are numbers.", nameof(order));
            values = order;
        }
        else
        {
            values = Labels.Ordered(units.SelectMany(x => x));
            var allNumbers = values.All(v => Labels.TryNumber(v, out _));
            if (level != MeasurementLevel.Nominal && !allNumbers)
            {
                var bad = values.First(v => !Labels.TryNumber(v, out _));
                throw new ArgumentException(level == MeasurementLevel.Ordinal
                    ? $"Ordinal labels must be numbers or come with an explicit order; '{bad}' is not a number."
                    : $"{level} data must be numbers; '{bad}' is not a number.");
            }
            if (level != MeasurementLevel.Nominal)
                numbers = values.Select(v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
        }
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < values.Count; i++)
            if (!index.TryAdd(values[i], i)) throw new ArgumentException($"Value '{values[i]}' is listed twice in the order.", nameof(order));
        var start = new int[units.Count + 1];
        var idx = new List<int>();
        for (var u = 0; u < units.Count; u++)
        {
            foreach (var label in units[u])
            {
                if (!index.TryGetValue(label, out var v)) throw new ArgumentException($"Unit {u}: value '{label}' is not in the given order.", nameof(order));
                idx.Add(v);
            }
            start[u + 1] = idx.Count;
        }
        if (numbers is not null && level == MeasurementLevel.Ratio && numbers.Any(x => x < 0))
            throw new ArgumentException($"Ratio data cannot be negative; found {numbers.First(x => x < 0).ToString(CultureInfo.InvariantCulture)}.");
        return new ReliabilityData(start, idx.ToArray(), values, numbers, level, raters);
    }

    /// <summary>Numeric ratings, one list per unit (no NaN; ratio data non-negative).</summary>
    public static ReliabilityData FromNumbers(IEnumerable<IReadOnlyList<double>> unitValues, MeasurementLevel level, int raters = 0)
    {
        ArgumentNullException.ThrowIfNull(unitValues);
        var units = unitValues as IReadOnlyList<IReadOnlyList<double>> ?? unitValues.ToList();
        var distinct = new SortedSet<double>();
        foreach (var unit in units)
            foreach (var x in unit)
            {
                if (!double.IsFinite(x)) throw new ArgumentException("Ratings must be finite numbers; leave missing ratings out of the unit's list.");
                if (level == MeasurementLevel.Ratio && x < 0) throw new ArgumentException($"Ratio data cannot be negative; found {x.ToString(CultureInfo.InvariantCulture)}.");
                distinct.Add(x);
            }
        var numbers = distinct.ToArray();
        var start = new int[units.Count + 1];
        var idx = new int[units.Sum(u => u.Count)];
        var k = 0;
        for (var u = 0; u < units.Count; u++)
        {
            foreach (var x in units[u]) idx[k++] = Array.BinarySearch(numbers, x);
            start[u + 1] = k;
        }
        var labels = numbers.Select(x => x.ToString("R", CultureInfo.InvariantCulture)).ToArray();
        return new ReliabilityData(start, idx, labels, level == MeasurementLevel.Nominal ? null : numbers, level, raters);
    }

    /// <summary>
    /// A raters × units matrix as printed in Krippendorff's papers, null for a missing rating.
    /// </summary>
    public static ReliabilityData FromMatrix(double?[][] raterByUnit, MeasurementLevel level)
    {
        ArgumentNullException.ThrowIfNull(raterByUnit);
        var unitCount = raterByUnit.Length == 0 ? 0 : raterByUnit.Max(r => r.Length);
        var units = Enumerable.Range(0, unitCount)
            .Select(u => (IReadOnlyList<double>)raterByUnit.Where(r => u < r.Length && r[u].HasValue).Select(r => r[u]!.Value).ToList())
            .ToList();
        return FromNumbers(units, level, raterByUnit.Length);
    }
}

/// <summary>
/// Krippendorff's alpha = 1 − D_o/D_e, with the observed and expected disagreements per pairable
/// value, the number of pairable units (two or more ratings) and of pairable values n.
/// </summary>
public sealed record AlphaResult(double Alpha, MeasurementLevel Level, double ObservedDisagreement, double ExpectedDisagreement,
    int PairableUnits, int PairableValues, int Values);

/// <summary>
/// A bootstrap distribution of alpha: <see cref="Method"/> says which (Hayes and Krippendorff's
/// resampling of pairable values, or resampling whole units). <see cref="ProbabilityBelow"/> is the
/// share of resamples below each of Krippendorff's customary minimum alphas (q in Hayes and
/// Krippendorff 2007). <see cref="UndefinedResamples"/> counts unit resamples with no variation,
/// left out of the interval.
/// </summary>
public sealed record AlphaBootstrap(double Alpha, Interval Interval, double Level, double StandardError, int Resamples, ulong Seed,
    string Method, IReadOnlyDictionary<double, double> ProbabilityBelow, int UndefinedResamples);

public static class Krippendorff
{
    /// <summary>The minimum alphas whose failure probability is reported (Hayes and Krippendorff 2007).</summary>
    public static readonly double[] MinimumAlphas = [0.9, 0.8, 0.7, 0.667, 0.6, 0.5];

    /// <summary>Ordinal and ratio alphas cost O(V²) in the number of distinct values; beyond this, bin the values.</summary>
    public const int MaxDistinctValuesQuadratic = 20_000;

    public static AlphaResult Alpha(ReliabilityData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var c = Coincidences.Build(data);
        return c.Alpha(c.Observed, data);
    }

    /// <summary>
    /// The bootstrap of Hayes and Krippendorff (2007), as their KALPHA macro carries it out: the
    /// expected disagreement stays fixed; each resample draws M = min(25·q, (m−1)·n/2) pairs of
    /// values from the observed coincidences (q the number of non-empty coincidence cells, m the
    /// raters, n the pairable values) and sets α* = 1 − Σδ²/(M·D_e), floored at −1. A resample
    /// of perfect agreement counts as 0 when the data hold a single agreeing value, and as many
    /// perfect resamples as chance alone predicts (B·Σ_c (o_cc/n)^P, P = Σ_u m_u(m_u−1)/2 the pairs
    /// in the data) are set to 0, as in the macro (KALPHA for SPSS, version 3.0).
    /// The interval is the percentile interval of the α*.
    /// </summary>
    public static AlphaBootstrap HayesKrippendorffBootstrap(ReliabilityData data, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(data);
        Stat.CheckResamples(resamples);
        Stat.CheckLevel(level);
        var co = Coincidences.Build(data);
        var point = co.Alpha(co.Observed, data);
        double n = point.PairableValues;
        var cells = co.CellCount;
        var cumulative = new double[cells];
        var delta = co.Deltas(co.Observed, data);
        double acc = 0, chanceAllAgree = 0;
        var q = 0;
        var diagonalCells = 0;
        for (var i = 0; i < cells; i++)
        {
            var diagonal = co.Row[i] == co.Col[i];
            var pr = (diagonal ? 1 : 2) * co.Observed[i] / n;
            acc += pr;
            cumulative[i] = acc;
            if (co.Observed[i] > 0) { q += diagonal ? 1 : 2; if (diagonal) diagonalCells++; }
        }
        var m = (long)Math.Max(1, Math.Min(25.0 * q, Math.Floor((data.Raters - 1) * n / 2)));
        // The macro takes the chance of a resample of perfect agreement over all Σ m_u(m_u−1)/2 pairs, not over M.
        for (var i = 0; i < cells; i++)
            if (co.Row[i] == co.Col[i]) chanceAllAgree += Math.Pow(co.Observed[i] / n, co.Pairs);
        var de = point.ExpectedDisagreement;
        var reps = new double[resamples];
        Parallel.For(0, resamples, r =>
        {
            var rng = new DeterministicRng(DeterministicRng.Mix(seed, (ulong)r));
            double sum = 0;
            for (long j = 0; j < m; j++)
            {
                var x = rng.NextDouble() * acc;
                var at = Array.BinarySearch(cumulative, x);
                if (at < 0) at = ~at;
                sum += delta[Math.Min(at, cells - 1)];
            }
            var a = Math.Max(-1, 1 - sum / (m * de));
            if (a == 1 && diagonalCells == 1) a = 0;
            reps[r] = a;
        });
        var toZero = diagonalCells > 1 ? (int)Math.Round(resamples * chanceAllAgree) : 0;
        for (var r = 0; r < resamples && toZero > 0; r++)
            if (reps[r] == 1) { reps[r] = 0; toZero--; }
        return Summarise(point.Alpha, reps, 0, level, seed, "Hayes-Krippendorff bootstrap (pairable values resampled, D_e fixed)");
    }

    /// <summary>
    /// Resamples whole units with replacement and recomputes alpha, coincidences and expected
    /// disagreement included: the usual nonparametric bootstrap over units, not the published
    /// Hayes-Krippendorff procedure. Resamples without variation are left out and counted.
    /// </summary>
    public static AlphaBootstrap UnitBootstrap(ReliabilityData data, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(data);
        Stat.CheckResamples(resamples);
        Stat.CheckLevel(level);
        var co = Coincidences.Build(data, keepUnits: true);
        var point = co.Alpha(co.Observed, data);
        var units = co.UnitCellStart!.Length - 1;
        var reps = new double[resamples];
        Parallel.For(0, resamples, () => (Counts: new int[units], Cells: new double[co.CellCount]), (r, _, buf) =>
        {
            var rng = new DeterministicRng(DeterministicRng.Mix(seed, (ulong)r));
            Array.Clear(buf.Counts);
            Array.Clear(buf.Cells);
            for (var i = 0; i < units; i++) buf.Counts[rng.NextInt(units)]++;
            for (var u = 0; u < units; u++)
            {
                var k = buf.Counts[u];
                if (k == 0) continue;
                for (var j = co.UnitCellStart[u]; j < co.UnitCellStart[u + 1]; j++) buf.Cells[co.UnitCell![j]] += k * co.UnitWeight![j];
            }
            reps[r] = co.TryAlpha(buf.Cells, data, out var a) ? a : double.NaN;
            return buf;
        }, _ => { });
        var defined = reps.Where(double.IsFinite).ToArray();
        if (defined.Length < 2)
            throw new UndefinedStatisticException("The unit bootstrap of alpha", "almost every resample of units has no variation");
        return Summarise(point.Alpha, defined, resamples - defined.Length, level, seed, "unit bootstrap (units resampled with replacement, alpha recomputed)");
    }

    private static AlphaBootstrap Summarise(double alpha, double[] reps, int undefined, double level, ulong seed, string method)
    {
        var below = MinimumAlphas.ToDictionary(a => a, a => reps.Count(x => x < a) / (double)reps.Length);
        var p = Stat.Percentile(alpha, reps, level, seed, method);
        return new AlphaBootstrap(alpha, p.Interval, level, p.StandardError, reps.Length + undefined, seed, method, below, undefined);
    }

    /// <summary>
    /// The coincidence matrix as a list of cells (c ≤ k); Observed[i] is o_ck (= o_kc). With
    /// keepUnits, each pairable unit's contributions are kept for the unit bootstrap.
    /// </summary>
    private sealed class Coincidences
    {
        public int[] Row = [], Col = [];
        public double[] Observed = [];
        public int CellCount => Row.Length;
        public int PairableUnits;
        public double Pairs; // Σ_u m_u(m_u−1)/2 over pairable units
        public int[]? UnitCellStart, UnitCell;
        public double[]? UnitWeight;
        private int _values;

        public static Coincidences Build(ReliabilityData data, bool keepUnits = false)
        {
            var v = data.Values.Count;
            if (data.Level is MeasurementLevel.Ordinal or MeasurementLevel.Ratio && v > MaxDistinctValuesQuadratic)
                throw new ArgumentException($"{data.Level} alpha over {v:N0} distinct values would take O(V²); bin the values (at most {MaxDistinctValuesQuadratic:N0}).");
            var dense = v <= 512 ? new double[v * v] : null;
            var denseIndex = dense is null ? null : new int[v * v];
            var sparse = dense is null ? new Dictionary<long, int>() : null;
            var cellRow = new List<int>();
            var cellCol = new List<int>();
            var cellObs = new List<double>();
            int CellOf(int c, int k)
            {
                if (denseIndex is not null)
                {
                    ref var slot = ref denseIndex[c * v + k];
                    if (slot == 0) { cellRow.Add(c); cellCol.Add(k); cellObs.Add(0); slot = cellRow.Count; }
                    return slot - 1;
                }
                var key = (long)c * v + k;
                if (!sparse!.TryGetValue(key, out var at)) { cellRow.Add(c); cellCol.Add(k); cellObs.Add(0); sparse[key] = at = cellRow.Count - 1; }
                return at;
            }
            var result = new Coincidences { _values = v };
            var unitStarts = keepUnits ? new List<int> { 0 } : null;
            var unitCells = keepUnits ? new List<int>() : null;
            var unitWeights = keepUnits ? new List<double>() : null;
            var buffer = new int[Math.Max(1, data.Raters)];
            for (var u = 0; u < data.Units; u++)
            {
                int s = data.UnitStart[u], e = data.UnitStart[u + 1], mu = e - s;
                if (mu < 2) continue;
                result.PairableUnits++;
                result.Pairs += mu * (mu - 1) / 2.0;
                if (buffer.Length < mu) buffer = new int[mu];
                var span = buffer.AsSpan(0, mu);
                data.ValueIndex.AsSpan(s, mu).CopyTo(span);
                span.Sort();
                var inv = 1.0 / (mu - 1);
                // Runs of equal values: counts n_uc of each distinct value in the unit.
                for (var i = 0; i < mu;)
                {
                    var j = i;
                    while (j < mu && span[j] == span[i]) j++;
                    var ci = span[i];
                    var ni = j - i;
                    if (ni > 1) Add(CellOf(ci, ci), ni * (ni - 1) * inv);
                    for (var a = j; a < mu;)
                    {
                        var b = a;
                        while (b < mu && span[b] == span[a]) b++;
                        Add(CellOf(ci, span[a]), ni * (b - a) * inv);
                        a = b;
                    }
                    i = j;
                }
                unitStarts?.Add(unitCells!.Count);
            }
            void Add(int cell, double w)
            {
                cellObs[cell] += w;
                if (unitCells is not null) { unitCells.Add(cell); unitWeights!.Add(w); }
            }
            if (result.PairableUnits == 0)
                throw new UndefinedStatisticException("Krippendorff's alpha", "no unit has two or more ratings, so no pair of values can be compared");
            result.Row = cellRow.ToArray();
            result.Col = cellCol.ToArray();
            result.Observed = cellObs.ToArray();
            if (keepUnits)
            {
                result.UnitCellStart = unitStarts!.ToArray();
                result.UnitCell = unitCells!.ToArray();
                result.UnitWeight = unitWeights!.ToArray();
            }
            return result;
        }

        public AlphaResult Alpha(double[] observed, ReliabilityData data)
        {
            if (!TryAlpha(observed, data, out var alpha, out var dObs, out var dExp, out var n))
                throw new UndefinedStatisticException("Krippendorff's alpha", "all pairable ratings have the same value, so there is no variation to be reliable about (expected disagreement is 0)");
            return new AlphaResult(alpha, data.Level, dObs, dExp, PairableUnits, (int)Math.Round(n), data.Values.Count);
        }

        public bool TryAlpha(double[] observed, ReliabilityData data, out double alpha) =>
            TryAlpha(observed, data, out alpha, out _, out _, out _);

        private bool TryAlpha(double[] observed, ReliabilityData data, out double alpha, out double dObs, out double dExp, out double n)
        {
            var marg = Marginals(observed);
            n = marg.Sum();
            var delta = Deltas(observed, data, marg);
            double obsSum = 0;
            for (var i = 0; i < observed.Length; i++)
                if (Row[i] != Col[i]) obsSum += 2 * observed[i] * delta[i];
            var expSum = ExpectedPairSum(marg, data) / (n - 1);
            dObs = obsSum / n;
            dExp = expSum / n;
            alpha = 0;
            if (!(expSum > 1e-12 * Math.Max(1, n))) return false;
            alpha = 1 - obsSum / expSum;
            return true;
        }

        private double[] Marginals(double[] observed)
        {
            var marg = new double[_values];
            for (var i = 0; i < observed.Length; i++)
            {
                marg[Row[i]] += observed[i];
                if (Row[i] != Col[i]) marg[Col[i]] += observed[i];
            }
            return marg;
        }

        public double[] Deltas(double[] observed, ReliabilityData data) => Deltas(observed, data, Marginals(observed));

        private double[] Deltas(double[] observed, ReliabilityData data, double[] marg)
        {
            var d = new double[observed.Length];
            double[]? cum = null;
            if (data.Level == MeasurementLevel.Ordinal) cum = Cumulative(marg);
            for (var i = 0; i < d.Length; i++)
            {
                int c = Row[i], k = Col[i];
                d[i] = c == k ? 0 : Delta(c, k, data, marg, cum);
            }
            return d;
        }

        private static double[] Cumulative(double[] marg)
        {
            var cum = new double[marg.Length + 1];
            for (var i = 0; i < marg.Length; i++) cum[i + 1] = cum[i] + marg[i];
            return cum;
        }

        /// <summary>δ²(c, k) for c &lt; k in value order (Krippendorff 2011, section E).</summary>
        private static double Delta(int c, int k, ReliabilityData data, double[] marg, double[]? cum)
        {
            switch (data.Level)
            {
                case MeasurementLevel.Nominal:
                    return 1;
                case MeasurementLevel.Ordinal:
                    var s = cum![k + 1] - cum[c] - (marg[c] + marg[k]) / 2;
                    return s * s;
                case MeasurementLevel.Interval:
                    var diff = data.Numbers![c] - data.Numbers[k];
                    return diff * diff;
                default:
                    double x = data.Numbers![c], y = data.Numbers[k];
                    return x + y == 0 ? 0 : (x - y) * (x - y) / ((x + y) * (x + y));
            }
        }

        /// <summary>Σ over ordered pairs of distinct values of n_c·n_k·δ²(c, k).</summary>
        private static double ExpectedPairSum(double[] marg, ReliabilityData data)
        {
            switch (data.Level)
            {
                case MeasurementLevel.Nominal:
                {
                    double n = 0, sq = 0;
                    foreach (var x in marg) { n += x; sq += x * x; }
                    return n * n - sq;
                }
                case MeasurementLevel.Interval:
                {
                    double n = 0, s1 = 0, s2 = 0;
                    for (var i = 0; i < marg.Length; i++)
                    {
                        var v = data.Numbers![i];
                        n += marg[i]; s1 += marg[i] * v; s2 += marg[i] * v * v;
                    }
                    return Math.Max(0, 2 * n * s2 - 2 * s1 * s1);
                }
                default:
                {
                    var used = Enumerable.Range(0, marg.Length).Where(i => marg[i] > 0).ToArray();
                    var cum = data.Level == MeasurementLevel.Ordinal ? Cumulative(marg) : null;
                    double sum = 0;
                    for (var a = 0; a < used.Length; a++)
                        for (var b = a + 1; b < used.Length; b++)
                            sum += 2 * marg[used[a]] * marg[used[b]] * Delta(used[a], used[b], data, marg, cum);
                    return sum;
                }
            }
        }
    }
}
