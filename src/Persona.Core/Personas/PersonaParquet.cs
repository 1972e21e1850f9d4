using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace Persona.Personas;

/// <summary>
/// Personas as parquet: one flat column per contract key, in contract order. Scalars are typed
/// columns (age int, income nullable long, labels nullable strings); the nested values
/// (big_five_scores, census, traits) are their canonical JSON text, so a parquet file and a
/// JSONL file of the same personas carry identical content and ids.
/// </summary>
public static class PersonaParquet
{
    private static readonly DataField<string> IdField = new("id");
    private static readonly DataField<int> AgeField = new("age");
    private static readonly DataField<long?> IncomeField = new("income");
    private static readonly DataField<string> BigFiveField = new("big_five_scores", true);
    private static readonly DataField<string> CensusField = new("census");
    private static readonly DataField<string> TraitsField = new("traits");
    // Optional on read (files written before enrichment existed lack it); always written.
    private static readonly DataField<string> EnrichmentField = new("enrichment", true);

    private static DataField<string> LabelField(string key) => new(key, true);

    private static ParquetSchema Schema() => new(
        new Field[] { IdField, AgeField }
            .Concat(PersonaRecord.CensusLabels.Select(l => LabelField(l.Key)))
            .Append(IncomeField)
            .Concat(PersonaRecord.CensusLabelsAfterIncome.Select(l => LabelField(l.Key)))
            .Append(BigFiveField)
            .Concat(PersonaRecord.TraitLabels.Select(l => LabelField(l.Key)))
            .Append(CensusField)
            .Append(TraitsField)
            .Append(EnrichmentField));

    /// <summary>
    /// Rows a row group: the file's bytes depend on it. A writer holds one group's columns at once,
    /// so this bounds its memory: at 100,000 rows a group the census column alone (each persona's
    /// provenance) took about half of the population stage's peak at 100,000 personas. 10,000 rows
    /// is some 60 MB of text a group, in the range Parquet readers expect of a row group, and the
    /// default and paper scales (under 10,000 personas) still make one group.
    /// </summary>
    private const int GroupSize = 10_000;

    /// <summary>Writes the personas atomically (ids recomputed from content), in row groups of <see cref="GroupSize"/>.</summary>
    public static Task WriteAsync(string path, IReadOnlyList<PersonaRecord> personas, CancellationToken ct = default) =>
        AtomicFile.WriteAsync(path, (s, token) => WriteAsync(s, personas, token), ct);

    public static Task WriteAsync(Stream stream, IReadOnlyList<PersonaRecord> personas, CancellationToken ct) =>
        WriteAsync(stream, personas, GroupSize, ct);

    internal static Task WriteAsync(Stream stream, IReadOnlyList<PersonaRecord> personas, int groupSize, CancellationToken ct) =>
        WriteGroupsAsync(stream, personas.Count, groupSize, (start, n) => Columns(personas.Skip(start).Take(n).Select(PersonaJson.WithId), n), ct);

    /// <summary>
    /// The personas of a JSONL file of <paramref name="count"/> personas as parquet: the bytes
    /// <see cref="WriteAsync(string, IReadOnlyList{PersonaRecord}, CancellationToken)"/> writes for
    /// them, in one pass over the file, holding one row group's columns and never the records.
    /// </summary>
    public static Task WriteFromJsonlAsync(string path, string jsonlPath, int count, CancellationToken ct = default) =>
        AtomicFile.WriteAsync(path, (s, token) => WriteFromJsonlAsync(s, jsonlPath, count, GroupSize, token), ct);

    internal static async Task WriteFromJsonlAsync(Stream stream, string jsonlPath, int count, int groupSize, CancellationToken ct)
    {
        using var personas = Personas(jsonlPath, ct).GetEnumerator();
        var read = 0;
        IEnumerable<PersonaRecord> Next(int n)
        {
            for (var i = 0; i < n; i++, read++)
                yield return personas.MoveNext() ? personas.Current : throw new PersonaException($"'{jsonlPath}' holds {read} personas, not the {count} expected.");
        }
        await WriteGroupsAsync(stream, count, groupSize, (_, n) => Columns(Next(n), n), ct).ConfigureAwait(false);
        if (personas.MoveNext()) throw new PersonaException($"'{jsonlPath}' holds more than the {count} personas expected.");
    }

    /// <summary>One row group's columns from its <paramref name="n"/> personas, each persona seen once.</summary>
    private static GroupColumns Columns(IEnumerable<PersonaRecord> rows, int n)
    {
        var columns = StringColumns.ToDictionary(c => c.Key, _ => new string?[n]);
        var ages = new int[n];
        var incomes = new long?[n];
        var i = 0;
        foreach (var p in rows)
        {
            ages[i] = p.Age;
            incomes[i] = p.Income;
            foreach (var (key, get) in StringColumns) columns[key][i] = get(p);
            i++;
        }
        // A column is let go once written.
        return new GroupColumns(ages, incomes, key => columns.Remove(key, out var column) ? column : throw new InvalidOperationException($"column {key} asked for twice"));
    }

