using FsCheck.Xunit;
using Persona.Statistics;

namespace Persona.Core.Tests.Statistics;

public class AgreementTests
{
    // statsmodels/stats/tests/test_inter_rater.py, table10: a SAS printout of the simple kappa
    // (kappa .4842, ASE .1380, 95% CI .2137-.7547, ASE under H0 .1484, Z 3.2626, two-sided p .0011)
    // and the weighted kappa with Cicchetti-Allison (linear) weights (.4701, .1457, .1845-.7558,
    // .1426, 3.2971, .0010).
    private static readonly double[,] Table10 = { { 0, 4, 1 }, { 0, 8, 0 }, { 0, 1, 5 } };

    [Theory]
    [InlineData(KappaWeights.Unweighted, new[] { 0.4842, 0.1380, 0.2137, 0.7547, 0.1484, 3.2626, 0.0011 })]
    [InlineData(KappaWeights.Linear, new[] { 0.4701, 0.1457, 0.1845, 0.7558, 0.1426, 3.2971, 0.0010 })]
    public void Cohens_kappa_matches_the_SAS_printout(KappaWeights weights, double[] sas)
    {
        var r = Agreement.CohensKappa(Table10, weights);
        double[] ours = [r.Kappa, r.StandardError, r.Interval.Lower, r.Interval.Upper, r.StandardErrorUnderNull, r.Z!.Value, r.PValue!.Value];
        for (var i = 0; i < sas.Length; i++)
            Assert.True(Math.Abs(sas[i] - ours[i]) <= 0.00005 + 1e-12, $"field {i}: SAS {sas[i]}, ours {ours[i]}");
        Assert.Equal(19, r.N);
    }

    // The anxiety ratings of R's irr package (as in statsmodels' test_inter_rater.py), raters 2 and
    // 3; kappa2() values: unweighted -0.006289308 (z -0.0604067), "equal" (linear) 0.1459075
    // (z 1.282472), "squared" 0.2520325 (z 1.437451). irr uses only the levels that occur.
    private static readonly int[] Anxiety =
    [
        3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3, 3, 6, 4,
        6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4, 2, 1, 4, 4, 3, 2,
        1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2,
    ];

    [Theory]
    [InlineData(KappaWeights.Unweighted, -0.006289308, -0.0604067)]
    [InlineData(KappaWeights.Linear, 0.1459075, 1.282472)]
    [InlineData(KappaWeights.Quadratic, 0.2520325, 1.437451)]
    public void Cohens_kappa_matches_R_irr_on_the_anxiety_data(KappaWeights weights, double kappa, double z)
    {
        // Column-major 20 x 3: rater 2 is values 20..39, rater 3 values 40..59.
        var r2 = Anxiety[20..40].Select(x => x.ToString()).ToList();
        var r3 = Anxiety[40..60].Select(x => x.ToString()).ToList();
        var r = Agreement.CohensKappa(r2, r3, weights);
        Assert.Equal(kappa, r.Kappa, 5e-7); // irr prints 7 significant digits
        Assert.Equal(z, r.Z!.Value, 5e-6);
    }

    [Property(MaxTest = 200)]
    public bool Identical_raters_have_kappa_one(int seed)
    {
        var rng = new Random(seed);
        var labels = Enumerable.Range(0, rng.Next(2, 50)).Select(_ => "c" + rng.Next(4)).ToList();
        if (labels.Distinct().Count() < 2) return true;
        return Enum.GetValues<KappaWeights>().All(w => Math.Abs(Agreement.CohensKappa(labels, labels, w).Kappa - 1) < 1e-12);
    }

