namespace Persona;

/// <summary>
/// One instance per distinct string content, for rows read from files that repeat long texts (a persona's
/// text on every one of its pairs). Unlike <see cref="string.Intern"/> the pool dies with its reader.
/// </summary>
public sealed class StringPool
{
    private readonly HashSet<string> _set = new(StringComparer.Ordinal);

    public string Get(string s)
    {
        if (_set.TryGetValue(s, out var shared)) return shared;
        _set.Add(s);
        return s;
    }
}
