using System.Text.Json;
using Persona.Personas;

namespace Persona.Study;

/// <summary>One preference pair as the study reads it: the generic answer (rejected) and the personalised one (chosen).</summary>
public sealed record PreferencePair(
    string PairId, string PersonaId, string PromptId, string? PersonaText, string Instruction,
    string Original, string Data, string? Critique, string? QuestionType, string? Split);

/// <summary>
/// A study persona: the text raters and the judge read, and its attributes (the simulator's hint,
/// the analysis's groups). Typed from the population when one is given; from a pairs file alone it
/// is the release's text column, parsed once at that boundary (null when it is not 'key: value' lines).
/// </summary>
public sealed record StudyPersona(string Text, IReadOnlyDictionary<string, string>? Attributes)
{
    /// <summary>A persona that came in only as the original release's `persona` text (pairs.jsonl without a population).</summary>
    public static StudyPersona FromReleaseText(string text, string where)
    {
        // Foreign format: the PERSONA release's `persona` column ('key: value' lines), parsed once here.
        try { return new StudyPersona(text, PersonaInputs.ParseText(text, where)); }
        catch (PersonaException) { return new StudyPersona(text, null); }
    }
}

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
        var counts = new ScanCounts();
        var pairs = Scan(dirOrFile, counts, checkRepeats: true).ToList();
        failedSkipped = counts.FailedSkipped;
        return pairs;
    }

    /// <summary>
    /// Plans a study straight from a pairs file in two passes: the first checks every line and counts each persona's
    /// distinct questions in the asked splits, which is all choosing the personas needs; the second reads only the chosen
    /// personas' pairs. The plan is the one <see cref="StudyPlanner.Plan"/> makes from the whole file, while a run of
    /// 100,000 personas holds a count per persona, not a million pairs, to show 200 of them.
    /// </summary>
    public static (StudyPlan Plan, int PairsRead, int FailedLeftOut) Plan(string dirOrFile, IReadOnlyDictionary<string, StudyPersona>? personaTexts, StudyOptions options)
    {
        if (!Rereadable(dirOrFile))
        {
            // A pipe (`--pairs <(zcat pairs.jsonl.gz)`) can be read once: plan from the whole list.
            var all = ReadPairs(dirOrFile, out var failedOnce);
            return (StudyPlanner.Plan(all, personaTexts, options), all.Count, failedOnce);
        }
        options.Validate();
        var splits = StudyPlanner.AskedSplits(options);
        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var tallies = new Dictionary<string, PersonaTally>(StringComparer.Ordinal);
        var questions = new HashSet<UInt128>();
        var counts = new ScanCounts();
        foreach (var p in Scan(dirOrFile, counts, checkRepeats: true))
        {
            if (p.Split is not null) present.Add(p.Split);
            if (!StudyPlanner.InSplits(splits, p)) continue;
            ref var t = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(tallies, p.PersonaId, out _);
            // Length-prefixed, so no two (persona, question) pairs of ids spell the same key.
            var fresh = questions.Add(TextHash.Of($"{p.PersonaId.Length}:{p.PersonaId}{p.PromptId}"));
            t = new PersonaTally(t.Questions + (fresh ? 1 : 0), t.PairText || !string.IsNullOrWhiteSpace(p.PersonaText));
        }
        questions = null;
        StudyPlanner.CheckSplits(splits, present);
        var chosen = StudyPlanner.Choose(tallies, personaTexts, options);
        var wanted = chosen.ToHashSet(StringComparer.Ordinal);
        var pairsOf = wanted.ToDictionary(id => id, _ => new List<PreferencePair>(), StringComparer.Ordinal);
        foreach (var p in Scan(dirOrFile, new ScanCounts(), checkRepeats: false))
            if (StudyPlanner.InSplits(splits, p) && pairsOf.TryGetValue(p.PersonaId, out var list)) list.Add(p);
        foreach (var id in chosen)
            if (pairsOf[id].Select(p => p.PromptId).Distinct(StringComparer.Ordinal).Count() != tallies[id].Questions)
                throw new PersonaException($"The pairs of persona '{id}' in '{dirOrFile}' changed while the study was planned: the pairs file is being written. Run study create again once it is written.");
        var plan = StudyPlanner.Draw(chosen, pairsOf.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<PreferencePair>)kv.Value, StringComparer.Ordinal), personaTexts, options);
        return (plan, counts.Read, counts.FailedSkipped);
    }

    private static bool Rereadable(string dirOrFile)
    {
        var path = Directory.Exists(dirOrFile) ? Path.Combine(dirOrFile, PairsFile) : dirOrFile;
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
            return s.CanSeek;
        }
        catch (IOException) { return true; } // ReadPairs names the problem
        catch (UnauthorizedAccessException) { return true; }
    }

    private sealed class ScanCounts
    {
        public int Read, FailedSkipped;
    }

    /// <summary>
    /// Every usable pair of the file, in order, each line checked; rows that `persona pairs build` marked as failed are counted
    /// in <paramref name="counts"/> and left out. With <paramref name="checkRepeats"/>, a repeated pair id is an error (checked by
    /// a hash, so the ids are not held).
    /// </summary>
    private static IEnumerable<PreferencePair> Scan(string dirOrFile, ScanCounts counts, bool checkRepeats)
    {
        var path = Directory.Exists(dirOrFile) ? Path.Combine(dirOrFile, PairsFile) : dirOrFile;
        if (!File.Exists(path))
            throw new PersonaException($"No preference pairs at '{path}': --pairs expects a folder holding {PairsFile} (one JSON object per line).");
        var ids = checkRepeats ? new HashSet<UInt128>() : null;
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var where = $"'{path}', line {lineNo}";
            PreferencePair pair;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException ex) { throw new PersonaException($"{where}: not valid JSON ({ex.Message})."); }
            using (doc)
            {
                var o = doc.RootElement;
                if (o.ValueKind != JsonValueKind.Object) throw new PersonaException($"{where}: expected a JSON object.");
                if (Optional(o, "status", where) is { } status && status != "ok")
                {
                    counts.FailedSkipped++;
                    continue;
                }
                pair = new PreferencePair(
                    Required(o, "pair_id", where), Required(o, "persona_id", where), Required(o, "prompt_id", where),
                    Optional(o, "persona", where), Required(o, "instruction", where), Required(o, "original", where),
                    Required(o, "data", where), Optional(o, "critique", where), Optional(o, "question type", where), Optional(o, "split", where));
            }
            if (ids is not null && !ids.Add(TextHash.Of(pair.PairId))) throw new PersonaException($"{where}: pair_id '{pair.PairId}' appears twice.");
            counts.Read++;
            yield return pair;
        }
        if (counts.Read == 0) throw new PersonaException($"'{path}' holds no preference pairs.");
    }

    /// <summary>
    /// persona id -> the persona as LMs and raters see it (<see cref="PersonaRenderer"/>) with its typed attributes. Every line
    /// is read and checked now; a persona is rendered when it is looked up, from its line, so a study of 50 personas drawn from
    /// 100,000 holds 100,000 offsets, not 100,000 texts.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, StudyPersona>> ReadPersonasAsync(string path, CancellationToken ct)
    {
        if (!File.Exists(path)) throw new PersonaException($"Persona file '{path}' does not exist.");
        await Task.Yield();
        var places = new Dictionary<string, (int Line, long Offset)>(StringComparer.Ordinal);
        foreach (var (lineNo, offset, line) in TextLines.Located(path))
        {
            ct.ThrowIfCancellationRequested();
            if (string.IsNullOrWhiteSpace(line)) continue;
            places[PersonaJson.Parse(System.Text.Encoding.UTF8.GetBytes(line), Where(path, lineNo)).Id] = (lineNo, offset);
        }
        return new ReadOnDemand<(int Line, long Offset), StudyPersona>(places, at =>
        {
            var p = PersonaJson.Parse(System.Text.Encoding.UTF8.GetBytes(TextLines.ReadAt(path, at.Offset, at.Line)), Where(path, at.Line));
            return new StudyPersona(PersonaRenderer.Render(p), PersonaRenderer.Attributes(p));
        }, $"persona in '{path}' with id");
    }

    private static string Where(string path, int lineNo) => $"'{path}', line {lineNo}";

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
