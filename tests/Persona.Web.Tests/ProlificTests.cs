using System.Net;
using System.Net.Http.Headers;
using Persona.Study;

namespace Persona.Web.Tests;

/// <summary>Prolific participants bound to their places, consent and screening, over HTTP against a real Kestrel.</summary>
public sealed class ProlificTests
{
    private static readonly StudyOptions Prolific = new()
    {
        Personas = 2, RatersPerPersona = 1, ItemsPerPersona = 2, MinJustificationChars = 10,
        ProlificRedirect = true, CompletionCode = "DONE42", ReturnCode = "RETURN7",
    };

    [Fact]
    public async Task The_entry_link_with_another_participants_pid_alone_does_not_open_their_place()
    {
        await using var study = await TestStudy.StartAsync(Prolific, TestStudy.MadeUpPairs(2, 2));
        var entry = StudyWebApp.EntryPath(study.Db);
        using var owner = new RaterClient(study.BaseUrl);
        var path = await owner.ClaimAsync(entry, "pidOwner01", "subm-owner");
        Assert.NotNull(path);

        // The PID travels in URLs and exports; a stranger who has it, with no or a made-up SESSION_ID, gets nothing.
        foreach (var session in new[] { "", "subm-guess" })
        {
            using var stranger = new RaterClient(study.BaseUrl);
            Assert.Null(await stranger.ClaimAsync(entry, "pidOwner01", session));
            Assert.Contains("already have a place", stranger.LastBody);
            Assert.DoesNotContain(owner.Token!, stranger.LastBody);
            Assert.DoesNotContain(study.Db.FindSession(owner.Token!)!.PersonaId, stranger.LastBody);
        }
        Assert.Single(study.Db.SessionProgress()); // and no second place for that PID
    }

    [Fact]
    public async Task A_returning_participant_with_their_own_proof_resumes_their_place()
    {
        await using var study = await TestStudy.StartAsync(Prolific, TestStudy.MadeUpPairs(2, 2));
        var entry = StudyWebApp.EntryPath(study.Db);
        using var browser = new RaterClient(study.BaseUrl);
        var path = await browser.ClaimAsync(entry, "pidBack0001", "subm-back");
        // The same browser (its cookie) through the public link, even without the SESSION_ID...
        Assert.Equal(path, await browser.ClaimAsync(entry, "pidBack0001", ""));
        // ...and another device opened from Prolific, i.e. with that submission's SESSION_ID.
        using var phone = new RaterClient(study.BaseUrl);
        Assert.Equal(path, await phone.ClaimAsync(entry, "pidBack0001", "subm-back"));
        Assert.Single(study.Db.SessionProgress());
    }

    [Theory]
    [InlineData(false, true, EndReasons.NoConsent)]
    [InlineData(true, false, EndReasons.ScreenedOut)]
    public async Task Declining_or_failing_the_screening_sends_the_participant_back_as_returned_and_reopens_the_place(bool consent, bool pass, string reason)
    {
        await using var study = await TestStudy.StartAsync(Prolific with { Personas = 1 }, TestStudy.MadeUpPairs(1, 2));
        var entry = StudyWebApp.EntryPath(study.Db);
        using var rater = new RaterClient(study.BaseUrl);
        var path = (await rater.ClaimAsync(entry, "pidNo000001"))!;
        var (_, consentPage, _) = await rater.GetAsync(path);
        Assert.Contains("Do you agree to take part?", consentPage);
        Assert.DoesNotContain("made-up persona", consentPage); // the persona is shown only after consent
        Assert.Equal(HttpStatusCode.Redirect, (await rater.GetAsync($"{path}/q/1")).Status); // no question before consent

        var (status, location) = await rater.ConsentAsync(consent, pass);
        Assert.Equal((HttpStatusCode.SeeOther, path), (status, location));
        var (_, returned, _) = await rater.GetAsync(path);
        Assert.Contains("content=\"3;url=https://app.prolific.com/submissions/complete?cc=RETURN7\"", returned);
        var session = study.Db.SessionProgress().Single();
        Assert.Equal(("released", reason), (session.State, session.EndReason));

        using var next = new RaterClient(study.BaseUrl);
        Assert.NotNull(await next.ClaimAsync(entry, "pidNext0001"));
        Assert.Equal(study.Db.FindSession(rater.Token!)!.SlotId, study.Db.FindSession(next.Token!)!.SlotId);
        // The same PID cannot come back for another try.
        using var retry = new RaterClient(study.BaseUrl);
        Assert.Null(await retry.ClaimAsync(entry, "pidNo000001", "subm-new"));
        Assert.Contains("already taken part", retry.LastBody);
    }

