using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Persona;

/// <summary>
/// One instance per distinct string content, for rows read from files that repeat texts (a persona's
/// text on every one of its pairs, a census label on every persona). Unlike <see cref="string.Intern"/>
/// a pool dies with its owner, and a bounded one stops taking new strings once full, so a file of
/// free text in fields expected to repeat cannot grow it without end. Safe to share between threads.
/// </summary>
public sealed class StringPool(int limit = int.MaxValue)
{
    private readonly ConcurrentDictionary<string, string> _set = new(StringComparer.Ordinal);
    private int _count;

    [return: NotNullIfNotNull(nameof(s))]
    public string? Get(string? s)
    {
        if (s is null) return null;
        if (_set.TryGetValue(s, out var shared)) return shared;
        if (Volatile.Read(ref _count) >= limit) return s;
        if (_set.TryAdd(s, s)) { Interlocked.Increment(ref _count); return s; }
        return _set.TryGetValue(s, out shared) ? shared : s;
    }
}
