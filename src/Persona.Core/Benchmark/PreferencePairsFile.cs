using System.Text.Json;
using Persona.Personas;
using Persona.Prompts;

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

    public static IReadOnlyList<PreferencePair> Read(string path) => Stream(path).ToList();

    /// <summary>The pairs one at a time, so a caller that keeps a few per persona never holds the whole file (1 GB at paper scale).</summary>
    public static IEnumerable<PreferencePair> Stream(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file))
            throw new PersonaException(Directory.Exists(path) ? $"'{path}' has no {FileName}; point --pairs at a preference-pairs folder or its pairs.jsonl." : $"Pairs file '{path}' does not exist.");
        return Lines(file);
    }

    private static IEnumerable<PreferencePair> Lines(string file)
    {
        var lineNo = 0;
        var count = 0;
        foreach (var line in TextLines.Read(file))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            count++;
            yield return Parse(file, lineNo, line);
        }
        if (count == 0) throw new PersonaException($"'{file}' holds no pairs.");
    }

    private static PreferencePair Parse(string file, int lineNo, string line)
    {
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
            return new PreferencePair(Opt("pair_id") ?? $"line{lineNo}", Req("persona_id"), Opt("prompt_id") ?? "", Opt("persona"),
                Req("instruction"), Req("data"), Req("original"), Opt("split") ?? "train");
        }
    }

    /// <summary>
    /// The train pairs of each asked persona (matched by persona id, else by identical persona text),
    /// in file order, as many as the bench can show: the first <paramref name="shots"/> that are not
    /// about the question being asked. Only that prefix is kept (the first pairs until
    /// <paramref name="shots"/> of them are about none of the persona's questions), so the bench at
    /// paper scale holds a few pairs per persona, not 317,200 with their texts. A kept pair keeps what an
    /// example shows (no persona text), and the generic answers it shares with other personas are one string each.
    /// </summary>
    /// <param name="pairs">Read once, and a second time only when some persona has no pair under its id (a pairs file
    /// built from another copy of the personas): then by text, for those personas only.</param>
    public static IReadOnlyDictionary<string, IReadOnlyList<PreferencePair>> TrainExamples(IEnumerable<PreferencePair> pairs,
        IReadOnlyList<(PersonaInput Persona, QuestionInput Question)> asked, int shots)
    {
        var personas = asked.Select(a => a.Persona).DistinctBy(p => p.Id).ToList();
        var questionsOf = asked.GroupBy(a => a.Persona.Id, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(a => a.Question).ToList(), StringComparer.Ordinal);
        var strings = new StringPool();
        var byId = new Dictionary<string, Prefix>(StringComparer.Ordinal);
        foreach (var pair in pairs)
            if (pair.Split == "train" && questionsOf.TryGetValue(pair.PersonaId, out var own)) Take(byId, pair.PersonaId, pair, own, shots, strings);
        var byText = new Dictionary<string, Prefix>(StringComparer.Ordinal);
        var unmatched = personas.Where(p => !byId.ContainsKey(p.Id)).Select(p => Normalise(p.Text)).ToHashSet(StringComparer.Ordinal);
        if (unmatched.Count > 0)
        {
            // Personas that share one text share their text matches, so those must cover all of their questions.
            var questionsOfText = personas.GroupBy(p => Normalise(p.Text), StringComparer.Ordinal).Where(g => unmatched.Contains(g.Key))
                .ToDictionary(g => g.Key, g => g.SelectMany(p => questionsOf[p.Id]).ToList(), StringComparer.Ordinal);
            string? lastRaw = null, lastText = null; // a persona's pairs sit together: its text is normalised once, not 200 times
            foreach (var pair in pairs)
            {
                if (pair.Split != "train" || pair.PersonaText is null) continue;
                if (pair.PersonaText != lastRaw) (lastRaw, lastText) = (pair.PersonaText, Normalise(pair.PersonaText));
                if (questionsOfText.TryGetValue(lastText!, out var qs)) Take(byText, lastText!, pair, qs, shots, strings);
            }
        }
        var result = new Dictionary<string, IReadOnlyList<PreferencePair>>(StringComparer.Ordinal);
        foreach (var p in personas)
        {
            var found = byId.GetValueOrDefault(p.Id) ?? byText.GetValueOrDefault(Normalise(p.Text));
            if (found is { Pairs.Count: > 0 }) result[p.Id] = found.Pairs;
        }
        return result;
    }

    private static void Take(Dictionary<string, Prefix> into, string key, PreferencePair pair, List<QuestionInput> questions, int shots, StringPool strings)
    {
        if (!into.TryGetValue(key, out var prefix)) into[key] = prefix = new Prefix();
        if (prefix.Pairs.Count >= shots + prefix.AboutAsked) return;
        prefix.Pairs.Add(pair with { PersonaText = null, PromptId = strings.Get(pair.PromptId), Instruction = strings.Get(pair.Instruction), Rejected = strings.Get(pair.Rejected), Split = strings.Get(pair.Split) });
        if (questions.Any(q => pair.PromptId == q.Id || pair.Instruction == q.Text)) prefix.AboutAsked++;
    }

    private sealed class Prefix
    {
        public List<PreferencePair> Pairs { get; } = [];
        public int AboutAsked { get; set; }
    }

    private static string Normalise(string text) => string.Join('\n', text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
