namespace Persona;

/// <summary>
/// A read-only map whose values are read when looked up, from where they are (a line offset, a few of them): a
/// population of 100,000 keeps 100,000 places instead of 100,000 texts, and a caller that needs a few values reads a few.
/// </summary>
public sealed class ReadOnDemand<TPlace, TValue>(IReadOnlyDictionary<string, TPlace> places, Func<TPlace, TValue> read, string what)
    : IReadOnlyDictionary<string, TValue> where TValue : class
{
    public TValue this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"no {what} '{key}'");
    public IEnumerable<string> Keys => places.Keys;
    public IEnumerable<TValue> Values => places.Values.Select(read);
    public int Count => places.Count;
    public bool ContainsKey(string key) => places.ContainsKey(key);

    public bool TryGetValue(string key, out TValue value)
    {
        value = places.TryGetValue(key, out var at) ? read(at) : null!;
        return value is not null;
    }

    public IEnumerator<KeyValuePair<string, TValue>> GetEnumerator() =>
        places.Select(kv => new KeyValuePair<string, TValue>(kv.Key, read(kv.Value))).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A hash of a text wide enough to stand for it in a set or a key (ids, a logged object's text) without holding it.</summary>
public static class TextHash
{
    public static UInt128 Of(string text)
    {
        Span<byte> h = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text), h);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(h);
    }
}
