using FsCheck.Xunit;
using Persona.Statistics;

namespace Persona.Core.Tests.Statistics;

public class KrippendorffTests
{
    // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12
    // units with missing values. Published: nominal .743, ordinal .815, interval .849, ratio .797
    // (ordinal and ratio also asserted by fast-krippendorff's tests/test_krippendorff.py).
    private static readonly double?[][] Krippendorff2011 =
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
        [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
    ];

    // The computational example of Wikipedia's "Krippendorff's alpha" (3 coders x 15 units):
    // nominal 0.691358, interval 0.810845 (as asserted by fast-krippendorff's tests).
    private static readonly double?[][] Wikipedia =
    [
        [null, null, null, null, null, 3, 4, 1, 2, 1, 1, 3, 3, null, 3],
        [1, null, 2, 1, 3, 3, 4, 3, null, null, null, null, null, null, null],
        [null, null, 2, 1, 3, 4, 4, null, 2, 1, 1, 3, 3, null, 4],
    ];

    [Theory]
    [InlineData(MeasurementLevel.Nominal, 0.743)]
    [InlineData(MeasurementLevel.Ordinal, 0.815)]
    [InlineData(MeasurementLevel.Interval, 0.849)]
    [InlineData(MeasurementLevel.Ratio, 0.797)]
    public void Matches_Krippendorff_2011_worked_example(MeasurementLevel level, double published)
    {
        var r = Krippendorff.Alpha(ReliabilityData.FromMatrix(Krippendorff2011, level));
        Assert.Equal(published, Math.Round(r.Alpha, 3));
        Assert.Equal(11, r.PairableUnits); // unit 12 has a single value and is not pairable
        Assert.Equal(40, r.PairableValues);
    }

    [Theory]
    [InlineData(MeasurementLevel.Nominal, 0.691358)]
    [InlineData(MeasurementLevel.Interval, 0.810845)]
    public void Matches_the_Wikipedia_example(MeasurementLevel level, double published) =>
        Assert.Equal(published, Math.Round(Krippendorff.Alpha(ReliabilityData.FromMatrix(Wikipedia, level)).Alpha, 6));

    [Fact]
    public void Labels_and_numbers_give_the_same_alpha_and_an_order_makes_words_ordinal()
    {
        string[] words = ["very low", "low", "mid", "high", "very high"];
        var units = Units(Krippendorff2011).Select(u => (IReadOnlyList<string>)u.Select(v => words[(int)v - 1]).ToList()).ToList();
        var ordinal = Krippendorff.Alpha(ReliabilityData.FromLabels(units, MeasurementLevel.Ordinal, words));
        Assert.Equal(0.815, Math.Round(ordinal.Alpha, 3));
        var nominal = Krippendorff.Alpha(ReliabilityData.FromLabels(units, MeasurementLevel.Nominal));
        Assert.Equal(0.743, Math.Round(nominal.Alpha, 3));
    }

    private static List<List<double>> Units(double?[][] m) =>
        Enumerable.Range(0, m[0].Length).Select(u => m.Where(r => r[u].HasValue).Select(r => r[u]!.Value).ToList()).ToList();

