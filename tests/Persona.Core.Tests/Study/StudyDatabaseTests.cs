using Persona.Study;

namespace Persona.Core.Tests.Study;

public sealed class StudyDatabaseTests : IDisposable
{
    private readonly string _dir = StudyFixtures.TempDir();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero));

    private StudyDatabase Create(int personas = 2, int raters = 2, int items = 3, int timeoutMinutes = 30) =>
        StudyDatabase.Create(_dir, StudyPlanner.Plan(StudyFixtures.Pairs(personas, items), null,
            new StudyOptions { Personas = personas, RatersPerPersona = raters, ItemsPerPersona = items, SlotTimeoutMinutes = timeoutMinutes }), _clock);

    private static async Task AnswerAll(StudyDatabase db, RaterSession s)
    {
        for (var p = 1; p <= s.ItemCount; p++)
            await db.SubmitAsync(s.Token, p, "left", "a justification", ProlificIds.None, default);
    }

    [Fact]
    public async Task Places_are_given_breadth_first_and_the_study_fills_up()
    {
        using var db = Create();
        var claims = new List<RaterSession>();
        for (var i = 0; i < 4; i++) claims.Add((await db.ClaimConsentedAsync(ProlificIds.None))!);
        Assert.Equal([0, 0, 1, 1], claims.Select(c => c.RaterIndex));
        Assert.Equal(2, claims.Take(2).Select(c => c.PersonaId).Distinct().Count());
        Assert.Equal(4, claims.Select(c => c.Token).Distinct().Count());
        Assert.All(claims, c => Assert.True(c.Token.Length >= 32));
        Assert.Null(await db.ClaimConsentedAsync(ProlificIds.None));
    }

    [Fact]
    public async Task An_abandoned_place_is_handed_on_after_the_timeout_and_the_old_link_stops_writing()
    {
        using var db = Create(personas: 1, raters: 1, timeoutMinutes: 30);
        var first = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        await db.SubmitAsync(first.Token, 1, "left", "a justification", ProlificIds.None, default);
        _clock.Now += TimeSpan.FromMinutes(29);
        Assert.Null(await db.ClaimConsentedAsync(ProlificIds.None)); // still within the timeout
        _clock.Now += TimeSpan.FromMinutes(2);
        var second = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        Assert.Equal(first.SlotId, second.SlotId);
        Assert.Empty(second.AnsweredPositions);
        Assert.Equal(SessionState.Expired, db.FindSession(first.Token)!.State);
        Assert.Equal(SubmitStatus.SessionExpired, (await db.SubmitAsync(first.Token, 2, "left", "late answer here", ProlificIds.None, default)).Status);
        await AnswerAll(db, second);
        Assert.Equal(SessionState.Completed, db.FindSession(second.Token)!.State);
        // A completed place is never handed on, however long ago it finished.
        _clock.Now += TimeSpan.FromDays(3);
        Assert.Null(await db.ClaimConsentedAsync(ProlificIds.None));
        // Only the completed session's answers count for the analysis.
        var ratings = StudyLabels.Human(db);
        Assert.All(ratings, r => Assert.Single(r.Choices));
    }

    [Fact]
    public async Task A_released_place_goes_to_the_next_rater_and_its_answers_leave_the_analysis()
    {
        using var db = Create(personas: 1, raters: 1);
        var first = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        await AnswerAll(db, first);
        Assert.Null(await db.ClaimConsentedAsync(ProlificIds.None));
        Assert.True(await db.ReleaseAsync(first.SessionId, default));
        Assert.False(await db.ReleaseAsync(first.SessionId, default)); // once
        Assert.All(StudyLabels.Human(db), r => Assert.Empty(r.Choices));
        Assert.Equal(3, db.Answers().Count(a => a.SessionState == "released")); // kept for the record
        var second = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        Assert.Equal(first.SlotId, second.SlotId);
        Assert.Equal(SessionState.Released, db.FindSession(first.Token)!.State);
        Assert.Equal(SubmitStatus.SessionExpired, (await db.SubmitAsync(first.Token, 1, "left", "after release", ProlificIds.None, default)).Status);
    }

    [Fact]
    public async Task Activity_keeps_a_place()
    {
        using var db = Create(personas: 1, raters: 1, timeoutMinutes: 30);
        var s = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        _clock.Now += TimeSpan.FromMinutes(20);
        await db.TouchAsync(db.FindSession(s.Token)!, default);
        _clock.Now += TimeSpan.FromMinutes(20);
        Assert.Null(await db.ClaimConsentedAsync(ProlificIds.None));
    }

    [Fact]
    public async Task A_prolific_pid_alone_never_reopens_its_place_and_never_gets_a_second_one()
    {
        using var db = Create();
        var ids = new ProlificIds("5f1a2b3c4d5e6f7a8b9c0d1e", "study", "s1");
        var first = await db.ClaimAsync(ids, null, default);
        Assert.Equal(ClaimStatus.New, first.Status);
        // Someone who knows the PID (it travels in URLs and exports) but not the submission's SESSION_ID or the link.
        foreach (var attempt in new[] { ids with { SessionId = null }, ids with { SessionId = "s2" }, ids with { StudyId = null, SessionId = null } })
        {
            var other = await db.ClaimAsync(attempt, null, default);
            Assert.Equal(ClaimStatus.PidHasPlace, other.Status);
            Assert.Null(other.Session);
        }
        Assert.Equal(ClaimStatus.PidHasPlace, (await db.ClaimAsync(ids with { SessionId = "s2" }, "not-the-token-of-that-place", default)).Status);
        Assert.Single(db.SessionProgress());
    }

    [Fact]
    public async Task A_returning_prolific_participant_resumes_with_their_session_id_or_their_link()
    {
        using var db = Create();
        var ids = new ProlificIds("5f1a2b3c4d5e6f7a8b9c0d1e", "study", "s1");
        var first = (await db.ClaimAsync(ids, null, default)).Session!;
        var bySession = await db.ClaimAsync(ids, null, default);
        Assert.Equal((ClaimStatus.Resumed, first.Token), (bySession.Status, bySession.Session!.Token));
        var byCookie = await db.ClaimAsync(ids with { SessionId = null }, first.Token, default);
        Assert.Equal((ClaimStatus.Resumed, first.Token), (byCookie.Status, byCookie.Session!.Token));
        // A rater without Prolific ids who comes back through the entry link in the same browser.
        var plain = (await db.ClaimAsync(ProlificIds.None, null, default)).Session!;
        Assert.Equal(plain.Token, (await db.ClaimAsync(ProlificIds.None, plain.Token, default)).Session!.Token);
        Assert.Equal(2, db.SessionProgress().Count);
    }

    [Fact]
    public async Task Declining_or_failing_the_screening_closes_the_place_for_the_next_rater_and_the_pid_cannot_retry()
    {
        using var db = Create(personas: 1, raters: 1);
        var ids = new ProlificIds("pid-declines", "study", "s1");
        var s = (await db.ClaimAsync(ids, null, default)).Session!;
        Assert.Equal(SubmitStatus.NotConsented, (await db.SubmitAsync(s.Token, 1, "left", "before consenting", ProlificIds.None, default)).Status);
        var after = (await db.RecordConsentAsync(s.Token, consents: false, passedScreening: false, default))!;
        Assert.Equal((SessionState.Released, EndReasons.NoConsent), (after.State, after.EndReason));
        Assert.Equal(ClaimStatus.PidDone, (await db.ClaimAsync(ids with { SessionId = "s9" }, null, default)).Status);

        var next = (await db.ClaimAsync(new ProlificIds("pid-screened", "study", "s2"), null, default)).Session!;
        Assert.Equal(s.SlotId, next.SlotId);
        var screened = (await db.RecordConsentAsync(next.Token, consents: true, passedScreening: false, default))!;
        Assert.Equal((SessionState.Released, EndReasons.ScreenedOut), (screened.State, screened.EndReason));
        var third = (await db.ClaimAsync(new ProlificIds("pid-ok", "study", "s3"), null, default)).Session!;
        Assert.Equal(s.SlotId, third.SlotId);
        Assert.True((await db.RecordConsentAsync(third.Token, true, true, default))!.Consented);
    }

    [Fact]
    public async Task A_pid_whose_place_expired_may_take_a_fresh_one()
    {
        using var db = Create(personas: 1, raters: 1, timeoutMinutes: 30);
        var ids = new ProlificIds("pid-left", "study", "s1");
        var first = (await db.ClaimAsync(ids, null, default)).Session!;
        _clock.Now += TimeSpan.FromMinutes(31);
        var other = (await db.ClaimAsync(new ProlificIds("pid-other", "study", "s2"), null, default)).Session!; // takes the expired place
        Assert.Equal(first.SlotId, other.SlotId);
        Assert.Equal(ClaimStatus.Full, (await db.ClaimAsync(ids with { SessionId = "s3" }, null, default)).Status);
    }

    [Fact]
    public async Task Concurrent_double_submits_store_one_answer_and_the_first_choice_wins()
    {
        using var db = Create(personas: 1, raters: 1);
        var s = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Task.Run(() => db.SubmitAsync(s.Token, 1, i % 2 == 0 ? "left" : "right", $"justification {i}", ProlificIds.None, default))));
        Assert.Equal(1, results.Count(r => r.Status == SubmitStatus.Stored));
        Assert.Equal(7, results.Count(r => r.Status == SubmitStatus.AlreadyStored));
        var row = Assert.Single(db.Answers());
        Assert.Equal(1, row.Position);
        Assert.Equal(SubmitStatus.BadItem, (await db.SubmitAsync(s.Token, 4, "left", "out of range", ProlificIds.None, default)).Status);
    }

    [Fact]
    public async Task The_chosen_side_is_stored_as_the_answer_it_showed()
    {
        using var db = Create(personas: 1, raters: 2, items: 3);
        var r0 = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        var r1 = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        await AnswerAll(db, r0);
        await AnswerAll(db, r1);
        // Both raters clicked "left" everywhere; the two see opposite sides, so their choices are opposite too.
        var rows = db.Answers().ToList();
        foreach (var position in Enumerable.Range(1, 3))
        {
            var pair = rows.Where(r => r.Position == position).ToList();
            Assert.Equal(2, pair.Count);
            Assert.NotEqual(pair[0].Choice, pair[1].Choice);
            Assert.All(pair, r => Assert.Equal(r.LeftAnswer, r.Choice));
        }
    }

    [Fact]
    public void An_existing_study_is_never_replaced()
    {
        using var db = Create();
        var ex = Assert.Throws<PersonaException>(() => Create());
        Assert.Contains("never replaced", ex.Message);
        Assert.Throws<PersonaException>(() => StudyDatabase.Open(Path.Combine(_dir, "missing")));
    }

    [Fact]
    public async Task A_backup_is_a_complete_readable_study()
    {
        using var db = Create(personas: 1, raters: 1);
        var s = (await db.ClaimConsentedAsync(ProlificIds.None))!;
        await AnswerAll(db, s);
        var copyDir = Path.Combine(_dir, "copy");
        Directory.CreateDirectory(copyDir);
        db.BackupTo(StudyDatabase.PathIn(copyDir));
        using var copy = StudyDatabase.Open(copyDir);
        Assert.Equal(3, copy.Answers().Count());
        Assert.Equal(db.CompletionCode, copy.CompletionCode);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
