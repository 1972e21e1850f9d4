using System.Globalization;

namespace Persona.Statistics;

/// <summary>Agreement weights of Cohen's kappa; categories are weighted by their position in the ordered category list.</summary>
public enum KappaWeights { Unweighted, Linear, Quadratic }

/// <summary>
/// Cohen's kappa with its large-sample standard error (Fleiss, Cohen and Everitt 1969), the Wald
/// interval κ ± z·SE, and the test of κ = 0 using the standard error under the null hypothesis.
/// <see cref="Z"/> and <see cref="PValue"/> are null when that null standard error is zero.
/// </summary>
public sealed record CohensKappaResult(
    double Kappa, double StandardError, Interval Interval, double Level,
    double StandardErrorUnderNull, double? Z, double? PValue,
    double ObservedAgreement, double ExpectedAgreement, int N,
    IReadOnlyList<string> Categories, KappaWeights Weights);

/// <summary>
/// Fleiss' kappa for a fixed number of raters per item, with the standard error under the null
/// hypothesis of no agreement beyond chance (Fleiss, Nee and Landis 1979) and its z test.
/// </summary>
public sealed record FleissKappaResult(
    double Kappa, double StandardErrorUnderNull, double Z, double PValue,
    double MeanObservedAgreement, double ExpectedAgreement, int Items, int RatersPerItem,
    IReadOnlyList<string> Categories);