    [Property(MaxTest = 200)]
    public bool Unweighted_kappa_is_invariant_to_relabelling_and_to_swapping_raters(int seed)
    {
        var rng = new Random(seed);
        var n = rng.Next(3, 60);
        var a = Enumerable.Range(0, n).Select(_ => rng.Next(5)).ToArray();
        var b = a.Select(x => rng.NextDouble() < 0.5 ? x : rng.Next(5)).ToArray();
        string[] names = ["zebra", "apple", "mango", "kiwi", "fig"];
        try
        {
            var k1 = Agreement.CohensKappa(a.Select(x => x.ToString()).ToList(), b.Select(x => x.ToString()).ToList());
            var k2 = Agreement.CohensKappa(a.Select(x => names[x]).ToList(), b.Select(x => names[x]).ToList());
            var k3 = Agreement.CohensKappa(b.Select(x => x.ToString()).ToList(), a.Select(x => x.ToString()).ToList());
            return Math.Abs(k1.Kappa - k2.Kappa) < 1e-12 && Math.Abs(k1.StandardError - k2.StandardError) < 1e-12
                && Math.Abs(k1.Kappa - k3.Kappa) < 1e-12 && Math.Abs(k1.StandardError - k3.StandardError) < 1e-12;
        }
        catch (UndefinedStatisticException)
        {
            return a.Concat(b).Distinct().Count() == 1;
        }
    }

    [Fact]
    public void Kappa_degenerate_inputs()
    {
        Assert.Throws<UndefinedStatisticException>(() => Agreement.CohensKappa(Array.Empty<string>(), Array.Empty<string>()));
        var e = Assert.Throws<UndefinedStatisticException>(() => Agreement.CohensKappa(["a", "a"], ["a", "a"]));
        Assert.Contains("single", e.Message);
        Assert.Throws<ArgumentException>(() => Agreement.CohensKappa(["a"], ["a", "b"]));
        Assert.Throws<ArgumentException>(() => Agreement.CohensKappa(["a", "b"], ["a", "b"], categories: ["a"]));
    }

