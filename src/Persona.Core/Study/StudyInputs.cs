using System.Text.Json;
using Persona.Personas;

namespace Persona.Study;

/// <summary>One preference pair as the study reads it: the generic answer (rejected) and the personalised one (chosen).</summary>
public sealed record PreferencePair(
    string PairId, string PersonaId, string PromptId, string? PersonaText, string Instruction,
    string Original, string Data, string? Critique, string? QuestionType, string? Split);

/// <summary>Reads the inputs of <c>study create</c>: a pairs folder (pairs.jsonl) and, optionally, a persona file.</summary>
public static class StudyInputs
{
    public const string PairsFile = "pairs.jsonl";

    /// <summary>Reads DIR/pairs.jsonl (or a .jsonl path given directly); every bad line is reported by number and field.</summary>
    public static IReadOnlyList<PreferencePair> ReadPairs(string dirOrFile) => ReadPairs(dirOrFile, out _);

    /// <summary>
    /// As <see cref="ReadPairs(string)"/>; rows that `persona pairs build` marked as failed
    /// (<c>"status"</c> other than "ok": no usable answers) are left out and counted.
    /// </summary>
    public static IReadOnlyList<PreferencePair> ReadPairs(string dirOrFile, out int failedSkipped)
    {
        failedSkipped = 0;
        var path = Directory.Exists(dirOrFile) ? Path.Combine(dirOrFile, PairsFile) : dirOrFile;
        if (!File.Exists(path))
            throw new PersonaException($"No preference pairs at '{path}': --pairs expects a folder holding {PairsFile} (one JSON object per line).");
        var pairs = new List<PreferencePair>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var where = $"'{path}', line {lineNo}";
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException ex) { throw new PersonaException($"{where}: not valid JSON ({ex.Message})."); }
            using (doc)
            {
                var o = doc.RootElement;
                if (o.ValueKind != JsonValueKind.Object) throw new PersonaException($"{where}: expected a JSON object.");
                if (Optional(o, "status", where) is { } status && status != "ok")
                {
                    failedSkipped++;
                    continue;
                }
                var pair = new PreferencePair(
                    Required(o, "pair_id", where), Required(o, "persona_id", where), Required(o, "prompt_id", where),
                    Optional(o, "persona", where), Required(o, "instruction", where), Required(o, "original", where),
                    Required(o, "data", where), Optional(o, "critique", where), Optional(o, "question type", where), Optional(o, "split", where));
                if (!ids.Add(pair.PairId)) throw new PersonaException($"{where}: pair_id '{pair.PairId}' appears twice.");
                pairs.Add(pair);
            }
        }
        if (pairs.Count == 0) throw new PersonaException($"'{path}' holds no preference pairs.");
        return pairs;
    }

    /// <summary>persona id -> the persona as LMs and raters see it (<see cref="PersonaRenderer"/>).</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ReadPersonaTextsAsync(string path, CancellationToken ct)
    {
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var p in PersonaJsonl.ReadAsync(path, ct))
            texts[p.Id] = PersonaRenderer.Render(p);
        return texts;
    }

    private static string Required(JsonElement o, string name, string where) =>
        Optional(o, name, where) is { Length: > 0 } s ? s : throw new PersonaException($"{where}: field \"{name}\" is missing or empty (expected a non-empty string).");

    private static string? Optional(JsonElement o, string name, string where)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => throw new PersonaException($"{where}: field \"{name}\" must be a string, got {v.ValueKind.ToString().ToLowerInvariant()}."),
        };
    }

    /// <summary>Splits a persona text into its <c>key: value</c> lines, in order (for the persona card and grouping).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Attributes(string personaText)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var raw in personaText.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) continue;
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            list.Add(colon > 0 ? new(line[..colon].Trim(), line[(colon + 2)..].Trim()) : new("", line.Trim()));
        }
        return list;
    }
}
