using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Persona.Census;

/// <summary>
/// Reads person records from parquet in the layout of the 2024 extracts (unpadded integer codes,
/// nulls for blanks, STATE). Only the needed columns are read, by name; integer, floating and
/// string columns are all accepted, since extracts differ (PWGTP is an integer in the Census
/// files and a calibrated double in the bundled national file).
/// </summary>
internal static class PumsParquetReader
{
    public static async Task<List<PumsChunk>> ReadFileAsync(string path, CancellationToken ct)
    {
        await using var stream = PumsCsvReader.OpenRead(path);
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(stream, cancellationToken: ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not PersonaException)
        {
            throw new PersonaException($"'{path}' is not a readable parquet file (truncated or corrupt): {ex.Message}", ex);
        }
        await using (reader)
        {
            var fields = reader.Schema.GetDataFields().ToDictionary(f => f.Name, StringComparer.Ordinal);
            DataField? Field(string name) => fields.GetValueOrDefault(name);
            var serialField = Field(PumsVariables.SerialNo);
            var weightField = Field(PumsVariables.Weight);
            var missing = new List<string>();
            if (serialField is null) missing.Add(PumsVariables.SerialNo);
            if (weightField is null) missing.Add(PumsVariables.Weight);
            var vars = new List<(PumsVariable Var, DataField Field)>();
            foreach (var v in PumsVariables.All)
            {
                var f = v.SourceNames.Select(Field).FirstOrDefault(x => x is not null);
                if (f is null)
                {
                    if (v.Required) missing.Add(string.Join(" or ", v.SourceNames.Reverse()));
                    continue;
                }
                vars.Add((v, f));
            }
            if (missing.Count > 0)
                throw new PersonaException(
                    $"'{path}' lacks the column(s) {string.Join(", ", missing)}. A PUMS person file needs {PumsVariables.RequiredColumnsText}.");

            var chunks = new List<PumsChunk>();
            try
            {
                for (var g = 0; g < reader.RowGroupCount; g++)
                {
                    ct.ThrowIfCancellationRequested();
                    using var rg = reader.OpenRowGroupReader(g);
                    var n = checked((int)rg.RowCount);
                    var chunk = new PumsChunk(path, n);
                    var serials = await ReadStringsAsync(rg, serialField!, n, ct);
                    for (var i = 0; i < n; i++)
                    {
                        if (!PumsSerial.TryParse(serials[i], out chunk.Serial[i]))
                            throw new PersonaException(
                                $"'{path}', row {RowNumber(chunks, i)}, column SERIALNO: '{serials[i]}' is not a serial number like 2024HU0000001.");
                    }
                    var weights = await ReadDoublesAsync(rg, weightField!, n, ct);
                    for (var i = 0; i < n; i++)
                    {
                        var w = weights[i];
                        if (w is not { } wv || wv < 0 || !double.IsFinite(wv))
                            throw new PersonaException(
                                $"'{path}', row {RowNumber(chunks, i)}, column PWGTP: '{w?.ToString(CultureInfo.InvariantCulture) ?? "null"}' is not a non-negative weight.");
                        chunk.Weight[i] = wv;
                    }
                    foreach (var (v, f) in vars)
                    {
                        var (codes, text) = await ReadCodesAsync(rg, f, n, path, RowNumber(chunks, 0), ct);
                        chunk.Columns[v.Ordinal] = codes;
                        chunk.Text[v.Ordinal] = text;
                        chunk.SourceNames[v.Ordinal] = f.Name;
                    }
                    chunks.Add(chunk);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not PersonaException)
            {
                throw new PersonaException($"'{path}' cannot be read (truncated or corrupt parquet): {ex.Message}", ex);
            }
            return chunks;
        }
    }

    private static long RowNumber(List<PumsChunk> previous, int i) => previous.Sum(c => (long)c.Count) + i + 1;

    private static async Task<string?[]> ReadStringsAsync(ParquetRowGroupReader rg, DataField f, int n, CancellationToken ct)
    {
        var values = new string?[n];
        if (f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>))
        {
            await rg.ReadAsync(f, values.AsMemory(), null, ct);
            return values;
        }
        throw new PersonaException($"Column {f.Name} has type {f.ClrType.Name}; expected a string column.");
    }

    private static async Task<double?[]> ReadDoublesAsync(ParquetRowGroupReader rg, DataField f, int n, CancellationToken ct)
    {
        var result = new double?[n];
        var t = f.ClrType;
        if (t == typeof(double)) await ReadAsync<double>(rg, f, n, ct, result, x => x);
        else if (t == typeof(float)) await ReadAsync<float>(rg, f, n, ct, result, x => x);
        else if (t == typeof(long)) await ReadAsync<long>(rg, f, n, ct, result, x => x);
        else if (t == typeof(int)) await ReadAsync<int>(rg, f, n, ct, result, x => x);
        else if (t == typeof(short)) await ReadAsync<short>(rg, f, n, ct, result, x => x);
        else throw new PersonaException($"Column {f.Name} has type {t.Name}; expected a number.");
        return result;
    }

    private static async Task ReadAsync<T>(ParquetRowGroupReader rg, DataField f, int n, CancellationToken ct, double?[] into, Func<T, double> convert)
        where T : struct
    {
        if (f.IsNullable)
        {
            var buf = new T?[n];
            await rg.ReadAsync<T>(f, buf.AsMemory(), null, ct);
            for (var i = 0; i < n; i++) into[i] = buf[i] is { } x ? convert(x) : null;
        }
        else
        {
            var buf = new T[n];
            await rg.ReadAsync<T>(f, buf.AsMemory(), null, ct);
            for (var i = 0; i < n; i++) into[i] = convert(buf[i]);
        }
    }

    private static async Task<(int[] Codes, bool Text)> ReadCodesAsync(ParquetRowGroupReader rg, DataField f, int n, string path, long firstRow, CancellationToken ct)
    {
        var codes = new int[n];
        if (f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>))
        {
            var s = await ReadStringsAsync(rg, f, n, ct);
            for (var i = 0; i < n; i++)
                if (!CodeParser.TryParse(s[i], out codes[i]))
                    throw new PersonaException($"'{path}', row {firstRow + i}, column {f.Name}: '{s[i]}' is not an integer code or null.");
            return (codes, true);
        }
        var d = await ReadDoublesAsync(rg, f, n, ct);
        for (var i = 0; i < n; i++)
        {
            if (d[i] is not { } x) { codes[i] = PumsTable.Null; continue; }
            if (x != Math.Floor(x) || x <= int.MinValue || x > int.MaxValue)
                throw new PersonaException($"'{path}', row {firstRow + i}, column {f.Name}: {x.ToString(CultureInfo.InvariantCulture)} is not an integer code.");
            codes[i] = (int)x;
        }
        return (codes, false);
    }
}
