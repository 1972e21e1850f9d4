namespace Persona.Statistics;

/// <summary>A weighted two-way table of category labels, built row by row.</summary>
public sealed class ContingencyTable
{
    readonly Dictionary<(string Row, string Column), double> _cells = new();
    readonly SortedDictionary<string, double> _rows = new(StringComparer.Ordinal);
    readonly SortedDictionary<string, double> _columns = new(StringComparer.Ordinal);
    double _sumSquares;

    public double Total { get; private set; }
    public IReadOnlyDictionary<string, double> RowTotals => _rows;
    public IReadOnlyDictionary<string, double> ColumnTotals => _columns;

    /// <summary>Kish's effective sample size (Σw)² / Σw²; equals the row count when weights are equal.</summary>
    public double EffectiveSampleSize => _sumSquares > 0 ? Total * Total / _sumSquares : 0;

    public double this[string row, string column] => _cells.GetValueOrDefault((row, column));

    public void Add(string row, string column, double weight = 1.0)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(column);
        if (!double.IsFinite(weight) || weight < 0)
            throw new PersonaException($"Weight {weight} for cell ('{row}', '{column}') is invalid; weights must be finite and >= 0.");
        if (weight == 0) return;
        _cells[(row, column)] = this[row, column] + weight;
        _rows[row] = _rows.GetValueOrDefault(row) + weight;
        _columns[column] = _columns.GetValueOrDefault(column) + weight;
        Total += weight;
        _sumSquares += weight * weight;
    }

    /// <summary>
    /// Adds <paramref name="count"/> rows of weight 1 to one cell at once (a simulated unweighted
    /// sample), keeping the effective sample size that of <paramref name="count"/> separate rows.
    /// </summary>
    public void AddUnits(string row, string column, int count)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(column);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        _cells[(row, column)] = this[row, column] + count;
        _rows[row] = _rows.GetValueOrDefault(row) + count;
        _columns[column] = _columns.GetValueOrDefault(column) + count;
        Total += count;
        _sumSquares += count;
    }

    public static ContingencyTable From(IEnumerable<(string Row, string Column, double Weight)> rows)
    {
        var t = new ContingencyTable();
        foreach (var (r, c, w) in rows) t.Add(r, c, w);
        return t;
    }
}
