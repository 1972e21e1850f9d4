using System.Net;
using System.Net.Http.Headers;
using Persona.Study;

namespace Persona.Web.Tests;

/// <summary>Anti-forgery, capability links, the admin token, headers, error pages and rate limits, over HTTP.</summary>
public sealed class SecurityTests
{
    private static readonly StudyOptions OnePerPersona = new() { Personas = 4, RatersPerPersona = 1, ItemsPerPersona = 3, MinJustificationChars = 10 };
    private const string Why = "Because this person values it.";

    [Fact]
    public async Task A_post_without_the_anti_forgery_token_is_rejected_and_stores_nothing()
    {
        await using var study = await TestStudy.StartAsync(OnePerPersona, TestStudy.MadeUpPairs(4, 3));
        using var rater = new RaterClient(study.BaseUrl);
        var entry = StudyWebApp.EntryPath(study.Db);

        var (noToken, body, _) = await rater.PostAsync(entry, [new("PROLIFIC_PID", "x")]);
        Assert.Equal(HttpStatusCode.BadRequest, noToken);
        Assert.DoesNotContain("Exception", body);
        Assert.DoesNotContain(" at ", body);
        Assert.Empty(study.Db.SessionProgress());

        var path = await rater.ClaimAsync(entry);
        Assert.NotNull(path);
        var answer = new List<KeyValuePair<string, string>> { new("choice", "left"), new("justification", Why) };
        var (missing, _, _) = await rater.PostAsync($"{path}/q/1", answer);
        Assert.Equal(HttpStatusCode.BadRequest, missing);

        // A valid token taken from someone else's page does not match this browser's cookie.
        using var other = new RaterClient(study.BaseUrl);
        var (_, otherPage, _) = await other.GetAsync(entry);
        var (forged, _, _) = await rater.PostAsync($"{path}/q/1", [.. answer, new("__af", RaterClient.AntiforgeryToken(otherPage)!)]);
        Assert.Equal(HttpStatusCode.BadRequest, forged);
        Assert.Empty(study.Db.Answers());
    }

    [Fact]
    public async Task A_raters_link_reaches_only_that_raters_items()
    {
        await using var study = await TestStudy.StartAsync(OnePerPersona, TestStudy.MadeUpPairs(4, 3));
        var entry = StudyWebApp.EntryPath(study.Db);
        using var a = new RaterClient(study.BaseUrl);
        using var b = new RaterClient(study.BaseUrl);
        var pathA = (await a.ClaimAsync(entry))!;
        var pathB = (await b.ClaimAsync(entry))!;
        await a.ConsentAsync();
        await b.ConsentAsync();
        var personaA = study.Db.FindSession(a.Token!)!.PersonaId;
        var personaB = study.Db.FindSession(b.Token!)!.PersonaId;
        Assert.NotEqual(personaA, personaB);

        // Every question page under A's link shows A's persona's answers and never B's.
        for (var q = 1; q <= 3; q++)
        {
            var (status, page, _) = await a.GetAsync($"{pathA}/q/{q}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains($"for persona {int.Parse(personaA[2..], System.Globalization.CultureInfo.InvariantCulture)}.", page);
            Assert.DoesNotContain($"for persona {int.Parse(personaB[2..], System.Globalization.CultureInfo.InvariantCulture)}.", page);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await a.GetAsync($"{pathA}/q/4")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await a.GetAsync($"{pathA}/q/0")).Status);

        // A token one character off, or a made-up one, reaches nothing.
        var tampered = a.Token![..^1] + (a.Token[^1] == 'A' ? 'B' : 'A');
        Assert.Equal(HttpStatusCode.NotFound, (await a.GetAsync($"/r/{tampered}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await a.GetAsync("/r/1/q/1")).Status);
        var (_, formPage, _) = await a.GetAsync($"{pathA}/q/1");
        var form = new List<KeyValuePair<string, string>> { new("__af", RaterClient.AntiforgeryToken(formPage)!), new("choice", "left"), new("justification", Why) };
        Assert.Equal(HttpStatusCode.NotFound, (await a.PostAsync($"/r/{tampered}/q/1", form)).Status);

        // A's answer lands in A's session only.
        Assert.Equal(HttpStatusCode.SeeOther, (await a.PostAsync($"{pathA}/q/1", form)).Status);
        var rows = study.Db.Answers().ToList();
        Assert.Single(rows);
        Assert.Equal(personaA, rows[0].PersonaId);
        Assert.Empty(study.Db.FindSession(b.Token!)!.AnsweredPositions);
    }

    [Fact]
    public async Task The_dashboard_and_exports_are_refused_without_the_admin_token()
    {
        await using var study = await TestStudy.StartAsync(OnePerPersona, TestStudy.MadeUpPairs(4, 3));
        using var rater = new RaterClient(study.BaseUrl);
        await rater.ClaimAsync(StudyWebApp.EntryPath(study.Db));
        await rater.CompleteAsync(_ => 0);
        using var http = new HttpClient { BaseAddress = new Uri(study.BaseUrl) };
        foreach (var path in new[] { "/admin", "/admin/export/answers.csv", "/admin/export/answers.jsonl", "/admin/export/study.sqlite" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(path)).StatusCode);
            using var wrong = new HttpRequestMessage(HttpMethod.Get, path);
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestStudy.AdminToken + "x");
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        }
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestStudy.AdminToken);
        var csv = await http.GetStringAsync("/admin/export/answers.csv");
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(StudyExport.CsvHeader, lines[0]);
        Assert.Equal(4, lines.Length); // header + 3 answers
        var jsonl = (await http.GetStringAsync("/admin/export/answers.jsonl")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, jsonl.Length);
        Assert.All(jsonl, l => Assert.Contains("\"justification\":\"Simulated rater explanation", l));
        var db = await http.GetByteArrayAsync("/admin/export/study.sqlite");
        Assert.Equal("SQLite format 3\0", System.Text.Encoding.ASCII.GetString(db, 0, 16));
    }

