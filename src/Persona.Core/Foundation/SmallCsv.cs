using System.Text;

namespace Persona;

/// <summary>
/// Reads the small bundled tables under data/ (header row, comma-separated, RFC 4180 quotes).
/// Errors name the file and line.
/// </summary>
internal static class SmallCsv
{
    public static List<(int Line, string[] Fields)> Read(string path, IReadOnlyList<string> header)
    {
        if (!File.Exists(path))
            throw new PersonaException($"Data file '{path}' does not exist.");
        var rows = new List<(int, string[])>();
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var fields = Split(line, path, lineNo);
            if (rows.Count == 0 && lineNo == 1)
            {
                if (!fields.Select(f => f.Trim()).SequenceEqual(header))
                    throw new PersonaException($"'{path}', line 1: expected the header '{string.Join(",", header)}', found '{line}'.");
                rows.Add((0, fields)); // placeholder for the header, removed below
                continue;
            }
            if (fields.Length != header.Count)
                throw new PersonaException($"'{path}', line {lineNo}: expected {header.Count} fields ({string.Join(", ", header)}), found {fields.Length}.");
            if (fields.Any(string.IsNullOrWhiteSpace))
                throw new PersonaException($"'{path}', line {lineNo}: empty field; every column needs a value.");
            rows.Add((lineNo, fields.Select(f => f.Trim()).ToArray()));
        }
        if (rows.Count == 0)
            throw new PersonaException($"'{path}' is empty; expected the header '{string.Join(",", header)}'.");
        rows.RemoveAt(0);
        if (rows.Count == 0)
            throw new PersonaException($"'{path}' has a header but no rows.");
        return rows;
    }

    /// <summary>One CSV line into its fields (quotes removed, not trimmed).</summary>
    public static string[] Split(string line, string path, int lineNo)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else sb.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(c);
        }
        if (quoted) throw new PersonaException($"'{path}', line {lineNo}: unterminated quote.");
        fields.Add(sb.ToString());
        return fields.ToArray();
    }
}