    [Fact]
    public async Task Exports_carry_the_pid_but_never_a_rater_link_or_the_entry_key()
    {
        await using var study = await TestStudy.StartAsync(Prolific, TestStudy.MadeUpPairs(2, 2));
        using var rater = new RaterClient(study.BaseUrl);
        await rater.ClaimAsync(StudyWebApp.EntryPath(study.Db), "pidExport01");
        var done = await rater.CompleteAsync(_ => 0);
        Assert.Contains("https://app.prolific.com/submissions/complete?cc=DONE42", done);
        using var http = new HttpClient { BaseAddress = new Uri(study.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestStudy.AdminToken);
        foreach (var export in new[] { "/admin/export/answers.csv", "/admin/export/answers.jsonl" })
        {
            var text = await http.GetStringAsync(export);
            Assert.Contains("pidExport01", text);
            Assert.DoesNotContain(rater.Token!, text);
            Assert.DoesNotContain(study.Db.EntryKey, text);
            Assert.DoesNotContain(TestStudy.AdminToken, text);
        }
    }

    [Fact]
    public async Task Income_is_shown_to_raters_as_money()
    {
        var pairs = TestStudy.MadeUpPairs(1, 2).Select(p => p with { PersonaText = "age: 41\nincome: 14400\nsex: Female\n" }).ToList();
        await using var study = await TestStudy.StartAsync(Prolific with { Personas = 1 }, pairs);
        using var rater = new RaterClient(study.BaseUrl);
        var path = (await rater.ClaimAsync(StudyWebApp.EntryPath(study.Db)))!;
        await rater.ConsentAsync();
        foreach (var page in new[] { path, $"{path}/q/1" })
        {
            var (_, html, _) = await rater.GetAsync(page);
            Assert.Contains("<dt>income</dt><dd>$14,400</dd>", html);
        }
    }
}

/// <summary>Quality over HTTP: a failed attention check ends the place for the next rater; flags on the dashboard.</summary>
public sealed class QualityPageTests
{
    [Fact]
    public async Task A_failed_attention_check_closes_the_place_returns_the_rater_and_the_dashboard_shows_it_with_the_flags()
    {
        await using var study = await TestStudy.StartAsync(new StudyOptions
        {
            Personas = 2, RatersPerPersona = 1, ItemsPerPersona = 5, AttentionChecks = 1, MinJustificationChars = 10,
            ProlificRedirect = true, CompletionCode = "DONE42", ReturnCode = "RETURN7",
        }, TestStudy.MadeUpPairs(2, 5));
        var entry = StudyWebApp.EntryPath(study.Db);

        // Rater 1 picks the distractor of the attention check (and answers the rest on the left with one pasted text).
        using var careless = new RaterClient(study.BaseUrl);
        var path = (await careless.ClaimAsync(entry, "pidCareless"))!;
        var session = study.Db.FindSession(careless.Token!)!;
        var attention = Enumerable.Range(1, session.ItemCount).Select(p => study.Db.FindItem(session.PersonaId, p)!).Single(i => i.Kind == ItemKind.Attention);
        var distractorLeft = !StudyPlan.PersonalisedLeft(attention.Flip, session.RaterIndex);
        var done = await Assert.ThrowsAsync<InvalidOperationException>(() => careless.CompleteAsync(p => p == attention.Position ? (distractorLeft ? 0 : 1) : 0));
        Assert.Contains("410", done.Message); // the next page after the failed check is the closed place
        var (_, closed, _) = await careless.GetAsync(path);
        Assert.Contains("attention check", closed);
        Assert.Contains("content=\"3;url=https://app.prolific.com/submissions/complete?cc=RETURN7\"", closed);
        Assert.Equal(EndReasons.AttentionFailed, study.Db.FindSession(careless.Token!)!.EndReason);

        // The next rater gets the reopened place (places go breadth-first, and it is the first again); they paste
        // one explanation on every question, always on the left.
        using var paster = new RaterClient(study.BaseUrl);
        await paster.ClaimAsync(entry, "pidPaster01");
        Assert.Equal(session.SlotId, study.Db.FindSession(paster.Token!)!.SlotId);
        await paster.CompleteAsync(p => p == attention.Position ? (distractorLeft ? 1 : 0) : 0); // passes the check

        using var admin = new HttpClient { BaseAddress = new Uri(study.BaseUrl) };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestStudy.AdminToken);
        var dashboard = await admin.GetStringAsync("/admin");
        Assert.Contains("<h2>Rater quality</h2>", dashboard);
        Assert.Contains("<td>attention-failed</td>", dashboard);
        Assert.Contains("same-justification", dashboard[dashboard.IndexOf("<h2>Raters</h2>", StringComparison.Ordinal)..]);
        Assert.Contains("<tr><th>excluded by a failed attention check (place reopened)</th><td>1</td></tr>", dashboard);
        Assert.Contains("without the 1 flagged rater(s)", dashboard);
    }
}
