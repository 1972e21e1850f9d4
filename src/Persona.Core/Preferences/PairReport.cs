using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Persona.Personas;
using Persona.Statistics;

namespace Persona.Preferences;

/// <summary>A share with its Wilson interval (null when nothing was counted).</summary>
public sealed record Share(int Count, int N, double? Value, double? Lower, double? Upper)
{
    public static Share Of(int count, int n)
    {
        if (n == 0) return new Share(count, n, null, null, null);
        var ci = Proportion.Wilson(count, n);
        return new Share(count, n, Math.Round((double)count / n, 6), Math.Round(ci.Lower, 6), Math.Round(ci.Upper, 6));
    }
}

/// <summary>Verification figures of one group of pairs.</summary>
public sealed record VerificationFigures(int Verified, Share Agreement, Share Disagreement, Share FlipRate, Share ChosenFirstOrder, Share ChosenSecondOrder, int Unreadable);

public sealed record GroupVerification(string Dimension, string Group, int Pairs, VerificationFigures Figures);

/// <summary>pairs-report.json: the schedule, the check flags, and verification overall and per group.</summary>
public sealed record PairReportData(
    string Format,
    bool Simulated,
    long Pairs,
    long Succeeded,
    long Failed,
    int Personas,
    int Prompts,
    IReadOnlyDictionary<string, long> BySplit,
    IReadOnlyDictionary<string, long> ByQuestionType,
    IReadOnlyDictionary<string, long> Flags,
    long Flagged,
    IReadOnlyDictionary<string, long> AttemptsHistogram,
    double? MeanOriginalTokens,
    double? MeanRevisionTokens,
    IReadOnlyList<string> AnswerModels,
    IReadOnlyList<string> CriticModels,
    IReadOnlyList<string> JudgeModels,
    IReadOnlyList<string> TemplateVersions,
    VerificationFigures Verification,
    double OriginalAgreement,
    string OriginalAgreementNote,
    IReadOnlyList<GroupVerification> ByGroup,
    int MinGroupSize);

/// <summary>
/// Computes the report from pair rows alone (so a merge of shards recomputes exactly what one run
/// would write). Groups: every persona attribute with at most <see cref="MaxLevels"/> values (age
/// and income in bands), plus split and prompt topic; groups under the minimum size are listed
/// with their counts but no interval claims beyond Wilson's.
/// </summary>
public sealed class PairReport
{
    public const string Format = "persona-pairs-report/1";
    public const int MaxLevels = 40;
    private const double Original = 0.96;

    private sealed class Counter
    {
        public int Pairs, Verified, Agree, Disagree, Flip, FirstChosen, SecondChosen, Unreadable;

        public void Add(PairRecord r)
        {
            Pairs++;
            switch (r.Verification)
            {
                case "agree": Verified++; Agree++; break;
                case "disagree": Verified++; Disagree++; break;
                case "flip": Verified++; Flip++; break;
                case null when r.Ok: Unreadable++; break;
            }
            if (r.Verification is "agree" or "disagree" or "flip")
            {
                if (r.VerifyChosenFirst == "chosen") FirstChosen++;
                if (r.VerifyChosenSecond == "chosen") SecondChosen++;
            }
        }

        public VerificationFigures Figures() => new(Verified, Share.Of(Agree, Verified), Share.Of(Disagree, Verified), Share.Of(Flip, Verified),
            Share.Of(FirstChosen, Verified), Share.Of(SecondChosen, Verified), Unreadable);
    }

    private long _pairs, _ok, _failed, _flagged, _origTokens, _revTokens;
    private readonly HashSet<string> _personas = new(StringComparer.Ordinal), _prompts = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, long> _split = new(StringComparer.Ordinal), _qtype = new(StringComparer.Ordinal),
        _flags = new(StringComparer.Ordinal) { ["empty"] = 0, ["not_shorter"] = 0, ["quotes_attribute"] = 0, ["truncated"] = 0 },
        _attempts = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _answer = new(StringComparer.Ordinal), _critic = new(StringComparer.Ordinal), _judge = new(StringComparer.Ordinal), _versions = new(StringComparer.Ordinal);
    private readonly Counter _all = new();
    private readonly Dictionary<(string Dimension, string Group), Counter> _groups = new();
    private readonly Dictionary<string, HashSet<string>> _levels = new(StringComparer.Ordinal);
    // Only the last persona's parsed attributes: rows come grouped by persona (schedule order, shards
    // concatenated), so one entry hits all but once per persona. A cache of every persona (up to 100 k)
    // grew with the personas done (gcdump at 60 k pairs of a 10,000-persona build: 15,000 attribute
    // maps live instead of the plan's 10,000).
    // Keyed by the text the groups are read from, so rows out of order only cost a parse again.
    private string? _parsedText;
    private IReadOnlyDictionary<string, string>? _parsedAttributes;
    private bool _simulated;

