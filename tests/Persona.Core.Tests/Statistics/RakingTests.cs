using Persona.Statistics;

namespace Persona.Core.Tests.Statistics;

public class RakingTests
{
    [Fact]
    public void Uniform_start_on_a_2x2_converges_to_the_independence_table()
    {
        // Records = cells of a 2x2 table; with equal start weights IPF ends at r_i * c_j / N.
        int[] row = [0, 0, 1, 1], col = [0, 1, 0, 1];
        var result = Raking.Rake([1, 1, 1, 1],
        [
            new RakingMargin("row", row, [30, 70]),
            new RakingMargin("col", col, [40, 60]),
        ], tolerance: 1e-12);
        Assert.True(result.Converged);
        double[] expected = [12, 18, 28, 42];
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], result.Weights[i], 9);
        Assert.All(result.Fits, f => Assert.True(f.MaxRelativeError < 1e-12));
    }

    [Fact]
    public void Raking_keeps_within_cell_ratios()
    {
        // Two records in the same cell keep their 1:3 ratio whatever the adjustment.
        var result = Raking.Rake([1, 3, 2], [new RakingMargin("only", [0, 0, 1], [8, 4])]);
        Assert.Equal(2, result.Weights[0], 12);
        Assert.Equal(6, result.Weights[1], 12);
        Assert.Equal(4, result.Weights[2], 12);
        Assert.Equal(1, result.Iterations);
    }

    [Fact]
    public void A_target_without_records_is_reported()
    {
        var e = Assert.Throws<PersonaException>(() => Raking.Rake([1, 1], [new RakingMargin("age", [0, 0], [1, 1])]));
        Assert.Contains("age", e.Message);
        Assert.Contains("category 1", e.Message);
    }

    [Fact]
    public void Margins_with_different_totals_are_rejected()
    {
        Assert.Throws<PersonaException>(() => Raking.Rake([1, 1],
        [
            new RakingMargin("a", [0, 1], [1, 1]),
            new RakingMargin("b", [0, 1], [5, 5]),
        ]));
    }

    [Fact]
    public void Out_of_range_category_is_rejected()
    {
        Assert.Throws<PersonaException>(() => Raking.Rake([1], [new RakingMargin("a", [2], [1])]));
    }
}
