using Persona.Study;

namespace Persona.Core.Tests.Study;

/// <summary>The careless-rater flags on planted raters whose timing, sides and explanations are known.</summary>
public sealed class StudyQualityTests : IDisposable
{
    private readonly string _dir = StudyFixtures.TempDir();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.Zero));

    private static readonly string[] Explanations =
    [
        "She keeps a tight budget, so the cheaper option with clear steps suits her better.",
        "As a retired nurse he trusts advice that mentions his doctor before anything else.",
        "Someone who works nights would want the short version he can read on a break.",
        "Her faith matters to her; the answer that respects it without preaching fits.",
        "He distrusts big institutions, so the answer relying on local people wins.",
        "Living in a small town, she needs options that do not assume a car-free city.",
    ];

    /// <summary>One persona, four raters, six questions of about 130 words each (a reading floor near 26 s).</summary>
    private StudyDatabase Create()
    {
        var words = string.Join(' ', Enumerable.Repeat("word", 60));
        var pairs = Enumerable.Range(1, 6).Select(q => new PreferencePair($"p01-q{q:00}", "p01", $"q{q:00}", "age: 40\nsex: Female\n",
            $"Question {q} about a choice in life?", $"Generic {q} {words}", $"Personal {q} {words}", null, "test", "test-seen")).ToList();
        return StudyDatabase.Create(_dir, StudyPlanner.Plan(pairs, null,
            new StudyOptions { Personas = 1, RatersPerPersona = 4, ItemsPerPersona = 6, MinJustificationChars = 5 }), _clock);
    }

    private async Task<RaterSession> Rate(StudyDatabase db, TimeSpan perItem, Func<StudyItem, RaterSession, string> side, Func<int, string> why)
    {
        var s = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        for (var pos = 1; pos <= s.ItemCount; pos++)
        {
            _clock.Now += perItem;
            var item = db.FindItem(s.PersonaId, pos)!;
            Assert.Equal(SubmitStatus.Stored, (await db.SubmitAsync(s.Token, pos, side(item, s), why(pos), ProlificIds.None, default)).Status);
        }
        return s;
    }

    private static string Personalised(StudyItem item, RaterSession s) => StudyPlan.PersonalisedLeft(item.Flip, s.RaterIndex) ? "left" : "right";

    [Fact]
    public async Task Each_flag_fires_on_its_planted_careless_rater_and_none_on_the_careful_one()
    {
        using var db = Create();
        var slow = TimeSpan.FromSeconds(95);
        var careful = await Rate(db, slow, Personalised, pos => Explanations[pos - 1]);
        var oneSide = await Rate(db, slow, (_, _) => "left", pos => Explanations[pos - 1]);
        var fast = await Rate(db, TimeSpan.FromSeconds(4), Personalised, pos => Explanations[pos - 1]);
        var paste = await Rate(db, slow, Personalised, pos => $"This person would like answer number {pos}, it fits them best.");

        // Precondition: the careful rater's choices landed on both sides (the sides are counterbalanced per item).
        Assert.Equal(2, db.Answers().Where(a => a.SessionId == careful.SessionId).Select(a => a.Side).Distinct().Count());

        var q = StudyQuality.Assess(db);
        IReadOnlyList<string> FlagsOf(RaterSession s) => q.Raters.Single(r => r.SessionId == s.SessionId).Flags;
        Assert.Empty(FlagsOf(careful));
        Assert.Equal([StudyQuality.OneSide], FlagsOf(oneSide));
        Assert.Equal([StudyQuality.TooFast], FlagsOf(fast));
        Assert.Equal([StudyQuality.SameJustification], FlagsOf(paste));
        Assert.Equal(3, q.Flagged);
        var fastRow = q.Raters.Single(r => r.SessionId == fast.SessionId);
        Assert.Equal(4.0, fastRow.MedianSecondsPerItem);
        Assert.InRange(fastRow.MedianReadingFloorSeconds!.Value, 20, 30);

        // The analysis reports both ways: with every complete rater, and without the flagged three.
        var r = StudyAnalysis.Analyze(db, new AnalysisOptions { Resamples = 100 });
        Assert.Equal(6, r.FullyRatedItems);
        Assert.Equal([oneSide.SessionId, fast.SessionId, paste.SessionId], r.WithoutFlagged!.ExcludedSessions!.Order());
        Assert.Equal(0, r.WithoutFlagged.FullyRatedItems); // one rater left of four: no question is rated by all
        Assert.Contains("\"without_flagged\"", StudyReport.ToJson(r));

        // The export names each session's flags.
        var flags = StudyExport.Rows(db).GroupBy(a => a.SessionId).ToDictionary(g => g.Key, g => g.Select(a => a.QualityFlags).Distinct().Single());
        Assert.Null(flags[careful.SessionId]);
        Assert.Equal(StudyQuality.TooFast, flags[fast.SessionId]);
    }

    [Fact]
    public async Task Expired_places_are_counted_with_where_their_raters_stopped()
    {
        using var db = Create();
        var s = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        await db.SubmitAsync(s.Token, 1, "left", Explanations[0], ProlificIds.None, default);
        await db.SubmitAsync(s.Token, 2, "left", Explanations[1], ProlificIds.None, default);
        var never = (await db.ClaimAsync(ProlificIds.None, default))!; // took a place, never consented
        _clock.Now += TimeSpan.FromHours(2);
        for (var i = 0; i < 4; i++) Assert.NotNull(await db.ClaimAsync(ProlificIds.None, default)); // hands the two stale places on
        var q = StudyQuality.Assess(db);
        Assert.Equal(2, q.Expired.Sessions);
        Assert.Equal(1, q.Expired.NeverConsented);
        Assert.Equal(new Dictionary<string, int> { ["0"] = 1, ["2"] = 1 }, q.Expired.StoppedAfterAnswers);
        Assert.Equal(SessionState.Expired, db.FindSession(never.Token)!.State);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