    /// <param name="persona">The row's typed persona attributes when the caller has the population (a build); null when
    /// the row comes from a pairs.jsonl alone (merge, report from file), whose persona is only the release's text column.</param>
    public void Add(PairRecord r, IReadOnlyDictionary<string, string>? persona = null)
    {
        _pairs++;
        if (r.Ok) _ok++; else _failed++;
        _simulated |= r.Simulated;
        _personas.Add(r.PersonaId);
        _prompts.Add(r.PromptId);
        Inc(_split, r.Split);
        Inc(_qtype, r.QuestionType);
        if (r.Ok)
        {
            if (r.FlagEmpty) Inc(_flags, "empty");
            if (r.FlagNotShorter) Inc(_flags, "not_shorter");
            if (r.FlagQuotesAttribute is not null) Inc(_flags, "quotes_attribute");
            if (r.FlagTruncated) Inc(_flags, "truncated");
            if (r.Flagged) _flagged++;
            Inc(_attempts, r.Attempts.ToString(CultureInfo.InvariantCulture));
            _origTokens += r.OriginalTokens;
            _revTokens += r.RevisionTokens;
            if (r.AnswerModel is { } a) _answer.Add(a);
            if (r.CriticModel is { } c) _critic.Add(c);
        }
        if (r.JudgeModel is { } j) _judge.Add(j);
        _versions.Add(r.TemplateVersion);
        _all.Add(r);
        foreach (var (dimension, group) in Groups(r, persona))
        {
            if (!_levels.TryGetValue(dimension, out var levels)) _levels[dimension] = levels = new HashSet<string>(StringComparer.Ordinal);
            if (levels.Count > MaxLevels && !levels.Contains(group)) continue; // too many values: dropped below, stop counting
            levels.Add(group);
            if (!_groups.TryGetValue((dimension, group), out var counter)) _groups[(dimension, group)] = counter = new Counter();
            counter.Add(r);
        }
    }

    private IEnumerable<(string, string)> Groups(PairRecord r, IReadOnlyDictionary<string, string>? persona)
    {
        yield return ("split", r.Split);
        yield return ("prompt topic", r.PromptTopic?.ToString(CultureInfo.InvariantCulture) ?? "(none)");
        if (persona is null && (_parsedAttributes is null || !string.Equals(_parsedText, r.Persona, StringComparison.Ordinal)))
        {
            // Foreign format: a pairs.jsonl row read without its population carries the persona only as the release's `persona` text.
            _parsedAttributes = PersonaInputs.ParseText(r.Persona, $"pair {r.PairId}");
            _parsedText = r.Persona;
        }
        var attrs = persona ?? _parsedAttributes!;
        foreach (var (key, value) in attrs)
        {
            switch (key)
            {
                case "age":
                    yield return ("age band", int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var age)
                        ? age switch { < 18 => "0-17", < 30 => "18-29", < 45 => "30-44", < 65 => "45-64", _ => "65+" } : value);
                    break;
                case "income":
                    yield return ("income band", double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var inc)
                        ? inc switch { <= 0 => "none or loss", < 25_000 => "under $25k", < 75_000 => "$25k-75k", _ => "$75k+" } : value);
                    break;
                default:
                    if (value.Length <= 80) yield return (key, value);
                    break;
            }
        }
    }

    private static void Inc(SortedDictionary<string, long> d, string k) => d[k] = d.GetValueOrDefault(k) + 1;

    public PairReportData Build(int minGroupSize = 30)
    {
        var groups = _groups
            .Where(kv => _levels[kv.Key.Dimension].Count <= MaxLevels)
            .OrderBy(kv => kv.Key.Dimension, StringComparer.Ordinal).ThenBy(kv => kv.Key.Group, StringComparer.Ordinal)
            .Select(kv => new GroupVerification(kv.Key.Dimension, kv.Key.Group, kv.Value.Pairs, kv.Value.Figures()))
            .ToArray();
        return new PairReportData(Format, _simulated, _pairs, _ok, _failed, _personas.Count, _prompts.Count, _split, _qtype, _flags, _flagged, _attempts,
            _ok == 0 ? null : Math.Round((double)_origTokens / _ok, 3), _ok == 0 ? null : Math.Round((double)_revTokens / _ok, 3),
            _answer.ToArray(), _critic.ToArray(), _judge.ToArray(), _versions.ToArray(), _all.Figures(), Original,
            "The original study: the role-played persona agreed with the assumed preference 96% of the time, judged in one order only. Here 'agreement' needs the chosen answer in both orders.",
            groups, minGroupSize);
    }

    public static PairReportData FromFile(string pairsJsonl)
    {
        var report = new PairReport();
        foreach (var r in PairFileWriter.Read(pairsJsonl)) report.Add(r);
        return report.Build();
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
