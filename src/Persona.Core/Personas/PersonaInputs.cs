using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ParquetLib = Parquet;

namespace Persona.Personas;

/// <summary>
/// A persona as the LM stages use it, whatever file it came from: the text the model sees
/// (<c>key: value</c> lines), its attributes by display key (lower case, spaces), its census
/// weight (1 when unknown) and its train/test split when the source says.
/// </summary>
public sealed record PersonaInput
{
    // Null when the text is the attributes' `key: value` lines, as it is for every persona a loader makes: the text is then
    // rebuilt when read instead of being held beside the attributes, so a 100,000-persona run keeps each persona's words once.
    private readonly string? _text;
    private readonly IReadOnlyDictionary<string, string> _attributes;

    public PersonaInput(string id, string text, IReadOnlyDictionary<string, string> attributes, double weight, string? split, string source)
    {
        Id = id;
        _attributes = attributes;
        _text = PersonaInputs.RendersAs(attributes, text) ? null : text;
        Weight = weight;
        Split = split;
        Source = source;
    }

    public string Id { get; init; }

    /// <summary>What the model sees: <c>key: value</c> lines.</summary>
    public string Text { get => _text ?? PersonaInputs.Render(_attributes); init => _text = value; }

    public IReadOnlyDictionary<string, string> Attributes
    {
        get => _attributes;
        // `with { Attributes = ... }` alone keeps the old text, as a positional record did.
        init { _text ??= PersonaInputs.Render(_attributes); _attributes = value; }
    }

    public double Weight { get; init; }
    public string? Split { get; init; }
    public string Source { get; init; }

    public string? Attribute(string key) => Attributes.TryGetValue(key, out var v) ? v : null;

    /// <summary>Only the given attributes, in the persona's order: what <see cref="TextOf"/> shows.</summary>
    public IReadOnlyDictionary<string, string> AttributesOf(IEnumerable<string> keys)
    {
        var keep = new HashSet<string>(keys, StringComparer.OrdinalIgnoreCase);
        var kept = new PersonaInputs.OrderedAttributes();
        foreach (var (k, v) in Attributes) if (keep.Contains(k)) kept.TryAdd(k, v);
        return kept;
    }

    /// <summary>The text with only the given attributes (in the persona's order): leave-one-out and ablations.</summary>
    public string TextOf(IEnumerable<string> keys)
    {
        var keep = new HashSet<string>(keys, StringComparer.OrdinalIgnoreCase);
        var sb = new StringBuilder();
        foreach (var (k, v) in Attributes) if (keep.Contains(k)) sb.Append(k).Append(": ").Append(v).Append('\n');
        return sb.ToString();
    }
}

/// <summary>
/// Reads personas from every format a user of the testbed or of the original release has:
/// <list type="bullet">
/// <item>a <c>persona personas build</c> folder (personas.jsonl + split.json) or a persona file of
/// this project (.jsonl/.parquet with the 33-attribute contract);</item>
/// <item>the original PERSONA release's <c>persona</c> text column (JSONL, CSV or Parquet with a
/// <c>persona</c> column of <c>key: value</c> lines, lower-case keys with spaces, missing fields
/// left out); rows repeating the same persona text are one persona;</item>
/// <item>the Synthetic-Personas table: one column per lower-case attribute key, every value a
/// string (CSV, JSONL or Parquet).</item>
/// </list>
/// Ids are the project's content hash for its own personas, else a hash of the persona text.
/// Errors name the file, the line or row, and what was expected.
/// </summary>
public static class PersonaInputs
{
    /// <summary>Keys of the 33 attributes in the original release (lower case, spaces).</summary>
    public static readonly IReadOnlyList<string> OriginalKeys =
    [
        "age", "sex", "race", "ancestry", "household language", "education", "employment status", "class of worker",
        "industry category", "occupation category", "detailed job description", "income", "marital status", "household type",
        "family presence and age", "place of birth", "citizenship", "veteran status", "disability", "health insurance",
        "big five scores", "defining quirks", "mannerisms", "personal time", "lifestyle", "ideology", "political views", "religion",
        "cognitive difficulty", "ability to speak english", "vision difficulty", "fertility", "hearing difficulty",
    ];

