using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Persona.Statistics;

namespace Persona.Core.Tests.Statistics;

public class DivergenceTests
{
    static WeightedDistribution D(params (string, double)[] rows) => WeightedDistribution.From(rows);

    [Fact]
    public void Tvd_matches_hand_computation()
    {
        // p = (a .5, b .5), q = (a .25, b .25, c .5): (.25 + .25 + .5) / 2
        var p = D(("a", 1), ("b", 1));
        var q = D(("a", 1), ("b", 1), ("c", 2));
        Assert.Equal(0.5, Divergence.TotalVariation(p, q), 12);
    }

    [Fact]
    public void Tvd_is_zero_on_identical_and_one_on_disjoint()
    {
        var p = D(("x", 3), ("y", 1));
        Assert.Equal(0.0, Divergence.TotalVariation(p, D(("y", 10), ("x", 30))), 12);
        Assert.Equal(1.0, Divergence.TotalVariation(p, D(("z", 1))), 12);
    }

    [Fact]
    public void Tvd_of_empty_distribution_is_an_error()
    {
        Assert.Throws<PersonaException>(() => Divergence.TotalVariation(new WeightedDistribution(), D(("a", 1))));
    }

    [Fact]
    public void Negative_weight_is_rejected()
    {
        var d = new WeightedDistribution();
        var e = Assert.Throws<PersonaException>(() => d.Add("a", -1));
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void Expected_sampling_tvd_matches_normal_approximation()
    {
        // Binary 50/50, n = 100: 2 categories x sqrt(2 * .25 / (pi * 100)) / 2
        Assert.Equal(0.0398942280, Divergence.ExpectedSamplingTotalVariation(D(("a", 1), ("b", 1)), 100), 9);
        Assert.Equal(0.0, Divergence.ExpectedSamplingTotalVariation(D(("a", 5)), 10), 12);
    }

    static WeightedDistribution FromCounts(int[] counts, string prefix)
    {
        var d = new WeightedDistribution();
        for (int i = 0; i < counts.Length; i++) d.Add(prefix + i, Math.Abs(counts[i] % 50));
        return d;
    }

    static bool NonEmpty(WeightedDistribution d) => d.Total > 0;

    [Property]
    public Property Tvd_is_in_unit_interval_and_symmetric(int[] a, int[] b)
    {
        var p = FromCounts(a, "c");
        var q = FromCounts(b, "c");
        return Prop.When(NonEmpty(p) && NonEmpty(q), () =>
        {
            double pq = Divergence.TotalVariation(p, q), qp = Divergence.TotalVariation(q, p);
            return pq >= 0 && pq <= 1 && Math.Abs(pq - qp) < 1e-12;
        });
    }

    [Property]
    public Property Tvd_to_itself_is_zero_and_to_disjoint_is_one(int[] a)
    {
        var p = FromCounts(a, "c");
        return Prop.When(NonEmpty(p), () =>
            Divergence.TotalVariation(p, p) < 1e-12 &&
            Math.Abs(Divergence.TotalVariation(p, FromCounts(a, "other")) - 1) < 1e-12);
    }
}
