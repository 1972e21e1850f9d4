using Persona.Census;
using Persona.Statistics;

namespace Persona.Fidelity;

/// <summary>How the chance levels of a fidelity report were simulated (recorded in fidelity.json).</summary>
public sealed record FidelityChance(int Replicates, long Seed, double Level, string Method);

/// <summary>
/// What a random sample of the synthetic population's size, drawn from the weighted census
/// (persons with probability proportional to PWGTP, with replacement, as `census sample` draws),
/// would show by chance. A marginal TVD depends only on the attribute's category counts and a
/// Cramér's V only on the pair's cell counts, so each statistic is simulated from its own census
/// cells: a draw of persons and a draw of cells give the same distribution of that statistic.
/// Every statistic has its own seeded stream, so adding an attribute or pair leaves the others'
/// chance levels unchanged.
/// </summary>
internal sealed class FidelityChanceSimulator(int n, int replicates, long seed)
{
    public int Replicates => replicates;

    /// <summary>TVDs between simulated samples and the census distribution, one per replicate, sorted.</summary>
    public double[] Tvd(string attribute, WeightedDistribution census)
    {
        var categories = census.Categories.Where(c => census.Weights[c] > 0).ToArray();
        var weights = categories.Select(c => census.Weights[c]).ToArray();
        return Simulate("tvd:" + attribute, weights, counts =>
        {
            var sample = new WeightedDistribution();
            for (var k = 0; k < counts.Length; k++) if (counts[k] > 0) sample.Add(categories[k], counts[k]);
            return Divergence.TotalVariation(sample, census);
        });
    }

    /// <summary>
    /// Gaps V(sample) - V(census) of simulated samples, one per replicate where V is defined, sorted.
    /// Small samples overstate association (V is biased upwards), which these gaps carry.
    /// </summary>
    public double[] CramersVGap(string pair, ContingencyTable census, double censusV, bool biasCorrected)
    {
        var cells = new List<(string Row, string Column)>();
        var weights = new List<double>();
        foreach (var row in census.RowTotals.Keys)
            foreach (var col in census.ColumnTotals.Keys)
                if (census[row, col] > 0) { cells.Add((row, col)); weights.Add(census[row, col]); }
        return Simulate("v:" + pair, weights.ToArray(), counts =>
        {
            var sample = new ContingencyTable();
            for (var k = 0; k < counts.Length; k++) if (counts[k] > 0) sample.AddUnits(cells[k].Row, cells[k].Column, counts[k]);
            return Association.CramersV(sample, biasCorrected) - censusV;
        });
    }

    private double[] Simulate(string stream, double[] cellWeights, Func<int[], double> statistic)
    {
        if (cellWeights.Length == 0) return [];
        var rng = new DeterministicRng(DeterministicRng.Mix((ulong)seed, StableHash(stream)));
        var values = new List<double>(replicates);
        var counts = new int[cellWeights.Length];
        for (var r = 0; r < replicates; r++)
        {
            Array.Clear(counts);
            foreach (var cell in WeightedSampler.WithReplacement(cellWeights, n, rng, uniform: false)) counts[cell]++;
            var v = statistic(counts);
            if (!double.IsNaN(v)) values.Add(v);
        }
        values.Sort();
        return values.ToArray();
    }

    /// <summary>Linear-interpolation quantile (R type 7) of sorted values; NaN when empty.</summary>
    public static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0) return double.NaN;
        var h = (sorted.Length - 1) * q;
        var lo = (int)Math.Floor(h);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    // FNV-1a: string.GetHashCode is randomised per process, and the streams must not be.
    private static ulong StableHash(string s)
    {
        var h = 14695981039346656037UL;
        foreach (var ch in s) { h ^= ch; h *= 1099511628211UL; }
        return h;
    }
}