    // Fleiss (1971) psychiatric diagnoses, 30 patients x 6 raters (statsmodels' `diagnoses`); R irr
    // kappam.fleiss: kappa 0.4302445, z 17.65183.
    private static readonly int[][] Diagnoses =
    [
        [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
        [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
        [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
        [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
        [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
        [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
    ];

    [Fact]
    public void Fleiss_kappa_matches_Fleiss_1971_and_R_irr()
    {
        var items = Diagnoses.Select(r => (IReadOnlyList<string>)r.Select(x => x.ToString()).ToList()).ToList();
        var f = Agreement.Fleiss(items);
        Assert.Equal(0.4302445, f.Kappa, 7);
        Assert.Equal(17.65183, f.Z, 4);
        Assert.Equal(30, f.Items);
        Assert.Equal(6, f.RatersPerItem);
    }

    [Fact]
    public void Fleiss_kappa_matches_the_Wikipedia_table()
    {
        // statsmodels test_fleiss_kappa: 10 subjects x 14 raters, 5 categories, kappa 0.210.
        int[,] counts =
        {
            { 0, 0, 0, 0, 14 }, { 0, 2, 6, 4, 2 }, { 0, 0, 3, 5, 6 }, { 0, 3, 9, 2, 0 }, { 2, 2, 8, 1, 1 },
            { 7, 7, 0, 0, 0 }, { 3, 2, 6, 3, 0 }, { 2, 5, 3, 2, 2 }, { 6, 5, 2, 1, 0 }, { 0, 2, 2, 3, 7 },
        };
        Assert.Equal(0.210, Math.Round(Agreement.Fleiss(counts).Kappa, 3));
    }

    [Fact]
    public void Fleiss_item_bootstrap_is_seeded_and_brackets_the_estimate()
    {
        var items = Diagnoses.Select(r => (IReadOnlyList<string>)r.Select(x => x.ToString()).ToList()).ToList();
        var counts = Agreement.CategoryCounts(items, ["1", "2", "3", "4", "5"]);
        var a = Agreement.FleissInterval(counts, 1000, 5);
        Assert.Equal(a, Agreement.FleissInterval(counts, 1000, 5));
        Assert.Equal(0.4302445, a.Estimate, 7);
        Assert.True(a.Interval.Lower < a.Estimate && a.Estimate < a.Interval.Upper);
        Assert.Equal("item bootstrap percentile", a.Method);
    }

    /// <summary>Simulated raters who copy a latent category with probability 0.5: the item bootstrap's
    /// 90% interval covers the population kappa (from one very large sample) at about the nominal rate.</summary>
    [Fact]
    public void Fleiss_item_bootstrap_covers_at_about_the_nominal_rate()
    {
        static int[,] Sample(Random rng, int items)
        {
            var c = new int[items, 3];
            for (var i = 0; i < items; i++)
            {
                var truth = rng.Next(3);
                for (var r = 0; r < 4; r++) c[i, rng.NextDouble() < 0.5 ? truth : rng.Next(3)]++;
            }
            return c;
        }
        var population = Agreement.Fleiss(Sample(new Random(1), 200_000)).Kappa;
        var rng = new Random(2);
        int covered = 0, sims = 150;
        for (var s = 0; s < sims; s++)
            if (Agreement.FleissInterval(Sample(rng, 60), 400, (ulong)s, 0.9).Interval.Contains(population)) covered++;
        Assert.InRange(covered / (double)sims, 0.80, 0.97);
    }

    [Fact]
    public void Fleiss_degenerate_inputs()
    {
        Assert.Throws<UndefinedStatisticException>(() => Agreement.Fleiss(Array.Empty<IReadOnlyList<string>>()));
        Assert.Throws<UndefinedStatisticException>(() => Agreement.Fleiss([["a", "a"], ["a", "a"]]));
        Assert.Throws<UndefinedStatisticException>(() => Agreement.Fleiss([["a"], ["b"]]));
        var e = Assert.Throws<ArgumentException>(() => Agreement.Fleiss([["a", "b"], ["a", "b", "b"]]));
        Assert.Contains("same number of ratings", e.Message);
    }

    [Fact]
    public void Percent_agreement_counts_agreeing_pairs()
    {
        Assert.Equal(0.5, Agreement.PercentAgreement([["a", "a"], ["a", "b"]]), 12);
        Assert.Equal(1 / 3.0, Agreement.PercentAgreement([["a", "a", "b"], ["x"]]), 12); // the lone rating does not count
        Assert.Throws<UndefinedStatisticException>(() => Agreement.PercentAgreement([["a"]]));
        var ci = Agreement.PercentAgreementInterval([["a", "a"], ["a", "b"], ["b", "b"], ["a", "b"]], 500, 1);
        Assert.Equal(0.5, ci.Estimate, 12);
        Assert.InRange(ci.Interval.Lower, 0, 0.5);
        Assert.InRange(ci.Interval.Upper, 0.5, 1);
    }

    [Fact]
    public void Majority_of_k_with_explicit_ties()
    {
        Assert.Equal("yes", Majority.Of(["yes", "yes", "yes", "no"], 3).Label);
        var short_ = Majority.Of(["yes", "yes", "no", "maybe"], 3);
        Assert.Null(short_.Label);
        Assert.False(short_.IsTie);
        var tie = Majority.Of(["yes", "no", "no", "yes"], 2);
        Assert.True(tie.IsTie);
        Assert.Equal(["no", "yes"], tie.Tied);
        (string, IReadOnlyList<string>)[] items = [("i1", ["a", "a", "a", "b"]), ("i2", ["a", "a", "b", "b"]), ("i3", ["a", "b", "c", "c"])];
        Assert.Equal(["i1"], Majority.Aggregate(items, 3, TieRule.Drop).Select(x => x.Item));
        var kept = Majority.Aggregate(items, 3, TieRule.KeepAsTie);
        Assert.Equal(["i1", "i2"], kept.Select(x => x.Item));
        Assert.True(kept[1].Outcome.IsTie);
    }
}
