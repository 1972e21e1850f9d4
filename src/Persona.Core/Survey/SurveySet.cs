using System.Text.Json;

namespace Persona.Survey;

/// <summary>
/// One question as answered by one subgroup: the OpinionQA / SubPOP row shape. <see cref="Ordinal"/>
/// and <see cref="Responses"/> have one entry per answer option that carries a share (an options
/// list may end with "Refused", which has no share: refusals are <see cref="RefusalRate"/>, apart).
/// An ordinal of -1 marks an option outside the scale ("Not sure", "Lived in institution").
/// </summary>
public sealed record SurveyItem(
    string Qkey,
    string Attribute,
    string Group,
    string Question,
    IReadOnlyList<string> Options,
    IReadOnlyList<double> Ordinal,
    IReadOnlyList<double> Responses,
    double RefusalRate);

/// <summary>A subgroup of the survey: an attribute (e.g. POLPARTY) and one of its values (e.g. Democrat).</summary>
public readonly record struct SurveyGroup(string Attribute, string Group)
{
    public override string ToString() => $"{Attribute}={Group}";
}

/// <summary>
/// A survey set: every (question, group) row of one file. Each question must carry the same options
/// and ordinals for every group, so that groups, baselines and predictions are compared on one scale.
/// </summary>
public sealed class SurveySet
{
    /// <summary>The bundled GSS 2022 set (SubPOP-Eval: 133 questions x 22 groups); see data/survey/README.md.</summary>
    public static string BundledPath => BundledData.Path("survey/subpop_eval.jsonl");

    /// <summary>How results name the bundled set: where the tool is installed is no part of a result.</summary>
    public const string BundledSource = "bundled:survey/subpop_eval.jsonl";

    private readonly Dictionary<(string Qkey, SurveyGroup Group), SurveyItem> _items;

    public string Source { get; }
    public IReadOnlyList<SurveyItem> Items { get; }
    /// <summary>Question keys in file order.</summary>
    public IReadOnlyList<string> Questions { get; }
    /// <summary>Groups in file order.</summary>
    public IReadOnlyList<SurveyGroup> Groups { get; }

    public SurveySet(string source, IReadOnlyList<SurveyItem> items)
    {
        Source = source;
        Items = items;
        _items = new Dictionary<(string, SurveyGroup), SurveyItem>();
        var questions = new List<string>();
        var groups = new List<SurveyGroup>();
        var firstOf = new Dictionary<string, SurveyItem>(StringComparer.Ordinal);
        var seenGroups = new HashSet<SurveyGroup>();
        foreach (var item in items)
        {
            var g = new SurveyGroup(item.Attribute, item.Group);
            if (!_items.TryAdd((item.Qkey, g), item))
                throw new PersonaException($"{source}: question '{item.Qkey}' is given twice for group {g}; keep one row per question and group.");
            if (firstOf.TryGetValue(item.Qkey, out var first))
            {
                if (!first.Ordinal.SequenceEqual(item.Ordinal))
                    throw new PersonaException($"{source}: question '{item.Qkey}' has ordinals [{string.Join(", ", item.Ordinal)}] for group {g} but [{string.Join(", ", first.Ordinal)}] for {first.Attribute}={first.Group}; one question has one scale.");
            }
            else
            {
                firstOf[item.Qkey] = item;
                questions.Add(item.Qkey);
            }
            if (seenGroups.Add(g)) groups.Add(g);
        }
        Questions = questions;
        Groups = groups;
    }

    public bool TryGet(string qkey, SurveyGroup group, out SurveyItem item) => _items.TryGetValue((qkey, group), out item!);

    public SurveyItem Get(string qkey, SurveyGroup group) =>
        _items.TryGetValue((qkey, group), out var item) ? item : throw new KeyNotFoundException($"No row for question '{qkey}' and group {group}.");

    /// <summary>The rows of one question, one per group that answered it, in file order.</summary>
    public IEnumerable<SurveyItem> RowsOf(string qkey) => Items.Where(i => i.Qkey == qkey);

    public bool HasQuestion(string qkey) => Questions.Contains(qkey, StringComparer.Ordinal);
}

