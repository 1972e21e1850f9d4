using System.Text;
using System.Text.Json;

namespace Persona.Statistics;

/// <summary>One rating in long form, with the line it came from for error messages.</summary>
public sealed record Rating(string Item, string Rater, string Label, string? Group, int Line);

/// <summary>The ratings of a file, duplicates (same item, rater and label) counted and dropped.</summary>
public sealed record RatingsSet(string Path, IReadOnlyList<Rating> Ratings, int DuplicatesDropped, bool HasGroups)
{
    public int Items => Ratings.Select(r => r.Item).Distinct(StringComparer.Ordinal).Count();
    public int Raters => Ratings.Select(r => r.Rater).Distinct(StringComparer.Ordinal).Count();
}

/// <summary>
/// Reads ratings in long form: CSV with a header naming the columns item, rater, label and
/// optionally group (any order, other columns ignored), or JSONL with one object per line with
/// those keys (strings or numbers). A missing rating is a missing row. Every error names the file,
/// the line and the field.
/// </summary>
public static class RatingsFile
{
    public static RatingsSet Read(string path, MeasurementLevel level)
    {
        InputFile.NotAFolder(path, "Ratings file");
        if (!File.Exists(path)) throw new PersonaException($"Ratings file '{path}' does not exist.");
        var ext = System.IO.Path.GetExtension(path).ToLowerInvariant();
        var rows = ext switch
        {
            ".csv" => ReadCsv(path),
            ".jsonl" or ".ndjson" => ReadJsonl(path),
            _ => throw new PersonaException($"'{path}': expected a .csv or .jsonl ratings file (columns item, rater, label[, group])."),
        };
        if (rows.Count == 0) throw new PersonaException($"'{path}' holds no ratings; expected rows of item, rater, label[, group].");
        var seen = new Dictionary<(string, string), Rating>();
        var kept = new List<Rating>(rows.Count);
        var duplicates = 0;
        foreach (var r in rows)
        {
            if ((level is MeasurementLevel.Interval or MeasurementLevel.Ratio or MeasurementLevel.Ordinal) && !Labels.TryNumber(r.Label, out _))
                throw new PersonaException($"'{path}', line {r.Line}, field 'label': '{r.Label}' is not a number; --level {level.ToString().ToLowerInvariant()} needs numeric labels" +
                    (level == MeasurementLevel.Ordinal ? " (or give --order)." : "."));
            if (level == MeasurementLevel.Ratio && Labels.TryNumber(r.Label, out var v) && v < 0)
                throw new PersonaException($"'{path}', line {r.Line}, field 'label': {r.Label} is negative; ratio data cannot be.");
            if (seen.TryGetValue((r.Item, r.Rater), out var first))
            {
                if (first.Label != r.Label)
                    throw new PersonaException($"'{path}', line {r.Line}, field 'label': rater '{r.Rater}' rated item '{r.Item}' twice with different labels ('{first.Label}' on line {first.Line}, '{r.Label}' here).");
                if (first.Group != r.Group)
                    throw new PersonaException($"'{path}', line {r.Line}, field 'group': rater '{r.Rater}' rated item '{r.Item}' twice in different groups ('{first.Group}' on line {first.Line}, '{r.Group}' here).");
                duplicates++;
                continue;
            }
            seen.Add((r.Item, r.Rater), r);
            kept.Add(r);
        }
        return new RatingsSet(path, kept, duplicates, kept.Any(r => r.Group is not null));
    }

    /// <summary>As <see cref="Read(string, MeasurementLevel)"/>, for ordinal labels in a given order (checked against it).</summary>
    public static RatingsSet Read(string path, IReadOnlyList<string> order)
    {
        var set = Read(path, MeasurementLevel.Nominal);
        var known = new HashSet<string>(order, StringComparer.Ordinal);
        foreach (var r in set.Ratings)
            if (!known.Contains(r.Label))
                throw new PersonaException($"'{path}', line {r.Line}, field 'label': '{r.Label}' is not in --order ({string.Join(",", order)}).");
        return set;
    }

    private static List<Rating> ReadCsv(string path)
    {
        var rows = new List<Rating>();
        int item = -1, rater = -1, label = -1, group = -1, width = 0;
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var f = SmallCsv.Split(line, path, lineNo);
            if (width == 0)
            {
                var names = f.Select(x => x.Trim().TrimStart('\uFEFF').ToLowerInvariant()).ToList();
                (item, rater, label, group) = (names.IndexOf("item"), names.IndexOf("rater"), names.IndexOf("label"), names.IndexOf("group"));
                var missing = new[] { ("item", item), ("rater", rater), ("label", label) }.Where(x => x.Item2 < 0).Select(x => x.Item1).ToList();
                if (missing.Count > 0)
                    throw new PersonaException($"'{path}', line {lineNo}: the header lacks {string.Join(", ", missing)}; expected columns item, rater, label[, group], found '{line}'.");
                width = f.Length;
                continue;
            }
            if (f.Length != width)
                throw new PersonaException($"'{path}', line {lineNo}: expected {width} fields as in the header, found {f.Length}.");
            rows.Add(Make(path, lineNo, Field(f, item), Field(f, rater), Field(f, label), group < 0 ? null : Field(f, group)));
        }
        return rows;
    }

    private static string Field(string[] f, int i) => f[i].Trim();

    private static List<Rating> ReadJsonl(string path)
    {
        var rows = new List<Rating>();
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException ex) { throw new PersonaException($"'{path}', line {lineNo}: not valid JSON or not a rating ({JsonErrorText.Describe(ex)})."); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new PersonaException($"'{path}', line {lineNo}: expected a JSON object with item, rater, label[, group].");
                string? Get(string name, bool required)
                {
                    if (!doc.RootElement.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
                        return required ? throw new PersonaException($"'{path}', line {lineNo}, field '{name}': missing.") : null;
                    return v.ValueKind switch
                    {
                        JsonValueKind.String => v.GetString()!.Trim(),
                        JsonValueKind.Number => v.GetRawText(),
                        JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
                        _ => throw new PersonaException($"'{path}', line {lineNo}, field '{name}': expected a string or a number, found {v.ValueKind.ToString().ToLowerInvariant()}."),
                    };
                }
                rows.Add(Make(path, lineNo, Get("item", true)!, Get("rater", true)!, Get("label", true)!, Get("group", false)));
            }
        }
        return rows;
    }

    private static Rating Make(string path, int line, string item, string rater, string label, string? group)
    {
        foreach (var (name, value) in new[] { ("item", item), ("rater", rater), ("label", label) })
            if (string.IsNullOrWhiteSpace(value))
                throw new PersonaException($"'{path}', line {line}, field '{name}': empty; a missing rating is a missing row.");
        return new Rating(item, rater, label, string.IsNullOrWhiteSpace(group) ? null : group, line);
    }
}