    /// <summary>
    /// The string columns: every column but age and income, by key. The small nested values repeat
    /// (big five levels, enrichment provenance) and are shared.
    /// </summary>
    private static readonly (string Key, Func<PersonaRecord, string?> Get)[] StringColumns =
    [
        ("id", p => p.Id),
        .. PersonaRecord.CensusLabels.Select(l => (l.Key, l.Get)),
        .. PersonaRecord.CensusLabelsAfterIncome.Select(l => (l.Key, l.Get)),
        ("big_five_scores", p => p.BigFiveScores is null ? null : PersonaJson.Shared(PersonaJson.ToJson(w => PersonaJson.WriteBigFive(w, p.BigFiveScores)))),
        .. PersonaRecord.TraitLabels.Select(l => (l.Key, l.Get)),
        ("census", p => PersonaJson.ToJson(w => PersonaJson.WriteCensus(w, p.Census))),
        ("traits", p => PersonaJson.ToJson(w => PersonaJson.WriteTraits(w, p.Traits))),
        ("enrichment", p => p.Enrichment is null ? null : PersonaJson.Shared(PersonaJson.ToJson(w => PersonaJson.WriteEnrichment(w, p.Enrichment)))),
    ];

    /// <summary>The personas of a JSONL file, parsed one at a time.</summary>
    private static IEnumerable<PersonaRecord> Personas(string jsonlPath, CancellationToken ct)
    {
        var index = 0;
        foreach (var (lineNo, line) in TextLines.Numbered(jsonlPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            if ((index++ & 0x3FF) == 0) ct.ThrowIfCancellationRequested();
            // The id is the file's own: it was computed from the content when the line was written.
            yield return PersonaJson.Parse(Encoding.UTF8.GetBytes(line), $"'{jsonlPath}', line {lineNo}");
        }
    }

    /// <summary>One row group's columns, each asked for once, in file order.</summary>
    private sealed class GroupColumns(int[] ages, long?[] incomes, Func<string, string?[]> strings)
    {
        public int[] Ages => ages;
        public long?[] Incomes => incomes;
        public string?[] Strings(string key) => strings(key);
    }

    private static async Task WriteGroupsAsync(Stream stream, int count, int groupSize, Func<int, int, GroupColumns> group, CancellationToken ct)
    {
        var schema = Schema();
        var fields = schema.GetDataFields();
        var options = ParquetDefaults.Options();
        await using var writer = await ParquetWriter.CreateAsync(schema, stream, options, cancellationToken: ct);
        for (var start = 0; start < count || start == 0; start += groupSize)
        {
            ct.ThrowIfCancellationRequested();
            var columns = group(start, Math.Min(groupSize, count - start));
            using var rg = writer.CreateRowGroup();
            foreach (var field in fields)
            {
                if (field.Name == AgeField.Name) await rg.WriteAsync<int>(field, columns.Ages, null, null, ct);
                else if (field.Name == IncomeField.Name) await rg.WriteAsync<long>(field, columns.Incomes, null, null, ct);
                else await rg.WriteAsync((DataField<string>)field, columns.Strings(field.Name));
            }
            if (count == 0) break;
        }
    }

    public static async Task<List<PersonaRecord>> ReadAsync(string path, CancellationToken ct = default)
    {
        var result = new List<PersonaRecord>();
        await foreach (var p in StreamAsync(path, ct).ConfigureAwait(false)) result.Add(p);
        return result;
    }

    /// <summary>
    /// The records a row group at a time: one group's columns are held, never the file's, so a
    /// reader that keeps little of each persona (a count, a few attributes) stays small.
    /// </summary>
    public static async IAsyncEnumerable<PersonaRecord> StreamAsync(string path, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var reader = await OpenAsync(path, ct).ConfigureAwait(false);
        var byName = reader.Schema.GetDataFields().ToDictionary(x => x.Name);
        long row = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            var n = (int)rg.RowCount;
            async Task<string?[]> Strings(string key)
            {
                var a = new string?[n];
                await rg.ReadAsync(byName[key], a.AsMemory(), null, ct);
                return a;
            }
            var ids = await Strings("id");
            var ages = new int[n];
            await rg.ReadAsync<int>(byName["age"], ages.AsMemory(), null, ct);
            var incomes = new long?[n];
            await rg.ReadAsync<long>(byName["income"], incomes.AsMemory(), null, ct);
            var labels = new Dictionary<string, string?[]>();
            foreach (var (key, _, _) in PersonaRecord.CensusLabels.Concat(PersonaRecord.CensusLabelsAfterIncome).Concat(PersonaRecord.TraitLabels))
                labels[key] = await Strings(key);
            var bigFive = await Strings("big_five_scores");
            var census = await Strings("census");
            var traits = await Strings("traits");
            var enrichment = byName.ContainsKey("enrichment") ? await Strings("enrichment") : new string?[n];
            for (var i = 0; i < n; i++)
            {
                var where = $"'{path}', row {++row}";
                var p = new PersonaRecord
                {
                    Id = ids[i] ?? throw new PersonaException($"{where}: id is null."),
                    Age = ages[i],
                    Income = incomes[i],
                    BigFiveScores = bigFive[i] is { } bf ? ParseNested(bf, where, e => PersonaJson.ReadBigFive(e, where)) : null,
                    Census = ParseNested(census[i] ?? throw new PersonaException($"{where}: census is null."), where, e => PersonaJson.ReadCensus(e, where)),
                    Traits = ParseNested(traits[i] ?? throw new PersonaException($"{where}: traits is null."), where, e => PersonaJson.ReadTraits(e, where)),
                    Enrichment = enrichment[i] is { } en ? ParseNested(en, where, e => PersonaJson.ReadEnrichment(e, where)) : null,
                };
                foreach (var (key, _, with) in PersonaRecord.CensusLabels.Concat(PersonaRecord.CensusLabelsAfterIncome).Concat(PersonaRecord.TraitLabels))
                    p = with(p, labels[key][i]);
                yield return p;
            }
        }
    }

