using System.Globalization;
using System.IO.Compression;
using nietras.SeparatedValues;

namespace Persona.Census;

/// <summary>
/// Reads the Census Bureau's person CSV (psam_p*.csv), plain or inside its release zip
/// (csv_p??.zip, read through the archive's entry stream, never unpacked to disk). Only the
/// variables of <see cref="PumsVariables"/> are parsed, straight from the field spans, so no
/// string is allocated per field.
/// </summary>
internal static class PumsCsvReader
{
    public static List<PumsChunk> ReadFile(string path, CancellationToken ct)
    {
        if (path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
            return ReadZip(path, "psam_p", ct);
        using var stream = OpenRead(path);
        return [ReadCsv(stream, path, ct)];
    }

    internal static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersonaException($"Cannot open '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Opens a release zip and hands each matching CSV entry's stream to <paramref name="read"/>.</summary>
    internal static List<T> ForEachZipEntry<T>(string path, string prefix, Func<Stream, string, T> read)
    {
        using var file = OpenRead(path);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(file, ZipArchiveMode.Read);
        }
        catch (InvalidDataException ex)
        {
            throw new PersonaException($"'{path}' is not a readable zip archive (truncated or corrupt): {ex.Message}", ex);
        }
        using (zip)
        {
            var entries = zip.Entries
                .Where(e => e.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && e.Name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
                .OrderBy(e => e.FullName, StringComparer.Ordinal)
                .ToList();
            if (entries.Count == 0)
                throw new PersonaException(
                    $"'{path}' holds no {prefix}*.csv file (it has: {string.Join(", ", zip.Entries.Select(e => e.FullName))}).");
            var results = new List<T>();
            foreach (var entry in entries)
            {
                var name = $"{path}!{entry.FullName}";
                try
                {
                    using var s = entry.Open();
                    results.Add(read(s, name));
                }
                catch (InvalidDataException ex)
                {
                    throw new PersonaException($"'{name}' cannot be decompressed (truncated or corrupt zip): {ex.Message}", ex);
                }
            }
            return results;
        }
    }

    private static List<PumsChunk> ReadZip(string path, string prefix, CancellationToken ct) =>
        ForEachZipEntry(path, prefix, (s, name) => ReadCsv(s, name, ct));

    internal static SepReader OpenCsv(Stream stream, string name)
    {
        try
        {
            return Sep.New(',').Reader(o => o with { HasHeader = true, Unescape = true }).From(stream);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw new PersonaException($"Cannot read '{name}': {ex.Message}", ex);
        }
    }

    public static PumsChunk ReadCsv(Stream stream, string name, CancellationToken ct)
    {
        using var reader = OpenCsv(stream, name);
        var header = reader.Header;
        if (header.IsEmpty)
            throw new PersonaException($"'{name}' is empty; expected a PUMS person CSV with a header row.");

        var serialIdx = IndexOf(header, PumsVariables.SerialNo);
        var weightIdx = IndexOf(header, PumsVariables.Weight);
        var vars = new List<(PumsVariable Var, int Index)>();
        var missing = new List<string>();
        if (serialIdx < 0) missing.Add(PumsVariables.SerialNo);
        if (weightIdx < 0) missing.Add(PumsVariables.Weight);
        var chunk = new PumsChunk(name, 1024);
        foreach (var v in PumsVariables.All)
        {
            var found = v.SourceNames.Select(n => (n, i: IndexOf(header, n))).FirstOrDefault(p => p.i >= 0);
            if (found.n is null)
            {
                if (v.Required) missing.Add(string.Join(" or ", v.SourceNames));
                continue;
            }
            vars.Add((v, found.i));
            chunk.Columns[v.Ordinal] = new int[1024];
            // Census CSVs write every field as text; character codes keep their zero padding.
            chunk.Text[v.Ordinal] = v.Categorical;
            chunk.SourceNames[v.Ordinal] = found.n;
        }
        if (missing.Count > 0)
            throw new PersonaException(
                $"'{name}' lacks the column(s) {string.Join(", ", missing)}. A PUMS person file needs {PumsVariables.RequiredColumnsText}.");

        var count = 0;
        var capacity = 1024;
        try
        {
            foreach (var row in reader)
            {
                if ((count & 0xFFF) == 0) ct.ThrowIfCancellationRequested();
                if (count == capacity)
                {
                    capacity *= 2;
                    chunk.Resize(capacity);
                }
                var line = row.LineNumberFrom;
                var serialSpan = row[serialIdx].Span;
                if (!PumsSerial.TryParse(serialSpan, out var serial))
                    throw BadField(name, line, PumsVariables.SerialNo, serialSpan, "a serial number like 2018HU0000001");
                chunk.Serial[count] = serial;
                var w = row[weightIdx].Span;
                if (!double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out var weight) || weight < 0 || !double.IsFinite(weight))
                    throw BadField(name, line, PumsVariables.Weight, w, "a non-negative number");
                chunk.Weight[count] = weight;
                foreach (var (v, idx) in vars)
                {
                    var span = row[idx].Span;
                    if (!CodeParser.TryParse(span, out var code))
                        throw BadField(name, line, v.SourceNames.First(s => s == chunk.SourceNames[v.Ordinal]), span, "an integer code or an empty field");
                    chunk.Columns[v.Ordinal]![count] = code;
                }
                count++;
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or EndOfStreamException)
        {
            throw new PersonaException($"'{name}' cannot be read to the end (truncated or corrupt) after {count:N0} rows: {SepSummary(ex.Message)}", ex);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            // Sep reports a row with fewer columns than the header this way.
            throw new PersonaException($"'{name}', line {count + 2}: the row has fewer fields than the header.", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new PersonaException($"'{name}': malformed CSV after {count:N0} rows: {SepSummary(ex.Message)}", ex);
        }
        chunk.Resize(count);
        return chunk;
    }

    /// <summary>
    /// Sep's message without the rows it quotes (a stray quote makes that hundreds of rows), plus the
    /// likely cause when one "row" spans many lines.
    /// </summary>
    internal static string SepSummary(string message)
    {
        var cut = message.IndexOf(":'", StringComparison.Ordinal);
        var head = (cut >= 0 ? message[..cut] : message.Length > 200 ? message[..200] + "..." : message).Trim();
        var span = System.Text.RegularExpressions.Regex.Match(head, @"lines \[(\d+)\.\.(\d+)\]");
        if (span.Success && long.Parse(span.Groups[2].Value, CultureInfo.InvariantCulture) > long.Parse(span.Groups[1].Value, CultureInfo.InvariantCulture) + 1)
            head += $"; one row runs over lines {span.Groups[1].Value}-{span.Groups[2].Value}, so a quote on line {span.Groups[1].Value} is probably not closed";
        return head + ".";
    }

    private static int IndexOf(SepReaderHeader header, string name) =>
        header.TryIndexOf(name, out var i) ? i : -1;

    internal static PersonaException BadField(string file, int line, string column, ReadOnlySpan<char> value, string expected) =>
        new($"'{file}', line {line}, column {column}: '{Excerpt(value)}' is not {expected}" +
            (value.IndexOfAny('"', '\n') >= 0 ? " (a quote or line break inside the field: check for an unclosed quote on this line)." : "."));

    /// <summary>A field as quoted in an error: a merged, quote-swallowed field can hold hundreds of rows.</summary>
    private static string Excerpt(ReadOnlySpan<char> value) =>
        value.Length <= 40 ? value.ToString().Replace('\n', ' ') : value[..37].ToString().Replace('\n', ' ') + "...";
}

/// <summary>Parses PUMS integer codes from text without allocating.</summary>
internal static class CodeParser
{
    /// <summary>Empty (or blank-marker) text is a blank: <see cref="PumsTable.Null"/>.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out int code)
    {
        s = s.Trim();
        if (s.IsEmpty || s.IndexOfAnyExcept('b') < 0)
        {
            code = PumsTable.Null;
            return true;
        }
        // Leading zeros ("0010") are padding, and a few numeric fields are signed (PINCP).
        if (int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out code) && code != PumsTable.Null)
            return true;
        code = 0;
        return false;
    }
}
