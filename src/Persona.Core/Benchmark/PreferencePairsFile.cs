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
    public static IEnumerable<PreferencePair> Stream(string path) => Lines(File(path)).Select(l => l.Pair);

    private static string File(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!System.IO.File.Exists(file))
            throw new PersonaException(Directory.Exists(path) ? $"'{path}' has no {FileName}; point --pairs at a preference-pairs folder or its pairs.jsonl." : $"Pairs file '{path}' does not exist.");
        return file;
    }

    private static IEnumerable<(PreferencePair Pair, Place At)> Lines(string file)
    {
        var count = 0;
        foreach (var (lineNo, offset, line) in TextLines.Located(file))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            count++;
            yield return (Parse(file, lineNo, line), new Place(lineNo, offset));
        }
        if (count == 0) throw new PersonaException($"'{file}' holds no pairs.");
    }

    /// <summary>Where a pair's line is in its file.</summary>
    private readonly record struct Place(int Line, long Offset);

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
    /// <paramref name="shots"/> of them are about none of the persona's questions), and only where its
    /// lines are: a persona's pairs are read from the file when its items are made, so the bench at
    /// 100,000 personas holds a few offsets per persona, not half a million answers. A read pair shows
    /// what an example shows (no persona text).
    /// </summary>
    /// <param name="path">A pairs folder or its pairs.jsonl. Read once, and a second time only when some persona has no pair
    /// under its id (a pairs file built from another copy of the personas): then by text, for those personas only.</param>
    public static IReadOnlyDictionary<string, IReadOnlyList<PreferencePair>> TrainExamples(string path,
        IReadOnlyList<(PersonaInput Persona, QuestionInput Question)> asked, int shots) =>
        TrainExamples(path, [.. asked.GroupBy(a => a.Persona.Id, StringComparer.Ordinal).Select(g => (g.Key, (IReadOnlyList<QuestionInput>)[.. g.Select(a => a.Question)]))],
            asked.Select(a => (a.Persona.Id, a.Persona.Text)), shots);

    /// <param name="asked">Each asked persona's id and questions, once each.</param>
    /// <param name="texts">The personas' ids and texts, in any order, repeats allowed: enumerated only when some persona has
    /// no pair under its id, so a caller streaming its personas reads them again only then.</param>
    public static IReadOnlyDictionary<string, IReadOnlyList<PreferencePair>> TrainExamples(string path,
        IReadOnlyList<(string Id, IReadOnlyList<QuestionInput> Questions)> asked, IEnumerable<(string Id, string Text)> texts, int shots)
    {
        var file = File(path);
        var questionsOf = asked.ToDictionary(a => a.Id, a => a.Questions, StringComparer.Ordinal);
        var byId = new Dictionary<string, Prefix>(StringComparer.Ordinal);
        foreach (var (pair, at) in Lines(file))
            if (pair.Split == "train" && questionsOf.TryGetValue(pair.PersonaId, out var own)) Take(byId, pair.PersonaId, pair, at, own, shots);
        var byText = new Dictionary<string, Prefix>(StringComparer.Ordinal);
        var textOf = new Dictionary<string, string>(StringComparer.Ordinal);
        if (asked.Any(a => !byId.ContainsKey(a.Id)))
        {
            // Personas that share one text share their text matches, so those must cover all of their questions.
            foreach (var (id, text) in texts) if (questionsOf.ContainsKey(id)) textOf.TryAdd(id, Normalise(text));
            var unmatched = asked.Where(a => !byId.ContainsKey(a.Id)).Select(a => textOf[a.Id]).ToHashSet(StringComparer.Ordinal);
            var questionsOfText = asked.GroupBy(a => textOf[a.Id], StringComparer.Ordinal).Where(g => unmatched.Contains(g.Key))
                .ToDictionary(g => g.Key, g => g.SelectMany(a => a.Questions).ToList(), StringComparer.Ordinal);
            string? lastRaw = null, lastText = null; // a persona's pairs sit together: its text is normalised once, not 200 times
            foreach (var (pair, at) in Lines(file))
            {
                if (pair.Split != "train" || pair.PersonaText is null) continue;
                if (pair.PersonaText != lastRaw) (lastRaw, lastText) = (pair.PersonaText, Normalise(pair.PersonaText));
                if (questionsOfText.TryGetValue(lastText!, out var qs)) Take(byText, lastText!, pair, at, qs, shots);
            }
        }
        var places = new Dictionary<string, Place[]>(StringComparer.Ordinal);
        foreach (var (id, _) in asked)
            if ((byId.GetValueOrDefault(id) ?? byText.GetValueOrDefault(textOf[id])) is { Places.Count: > 0 } found) places[id] = [.. found.Places];
        return new ReadOnDemand<Place[], IReadOnlyList<PreferencePair>>(places,
            at => [.. at.Select(p => Parse(file, p.Line, TextLines.ReadAt(file, p.Offset, p.Line)) with { PersonaText = null })], "train pairs for persona");
    }

    private static void Take(Dictionary<string, Prefix> into, string key, PreferencePair pair, Place at, IReadOnlyList<QuestionInput> questions, int shots)
    {
        if (!into.TryGetValue(key, out var prefix)) into[key] = prefix = new Prefix();
        if (prefix.Places.Count >= shots + prefix.AboutAsked) return;
        prefix.Places.Add(at);
        if (questions.Any(q => pair.PromptId == q.Id || pair.Instruction == q.Text)) prefix.AboutAsked++;
    }

    private sealed class Prefix
    {
        public List<Place> Places { get; } = [];
        public int AboutAsked { get; set; }
    }

    private static string Normalise(string text) => string.Join('\n', text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