/// <summary>Reads a survey set from JSON Lines, refusing a malformed row with its file and line.</summary>
public static class SurveySetFile
{
    /// <summary>Shares may be off by rounding; a row whose shares sum further than this from 1 is refused.</summary>
    public const double SumTolerance = 0.01;

    public static SurveySet Read(string path)
    {
        InputFile.NotAFolder(path, "--survey");
        if (!File.Exists(path)) throw new PersonaException($"--survey '{path}' does not exist.");
        var items = new List<SurveyItem>();
        foreach (var (number, text) in TextLines.Numbered(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            items.Add(Parse(text, $"{path}:{number}"));
        }
        if (items.Count == 0) throw new PersonaException($"{path}: no survey rows; expected JSON Lines with qkey, attribute, group, question, options, ordinal, responses, refusal_rate.");
        var bundled = string.Equals(Path.GetFullPath(path), Path.GetFullPath(SurveySet.BundledPath), StringComparison.Ordinal);
        return new SurveySet(bundled ? SurveySet.BundledSource : path, items);
    }

    /// <summary>One JSON object of a JSON Lines file, or an error naming the line.</summary>
    internal static JsonDocument ObjectLine(string line, string where)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException ex) { throw new PersonaException($"{where}: not valid JSON ({JsonErrorText.Describe(ex)})."); }
        if (doc.RootElement.ValueKind == JsonValueKind.Object) return doc;
        doc.Dispose();
        throw new PersonaException($"{where}: expected a JSON object per line.");
    }

    private static SurveyItem Parse(string line, string where)
    {
        using (var doc = ObjectLine(line, where))
        {
            var root = doc.RootElement;
            var qkey = Text(root, "qkey", where);
            var attribute = Text(root, "attribute", where);
            var group = Text(root, "group", where);
            var question = Text(root, "question", where);
            var options = Array(root, "options", where, e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Bad(where, "options", "text"));
            var ordinal = Array(root, "ordinal", where, e => Number(e, where, "ordinal"));
            var responses = Array(root, "responses", where, e => Number(e, where, "responses"));
            var refusal = root.TryGetProperty("refusal_rate", out var r) && r.ValueKind != JsonValueKind.Null ? Number(r, where, "refusal_rate") : 0;

            if (ordinal.Count == 0) throw new PersonaException($"{where}: 'ordinal' is empty; give one value per answer share (-1 for an option outside the scale).");
            if (responses.Count != ordinal.Count)
                throw new PersonaException($"{where}: {responses.Count} responses but {ordinal.Count} ordinals; give one share per ordinal.");
            if (options.Count < ordinal.Count)
                throw new PersonaException($"{where}: {options.Count} options but {ordinal.Count} ordinals; every share needs its option text.");
            if (ordinal.Any(o => o != -1 && o < 0))
                throw new PersonaException($"{where}: an ordinal is negative; scale values are 0 or more, -1 marks an option outside the scale.");
            if (responses.Any(s => s < 0)) throw new PersonaException($"{where}: a response share is negative.");
            var sum = responses.Sum();
            if (Math.Abs(sum - 1) > SumTolerance)
                throw new PersonaException($"{where}: response shares sum to {sum:0.####}, not 1 (refusals go in refusal_rate, apart).");
            if (refusal is < 0 or > 1) throw new PersonaException($"{where}: refusal_rate {refusal} is not a share between 0 and 1.");
            return new SurveyItem(qkey, attribute, group, question, options, ordinal, responses, refusal);
        }
    }

    internal static string Text(JsonElement root, string name, string where)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(e.GetString()))
            throw new PersonaException($"{where}: '{name}' is missing or not text.");
        return e.GetString()!;
    }

    private static IReadOnlyList<T> Array<T>(JsonElement root, string name, string where, Func<JsonElement, T> each)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind != JsonValueKind.Array)
            throw new PersonaException($"{where}: '{name}' is missing or not an array.");
        var list = new List<T>(e.GetArrayLength());
        foreach (var x in e.EnumerateArray()) list.Add(each(x));
        return list;
    }

    internal static double Number(JsonElement e, string where, string name)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out var v) || !double.IsFinite(v)) throw Bad(where, name, "a number");
        return v;
    }

    private static PersonaException Bad(string where, string name, string what) => new($"{where}: '{name}' holds a value that is not {what}.");
}