    private static readonly HashSet<string> KnownKeys = new(OriginalKeys, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The personas of <paramref name="path"/> one at a time, in file order, as <see cref="LoadAsync"/> lists them. A
    /// `personas build` folder or this project's own persona file is read a record at a time, so a stage that needs each
    /// persona once holds none of the others; a foreign table is parsed whole (its ids are made from its rows).
    /// </summary>
    public static async IAsyncEnumerable<PersonaInput> StreamAsync(string path, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        if (Directory.Exists(path))
        {
            var file = Path.Combine(path, PersonaBuilder.PersonasJsonl);
            if (File.Exists(file))
            {
                var split = Path.Combine(path, PersonaSplit.FileName);
                await foreach (var p in StreamRecords(PersonaJsonl.ReadAsync(file, ct), file, File.Exists(split) ? PersonaSplit.Read(split) : null).ConfigureAwait(false))
                    yield return p;
                yield break;
            }
        }
        foreach (var p in await LoadAsync(path, ct).ConfigureAwait(false)) yield return p;
    }

    public static async Task<IReadOnlyList<PersonaInput>> LoadAsync(string path, CancellationToken ct = default)
    {
        if (Directory.Exists(path))
        {
            var file = Path.Combine(path, PersonaBuilder.PersonasJsonl);
            if (!File.Exists(file))
                throw new PersonaException($"'{path}' has no {PersonaBuilder.PersonasJsonl}; point --personas at a `personas build` folder or a persona file (.jsonl, .parquet, .csv).");
            var split = Path.Combine(path, PersonaSplit.FileName);
            return await FromRecordsAsync(PersonaJsonl.ReadAsync(file, ct), file, File.Exists(split) ? PersonaSplit.Read(split) : null).ConfigureAwait(false);
        }
        InputFile.NotAFolder(path, "Persona file");
        if (!File.Exists(path)) throw new PersonaException($"Persona file '{path}' does not exist.");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        List<Row>? rows = ext switch
        {
            ".jsonl" or ".ndjson" => ReadJsonl(path),
            ".csv" => ReadCsv(path),
            ".parquet" => await ReadParquetAsync(path, ct),
            _ => throw new PersonaException($"Cannot tell the persona format of '{path}' from its extension '{ext}': expected .jsonl, .csv or .parquet, or a `personas build` folder."),
        };
        if (rows.Count == 0) throw new PersonaException($"'{path}' holds no personas.");
        var columns = rows[0].Fields.Keys.ToHashSet(StringComparer.OrdinalIgnoreCase);
        // Our own contract has underscored keys and a census block.
        if (columns.Contains("census") && columns.Contains("id"))
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
            var split = Path.Combine(dir, PersonaSplit.FileName);
            rows = null; // the generic rows only told the format
            return await FromRecordsAsync(PersonaFiles.StreamAsync(path, ct), path, File.Exists(split) ? PersonaSplit.Read(split) : null).ConfigureAwait(false);
        }
        if (columns.Contains("persona")) return FromTextColumn(rows, path);
        if (columns.Count(KnownKeys.Contains) >= 3) return FromTable(rows, path);
        throw new PersonaException($"'{path}': unknown persona format. Expected a `persona` column of 'key: value' lines (the PERSONA release), " +
                                   $"attribute columns such as 'age', 'sex', 'education' (the Synthetic-Personas table), or this project's persona files; found columns {string.Join(", ", columns.Take(8))}.");
    }

