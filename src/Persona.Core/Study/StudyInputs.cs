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
    public static IReadOnlyList<PreferencePair> ReadPairs(string dirOrFile, out int failedSkipped) => ReadPairs(dirOrFile, null, out failedSkipped, null, null, out _);

    /// <summary>
    /// Plans a study straight from a pairs file in two passes: the planner sees every pair's ids and
    /// split (each persona text held once), and then only the planned pairs' texts are read. The
    /// plan is the one <see cref="StudyPlanner.Plan"/> makes from the whole file, without holding
    /// 317,200 pairs with their answers (about 2 GB at paper scale) to use 200 of them.
    /// </summary>
    public static (StudyPlan Plan, int PairsRead, int FailedLeftOut) Plan(string dirOrFile, IReadOnlyDictionary<string, StudyPersona>? personaTexts, StudyOptions options)
    {
        if (!Rereadable(dirOrFile))
        {
            // A pipe (`--pairs <(zcat pairs.jsonl.gz)`) can be read once: plan from the whole list.
            var all = ReadPairs(dirOrFile, null, out var failedOnce, null, null, out _);
            return (StudyPlanner.Plan(all, personaTexts, options), all.Count, failedOnce);
        }
        // The light pass keeps only the pairs of the study's splits (half of a run's), and the splits it saw for the planner's check.
        var splits = options.Splits is { Count: > 0 } sp ? new HashSet<string>(sp, StringComparer.OrdinalIgnoreCase) : null;
        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        IReadOnlyList<PreferencePair>? light = ReadPairs(dirOrFile, new HashSet<string>(StringComparer.Ordinal), out var failed,
            p => splits is null || (p.Split is not null && splits.Contains(p.Split)), present, out var read);
        var plan = StudyPlanner.Plan(light, personaTexts, options, present);
        light = null; // the light list is not needed while the texts are read
        var wanted = plan.Personas.SelectMany(p => p.Items).Select(i => i.PairId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var full = ReadPairs(dirOrFile, wanted, out _, p => wanted.Contains(p.PairId), null, out _).ToDictionary(p => p.PairId, StringComparer.Ordinal);
        if (wanted.FirstOrDefault(id => !full.ContainsKey(id)) is { } missing)
            throw new PersonaException($"Pair '{missing}' was in '{dirOrFile}' when the study was planned and is gone now: the pairs file changed while it was read. Run study create again once it is written.");
        return (plan with
        {
            Personas = plan.Personas.Select(p => p with
            {
                Items = p.Items.Select(i => i.PairId is { } id && full.TryGetValue(id, out var pair)
                    ? i with { Instruction = pair.Instruction, Generic = pair.Original, Personalised = pair.Data } : i).ToList(),
            }).ToList(),
        }, read, failed);
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

    /// <summary>
    /// Every pair, with its texts only when <paramref name="textsOnlyFor"/> is null or names it (the rest carry empty texts and
    /// shared ids and persona texts), and only those <paramref name="keep"/> takes when given (every line is checked, and its
    /// split goes to <paramref name="splitsSeen"/>). Pair ids are checked for repeats by a hash, so a pair left out holds nothing.
    /// </summary>
    private static IReadOnlyList<PreferencePair> ReadPairs(string dirOrFile, HashSet<string>? textsOnlyFor, out int failedSkipped,
        Func<PreferencePair, bool>? keep, HashSet<string>? splitsSeen, out int read)
    {
        failedSkipped = 0;
        read = 0;
        var strings = new StringPool();
        var personaTexts = new Dictionary<string, string>(StringComparer.Ordinal);
        var path = Directory.Exists(dirOrFile) ? Path.Combine(dirOrFile, PairsFile) : dirOrFile;
        if (!File.Exists(path))
            throw new PersonaException($"No preference pairs at '{path}': --pairs expects a folder holding {PairsFile} (one JSON object per line).");
        var pairs = new List<PreferencePair>();
        var ids = new HashSet<UInt128>();
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
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
                if (!ids.Add(TextHash.Of(pair.PairId))) throw new PersonaException($"{where}: pair_id '{pair.PairId}' appears twice.");
                read++;
                if (pair.Split is not null) splitsSeen?.Add(pair.Split);
                if (keep is not null && !keep(pair)) continue;
                if (textsOnlyFor is not null && !textsOnlyFor.Contains(pair.PairId))
                {
                    // Checked like any line, then kept light: the planner needs ids, split and whether a persona text exists.
                    var text = pair.PersonaText is null ? null : personaTexts.TryGetValue(pair.PersonaText, out var t) ? t : personaTexts[pair.PersonaText] = pair.PersonaText;
                    pair = pair with
                    {
                        PersonaId = strings.Get(pair.PersonaId), PromptId = strings.Get(pair.PromptId), Split = strings.Get(pair.Split), QuestionType = strings.Get(pair.QuestionType),
                        PersonaText = text, Instruction = "", Original = "", Data = "", Critique = null,
                    };
                }
                pairs.Add(pair);
            }
        }
        if (read == 0) throw new PersonaException($"'{path}' holds no preference pairs.");
        return pairs;
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