    [Fact]
    public void Perfect_agreement_is_one_at_every_level()
    {
        double?[][] same = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]];
        foreach (var level in Enum.GetValues<MeasurementLevel>())
            Assert.Equal(1.0, Krippendorff.Alpha(ReliabilityData.FromMatrix(same, level)).Alpha, 12);
    }

    [Fact]
    public void Ratio_with_zeros_is_defined()
    {
        double?[][] zeros = [[0, 1, 2], [0, 1, 2]];
        Assert.Equal(1.0, Krippendorff.Alpha(ReliabilityData.FromMatrix(zeros, MeasurementLevel.Ratio)).Alpha, 12);
    }

    [Fact]
    public void Degenerate_inputs_are_errors_not_NaN()
    {
        double?[][] oneValue = [[1, 1], [1, 1]];
        var e = Assert.Throws<UndefinedStatisticException>(() => Krippendorff.Alpha(ReliabilityData.FromMatrix(oneValue, MeasurementLevel.Nominal)));
        Assert.Contains("same value", e.Message);
        double?[][] single = [[1, null], [null, 2]];
        e = Assert.Throws<UndefinedStatisticException>(() => Krippendorff.Alpha(ReliabilityData.FromMatrix(single, MeasurementLevel.Nominal)));
        Assert.Contains("two or more ratings", e.Message);
        Assert.Throws<UndefinedStatisticException>(() => Krippendorff.Alpha(ReliabilityData.FromLabels([], MeasurementLevel.Nominal)));
        var f = Assert.Throws<ArgumentException>(() => ReliabilityData.FromLabels([["1", "x"]], MeasurementLevel.Interval));
        Assert.Contains("'x' is not a number", f.Message);
        Assert.Throws<ArgumentException>(() => ReliabilityData.FromLabels([["low", "high"]], MeasurementLevel.Ordinal));
        Assert.Throws<ArgumentException>(() => ReliabilityData.FromNumbers([[-1.0, 2.0]], MeasurementLevel.Ratio));
        Assert.Throws<ArgumentException>(() => ReliabilityData.FromNumbers([[double.NaN, 2.0]], MeasurementLevel.Interval));
    }

    /// <summary>
    /// Two coders, every unit coded by both, nominal data: alpha = 1 − (1 − π)(2N − 1)/(2N), π being
    /// Scott's pi (Krippendorff 2004, §11.3). Scott's pi is computed here from its own definition.
    /// </summary>
    [Property(MaxTest = 200)]
    public bool Two_coder_nominal_alpha_is_corrected_Scotts_pi(int seed)
    {
        var rng = new Random(seed);
        var n = rng.Next(2, 40);
        var k = rng.Next(2, 5);
        var a = Enumerable.Range(0, n).Select(_ => rng.Next(k)).ToArray();
        var b = a.Select(x => rng.NextDouble() < 0.6 ? x : rng.Next(k)).ToArray();
        if (a.Concat(b).Distinct().Count() < 2) return true;
        double po = a.Zip(b).Count(p => p.First == p.Second) / (double)n;
        var pooled = a.Concat(b).GroupBy(x => x).Select(g => g.Count() / (2.0 * n));
        var pe = pooled.Sum(p => p * p);
        var pi = (po - pe) / (1 - pe);
        var expected = 1 - (1 - pi) * (2.0 * n - 1) / (2.0 * n);
        var units = a.Zip(b).Select(p => (IReadOnlyList<string>)[p.First.ToString(), p.Second.ToString()]).ToList();
        var alpha = Krippendorff.Alpha(ReliabilityData.FromLabels(units, MeasurementLevel.Nominal)).Alpha;
        return Math.Abs(alpha - expected) < 1e-9;
    }

    /// <summary>Nominal alpha ignores what the labels are; interval alpha ignores shifts and scale.
    /// With 600 distinct values the sparse coincidence path is used, so it is checked against the dense one.</summary>
    [Property(MaxTest = 50)]
    public bool Invariances_hold_on_dense_and_sparse_paths(int seed)
    {
        var rng = new Random(seed);
        var distinct = rng.Next(2) == 0 ? 6 : 600;
        var units = Enumerable.Range(0, 300).Select(_ =>
        {
            var truth = rng.Next(distinct);
            return (IReadOnlyList<double>)Enumerable.Range(0, rng.Next(1, 5)).Select(_ => (double)(rng.NextDouble() < 0.7 ? truth : rng.Next(distinct))).ToList();
        }).ToList();
        var interval = Krippendorff.Alpha(ReliabilityData.FromNumbers(units, MeasurementLevel.Interval)).Alpha;
        var moved = Krippendorff.Alpha(ReliabilityData.FromNumbers(units.Select(u => (IReadOnlyList<double>)u.Select(x => 3 * x - 7).ToList()), MeasurementLevel.Interval)).Alpha;
        var nominal = Krippendorff.Alpha(ReliabilityData.FromNumbers(units, MeasurementLevel.Nominal)).Alpha;
        var relabelled = Krippendorff.Alpha(ReliabilityData.FromLabels(units.Select(u => (IReadOnlyList<string>)u.Select(x => "c" + (x * 7919 % 10007)).ToList()), MeasurementLevel.Nominal)).Alpha;
        return Math.Abs(interval - moved) < 1e-9 && Math.Abs(nominal - relabelled) < 1e-9;
    }

    [Fact]
    public void Hayes_Krippendorff_bootstrap_is_seeded_and_brackets_alpha()
    {
        var data = ReliabilityData.FromMatrix(Krippendorff2011, MeasurementLevel.Interval);
        var a = Krippendorff.HayesKrippendorffBootstrap(data, 2000, seed: 7);
        var b = Krippendorff.HayesKrippendorffBootstrap(data, 2000, seed: 7);
        var c = Krippendorff.HayesKrippendorffBootstrap(data, 2000, seed: 8);
        Assert.Equal(a, b with { ProbabilityBelow = a.ProbabilityBelow });
        Assert.Equal(a.ProbabilityBelow, b.ProbabilityBelow);
        Assert.NotEqual(a.Interval, c.Interval);
        Assert.Equal(0.849, Math.Round(a.Alpha, 3));
        Assert.True(a.Interval.Lower < a.Alpha && a.Alpha < a.Interval.Upper, $"{a.Interval} around {a.Alpha}");
        Assert.True(a.Interval.Lower >= -1 && a.Interval.Upper <= 1);
        Assert.Contains("Hayes-Krippendorff", a.Method);
        // q(alpha < alphamin) grows as alphamin grows
        Assert.True(a.ProbabilityBelow[0.9] >= a.ProbabilityBelow[0.8] && a.ProbabilityBelow[0.8] >= a.ProbabilityBelow[0.5]);
    }

    [Fact]
    public void Unit_bootstrap_is_labelled_and_seeded()
    {
        var data = ReliabilityData.FromMatrix(Krippendorff2011, MeasurementLevel.Nominal);
        var a = Krippendorff.UnitBootstrap(data, 1000, seed: 3);
        var b = Krippendorff.UnitBootstrap(data, 1000, seed: 3);
        Assert.Equal(a.Interval, b.Interval);
        Assert.Equal(a.StandardError, b.StandardError);
        Assert.Contains("unit bootstrap", a.Method);
        Assert.True(a.Interval.Lower < 0.743 && 0.743 < a.Interval.Upper);
        Assert.Equal(1000, a.Resamples);
    }

    /// <summary>
    /// Simulated coders who copy a latent true value with probability 0.7, else guess: the unit
    /// bootstrap's 90% interval covers the population alpha (from one very large sample) at about
    /// the nominal rate.
    /// </summary>
    [Fact]
    public void Unit_bootstrap_covers_population_alpha_at_about_the_nominal_rate()
    {
        static ReliabilityData Sample(Random rng, int units) => ReliabilityData.FromNumbers(
            Enumerable.Range(0, units).Select(_ =>
            {
                var truth = rng.Next(4);
                return (IReadOnlyList<double>)Enumerable.Range(0, 3).Select(_ => (double)(rng.NextDouble() < 0.7 ? truth : rng.Next(4))).ToList();
            }).ToList(), MeasurementLevel.Nominal);
        var truthAlpha = Krippendorff.Alpha(Sample(new Random(1), 200_000)).Alpha;
        var rng = new Random(2);
        var covered = 0;
        const int sims = 150;
        for (var s = 0; s < sims; s++)
        {
            var b = Krippendorff.UnitBootstrap(Sample(rng, 80), 400, (ulong)s, level: 0.90);
            if (b.Interval.Contains(truthAlpha)) covered++;
        }
        var rate = covered / (double)sims;
        Assert.InRange(rate, 0.80, 0.97);
    }
}
