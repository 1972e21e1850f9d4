using System.Globalization;
using System.Text;

namespace Persona.Study;

/// <summary>
/// Thresholds of the careless-rater flags. They flag for a researcher to look at; unlike a failed
/// attention check they exclude no one by themselves (the analysis is given with and without them).
/// </summary>
public sealed record QualityThresholds
{
    /// <summary>
    /// "one-side": every answered question on the same screen side (A or B), over at least this many
    /// questions. Sides are counterbalanced per item, so a rater who reads picks both sides; a random
    /// clicker stays on one side with probability 2^(1-n) (1 in 16 at 5).
    /// </summary>
    public int OneSideMinItems { get; init; } = 5;

    /// <summary>
    /// "too-fast": the rater's median time per question is below the median reading floor of the
    /// questions they answered. The floor of a question is its words (question and both answers) read
    /// at this many words per second: 5 is 300 words a minute, a fast skim, so the floor leaves out the
    /// time to write the explanation and a careful rater stays well above it.
    /// </summary>
    public double ReadingWordsPerSecond { get; init; } = 5.0;

    /// <summary>Time per question needs at least this many answers to have a median worth the name.</summary>
    public int TooFastMinItems { get; init; } = 3;

    /// <summary>
    /// "same-justification": two explanations are near-identical when the Jaccard similarity of their
    /// character trigrams (lower case, digits and punctuation dropped, spaces collapsed) is at least this.
    /// Rewording one sentence stays above 0.8; two explanations written for two questions fall far below.
    /// </summary>
    public double NearDuplicateSimilarity { get; init; } = 0.8;

    /// <summary>...and the flag fires when at least this share of the rater's explanations has a near-identical twin among their others.</summary>
    public double NearDuplicateShare { get; init; } = 0.5;

    public int NearDuplicateMinItems { get; init; } = 3;
}

/// <summary>The quality measures of one rater session and the flags they raise.</summary>
public sealed record RaterQuality(
    long SessionId, string PersonaId, int Rater, string State, string? EndReason, int Answered,
    double? MedianSecondsPerItem, double? MedianReadingFloorSeconds, string? OnlySide, double? NearDuplicateShare,
    IReadOnlyList<string> Flags);

/// <summary>Places that were handed on after the slot timeout: how many, and after how many answers their raters stopped.</summary>
public sealed record ExpiredSummary(int Sessions, int NeverConsented, IReadOnlyDictionary<string, int> StoppedAfterAnswers);

public sealed record QualityReport(
    QualityThresholds Thresholds, IReadOnlyList<RaterQuality> Raters, int Flagged, IReadOnlyDictionary<string, int> FlagCounts,
    int ExcludedAttention, int NoConsent, int ScreenedOut, int ReopenedByResearcher, ExpiredSummary Expired);

/// <summary>Careless-rater flags, exclusions and expired places of a study (the dashboard, the analysis, the exports).</summary>
public static class StudyQuality
{
    public const string OneSide = "one-side";
    public const string TooFast = "too-fast";
    public const string SameJustification = "same-justification";

    public static QualityReport Assess(StudyDatabase db, QualityThresholds? thresholds = null)
    {
        var t = thresholds ?? new QualityThresholds();
        var items = db.Items().ToDictionary(i => (i.PersonaId, i.Position));
        var answers = db.Answers().GroupBy(a => a.SessionId).ToDictionary(g => g.Key, g => g.ToList());
        var raters = new List<RaterQuality>();
        foreach (var s in db.SessionProgress())
        {
            var mine = answers.GetValueOrDefault(s.SessionId) ?? [];
            raters.Add(Rate(s, mine, items, t));
        }
        var expired = raters.Where(r => r.State == "expired").ToList();
        var sessions = db.SessionProgress().ToDictionary(s => s.SessionId);
        var stopped = expired.GroupBy(r => r.Answered).OrderBy(g => g.Key)
            .ToDictionary(g => g.Key.ToString(CultureInfo.InvariantCulture), g => g.Count(), StringComparer.Ordinal);
        var flagCounts = new[] { OneSide, TooFast, SameJustification }.ToDictionary(f => f, f => raters.Count(r => r.Flags.Contains(f)), StringComparer.Ordinal);
        return new QualityReport(t, raters, raters.Count(r => r.Flags.Count > 0), flagCounts,
            raters.Count(r => r.EndReason == EndReasons.AttentionFailed), raters.Count(r => r.EndReason == EndReasons.NoConsent),
            raters.Count(r => r.EndReason == EndReasons.ScreenedOut), raters.Count(r => r.EndReason == EndReasons.Researcher),
            new ExpiredSummary(expired.Count, expired.Count(r => sessions[r.SessionId].ConsentedMs is null), stopped));
    }

