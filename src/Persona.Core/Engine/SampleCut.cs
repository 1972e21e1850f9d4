namespace Persona.Engine;

/// <summary>
/// What samples cut for statistics share: the turns of samples answered by the same roles, models and steps are one list
/// (without messages, outputs, cache keys or tokens, which no statistic reads), and input values that repeat (prompt ids,
/// modes, sample numbers) are one string each. A stage at 100,000 personas holds a million samples; this is most of what
/// each of them held after its texts were dropped. Not thread-safe: a collector calls it in turn.
/// </summary>
public sealed class SampleCut
{
    private readonly Dictionary<string, IReadOnlyList<Turn>> _turns = new(StringComparer.Ordinal);
    // Bounded: the values that repeat are few; the persona ids are left out, as each is one of a kind.
    private readonly StringPool _strings = new(1 << 12);

    public IReadOnlyList<Turn> Turns(IReadOnlyList<Turn> turns)
    {
        var key = string.Join('\u0001', turns.Select(t => $"{t.Role}\u0002{t.Model}\u0002{t.Step}\u0002{t.Simulated}"));
        if (!_turns.TryGetValue(key, out var list))
            _turns[key] = list = [.. turns.Select(t => new Turn(t.Role, t.Model, t.Step, [], null, 0, 0, false, null, null, t.Simulated))];
        return list;
    }

    public IReadOnlyDictionary<string, string> Inputs(IReadOnlyDictionary<string, string> inputs)
    {
        var d = new Dictionary<string, string>(inputs.Count, StringComparer.Ordinal);
        foreach (var (k, v) in inputs) d[_strings.Get(k)] = k == "persona_id" ? v : _strings.Get(v);
        return d;
    }
}
