using System.Text;
using System.Text.Json;
using nietras.SeparatedValues;

namespace Persona.Prompts;

/// <summary>
/// Reads prompt sources: the bundled PRISM opening prompts, or a user's file.
/// <list type="bullet">
/// <item><c>.json</c>: an array whose elements are strings or objects with <c>text</c> (and optional <c>id</c>).</item>
/// <item><c>.jsonl</c>: one object per line, <c>{"id"?, "text"}</c>; blank lines are skipped.</item>
/// <item><c>.csv</c>: comma-separated with a header holding a <c>text</c> column (and optional <c>id</c>).</item>
/// </list>
/// Prompts without an id get one from their position (<c>{prefix}-{n:D5}</c>, n 1-based), so ids
/// are stable for the same file. Structural problems throw <see cref="PersonaException"/> naming
/// file, line and field; an empty text is not an error (the filters drop it).
/// </summary>
public static class PromptLoader
{
    public const string BundledPrismRelativePath = "prism/prism_opening_prompts.json";

    public static string BundledPrismPath => BundledData.Path(BundledPrismRelativePath);

    /// <summary>The 8,011 PRISM opening prompts (CC-BY-4.0, Kirk et al. 2024), ids <c>prism-00001</c>... in source order.</summary>
    public static IReadOnlyList<SourcePrompt> LoadBundledPrism()
    {
        if (!File.Exists(BundledPrismPath))
            throw new PersonaException($"Bundled PRISM prompts not found at {BundledPrismPath}; the data/ folder was not copied beside the binaries (rebuild the project).");
        return LoadJson(BundledPrismPath, "prism");
    }

    /// <summary>Loads by extension (.json, .jsonl, .csv).</summary>
    public static IReadOnlyList<SourcePrompt> Load(string path)
    {
        InputFile.NotAFolder(path, "Prompt source");
        if (!File.Exists(path))
            throw new PersonaException($"Prompt source '{path}' does not exist; expected a .json, .jsonl or .csv file.");
        var ext = System.IO.Path.GetExtension(path).ToLowerInvariant();
        var prompts = ext switch
        {
            ".json" => LoadJson(path, "p"),
            ".jsonl" or ".ndjson" => LoadJsonl(path),
            ".csv" => LoadCsv(path),
            _ => throw new PersonaException($"Prompt source '{path}': unsupported extension '{ext}'; expected .json (array), .jsonl ({{\"id\"?, \"text\"}} per line) or .csv (a 'text' column)."),
        };
        if (prompts.Count == 0)
            throw new PersonaException($"Prompt source '{path}' holds no prompts (the file is empty or has only a header); expected at least one prompt.");
        return prompts;
    }