    [Fact]
    public async Task The_researcher_reopens_a_place_from_the_dashboard_with_a_form_that_needs_its_token()
    {
        await using var study = await TestStudy.StartAsync(new StudyOptions { Personas = 1, RatersPerPersona = 1, ItemsPerPersona = 2, MinJustificationChars = 5 },
            TestStudy.MadeUpPairs(1, 2));
        using var rater = new RaterClient(study.BaseUrl);
        var path = (await rater.ClaimAsync(StudyWebApp.EntryPath(study.Db)))!;
        await rater.CompleteAsync(_ => 0);
        var session = study.Db.FindSession(rater.Token!)!;

        using var admin = new RaterClient(study.BaseUrl); // a browser-like client: cookies and form tokens
        var (status, _, _) = await admin.GetAsync($"/admin/login?token={TestStudy.AdminToken}");
        Assert.Equal(HttpStatusCode.Redirect, status);
        var (_, dashboard, _) = await admin.GetAsync("/admin");
        Assert.Contains("Reopen place", dashboard);
        var release = $"/admin/sessions/{session.SessionId}/release";
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync(release, [])).Status);
        using (var outsider = new RaterClient(study.BaseUrl))
            Assert.Equal(HttpStatusCode.Unauthorized, (await outsider.PostAsync(release, [new("__af", RaterClient.AntiforgeryToken(dashboard)!)])).Status);
        var (released, _, location) = await admin.PostAsync(release, [new("__af", RaterClient.AntiforgeryToken(dashboard)!)]);
        Assert.Equal((HttpStatusCode.SeeOther, "/admin"), (released, location));

        Assert.Equal(HttpStatusCode.Gone, (await rater.GetAsync(path)).Status);
        using var next = new RaterClient(study.BaseUrl);
        Assert.NotNull(await next.ClaimAsync(StudyWebApp.EntryPath(study.Db)));
        Assert.Equal(session.SlotId, study.Db.FindSession(next.Token!)!.SlotId);
    }

    [Fact]
    public async Task Every_page_carries_the_security_headers_and_errors_show_no_internals()
    {
        await using var study = await TestStudy.StartAsync(OnePerPersona, TestStudy.MadeUpPairs(4, 3));
        using var http = new HttpClient { BaseAddress = new Uri(study.BaseUrl) };
        foreach (var path in new[] { StudyWebApp.EntryPath(study.Db), "/r/no-such-token-here/q/1", "/admin", "/nothing" })
        {
            using var r = await http.GetAsync(path);
            var csp = r.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains("default-src 'none'", csp);
            Assert.DoesNotContain("unsafe-inline", csp);
            Assert.Contains("frame-ancestors 'none'", csp);
            Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", r.Headers.GetValues("X-Frame-Options").Single());
            Assert.False(r.Headers.Contains("Server"));
            var body = await r.Content.ReadAsStringAsync();
            Assert.DoesNotContain("Exception", body);
            Assert.DoesNotContain("<script", body);
        }
    }

    [Fact]
    public async Task Behind_a_local_proxy_the_entry_limit_counts_each_forwarded_address()
    {
        await using var study = await TestStudy.StartAsync(OnePerPersona, TestStudy.MadeUpPairs(4, 3), w => w with { EntryPermitsPerMinute = 2 });
        using var http = new HttpClient { BaseAddress = new Uri(study.BaseUrl) };
        async Task<HttpStatusCode> Entry(string forwardedFor)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, StudyWebApp.EntryPath(study.Db));
            request.Headers.Add("X-Forwarded-For", forwardedFor);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            [await Entry("203.0.113.7"), await Entry("203.0.113.7"), await Entry("203.0.113.7")]);
        Assert.Equal(HttpStatusCode.OK, await Entry("198.51.100.9")); // another rater behind the same proxy
    }

    [Fact]
    public async Task Rater_endpoints_are_rate_limited_per_link()
    {
        await using var study = await TestStudy.StartAsync(OnePerPersona, TestStudy.MadeUpPairs(4, 3),
            w => w with { RaterBurst = 3, RaterPermitsPer10Seconds = 1 });
        using var rater = new RaterClient(study.BaseUrl);
        var path = (await rater.ClaimAsync(StudyWebApp.EntryPath(study.Db)))!;
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++) statuses.Add((await rater.GetAsync(path)).Status);
        Assert.Equal(HttpStatusCode.OK, statuses[0]);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        // Another rater's link has its own budget.
        using var other = new RaterClient(study.BaseUrl);
        var otherPath = (await other.ClaimAsync(StudyWebApp.EntryPath(study.Db)))!;
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync(otherPath)).Status);
    }
}

