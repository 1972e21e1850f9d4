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
        for (var i = 0; i < 4; i++) claims.Add((await db.ClaimAsync(ProlificIds.None, default))!);
        Assert.Equal([0, 0, 1, 1], claims.Select(c => c.RaterIndex));
        Assert.Equal(2, claims.Take(2).Select(c => c.PersonaId).Distinct().Count());
        Assert.Equal(4, claims.Select(c => c.Token).Distinct().Count());
        Assert.All(claims, c => Assert.True(c.Token.Length >= 32));
        Assert.Null(await db.ClaimAsync(ProlificIds.None, default));
    }

    [Fact]
    public async Task An_abandoned_place_is_handed_on_after_the_timeout_and_the_old_link_stops_writing()
    {
        using var db = Create(personas: 1, raters: 1, timeoutMinutes: 30);
        var first = (await db.ClaimAsync(ProlificIds.None, default))!;
        await db.SubmitAsync(first.Token, 1, "left", "a justification", ProlificIds.None, default);
        _clock.Now += TimeSpan.FromMinutes(29);
        Assert.Null(await db.ClaimAsync(ProlificIds.None, default)); // still within the timeout
        _clock.Now += TimeSpan.FromMinutes(2);
        var second = (await db.ClaimAsync(ProlificIds.None, default))!;
        Assert.Equal(first.SlotId, second.SlotId);
        Assert.Empty(second.AnsweredPositions);
        Assert.Equal(SessionState.Expired, db.FindSession(first.Token)!.State);
        Assert.Equal(SubmitStatus.SessionExpired, (await db.SubmitAsync(first.Token, 2, "left", "late answer here", ProlificIds.None, default)).Status);
        await AnswerAll(db, second);
        Assert.Equal(SessionState.Completed, db.FindSession(second.Token)!.State);
        // A completed place is never handed on, however long ago it finished.
        _clock.Now += TimeSpan.FromDays(3);
        Assert.Null(await db.ClaimAsync(ProlificIds.None, default));
        // Only the completed session's answers count for the analysis.
        var ratings = StudyLabels.Human(db);
        Assert.All(ratings, r => Assert.Single(r.Choices));
    }

    [Fact]
    public async Task A_released_place_goes_to_the_next_rater_and_its_answers_leave_the_analysis()
    {
        using var db = Create(personas: 1, raters: 1);
        var first = (await db.ClaimAsync(ProlificIds.None, default))!;
        await AnswerAll(db, first);
        Assert.Null(await db.ClaimAsync(ProlificIds.None, default));
        Assert.True(await db.ReleaseAsync(first.SessionId, default));
        Assert.False(await db.ReleaseAsync(first.SessionId, default)); // once
        Assert.All(StudyLabels.Human(db), r => Assert.Empty(r.Choices));
        Assert.Equal(3, db.Answers().Count(a => a.SessionState == "released")); // kept for the record
        var second = (await db.ClaimAsync(ProlificIds.None, default))!;
        Assert.Equal(first.SlotId, second.SlotId);
        Assert.Equal(SessionState.Released, db.FindSession(first.Token)!.State);
        Assert.Equal(SubmitStatus.SessionExpired, (await db.SubmitAsync(first.Token, 1, "left", "after release", ProlificIds.None, default)).Status);
    }

    [Fact]
    public async Task Activity_keeps_a_place()
    {
        using var db = Create(personas: 1, raters: 1, timeoutMinutes: 30);
        var s = (await db.ClaimAsync(ProlificIds.None, default))!;
        _clock.Now += TimeSpan.FromMinutes(20);
        await db.TouchAsync(db.FindSession(s.Token)!, default);
        _clock.Now += TimeSpan.FromMinutes(20);
        Assert.Null(await db.ClaimAsync(ProlificIds.None, default));
    }

    [Fact]
    public async Task A_prolific_participant_gets_their_own_session_back()
    {
        using var db = Create();
        var ids = new ProlificIds("5f1a2b3c4d5e6f7a8b9c0d1e", "study", "s1");
        var a = (await db.ClaimAsync(ids, default))!;
        var b = (await db.ClaimAsync(ids with { SessionId = "s2" }, default))!;
        Assert.Equal(a.Token, b.Token);
        Assert.Single(db.SessionProgress());
    }

    [Fact]
    public async Task Concurrent_double_submits_store_one_answer_and_the_first_choice_wins()
    {
        using var db = Create(personas: 1, raters: 1);
        var s = (await db.ClaimAsync(ProlificIds.None, default))!;
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
        var r0 = (await db.ClaimAsync(ProlificIds.None, default))!;
        var r1 = (await db.ClaimAsync(ProlificIds.None, default))!;
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
        var s = (await db.ClaimAsync(ProlificIds.None, default))!;
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