public static class Agreement
{
    /// <summary>
    /// Cohen's kappa of two raters who labelled the same N items (a[i] and b[i] label item i).
    /// Categories default to the union of both raters' labels, ordered numerically when every
    /// label is a number and ordinally otherwise; pass <paramref name="categories"/> to fix the
    /// order (it matters for linear and quadratic weights) or to include unused categories.
    /// </summary>
    public static CohensKappaResult CohensKappa(IReadOnlyList<string> a, IReadOnlyList<string> b,
        KappaWeights weights = KappaWeights.Unweighted, IReadOnlyList<string>? categories = null, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count)
            throw new ArgumentException($"The two raters must label the same items: {a.Count} labels against {b.Count}.");
        if (a.Count == 0) throw new UndefinedStatisticException("Cohen's kappa", "no items");
        var cats = categories ?? Labels.Ordered(a.Concat(b));
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < cats.Count; i++)
            if (!index.TryAdd(cats[i], i)) throw new ArgumentException($"Category '{cats[i]}' is listed twice.", nameof(categories));
        var table = new double[cats.Count, cats.Count];
        for (var i = 0; i < a.Count; i++)
        {
            if (!index.TryGetValue(a[i], out var r) || !index.TryGetValue(b[i], out var c))
                throw new ArgumentException($"Item {i}: label '{(index.ContainsKey(a[i]) ? b[i] : a[i])}' is not among the categories.");
            table[r, c]++;
        }
        return CohensKappa(table, weights, level, cats);
    }

    /// <summary>
    /// Cohen's kappa from a square table of counts: rows are rater A's categories, columns rater
    /// B's, in the same order.
    /// </summary>
    public static CohensKappaResult CohensKappa(double[,] table, KappaWeights weights = KappaWeights.Unweighted,
        double level = 0.95, IReadOnlyList<string>? categories = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        var k = table.GetLength(0);
        if (k != table.GetLength(1)) throw new ArgumentException("The table of counts must be square.", nameof(table));
        var z = Stat.Z(level);
        double n = 0;
        foreach (var x in table)
        {
            if (x < 0 || double.IsNaN(x)) throw new ArgumentException("Counts must be non-negative numbers.", nameof(table));
            n += x;
        }
        if (n <= 0) throw new UndefinedStatisticException("Cohen's kappa", "no items");
        var w = WeightMatrix(k, weights);
        var row = new double[k];
        var col = new double[k];
        for (var i = 0; i < k; i++)
            for (var j = 0; j < k; j++) { row[i] += table[i, j] / n; col[j] += table[i, j] / n; }
        double po = 0, pe = 0;
        for (var i = 0; i < k; i++)
            for (var j = 0; j < k; j++) { po += w[i, j] * table[i, j] / n; pe += w[i, j] * row[i] * col[j]; }
        if (pe >= 1 - 1e-12)
            throw new UndefinedStatisticException("Cohen's kappa", "chance agreement is 1 (both raters used a single, identical category), so agreement beyond chance cannot be measured");
        var kappa = (po - pe) / (1 - pe);

        // Weighted means of the agreement weights by the other rater's margin (w̄_i. and w̄_.j).
        var wr = new double[k];
        var wc = new double[k];
        for (var i = 0; i < k; i++)
            for (var j = 0; j < k; j++) { wr[i] += col[j] * w[i, j]; wc[j] += row[i] * w[i, j]; }
        double s = 0, s0 = 0;
        for (var i = 0; i < k; i++)
            for (var j = 0; j < k; j++)
            {
                var d = w[i, j] - (wr[i] + wc[j]) * (1 - kappa);
                s += table[i, j] / n * d * d;
                var d0 = w[i, j] - (wr[i] + wc[j]);
                s0 += row[i] * col[j] * d0 * d0;
            }
        var denom = n * (1 - pe) * (1 - pe);
        var t = kappa - pe * (1 - kappa);
        var se = Math.Sqrt(Math.Max(0, (s - t * t) / denom));
        var se0 = Math.Sqrt(Math.Max(0, (s0 - pe * pe) / denom));
        double? zValue = se0 > 0 ? kappa / se0 : null;
        var names = categories ?? Enumerable.Range(1, k).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        return new CohensKappaResult(kappa, se, new Interval(kappa - z * se, kappa + z * se), level, se0,
            zValue, zValue is { } zz ? Stat.TwoSidedP(zz) : null, po, pe, (int)Math.Round(n), names, weights);
    }

    /// <summary>
    /// Agreement weights: 1 on the diagonal; linear 1 − |i−j|/(k−1); quadratic 1 − (i−j)²/(k−1)²
    /// (Cicchetti-Allison and Fleiss-Cohen, as SAS and R's irr use them).
    /// </summary>
    private static double[,] WeightMatrix(int k, KappaWeights weights)
    {
        var w = new double[k, k];
        for (var i = 0; i < k; i++)
            for (var j = 0; j < k; j++)
            {
                if (i == j || k == 1) { w[i, j] = i == j ? 1 : 0; continue; }
                var d = Math.Abs(i - j) / (double)(k - 1);
                w[i, j] = weights switch
                {
                    KappaWeights.Unweighted => 0,
                    KappaWeights.Linear => 1 - d,
                    KappaWeights.Quadratic => 1 - d * d,
                    _ => throw new ArgumentOutOfRangeException(nameof(weights)),
                };
            }
        return w;
    }

    /// <summary>
    /// Fleiss' kappa: every item carries the labels of the same number m ≥ 2 of raters (who need
    /// not be the same people).
    /// </summary>
    public static FleissKappaResult Fleiss(IReadOnlyList<IReadOnlyList<string>> labelsPerItem, IReadOnlyList<string>? categories = null)
    {
        ArgumentNullException.ThrowIfNull(labelsPerItem);
        if (labelsPerItem.Count == 0) throw new UndefinedStatisticException("Fleiss' kappa", "no items");
        var cats = categories ?? Labels.Ordered(labelsPerItem.SelectMany(x => x));
        return Fleiss(CategoryCounts(labelsPerItem, cats), cats);
    }

    /// <summary>Fleiss' kappa from an items × categories table of how many raters chose each category.</summary>
    public static FleissKappaResult Fleiss(int[,] counts, IReadOnlyList<string>? categories = null)
    {
        ArgumentNullException.ThrowIfNull(counts);
        int items = counts.GetLength(0), k = counts.GetLength(1);
        if (items == 0) throw new UndefinedStatisticException("Fleiss' kappa", "no items");
        var m = -1;
        var p = new double[k];
        double pBar = 0;
        for (var i = 0; i < items; i++)
        {
            int mi = 0, sq = 0;
            for (var j = 0; j < k; j++)
            {
                if (counts[i, j] < 0) throw new ArgumentException("Counts must be non-negative.", nameof(counts));
                mi += counts[i, j];
                sq += counts[i, j] * counts[i, j];
                p[j] += counts[i, j];
            }
            if (m < 0) m = mi;
            else if (mi != m)
                throw new ArgumentException($"Fleiss' kappa needs the same number of ratings on every item: item 0 has {m}, item {i} has {mi}.");
            if (mi >= 2) pBar += (sq - mi) / (double)(mi * (mi - 1));
        }
        if (m < 2) throw new UndefinedStatisticException("Fleiss' kappa", "fewer than two ratings per item");
        pBar /= items;
        double pe = 0, pq = 0, pqqp = 0;
        for (var j = 0; j < k; j++)
        {
            p[j] /= (double)items * m;
            var q = 1 - p[j];
            pe += p[j] * p[j];
            pq += p[j] * q;
            pqqp += p[j] * q * (q - p[j]);
        }
        if (pq <= 1e-15)
            throw new UndefinedStatisticException("Fleiss' kappa", "every rating is the same category, so agreement beyond chance cannot be measured");
        var kappa = (pBar - pe) / (1 - pe);
        var se0 = Math.Sqrt(2.0 / (items * m * (m - 1.0))) * Math.Sqrt(Math.Max(0, pq * pq - pqqp)) / pq;
        var zValue = kappa / se0;
        var names = categories ?? Enumerable.Range(1, k).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        return new FleissKappaResult(kappa, se0, zValue, Stat.TwoSidedP(zValue), pBar, pe, items, m, names);
    }

    /// <summary>
    /// Percent agreement: over items with at least two ratings, the share of agreeing pairs among
    /// all pairs of ratings of the item, averaged over items. With two raters it is the share of
    /// items on which they agree.
    /// </summary>
    public static double PercentAgreement(IReadOnlyList<IReadOnlyList<string>> labelsPerItem) => ItemAgreement(labelsPerItem).Average();

    /// <summary>Percent agreement with a percentile bootstrap interval over items.</summary>
    public static BootstrapResult PercentAgreementInterval(IReadOnlyList<IReadOnlyList<string>> labelsPerItem, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        var r = Bootstrap.Mean(ItemAgreement(labelsPerItem), resamples, seed, level);
        return r with { Method = "item bootstrap percentile" };
    }

    private static double[] ItemAgreement(IReadOnlyList<IReadOnlyList<string>> labelsPerItem)
    {
        ArgumentNullException.ThrowIfNull(labelsPerItem);
        var shares = new List<double>(labelsPerItem.Count);
        foreach (var labels in labelsPerItem)
        {
            var m = labels.Count;
            if (m < 2) continue;
            long agree = 0;
            foreach (var g in labels.GroupBy(x => x, StringComparer.Ordinal))
            {
                long c = g.Count();
                agree += c * (c - 1);
            }
            shares.Add(agree / (double)((long)m * (m - 1)));
        }
        if (shares.Count == 0) throw new UndefinedStatisticException("Percent agreement", "no item has two or more ratings");
        return shares.ToArray();
    }

    /// <summary>
    /// Fleiss' kappa with a percentile bootstrap interval over items (items drawn with replacement,
    /// kappa recomputed). Resamples in which every rating is one category have no kappa; they are
    /// left out, and their number is in the method text. Undefined if most resamples are so.
    /// </summary>
    public static BootstrapResult FleissInterval(int[,] counts, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        var point = Fleiss(counts);
        Stat.CheckResamples(resamples);
        Stat.CheckLevel(level);
        int items = counts.GetLength(0), k = counts.GetLength(1);
        var m = point.RatersPerItem;
        var agreement = new double[items];
        for (var i = 0; i < items; i++)
        {
            long sq = 0;
            for (var j = 0; j < k; j++) sq += (long)counts[i, j] * counts[i, j];
            agreement[i] = (sq - m) / (double)(m * (m - 1));
        }
        var reps = new double[resamples];
        Parallel.For(0, resamples, () => (Draws: new int[items], Totals: new double[k]), (r, _, buf) =>
        {
            var rng = new DeterministicRng(DeterministicRng.Mix(seed, (ulong)r));
            Array.Clear(buf.Draws);
            Array.Clear(buf.Totals);
            for (var i = 0; i < items; i++) buf.Draws[rng.NextInt(items)]++;
            double pBar = 0;
            for (var i = 0; i < items; i++)
            {
                var d = buf.Draws[i];
                if (d == 0) continue;
                pBar += d * agreement[i];
                for (var j = 0; j < k; j++) buf.Totals[j] += d * counts[i, j];
            }
            pBar /= items;
            double pe = 0;
            for (var j = 0; j < k; j++) { var pj = buf.Totals[j] / ((double)items * m); pe += pj * pj; }
            reps[r] = pe >= 1 - 1e-12 ? double.NaN : (pBar - pe) / (1 - pe);
            return buf;
        }, _ => { });
        var defined = reps.Where(double.IsFinite).ToArray();
        if (defined.Length < resamples / 2 || defined.Length < 2)
            throw new UndefinedStatisticException("The bootstrap interval of Fleiss' kappa", "most resamples of items hold a single category");
        var left = resamples - defined.Length;
        var result = Stat.Percentile(point.Kappa, defined, level, seed, left == 0 ? "item bootstrap percentile" : $"item bootstrap percentile ({left} resamples with one category left out)");
        return result with { Resamples = resamples };
    }

    /// <summary>Items × categories counts from the labels of each item, categories in the given order.</summary>
    public static int[,] CategoryCounts(IReadOnlyList<IReadOnlyList<string>> labelsPerItem, IReadOnlyList<string> categories)
    {
        ArgumentNullException.ThrowIfNull(labelsPerItem);
        ArgumentNullException.ThrowIfNull(categories);
        var index = categories.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var counts = new int[labelsPerItem.Count, categories.Count];
        for (var i = 0; i < labelsPerItem.Count; i++)
            foreach (var label in labelsPerItem[i])
            {
                if (!index.TryGetValue(label, out var j)) throw new ArgumentException($"Item {i}: label '{label}' is not among the categories.");
                counts[i, j]++;
            }
        return counts;
    }
}

/// <summary>Orders category labels: numerically when every label parses as a number, else ordinally.</summary>
public static class Labels
{
    public static IReadOnlyList<string> Ordered(IEnumerable<string> labels)
    {
        var distinct = labels.Distinct(StringComparer.Ordinal).ToList();
        if (distinct.All(l => TryNumber(l, out _)))
            return distinct.OrderBy(l => { TryNumber(l, out var v); return v; }).ThenBy(l => l, StringComparer.Ordinal).ToList();
        distinct.Sort(StringComparer.Ordinal);
        return distinct;
    }

    public static bool TryNumber(string s, out double value) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
}
