using System.Text.Json;
using Persona.Personas;

namespace Persona.Benchmark;

/// <summary>A preference pair as few-shot preferences show it: the persona's chosen answer against the generic (rejected) one.</summary>
public sealed record PreferencePair(string PairId, string PersonaId, string PromptId, string? PersonaText, string Instruction, string Chosen, string Rejected, string Split);

/// <summary>
/// Reads pairs.jsonl of a preference-pairs build (fields pair_id, persona_id, prompt_id, persona,
/// instruction, original = rejected, data = chosen, split = train | test-seen | test-heldout). A
/// small reader of our own so the bench does not depend on how the pairs are built.
/// </summary>
public static class PreferencePairsFile
{
    public const string FileName = "pairs.jsonl";

    public static IReadOnlyList<PreferencePair> Read(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file))
            throw new PersonaException(Directory.Exists(path) ? $"'{path}' has no {FileName}; point --pairs at a preference-pairs folder or its pairs.jsonl." : $"Pairs file '{path}' does not exist.");
        var list = new List<PreferencePair>();
        var lineNo = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException) { throw new PersonaException($"{file}:{lineNo}: not valid JSON; expected one pair object per line."); }
            using (doc)
            {
                var r = doc.RootElement;
                if (r.ValueKind != JsonValueKind.Object) throw new PersonaException($"{file}:{lineNo}: expected a JSON object.");
                string Req(string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s
                    ? s : throw new PersonaException($"{file}:{lineNo}: field '{name}' must be a non-empty string.");
                string? Opt(string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                list.Add(new PreferencePair(Opt("pair_id") ?? $"line{lineNo}", Req("persona_id"), Opt("prompt_id") ?? "", Opt("persona"),
                    Req("instruction"), Req("data"), Req("original"), Opt("split") ?? "train"));
            }
        }
        if (list.Count == 0) throw new PersonaException($"'{file}' holds no pairs.");
        return list;
    }

    /// <summary>
    /// The train pairs of each persona (matched by persona id, else by identical persona text), in
    /// file order; the bench takes the first few that are not about the question being answered.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<PreferencePair>> TrainExamples(IReadOnlyList<PreferencePair> pairs, IReadOnlyList<PersonaInput> personas)
    {
        var train = pairs.Where(p => p.Split == "train").ToList();
        var byId = train.GroupBy(p => p.PersonaId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var byText = train.Where(p => p.PersonaText is not null).GroupBy(p => Normalise(p.PersonaText!), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var result = new Dictionary<string, IReadOnlyList<PreferencePair>>(StringComparer.Ordinal);
        foreach (var p in personas)
        {
            var found = byId.GetValueOrDefault(p.Id) ?? byText.GetValueOrDefault(Normalise(p.Text));
            if (found is { Count: > 0 }) result[p.Id] = found;
        }
        return result;
    }

    private static string Normalise(string text) => string.Join('\n', text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