    /// <summary>How many personas the file holds, from its footer: no row is decoded.</summary>
    public static async Task<long> CountAsync(string path, CancellationToken ct = default)
    {
        await using var reader = await OpenAsync(path, ct).ConfigureAwait(false);
        long rows = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            rows += rg.RowCount;
        }
        return rows;
    }

    /// <summary>A reader of a persona file (it closes the file when disposed): a missing file, one that is not Parquet, or one that lacks a contract column is refused by name.</summary>
    private static async Task<ParquetReader> OpenAsync(string path, CancellationToken ct)
    {
        if (!File.Exists(path)) throw new PersonaException($"Persona file '{path}' does not exist.");
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(path, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new PersonaException($"'{path}' is not a readable parquet file: {ex.Message}", ex);
        }
        var names = reader.Schema.GetDataFields().Select(x => x.Name).ToHashSet();
        var missing = PersonaRecord.Keys.Where(k => !names.Contains(k)).ToList();
        if (missing.Count == 0) return reader;
        await reader.DisposeAsync().ConfigureAwait(false);
        throw new PersonaException($"'{path}' is not a persona parquet file: it lacks the column(s) {string.Join(", ", missing)}.");
    }

    private static T ParseNested<T>(string json, string where, Func<JsonElement, T> read)
    {
        try
        {
            using var doc = JsonDocument.Parse(Encoding.UTF8.GetBytes(json));
            return read(doc.RootElement);
        }
        catch (JsonException ex)
        {
            throw new PersonaException($"{where}: nested JSON is malformed: {ex.Message}", ex);
        }
    }
}

/// <summary>Reads and writes persona files by extension (.jsonl or .parquet).</summary>
public static class PersonaFiles
{
    public enum Format { Jsonl, Parquet }

    public static Format FormatOf(string path) =>
        Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".jsonl" or ".ndjson" => Format.Jsonl,
            ".parquet" => Format.Parquet,
            var ext => throw new PersonaException(
                $"Cannot tell the persona file format of '{path}' from its extension '{ext}'; use .jsonl or .parquet."),
        };

    public static Task WriteAsync(string path, IReadOnlyList<PersonaRecord> personas, CancellationToken ct = default) =>
        FormatOf(path) == Format.Jsonl
            ? PersonaJsonl.WriteAsync(path, personas, ct)
            : PersonaParquet.WriteAsync(path, personas, ct);

    /// <summary>The records one at a time (a JSONL file is read as it goes; a Parquet file a row group at a time).</summary>
    public static IAsyncEnumerable<PersonaRecord> StreamAsync(string path, CancellationToken ct = default) =>
        FormatOf(path) == Format.Parquet ? PersonaParquet.StreamAsync(path, ct) : PersonaJsonl.ReadAsync(path, ct);

    public static async Task<List<PersonaRecord>> ReadAsync(string path, CancellationToken ct = default)
    {
        if (FormatOf(path) == Format.Parquet)
            return await PersonaParquet.ReadAsync(path, ct);
        var list = new List<PersonaRecord>();
        await foreach (var p in PersonaJsonl.ReadAsync(path, ct))
            list.Add(p);
        return list;
    }
}
