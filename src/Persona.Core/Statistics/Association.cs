namespace Persona.Statistics;

public static class Association
{
    /// <summary>
    /// Cramér's V of a weighted contingency table: sqrt(φ² / (min(r, c) − 1)) with
    /// φ² = Σ (p_ij − p_i· p_·j)² / (p_i· p_·j) computed on weighted shares, so it does not depend
    /// on the scale of the weights. Only categories that occur (positive weight) count towards r
    /// and c. Returns NaN when either variable has fewer than two categories (no association is
    /// defined).
    /// <para>
    /// With <paramref name="biasCorrected"/> it applies Bergsma's (2013) small-sample correction,
    /// using Kish's effective sample size for n so unequal weights are not mistaken for extra
    /// information: φ̃² = max(0, φ² − (r−1)(c−1)/(n−1)), r̃ = r − (r−1)²/(n−1), c̃ likewise,
    /// V = sqrt(φ̃² / (min(r̃, c̃) − 1)). The corrected value is NaN if n ≤ 1 or min(r̃, c̃) ≤ 1.
    /// </para>
    /// </summary>
    public static double CramersV(ContingencyTable table, bool biasCorrected = false)
    {
        ArgumentNullException.ThrowIfNull(table);
        int r = table.RowTotals.Count, c = table.ColumnTotals.Count;
        if (r < 2 || c < 2 || table.Total <= 0) return double.NaN;
        double n = table.Total, phi2 = 0;
        foreach (var (row, rt) in table.RowTotals)
        {
            double pr = rt / n;
            foreach (var (col, ct) in table.ColumnTotals)
            {
                double pc = ct / n;
                double expected = pr * pc;
                double d = table[row, col] / n - expected;
                phi2 += d * d / expected;
            }
        }
        if (!biasCorrected)
            return Math.Clamp(Math.Sqrt(phi2 / (Math.Min(r, c) - 1)), 0.0, 1.0);

        double ne = table.EffectiveSampleSize;
        if (ne <= 1) return double.NaN;
        double phi2c = Math.Max(0, phi2 - (r - 1.0) * (c - 1.0) / (ne - 1));
        double rc = r - (r - 1.0) * (r - 1.0) / (ne - 1);
        double cc = c - (c - 1.0) * (c - 1.0) / (ne - 1);
        double k = Math.Min(rc, cc) - 1;
        return k <= 0 ? double.NaN : Math.Clamp(Math.Sqrt(phi2c / k), 0.0, 1.0);
    }

    public static double CramersV(IEnumerable<(string Row, string Column, double Weight)> rows, bool biasCorrected = false)
        => CramersV(ContingencyTable.From(rows), biasCorrected);
}