/// <summary>A server-side failure shows the generic error page, never the exception.</summary>
public sealed class ErrorPageTests
{
    [Fact]
    public async Task A_failure_inside_a_page_shows_no_stack_trace_even_in_development()
    {
        var previous = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT");
        Environment.SetEnvironmentVariable("ASPNETCORE_ENVIRONMENT", "Development");
        try
        {
            await using var study = await TestStudy.StartAsync(new StudyOptions { Personas = 2, RatersPerPersona = 1, ItemsPerPersona = 2, MinJustificationChars = 5 },
                TestStudy.MadeUpPairs(2, 2));
            using var rater = new RaterClient(study.BaseUrl);
            var path = (await rater.ClaimAsync(StudyWebApp.EntryPath(study.Db)))!;
            // Break the database under the running server: the next question page fails inside SQLite.
            using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={StudyDatabase.PathIn(study.Directory)};Pooling=False"))
            {
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandText = "ALTER TABLE items RENAME TO items_gone";
                cmd.ExecuteNonQuery();
            }
            var (status, body, _) = await rater.GetAsync($"{path}/q/1");
            Assert.Equal(System.Net.HttpStatusCode.InternalServerError, status);
            Assert.Contains("Something went wrong", body);
            Assert.DoesNotContain("Sqlite", body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("items", body);
            Assert.DoesNotContain(".cs:line", body);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ASPNETCORE_ENVIRONMENT", previous);
        }
    }
}
