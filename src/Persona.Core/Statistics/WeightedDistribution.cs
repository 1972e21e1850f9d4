namespace Persona.Statistics;

/// <summary>
/// A weighted categorical distribution: total weight per category label. Categories are kept in
/// ordinal order so anything derived from one (shares, tables, JSON) is deterministic.
/// </summary>
public sealed class WeightedDistribution
{
    readonly SortedDictionary<string, double> _weights = new(StringComparer.Ordinal);

    public double Total { get; private set; }
    public int Count { get; private set; }
    public IReadOnlyDictionary<string, double> Weights => _weights;
    public IEnumerable<string> Categories => _weights.Keys;

    public void Add(string category, double weight = 1.0)
    {
        ArgumentNullException.ThrowIfNull(category);
        if (!double.IsFinite(weight) || weight < 0)
            throw new PersonaException($"Weight {weight} for category '{category}' is invalid; weights must be finite and >= 0.");
        _weights[category] = _weights.GetValueOrDefault(category) + weight;
        Total += weight;
        Count++;
    }

    public double Share(string category) => Total > 0 ? _weights.GetValueOrDefault(category) / Total : 0.0;

    public IReadOnlyDictionary<string, double> Shares() => _weights.ToDictionary(kv => kv.Key, kv => Share(kv.Key), StringComparer.Ordinal);

    public static WeightedDistribution From(IEnumerable<string> categories)
    {
        var d = new WeightedDistribution();
        foreach (var c in categories) d.Add(c);
        return d;
    }

    public static WeightedDistribution From(IEnumerable<(string Category, double Weight)> rows)
    {
        var d = new WeightedDistribution();
        foreach (var (c, w) in rows) d.Add(c, w);
        return d;
    }
}