    private static RaterQuality Rate(SessionProgress s, List<AnswerRow> answers, IReadOnlyDictionary<(string, int), StudyItem> items, QualityThresholds t)
    {
        var flags = new List<string>();
        var pairs = answers.Where(a => a.ItemKind == "pair").ToList();

        string? onlySide = pairs.Count > 0 && pairs.All(a => a.Side == pairs[0].Side) ? pairs[0].Side : null;
        if (onlySide is not null && pairs.Count >= t.OneSideMinItems) flags.Add(OneSide);

        // Time per question: from consent (or the start, for sessions from before the consent step) to
        // the first answer, then between answers, in the order they were given.
        double? medianSeconds = null, medianFloor = null;
        var timed = answers.Select(a => (a, Ms: DateTimeOffset.Parse(a.SubmittedAt, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds())).OrderBy(x => x.Ms).ToList();
        if (timed.Count >= t.TooFastMinItems)
        {
            var previous = s.ConsentedMs ?? s.StartedMs;
            var gaps = new List<double>();
            var floors = new List<double>();
            foreach (var (a, ms) in timed)
            {
                gaps.Add((ms - previous) / 1000.0);
                previous = ms;
                if (items.TryGetValue((a.PersonaId, a.Position), out var item))
                    floors.Add(Words(item.Instruction, item.Generic, item.Personalised) / t.ReadingWordsPerSecond);
            }
            medianSeconds = Median(gaps);
            medianFloor = floors.Count > 0 ? Median(floors) : null;
            if (medianFloor is { } floor && medianSeconds < floor) flags.Add(TooFast);
        }

        double? share = null;
        if (answers.Count >= t.NearDuplicateMinItems)
        {
            var grams = answers.Select(a => Trigrams(a.Justification)).ToList();
            var twins = 0;
            for (var i = 0; i < grams.Count; i++)
                for (var j = 0; j < grams.Count; j++)
                    if (i != j && Jaccard(grams[i], grams[j]) >= t.NearDuplicateSimilarity) { twins++; break; }
            share = (double)twins / grams.Count;
            if (share >= t.NearDuplicateShare) flags.Add(SameJustification);
        }
        return new RaterQuality(s.SessionId, s.PersonaId, s.RaterIndex + 1, s.State, s.EndReason, s.Answered,
            medianSeconds is { } m ? Math.Round(m, 2) : null, medianFloor is { } f ? Math.Round(f, 2) : null, onlySide, share is { } x ? Math.Round(x, 3) : null, flags);
    }

    private static int Words(params string[] texts) =>
        texts.Sum(text => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length);

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>Character trigrams of the text with case, digits and punctuation dropped: "question 3" and "question 7" pasted twice are one text.</summary>
    internal static HashSet<string> Trigrams(string text)
    {
        var sb = new StringBuilder(text.Length);
        var space = true;
        foreach (var ch in text.ToLowerInvariant())
        {
            if (char.IsLetter(ch)) { sb.Append(ch); space = false; }
            else if (!space && char.IsWhiteSpace(ch)) { sb.Append(' '); space = true; }
        }
        var norm = sb.ToString().Trim();
        var set = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i + 3 <= norm.Length; i++) set.Add(norm.Substring(i, 3));
        if (set.Count == 0 && norm.Length > 0) set.Add(norm);
        return set;
    }

    internal static double Jaccard(HashSet<string> a, HashSet<string> b)
    {
        if (a.Count == 0 && b.Count == 0) return 1;
        var inter = a.Count(b.Contains);
        return (double)inter / (a.Count + b.Count - inter);
    }

    /// <summary>Session id to its flags, ";"-joined (sessions without flags left out), for the exports.</summary>
    public static IReadOnlyDictionary<long, string> FlagsBySession(QualityReport q) =>
        q.Raters.Where(r => r.Flags.Count > 0).ToDictionary(r => r.SessionId, r => string.Join(';', r.Flags));
}
