using FsCheck.Xunit;
using Persona.Statistics;

namespace Persona.Core.Tests.Statistics;

public class UncertaintyTests
{
    // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (Wilson score).
    [Theory]
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(15, 148, 0.0624, 0.1605)]
    [InlineData(0, 20, 0.0, 0.1611)]
    [InlineData(1, 29, 0.0061, 0.1718)]
    public void Wilson_matches_Newcombe_1998(int x, int n, double lo, double hi)
    {
        var ci = Proportion.Wilson(x, n);
        Assert.Equal(lo, ci.Lower, 4);
        Assert.Equal(hi, ci.Upper, 4);
    }

    [Fact]
    public void Wilson_rejects_impossible_and_empty_samples()
    {
        Assert.Throws<UndefinedStatisticException>(() => Proportion.Wilson(0, 0));
        Assert.Throws<ArgumentException>(() => Proportion.Wilson(5, 3));
    }

    [Fact]
    public void McNemar_matches_Agrestis_presidential_approval_example()
    {
        // Agresti, Categorical Data Analysis: approve/approve 794, approve/disapprove 150,
        // disapprove/approve 86, disapprove/disapprove 570; z² = (86 − 150)²/236 = 17.36.
        var r = Paired.McNemar(794, 150, 86, 570);
        Assert.Equal(17.36, r.ChiSquare, 2);
        Assert.Equal(63.0 * 63 / 236, r.ChiSquareCorrected, 10);
        Assert.True(r.PValue < 1e-4 && r.PValueExact < 1e-4);
        var none = Paired.McNemar(5, 0, 0, 5);
        Assert.Equal(1, none.PValue);
        Assert.Equal(1, none.PValueExact);
    }

    [Fact]
    public void McNemar_exact_p_is_the_two_sided_binomial()
    {
        // b = 1, c = 5: 2·P(X ≤ 1 | 6, ½) = 2·7/64.
        var r = Paired.McNemar([true, false, false, false, false, false], [false, true, true, true, true, true]);
        Assert.Equal(14 / 64.0, r.PValueExact, 12);
    }

    // Benjamini and Hochberg (1995), section 4: 15 p-values; at 0.05 the step-up procedure rejects 4,
    // the Bonferroni-type procedures 3.
    private static readonly double[] BH1995 =
        [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000];

    [Fact]
    public void Holm_and_BH_reproduce_the_1995_example()
    {
        var shuffled = BH1995.Reverse().ToArray();
        Assert.Equal(4, MultipleTesting.BenjaminiHochberg(shuffled).Count(p => p <= 0.05));
        Assert.Equal(3, MultipleTesting.Holm(shuffled).Count(p => p <= 0.05));
        Assert.Equal(0.0015, MultipleTesting.Holm(BH1995)[0], 10);
        Assert.Equal(15 * 0.0095 / 4, MultipleTesting.BenjaminiHochberg(BH1995)[3], 10);
        Assert.Throws<ArgumentException>(() => MultipleTesting.Holm([0.5, 1.5]));
    }

    [Property(MaxTest = 100)]
    public bool Adjusted_p_values_are_monotone_and_not_smaller(int seed)
    {
        var rng = new Random(seed);
        var p = Enumerable.Range(0, rng.Next(1, 30)).Select(_ => rng.NextDouble()).ToArray();
        var holm = MultipleTesting.Holm(p);
        var bh = MultipleTesting.BenjaminiHochberg(p);
        var order = Enumerable.Range(0, p.Length).OrderBy(i => p[i]).ToArray();
        for (var i = 0; i < p.Length; i++)
        {
            if (holm[i] < p[i] - 1e-15 || bh[i] < p[i] - 1e-15 || bh[i] > holm[i] + 1e-15) return false;
            if (i > 0 && (holm[order[i]] < holm[order[i - 1]] || bh[order[i]] < bh[order[i - 1]])) return false;
        }
        return true;
    }

    [Fact]
    public void Bootstraps_are_reproducible_from_their_seed()
    {
        var rng = new Random(5);
        var x = Enumerable.Range(0, 200).Select(_ => rng.NextDouble()).ToArray();
        Assert.Equal(Bootstrap.Mean(x, 500, 9), Bootstrap.Mean(x, 500, 9));
        Assert.NotEqual(Bootstrap.Mean(x, 500, 9).Interval, Bootstrap.Mean(x, 500, 10).Interval);
        Assert.Equal(Bootstrap.BCa(x, s => s.Average(), 300, 4), Bootstrap.BCa(x, s => s.Average(), 300, 4));
        var personas = Enumerable.Range(0, 200).Select(i => i % 20).ToArray();
        var prompts = Enumerable.Range(0, 200).Select(i => i / 20).ToArray();
        var a = Bootstrap.TwoWayClustered(x, personas, prompts, 400, 3);
        Assert.Equal(a, Bootstrap.TwoWayClustered(x, personas, prompts, 400, 3));
        // The generic mean over a statistic delegate draws the same resamples as the fast path.
        Assert.Equal(Bootstrap.Mean(x, 300, 2).Interval.Lower, Bootstrap.Percentile(x, s => s.Average(), 300, 2).Interval.Lower, 12);
    }

    /// <summary>Parallel loops run on the current scheduler; an exclusive scheduler forces one thread.</summary>
    [Fact]
    public async Task Results_do_not_depend_on_the_number_of_threads()
    {
        var rng = new Random(13);
        var x = Enumerable.Range(0, 2000).Select(_ => (double)rng.Next(2)).ToArray();
        var p = Enumerable.Range(0, 2000).Select(i => i % 50).ToArray();
        var q = Enumerable.Range(0, 2000).Select(i => i / 50).ToArray();
        var units = Enumerable.Range(0, 200).Select(_ => (IReadOnlyList<double>)Enumerable.Range(0, 3).Select(_ => (double)rng.Next(4)).ToList()).ToList();
        var data = ReliabilityData.FromNumbers(units, MeasurementLevel.Nominal);
        (BootstrapResult, BootstrapResult, AlphaBootstrap, AlphaBootstrap) Run() => (
            Bootstrap.TwoWayClustered(x, p, q, 500, 21),
            Bootstrap.OneWayClustered(x, p, 500, 21),
            Krippendorff.UnitBootstrap(data, 300, 21),
            Krippendorff.HayesKrippendorffBootstrap(data, 300, 21));
        var one = await Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.None, new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler);
        var many = Run();
        Assert.Equal(one.Item1, many.Item1);
        Assert.Equal(one.Item2, many.Item2);
        Assert.Equal(one.Item3.Interval, many.Item3.Interval);
        Assert.Equal(one.Item4.Interval, many.Item4.Interval);
        Assert.Equal(one.Item4.StandardError, many.Item4.StandardError);
    }

    [Fact]
    public void Two_way_result_does_not_depend_on_the_id_type_or_order_of_scores()
    {
        var rng = new Random(11);
        var n = 30 * 12;
        var x = Enumerable.Range(0, n).Select(_ => (double)rng.Next(2)).ToArray();
        var p = Enumerable.Range(0, n).Select(i => i / 12).ToArray();
        var q = Enumerable.Range(0, n).Select(i => i % 12).ToArray();
        var byInt = Bootstrap.TwoWayClustered(x, p, q, 300, 5);
        var byName = Bootstrap.TwoWayClustered(x, p.Select(i => "persona-" + i).ToArray(), q.Select(i => "prompt-" + i).ToArray(), 300, 5);
        Assert.Equal(byInt, byName);
        Assert.Equal(x.Average(), byInt.Estimate, 12);
    }

    /// <summary>
    /// Scores μ + persona effect + prompt effect + noise: the two-way clustered bootstrap's 95%
    /// interval covers μ at (at least about) the nominal rate, while an i.i.d. bootstrap of the same
    /// scores falls far short; a one-way interval over personas alone also falls short.
    /// </summary>
    [Fact]
    public void Two_way_clustered_bootstrap_covers_a_crossed_design_that_iid_misses()
    {
        var rng = new Random(17);
        int sims = 120, np = 40, nq = 25;
        int twoWay = 0, iid = 0;
        var persona = Enumerable.Range(0, np * nq).Select(i => i / nq).ToArray();
        var prompt = Enumerable.Range(0, np * nq).Select(i => i % nq).ToArray();
        for (var s = 0; s < sims; s++)
        {
            var pe = Enumerable.Range(0, np).Select(_ => Gauss(rng)).ToArray();
            var qe = Enumerable.Range(0, nq).Select(_ => Gauss(rng)).ToArray();
            var scores = Enumerable.Range(0, np * nq).Select(i => pe[persona[i]] + qe[prompt[i]] + Gauss(rng)).ToArray();
            if (Bootstrap.TwoWayClustered(scores, persona, prompt, 400, (ulong)s).Interval.Contains(0)) twoWay++;
            if (Bootstrap.Mean(scores, 400, (ulong)s).Interval.Contains(0)) iid++;
        }
        Assert.InRange(twoWay / (double)sims, 0.88, 1.0);
        Assert.InRange(iid / (double)sims, 0.0, 0.6);
    }

    [Fact]
    public void Percentile_and_BCa_cover_a_skewed_mean_at_about_the_nominal_rate()
    {
        var rng = new Random(23);
        int sims = 200, bca = 0, pct = 0;
        for (var s = 0; s < sims; s++)
        {
            var x = Enumerable.Range(0, 40).Select(_ => -Math.Log(1 - rng.NextDouble())).ToArray(); // exponential, mean 1
            if (Bootstrap.BCa(x, v => v.Average(), 500, (ulong)s, 0.9).Interval.Contains(1)) bca++;
            if (Bootstrap.Percentile(x, v => v.Average(), 500, (ulong)s, 0.9).Interval.Contains(1)) pct++;
        }
        Assert.InRange(bca / (double)sims, 0.82, 0.96);
        Assert.InRange(pct / (double)sims, 0.80, 0.96);
    }

    [Fact]
    public void Wilson_covers_at_about_the_nominal_rate()
    {
        var rng = new Random(29);
        int covered = 0, sims = 2000;
        for (var s = 0; s < sims; s++)
        {
            var x = Enumerable.Range(0, 50).Count(_ => rng.NextDouble() < 0.1);
            if (Proportion.Wilson(x, 50).Contains(0.1)) covered++;
        }
        Assert.InRange(covered / (double)sims, 0.92, 0.98);
    }

    [Fact]
    public void Paired_bootstrap_of_two_systems()
    {
        var rng = new Random(31);
        var a = Enumerable.Range(0, 400).Select(_ => rng.NextDouble() < 0.7 ? 1.0 : 0.0).ToArray();
        var b = a.Select(x => rng.NextDouble() < 0.15 ? 1 - x : x).ToArray();
        var d = Paired.Bootstrap(a, b, 1000, 1);
        Assert.Equal(a.Average() - b.Average(), d.Difference, 12);
        Assert.True(d.Interval.Contains(d.Difference));
        Assert.InRange(d.PValue, 1.0 / 1000, 1);
        var same = Paired.Bootstrap(a, a, 200, 1);
        Assert.Equal(0, same.Difference);
        Assert.Equal(1, same.PValue);
        var shifted = Paired.Bootstrap(a.Select(x => x + 0.2).ToArray(), a, 200, 1);
        Assert.Equal(1.0 / 200, shifted.PValue, 12);
        Assert.Throws<ArgumentException>(() => Paired.Bootstrap([1.0], [1.0, 2.0]));
    }

    [Fact]
    public void Degenerate_bootstrap_inputs()
    {
        Assert.Throws<UndefinedStatisticException>(() => Bootstrap.Mean(Array.Empty<double>()));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean([1.0, 2.0], resamples: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean([1.0, 2.0], level: 1));
        Assert.Throws<ArgumentException>(() => Bootstrap.TwoWayClustered([1.0, 2.0], ["a"], ["x", "y"]));
        Assert.Throws<ArgumentException>(() => Bootstrap.Mean([1.0, double.NaN]));
        var constant = Bootstrap.BCa([2.0, 2.0, 2.0], v => v.Average(), 100, 1);
        Assert.Equal(new Interval(2, 2), constant.Interval);
    }

    private static double Gauss(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