    /// <summary>Parses 'key: value' lines; keys are lower-cased, blank lines skipped. Errors name the row.</summary>
    public static IReadOnlyDictionary<string, string> ParseText(string text, string where)
    {
        var dict = new OrderedAttributes();
        var lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0) continue;
            var colon = line.IndexOf(':');
            if (colon <= 0) throw new PersonaException($"{where}: persona line {lineNo} '{Shorten(line)}' is not 'key: value'.");
            var key = line[..colon].Trim().ToLowerInvariant().Replace('_', ' ');
            var value = line[(colon + 1)..].Trim();
            if (value.Length == 0) continue;
            if (!dict.TryAdd(key, value)) throw new PersonaException($"{where}: persona key '{key}' appears twice.");
        }
        if (dict.Count == 0) throw new PersonaException($"{where}: the persona text is empty.");
        return dict;
    }

    public static string Render(IReadOnlyDictionary<string, string> attributes)
    {
        var length = 0;
        foreach (var (k, v) in attributes) length += k.Length + v.Length + 3;
        return string.Create(length, attributes, static (span, attributes) =>
        {
            foreach (var (k, v) in attributes)
            {
                k.AsSpan().CopyTo(span);
                span[k.Length] = ':';
                span[k.Length + 1] = ' ';
                v.AsSpan().CopyTo(span[(k.Length + 2)..]);
                span[k.Length + 2 + v.Length] = '\n';
                span = span[(k.Length + v.Length + 3)..];
            }
        });
    }

    /// <summary>Whether <paramref name="text"/> is exactly <see cref="Render"/> of the attributes (checked without building it).</summary>
    internal static bool RendersAs(IReadOnlyDictionary<string, string> attributes, string text)
    {
        var rest = text.AsSpan();
        foreach (var (k, v) in attributes)
        {
            if (rest.Length < k.Length + v.Length + 3 || !rest.StartsWith(k, StringComparison.Ordinal)) return false;
            rest = rest[k.Length..];
            if (!rest.StartsWith(": ", StringComparison.Ordinal)) return false;
            rest = rest[2..];
            if (!rest.StartsWith(v, StringComparison.Ordinal) || rest[v.Length] != '\n') return false;
            rest = rest[(v.Length + 1)..];
        }
        return rest.IsEmpty;
    }

    private static async Task<IReadOnlyList<PersonaInput>> FromRecordsAsync(IAsyncEnumerable<PersonaRecord> records, string source, PersonaSplit? split)
    {
        var list = new List<PersonaInput>();
        await foreach (var p in StreamRecords(records, source, split).ConfigureAwait(false)) list.Add(p);
        return list;
    }

    private static async IAsyncEnumerable<PersonaInput> StreamRecords(IAsyncEnumerable<PersonaRecord> records, string source, PersonaSplit? split)
    {
        var train = split is null ? null : new HashSet<string>(split.Train, StringComparer.Ordinal);
        var test = split is null ? null : new HashSet<string>(split.Test, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var compact = new AttributeCompactor();
        // One record at a time: a record's census block and codes are most of its size and no stage reads them.
        await foreach (var r in records.ConfigureAwait(false))
        {
            var p = PersonaJson.WithId(r);
            if (!seen.Add(p.Id)) throw new PersonaException($"{source}: persona id {p.Id} appears twice; each persona must be listed once.");
            var text = PersonaRenderer.Render(p);
            var s = train?.Contains(p.Id) == true ? "train" : test?.Contains(p.Id) == true ? "test" : null;
            yield return new PersonaInput(p.Id, text, compact.Of(PersonaRenderer.Attributes(p)), p.Census.Weight > 0 ? p.Census.Weight : 1, s, source);
        }
    }

    private static IReadOnlyList<PersonaInput> FromTextColumn(List<Row> rows, string source)
    {
        var compact = new AttributeCompactor();
        var list = new List<PersonaInput>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var text = row.Fields.First(kv => string.Equals(kv.Key, "persona", StringComparison.OrdinalIgnoreCase)).Value;
            if (string.IsNullOrWhiteSpace(text)) throw new PersonaException($"{source}, {row.Where}: the 'persona' field is empty.");
            var attrs = ParseText(text, $"{source}, {row.Where}"); // foreign format: the release's `persona` column, parsed once here into the typed persona
            var normalized = Render(attrs);
            var id = HashId(normalized);
            if (!seen.Add(id)) continue; // the release repeats each persona once per instruction
            list.Add(new PersonaInput(id, normalized, compact.Of(attrs), 1, null, source));
        }
        return list;
    }

    private static IReadOnlyList<PersonaInput> FromTable(List<Row> rows, string source)
    {
        var compact = new AttributeCompactor();
        var list = new List<PersonaInput>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var attrs = new OrderedAttributes();
            // The release's order first, then any extra columns as they come.
            foreach (var key in OriginalKeys)
                if (row.Fields.FirstOrDefault(kv => string.Equals(kv.Key.Replace('_', ' '), key, StringComparison.OrdinalIgnoreCase)) is { Value: { Length: > 0 } v } && !IsMissing(v))
                    attrs.TryAdd(key, v.Trim());
            if (attrs.Count == 0) throw new PersonaException($"{source}, {row.Where}: no attribute has a value.");
            var text = Render(attrs);
            var id = HashId(text);
            if (!seen.Add(id)) throw new PersonaException($"{source}, {row.Where}: the same persona appears twice (id {id}); each persona must be listed once.");
            list.Add(new PersonaInput(id, text, compact.Of(attrs), 1, null, source));
        }
        return list;
    }

    // "None" is a value in the release ("disability: None"); pandas writes missing cells as empty or "nan".
    private static bool IsMissing(string v) => v.Trim() is "" or "nan" or "NaN";

    private static string HashId(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    private sealed record Row(string Where, IReadOnlyDictionary<string, string> Fields);

    private static List<Row> ReadJsonl(string path)
    {
        var rows = new List<Row>();
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException) { throw new PersonaException($"{path}:{lineNo}: not valid JSON; expected one persona object per line."); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new PersonaException($"{path}:{lineNo}: expected a JSON object.");
                var fields = new OrderedAttributes();
                foreach (var p in doc.RootElement.EnumerateObject())
                    fields.TryAdd(p.Name, p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString()!,
                        JsonValueKind.Null => "",
                        JsonValueKind.Number => p.Value.GetRawText(),
                        JsonValueKind.True or JsonValueKind.False => p.Value.GetRawText(),
                        _ => p.Value.GetRawText(),
                    });
                rows.Add(new Row($"line {lineNo}", fields));
            }
        }
        return rows;
    }

    private static List<Row> ReadCsv(string path)
    {
        var rows = new List<Row>();
        string[]? header = null;
        foreach (var (fields, line) in CsvRecords(path))
        {
            if (header is null) { header = fields.Select(h => h.Trim()).ToArray(); continue; }
            if (fields.Count == 1 && fields[0].Length == 0) continue;
            if (fields.Count != header.Length) throw new PersonaException($"{path}:{line}: {fields.Count} fields, but the header has {header.Length}.");
            var dict = new OrderedAttributes();
            for (var i = 0; i < header.Length; i++) dict.TryAdd(header[i], fields[i]);
            rows.Add(new Row($"line {line}", dict));
        }
        return rows;
    }

    /// <summary>RFC 4180 records (quoted fields may hold commas, quotes and line breaks); an unterminated quote is an error.</summary>
    internal static IEnumerable<(List<string> Fields, int Line)> CsvRecords(string path)
    {
        var text = TextLines.ReadAll(path);
        var fields = new List<string>();
        var sb = new StringBuilder();
        var line = 1;
        var start = 1;
        var i = 0;
        var quoted = false;
        var quoteLine = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                if (c == '"') { quoted = false; i++; continue; }
                if (c == '\n') line++;
                sb.Append(c);
                i++;
                continue;
            }
            switch (c)
            {
                case '"' when sb.Length == 0: quoted = true; quoteLine = line; i++; break;
                case ',': fields.Add(sb.ToString()); sb.Clear(); i++; break;
                case '\r': i++; break;
                case '\n':
                    fields.Add(sb.ToString()); sb.Clear();
                    yield return (fields, start);
                    fields = [];
                    line++; start = line; i++;
                    break;
                default: sb.Append(c); i++; break;
            }
        }
        if (quoted) throw new PersonaException($"{path}:{quoteLine}: a quoted field is never closed (an unterminated '\"').");
        if (sb.Length > 0 || fields.Count > 0) { fields.Add(sb.ToString()); yield return (fields, start); }
    }

    private static async Task<List<Row>> ReadParquetAsync(string path, CancellationToken ct)
    {
        var rows = new List<Row>();
        try
        {
            await using var fs = File.OpenRead(path);
            await using var reader = await ParquetLib.ParquetReader.CreateAsync(fs, cancellationToken: ct);
            var fields = reader.Schema.GetDataFields();
            long rowBase = 0;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var rg = reader.OpenRowGroupReader(g);
                var count = (int)rg.RowCount;
                var columns = new List<(string Name, string?[] Data)>();
                foreach (var f in fields)
                    columns.Add((f.Name, await ReadAsStrings(rg, f, count, ct)));
                var n = count;
                for (var r = 0; r < n; r++)
                {
                    var dict = new OrderedAttributes();
                    foreach (var (name, data) in columns)
                        dict.TryAdd(name, data[r] ?? "");
                    rows.Add(new Row($"row {rowBase + r + 1}", dict));
                }
                rowBase += n;
            }
        }
        catch (Exception ex) when (ex is not PersonaException and not OperationCanceledException)
        {
            throw new PersonaException($"Cannot read the parquet file '{path}': {ex.Message}");
        }
        return rows;
    }

    private static async Task<string?[]> ReadAsStrings(ParquetLib.ParquetRowGroupReader rg, ParquetLib.Schema.DataField f, int n, CancellationToken ct)
    {
        async Task<string?[]> Typed<T>() where T : struct
        {
            if (!f.IsNullable)
            {
                var r = new T[n];
                await rg.ReadAsync<T>(f, r.AsMemory(), null, ct);
                return r.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)).ToArray();
            }
            var a = new T?[n];
            await rg.ReadAsync<T>(f, a.AsMemory(), null, ct);
            return a.Select(x => x is { } v ? Convert.ToString(v, CultureInfo.InvariantCulture) : null).ToArray();
        }
        var t = Nullable.GetUnderlyingType(f.ClrType) ?? f.ClrType;
        if (t == typeof(string))
        {
            var a = new string?[n];
            await rg.ReadAsync(f, a.AsMemory(), null, ct);
            return a;
        }
        if (t == typeof(int)) return await Typed<int>();
        if (t == typeof(long)) return await Typed<long>();
        if (t == typeof(double)) return await Typed<double>();
        if (t == typeof(float)) return await Typed<float>();
        if (t == typeof(bool)) return await Typed<bool>();
        return new string?[n]; // a column of another type is not a persona attribute
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";

    /// <summary>A dictionary that enumerates in insertion order (attribute order is part of the persona text).</summary>
    /// <summary>Attributes in the persona's own order, looked up without regard to case.</summary>
    /// <summary>
    /// Holds a population's attributes compactly: personas with the same keys in the same order share one key layout (and its
    /// index), and short values (the census categories, ages, the psychodemographic levels) are one string each however many
    /// personas have them. A persona then costs its values array and its own free text, about a third of an ordered map.
    /// </summary>
    internal sealed class AttributeCompactor
    {
        private readonly Dictionary<string, AttributeLayout> _layouts = new(StringComparer.Ordinal);
        // Bounded: free-text values rarely repeat, so past this many distinct short values a pool would only grow.
        private readonly StringPool _values = new(1 << 16);
        private const int ShortValue = 48;

        public IReadOnlyDictionary<string, string> Of(IReadOnlyDictionary<string, string> attributes)
        {
            var keys = new string[attributes.Count];
            var values = new object[attributes.Count];
            var i = 0;
            foreach (var (k, v) in attributes)
            {
                keys[i] = k;
                values[i++] = v.Length <= ShortValue ? _values.Get(v) : Utf8Of(v) ?? (object)v;
            }
            var signature = string.Join('\u0001', keys);
            if (!_layouts.TryGetValue(signature, out var layout)) _layouts[signature] = layout = new AttributeLayout(keys);
            return new CompactAttributes(layout, values);
        }

        // Free text (quirks, lifestyle, a job's description) is most of a persona and read only when its text is rendered: held
        // as UTF-8 it takes half the memory of a string, and every persona-indexed stage holds the whole population's.
        private static byte[]? Utf8Of(string v)
        {
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(2 * v.Length);
            try
            {
                // Only when it is smaller (it fits in the string's own size) and exact: a lone surrogate, which JSON can spell, would not come back.
                return System.Text.Unicode.Utf8.FromUtf16(v, buffer.AsSpan(0, 2 * v.Length - 1), out _, out var written, replaceInvalidSequences: false) == System.Buffers.OperationStatus.Done
                    ? buffer.AsSpan(0, written).ToArray() : null;
            }
            finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
        }
    }

    internal sealed class AttributeLayout
    {
        public readonly string[] Keys;
        public readonly Dictionary<string, int> Index;

        public AttributeLayout(string[] keys)
        {
            Keys = keys;
            Index = new Dictionary<string, int>(keys.Length, StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < keys.Length; i++) Index.TryAdd(keys[i], i);
        }
    }

    /// <summary>A persona's attributes in its order, looked up case-insensitively like <see cref="OrderedAttributes"/>.</summary>
    internal sealed class CompactAttributes(AttributeLayout layout, object[] values) : IReadOnlyDictionary<string, string>
    {
        private string Value(int i) => values[i] as string ?? System.Text.Encoding.UTF8.GetString((byte[])values[i]);
        public string this[string key] => layout.Index.TryGetValue(key, out var i) ? Value(i) : throw new KeyNotFoundException($"no attribute '{key}'");
        public IEnumerable<string> Keys => layout.Keys;
        public IEnumerable<string> Values => Enumerable.Range(0, values.Length).Select(Value);
        public int Count => values.Length;
        public bool ContainsKey(string key) => layout.Index.ContainsKey(key);

        public bool TryGetValue(string key, out string value)
        {
            if (layout.Index.TryGetValue(key, out var i)) { value = Value(i); return true; }
            value = null!;
            return false;
        }

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
        {
            for (var i = 0; i < values.Length; i++) yield return new(layout.Keys[i], Value(i));
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    internal sealed class OrderedAttributes : IReadOnlyDictionary<string, string>
    {
        private readonly List<KeyValuePair<string, string>> _items = [];
        private readonly Dictionary<string, string> _index = new(StringComparer.OrdinalIgnoreCase);

        public bool TryAdd(string key, string value)
        {
            if (!_index.TryAdd(key, value)) return false;
            _items.Add(new(key, value));
            return true;
        }

        public string this[string key] => _index[key];
        public IEnumerable<string> Keys => _items.Select(i => i.Key);
        public IEnumerable<string> Values => _items.Select(i => i.Value);
        public int Count => _items.Count;
        public bool ContainsKey(string key) => _index.ContainsKey(key);
        public bool TryGetValue(string key, out string value) => _index.TryGetValue(key, out value!);
        public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _items.GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
