using Persona.Statistics;

namespace Persona.Core.Tests.Statistics;

public class PopulationTests
{
    [Fact]
    public void Post_stratified_mean_uses_population_shares_not_sample_shares()
    {
        // Stratum A: 75% of the population, sample {1, 0} → 0.5; B: 25%, sample {1, 1, 1} → 1.
        // Post-stratified: 0.75·0.5 + 0.25·1 = 0.625 (the raw sample mean would be 0.8).
        string[] strata = ["A", "A", "B", "B", "B"];
        double[] y = [1, 0, 1, 1, 1];
        var totals = PostStratifiedMean.PopulationTotals(["A", "A", "A", "B"], [50, 20, 5, 25]);
        var r = PostStratifiedMean.Compute(y, strata, totals);
        Assert.Equal(0.625, r.Mean, 12);
        // Var = 0.75²·0.5/2 + 0.25²·0/3: s² of {1, 0} is 0.5.
        Assert.Equal(Math.Sqrt(0.5625 * 0.25), r.StandardError, 12);
        Assert.Empty(r.SingletonStrata);
    }

    [Fact]
    public void Post_stratification_refuses_strata_it_cannot_weight()
    {
        Assert.Throws<ArgumentException>(() => PostStratifiedMean.Compute([1.0], ["C"], new Dictionary<string, double> { ["A"] = 1 }));
        var e = Assert.Throws<UndefinedStatisticException>(() =>
            PostStratifiedMean.Compute([1.0], ["A"], new Dictionary<string, double> { ["A"] = 1, ["B"] = 3 }));
        Assert.Contains("'B'", e.Message);
    }

    [Fact]
    public void Weighted_mean_with_kish_effective_n()
    {
        var m = WeightedMean.Compute([1.0, 0.0, 1.0], [3.0, 1.0, 0.0]);
        Assert.Equal(0.75, m.Mean, 12);
        Assert.Equal(16 / 10.0, m.EffectiveN, 12);
        Assert.Throws<UndefinedStatisticException>(() => WeightedMean.Compute([1.0], [0.0]));
    }

    [Fact]
    public void Group_table_finds_the_worst_group_suppresses_small_cells_and_measures_disparity()
    {
        var values = new List<double>();
        var groups = new List<string>();
        void Add(string g, int ones, int zeros)
        {
            for (var i = 0; i < ones; i++) { values.Add(1); groups.Add(g); }
            for (var i = 0; i < zeros; i++) { values.Add(0); groups.Add(g); }
        }
        Add("urban", 40, 10); // 0.8
        Add("rural", 20, 20); // 0.5
        Add("suburban", 35, 15); // 0.7
        Add("island", 1, 4); // below the minimum cell
        var t = GroupTable.Compute(values, null, groups, minCell: 10);
        Assert.Equal(["island", "rural", "suburban", "urban"], t.Rows.Select(r => r.Group));
        var island = t.Rows[0];
        Assert.True(island.Suppressed);
        Assert.Null(island.Mean);
        Assert.Equal("rural", t.Worst!.Group);
        Assert.Equal(0.5, t.Worst.Mean!.Value, 12);
        Assert.StartsWith("Wilson", t.Worst.IntervalMethod);
        Assert.Equal(Proportion.Wilson(20, 40), t.Worst.Interval);
        Assert.Equal(0.3, t.Disparity!.MaxMinGap, 12);
        Assert.Equal("urban", t.Disparity.Best);
        // Gini of {0.8, 0.5, 0.7}: Σ|xi − xj| = 2·(0.3 + 0.1 + 0.2) = 1.2; 1.2 / (2·9·(2/3)) = 0.1.
        Assert.Equal(0.1, t.Disparity.Gini!.Value, 12);
    }

    [Fact]
    public void Group_table_with_weights_intersections_and_bootstrap()
    {
        string[] sex = ["F", "F", "M", "M", "F", "M"];
        string[] age = ["young", "old", "young", "old", "young", "young"];
        var groups = GroupTable.Intersect(sex, age);
        Assert.Equal("F × young", groups[0]);
        double[] y = [1, 0, 0.5, 1, 0, 0.25];
        double[] w = [1, 1, 2, 1, 3, 2];
        var t = GroupTable.Compute(y, w, groups, minCell: 1, bootstrapResamples: 200, seed: 3);
        var fy = t.Rows.Single(r => r.Group == "F × young");
        Assert.Equal(0.25, fy.Mean!.Value, 12); // (1·1 + 3·0)/4
        Assert.Equal("percentile bootstrap", fy.IntervalMethod);
        Assert.Equal(t, GroupTable.Compute(y, w, groups, minCell: 1, bootstrapResamples: 200, seed: 3) with { Rows = t.Rows });
        var notBinary = GroupTable.Compute(y, w, groups, minCell: 1);
        Assert.StartsWith("normal", notBinary.Rows.Single(r => r.Group == "F × young").IntervalMethod);
        var single = notBinary.Rows.Single(r => r.Group == "F × old");
        Assert.Null(single.Interval);
        Assert.Equal(0, single.Mean);
    }

    [Fact]
    public void Gini_is_undefined_where_it_means_nothing()
    {
        Assert.Equal(0, GroupTable.Gini([0.4, 0.4, 0.4]));
        Assert.Equal(2 / 3.0, GroupTable.Gini([0, 0, 1])!.Value, 12);
        Assert.Null(GroupTable.Gini([0, 0]));
        Assert.Null(GroupTable.Gini([-1, 1]));
        var none = GroupTable.Compute([1.0, 0.0], null, ["a", "b"], minCell: 5);
        Assert.Null(none.Worst);
        Assert.Null(none.Disparity);
    }
}
