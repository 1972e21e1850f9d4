using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Persona.Statistics;

namespace Persona.Core.Tests.Statistics;

public class AssociationTests
{
    static ContingencyTable Table(double[,] cells, double scale = 1)
    {
        var t = new ContingencyTable();
        for (int i = 0; i < cells.GetLength(0); i++)
            for (int j = 0; j < cells.GetLength(1); j++)
                t.Add("r" + i, "c" + j, cells[i, j] * scale);
        return t;
    }

    /// <summary>One unit-weight row per counted person, as a table built from records would be.</summary>
    static ContingencyTable Rows(int[,] counts)
    {
        var t = new ContingencyTable();
        for (int i = 0; i < counts.GetLength(0); i++)
            for (int j = 0; j < counts.GetLength(1); j++)
                for (int k = 0; k < counts[i, j]; k++) t.Add("r" + i, "c" + j);
        return t;
    }

    [Fact]
    public void CramersV_matches_hand_computed_2x2()
    {
        // [[20,10],[5,15]]: chi2 = 25/15*2 + 25/10*2 = 8.333, n = 50, V = sqrt(1/6)
        Assert.Equal(0.408248290, Association.CramersV(Table(new double[,] { { 20, 10 }, { 5, 15 } })), 8);
    }

    [Fact]
    public void CramersV_matches_hand_computed_2x3()
    {
        // [[10,20,30],[30,20,10]]: chi2 = 20, n = 120, min(r,c)-1 = 1, V = sqrt(20/120)
        Assert.Equal(Math.Sqrt(20.0 / 120), Association.CramersV(Table(new double[,] { { 10, 20, 30 }, { 30, 20, 10 } })), 10);
    }

    [Fact]
    public void CramersV_is_one_for_perfect_and_zero_for_independent_tables()
    {
        Assert.Equal(1.0, Association.CramersV(Table(new double[,] { { 10, 0, 0 }, { 0, 7, 0 }, { 0, 0, 3 } })), 12);
        Assert.Equal(0.0, Association.CramersV(Table(new double[,] { { 10, 20 }, { 30, 60 } })), 12);
    }

    [Fact]
    public void CramersV_does_not_depend_on_weight_scale()
    {
        var cells = new double[,] { { 20, 10 }, { 5, 15 } };
        Assert.Equal(Association.CramersV(Table(cells)), Association.CramersV(Table(cells, 3417.5)), 12);
    }

    [Fact]
    public void Bias_corrected_V_matches_Bergsma_formula()
    {
        // n = 50 unit weights: phi2~ = 1/6 - 1/49, r~ = c~ = 2 - 1/49
        var t = Rows(new int[,] { { 20, 10 }, { 5, 15 } });
        Assert.Equal(50, t.EffectiveSampleSize, 9);
        Assert.Equal(0.408248290, Association.CramersV(t), 8);
        Assert.Equal(0.386400771, Association.CramersV(t, biasCorrected: true), 8);
    }

    [Fact]
    public void Bias_correction_uses_effective_not_nominal_size()
    {
        // Scaling every weight leaves Kish's n_eff unchanged, so the corrected V is unchanged too.
        var cells = new double[,] { { 20, 10 }, { 5, 15 } };
        Assert.Equal(Association.CramersV(Table(cells), true), Association.CramersV(Table(cells, 1000), true), 12);
        // Four aggregated cells carry the information of about 3.3 rows, not 50: no association survives.
        Assert.True(Association.CramersV(Table(cells), true) < Association.CramersV(Rows(new int[,] { { 20, 10 }, { 5, 15 } }), true));
    }

    [Fact]
    public void CramersV_is_undefined_with_a_single_category()
    {
        Assert.True(double.IsNaN(Association.CramersV(Table(new double[,] { { 4, 6 } }))));
        Assert.True(double.IsNaN(Association.CramersV(new ContingencyTable())));
    }

    [Property]
    public Property CramersV_is_in_unit_interval(int[] rows, int[] cols)
    {
        int m = Math.Min(rows.Length, cols.Length);
        var t = new ContingencyTable();
        for (int i = 0; i < m; i++) t.Add("r" + Math.Abs(rows[i] % 4), "c" + Math.Abs(cols[i] % 5), 1 + Math.Abs(i % 3));
        double v = Association.CramersV(t), vc = Association.CramersV(t, true);
        return ((double.IsNaN(v) || (v >= 0 && v <= 1 + 1e-12)) && (double.IsNaN(vc) || (vc >= 0 && vc <= 1 + 1e-12))).ToProperty();
    }
}