    public static IReadOnlyList<SourcePrompt> LoadJson(string path, string idPrefix = "p")
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.AsSpan().StartsWith("\uFEFF"u8)) bytes = bytes[3..]; // the reader rejects a BOM
        var lineStarts = LineStarts(bytes);
        int LineAt(long offset) { int i = lineStarts.BinarySearch((int)offset); return i >= 0 ? i + 1 : ~i; }

        var result = new List<SourcePrompt>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                throw new PersonaException($"{path}:{LineAt(reader.TokenStartIndex)}: expected a JSON array of prompts (strings or objects with a \"text\" field).");
            int n = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                n++;
                int line = LineAt(reader.TokenStartIndex);
                string id = $"{idPrefix}-{n:D5}";
                string text;
                if (reader.TokenType == JsonTokenType.String)
                {
                    text = reader.GetString()!;
                }
                else if (reader.TokenType == JsonTokenType.StartObject)
                {
                    using var doc = JsonDocument.ParseValue(ref reader);
                    (var maybeId, text) = ReadObject(doc.RootElement, path, line, $"element {n}");
                    id = maybeId ?? id;
                }
                else
                {
                    throw new PersonaException($"{path}:{line}: element {n} is {reader.TokenType}; expected a string or an object with a \"text\" field.");
                }
                AddUnique(result, ids, new SourcePrompt(id, text, line), path);
            }
            if (reader.TokenType != JsonTokenType.EndArray)
                throw new PersonaException($"{path}: the JSON array is not closed (missing ']').");
        }
        catch (JsonException e)
        {
            throw new PersonaException($"{path}:{(e.LineNumber ?? 0) + 1}: malformed JSON ({JsonErrorText.Of(e)}).", e);
        }
        return result;
    }

    public static IReadOnlyList<SourcePrompt> LoadJsonl(string path)
    {
        var result = new List<SourcePrompt>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNo = 0, n = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            n++;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e)
            {
                throw new PersonaException($"{path}:{lineNo}: malformed JSON ({JsonErrorText.Of(e)}); expected one object {{\"id\"?, \"text\"}} per line.", e);
            }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new PersonaException($"{path}:{lineNo}: expected a JSON object {{\"id\"?, \"text\"}}, got {doc.RootElement.ValueKind}.");
                var (id, text) = ReadObject(doc.RootElement, path, lineNo, "object");
                AddUnique(result, ids, new SourcePrompt(id ?? $"p-{n:D5}", text, lineNo), path);
            }
        }
        return result;
    }

    public static IReadOnlyList<SourcePrompt> LoadCsv(string path)
    {
        var result = new List<SourcePrompt>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        CheckQuotes(path);
        try
        {
            using var reader = Sep.New(',').Reader(o => o with { Unescape = true }).FromFile(path);
            if (!reader.Header.TryIndexOf("text", out var textCol))
                throw new PersonaException($"{path}:1: no 'text' column in the header (found: {string.Join(", ", reader.Header.ColNames)}); expected a CSV with a 'text' column and optionally an 'id' column.");
            bool hasId = reader.Header.TryIndexOf("id", out var idCol);
            int n = 0;
            foreach (var row in reader)
            {
                n++;
                int line = row.LineNumberFrom;
                if (row.ColCount <= textCol || (hasId && row.ColCount <= idCol))
                    throw new PersonaException($"{path}:{line}: row has {row.ColCount} columns; field 'text' (column {textCol + 1}) is missing.");
                var text = row[textCol].ToString();
                string id = $"p-{n:D5}";
                if (hasId)
                {
                    var raw = row[idCol].ToString().Trim();
                    if (raw.Length == 0) throw new PersonaException($"{path}:{line}: field 'id' is empty; give every row an id or drop the 'id' column.");
                    id = raw;
                }
                AddUnique(result, ids, new SourcePrompt(id, text, line), path);
            }
        }
        catch (InvalidDataException e)
        {
            throw new PersonaException($"{path}: malformed CSV ({e.Message}); expected comma-separated rows with a header holding a 'text' column.", e);
        }
        return result;
    }

    /// <summary>
    /// RFC 4180 quoting, checked before parsing: a lenient reader lets an unclosed quote swallow the
    /// following rows into one field (one "prompt" made of 25 rows) without a word. A quoted field
    /// must end with a quote followed by a comma or a line end; a quote inside an unquoted field is text.
    /// </summary>
    private static void CheckQuotes(string path)
    {
        using var reader = new StringReader(TextLines.ReadAll(path));
        int line = 1, openedAt = 0;
        bool quoted = false, fieldStart = true;
        int c;
        while ((c = reader.Read()) >= 0)
        {
            if (quoted)
            {
                if (c == '\n') line++;
                else if (c == '"')
                {
                    var next = reader.Peek();
                    if (next == '"') { reader.Read(); continue; }
                    if (next is ',' or '\r' or '\n' or -1) { quoted = false; fieldStart = false; continue; }
                    throw new PersonaException(
                        $"{path}:{openedAt}: the quote that opens a field here is not closed properly" +
                        (line == openedAt ? "" : $": the next quote, on line {line}, is followed by more text, so lines {openedAt}-{line} would merge into one prompt") +
                        ". Close the quoted field, or write a quote inside it as \"\".");
                }
                continue;
            }
            if (c == '"' && fieldStart) { quoted = true; openedAt = line; continue; }
            fieldStart = c is ',' or '\n';
            if (c == '\n') line++;
        }
        if (quoted)
            throw new PersonaException($"{path}:{openedAt}: the quote that opens a field here is never closed (the file ends first). Close the quoted field, or write a quote inside it as \"\".");
    }

    private static (string? Id, string Text) ReadObject(JsonElement obj, string path, int line, string what)
    {
        if (!obj.TryGetProperty("text", out var t))
            throw new PersonaException($"{path}:{line}: {what} has no field 'text'; expected {{\"id\"?, \"text\": \"...\"}}.");
        if (t.ValueKind != JsonValueKind.String)
            throw new PersonaException($"{path}:{line}: field 'text' is {t.ValueKind}; expected a string.");
        string? id = null;
        if (obj.TryGetProperty("id", out var i))
        {
            id = i.ValueKind switch
            {
                JsonValueKind.String => i.GetString(),
                JsonValueKind.Number => i.GetRawText(),
                JsonValueKind.Null => null,
                _ => throw new PersonaException($"{path}:{line}: field 'id' is {i.ValueKind}; expected a string or number."),
            };
            if (id is not null && id.Trim().Length == 0)
                throw new PersonaException($"{path}:{line}: field 'id' is empty; expected a non-empty string or omit it.");
        }
        return (id, t.GetString()!);
    }

    private static void AddUnique(List<SourcePrompt> list, Dictionary<string, int> ids, SourcePrompt p, string path)
    {
        if (!ids.TryAdd(p.Id, p.Line))
            throw new PersonaException($"{path}:{p.Line}: field 'id' value '{p.Id}' repeats the id on line {ids[p.Id]}; ids must be unique.");
        list.Add(p);
    }

    private static List<int> LineStarts(byte[] bytes)
    {
        var starts = new List<int> { 0 };
        for (int i = 0; i < bytes.Length; i++) if (bytes[i] == (byte)'\n') starts.Add(i + 1);
        return starts;
    }
}
