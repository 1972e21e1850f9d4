using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Persona.Study;
using static Persona.Web.Html;

namespace Persona.Web;

/// <summary>
/// The researcher's dashboard and exports. Every page needs the admin token, either as
/// <c>Authorization: Bearer</c> (scripts, curl) or as the HttpOnly cookie set by /admin/login.
/// </summary>
internal static class AdminPages
{
    private const string CookieName = "persona_admin";

    public static void Map(WebApplication app)
    {
        app.MapGet("/admin/login", Login).RequireRateLimiting(StudyWebApp.EntryPolicy); // slows guessing of a weak token
        var admin = app.MapGroup("/admin").AddEndpointFilter(async (ctx, next) =>
            Authorised(ctx.HttpContext) ? await next(ctx) : Results.StatusCode(StatusCodes.Status401Unauthorized));
        admin.MapGet("", Dashboard);
        admin.MapGet("/export/answers.csv", ExportCsv);
        admin.MapGet("/export/answers.jsonl", ExportJsonl);
        admin.MapGet("/export/study.sqlite", ExportDatabase);
        admin.MapPost("/sessions/{id:long}/release", Release);
    }

    private static bool Matches(HttpContext ctx, string? candidate)
    {
        if (string.IsNullOrEmpty(candidate)) return false;
        var expected = ctx.RequestServices.GetService(typeof(StudyWebOptions)) is StudyWebOptions o ? o.AdminToken : null;
        if (expected is null) return false;
        // Hashes have equal length, so the comparison time says nothing about the token.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(candidate)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
    }

    private static bool Authorised(HttpContext ctx)
    {
        var auth = ctx.Request.Headers.Authorization.FirstOrDefault();
        if (auth is not null && auth.StartsWith("Bearer ", StringComparison.Ordinal) && Matches(ctx, auth["Bearer ".Length..].Trim())) return true;
        return Matches(ctx, ctx.Request.Cookies[CookieName]);
    }

    private static IResult Login(HttpContext ctx)
    {
        var token = ctx.Request.Query["token"].FirstOrDefault();
        if (!Matches(ctx, token)) return Results.StatusCode(StatusCodes.Status401Unauthorized);
        ctx.Response.Cookies.Append(CookieName, token!, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/admin", Secure = ctx.Request.IsHttps, IsEssential = true,
        });
        return Results.Redirect("/admin");
    }

    private static IResult Dashboard(HttpContext ctx, StudyDatabase db)
    {
        var personas = db.PersonaProgress();
        var sessions = db.SessionProgress();
        var o = db.Options;
        var complete = personas.Sum(p => Math.Min(p.Completed, p.Raters));
        var needed = personas.Sum(p => p.Raters);
        var sb = new StringBuilder()
            .Append("<h1>Study dashboard</h1>")
            .Append($"<p>{complete} of {needed} raters complete · {personas.Count(p => p.Completed >= p.Raters)} of {personas.Count} personas complete · ")
            .Append($"{sessions.Count(s => s.State == "active")} in progress · slot timeout {o.SlotTimeoutMinutes} min</p>")
            .Append($"<p>Rater entry link path: <code>{E(StudyWebApp.EntryPath(db))}</code></p>")
            .Append("<p><a href=\"/admin/export/answers.csv\">answers.csv</a> · <a href=\"/admin/export/answers.jsonl\">answers.jsonl</a> · <a href=\"/admin/export/study.sqlite\">study.sqlite</a></p>");
        var quality = StudyQuality.Assess(db);
        var flagsOf = quality.Raters.ToDictionary(r => r.SessionId);
        sb.Append(AgreementSection(db));
        sb.Append(QualitySection(quality));
        sb.Append("<h2>Personas</h2><div class=\"scroll\"><table><thead><tr><th>#</th><th>persona</th><th>complete</th><th>in progress</th><th>raters needed</th><th>items</th></tr></thead><tbody>");
        foreach (var p in personas)
            sb.Append($"<tr><td>{p.Position}</td><td>{E(p.PersonaId)}</td><td>{p.Completed}</td><td>{p.Active}</td><td>{p.Raters}</td><td>{p.Items}</td></tr>");
        sb.Append("</tbody></table></div>");
        sb.Append("<h2>Raters</h2><p class=\"muted\">Reopening a place keeps its answers in the exports, leaves them out of the analysis and gives the place to the next rater.</p>")
          .Append("<div class=\"scroll\"><table><thead><tr><th>session</th><th>persona</th><th>rater</th><th>state</th><th>answered</th><th>attention</th><th>closed because</th><th>flags</th><th>median s / question (floor)</th><th>started</th><th>last seen</th><th>Prolific PID</th><th></th></tr></thead><tbody>");
        var af = StudyWebApp.AntiforgeryField(ctx);
        foreach (var s in sessions)
            sb.Append($"<tr><td>{s.SessionId}</td><td>{E(s.PersonaId)}</td><td>{s.RaterIndex + 1}</td><td>{E(s.State)}</td><td>{s.Answered}/{s.Items}</td>")
              .Append($"<td>{(s.AttentionTotal == 0 ? "-" : $"{s.AttentionPassed}/{s.AttentionTotal}")}</td><td>{E(s.EndReason ?? "")}</td>")
              .Append($"<td>{E(string.Join(", ", flagsOf[s.SessionId].Flags))}</td><td>{SecondsCell(flagsOf[s.SessionId])}</td><td>{E(s.StartedAt)}</td><td>{E(s.LastSeenAt)}</td><td>{E(s.ProlificPid)}</td><td>")
              .Append(s.State is "active" or "completed"
                  ? $"<form method=\"post\" action=\"/admin/sessions/{s.SessionId}/release\">{af}<button type=\"submit\">Reopen place</button></form>"
                  : "")
              .Append("</td></tr>");
        sb.Append("</tbody></table></div>");
        return StudyWebApp.Page("Study dashboard", sb.ToString());
    }

    private static string SecondsCell(RaterQuality q) =>
        q.MedianSecondsPerItem is { } m ? E($"{m:0.#} ({q.MedianReadingFloorSeconds:0.#})") : "-";

    private static string QualitySection(QualityReport q)
    {
        var t = q.Thresholds;
        var stopped = q.Expired.StoppedAfterAnswers.Count == 0 ? "-" : string.Join(", ", q.Expired.StoppedAfterAnswers.Select(kv => $"{kv.Value} after {kv.Key} answers"));
        return new StringBuilder("<h2>Rater quality</h2><div class=\"scroll\"><table><tbody>")
            .Append($"<tr><th>flagged raters (kept in the analysis; <code>study analyze</code> also reports without them)</th><td>{q.Flagged}</td></tr>")
            .Append($"<tr><th>{StudyQuality.OneSide}: same side on every question (at least {t.OneSideMinItems})</th><td>{q.FlagCounts[StudyQuality.OneSide]}</td></tr>")
            .Append($"<tr><th>{StudyQuality.TooFast}: median time per question below its reading floor ({t.ReadingWordsPerSecond:0.#} words/s)</th><td>{q.FlagCounts[StudyQuality.TooFast]}</td></tr>")
            .Append($"<tr><th>{StudyQuality.SameJustification}: at least {t.NearDuplicateShare:P0} of explanations near-identical (trigram similarity {t.NearDuplicateSimilarity:0.##})</th><td>{q.FlagCounts[StudyQuality.SameJustification]}</td></tr>")
            .Append($"<tr><th>excluded by a failed attention check (place reopened)</th><td>{q.ExcludedAttention}</td></tr>")
            .Append($"<tr><th>did not consent / screened out (place reopened)</th><td>{q.NoConsent} / {q.ScreenedOut}</td></tr>")
            .Append($"<tr><th>expired places (handed on after the slot timeout)</th><td>{q.Expired.Sessions} ({q.Expired.NeverConsented} before consenting); stopped: {E(stopped)}</td></tr>")
            .Append("</tbody></table></div>").ToString();
    }

    private static string AgreementSection(StudyDatabase db)
    {
        var sb = new StringBuilder("<h2>Agreement so far</h2>");
        var r = StudyAnalysis.Analyze(db, new AnalysisOptions { Resamples = 200, Breakdowns = false });
        string F(Estimate e) => E(StudyReport.Format(e));
        sb.Append($"<p>{r.FullyRatedItems} of {r.Items} questions rated by all {r.RatersPerPersona} raters of their persona; ")
          .Append($"{r.LabelledItems} with a {r.MajorityVotes}-of-{r.RatersPerPersona} majority.</p>")
          .Append("<div class=\"scroll\"><table><tbody>")
          .Append($"<tr><th>humans choose the personalised answer</th><td>{F(r.HumansChoosePersonalised)}</td></tr>")
          .Append($"<tr><th>human-human Fleiss' kappa</th><td>{F(r.Humans.FleissKappa)}</td></tr>")
          .Append($"<tr><th>human-human Krippendorff's alpha</th><td>{F(r.Humans.KrippendorffAlpha)}</td></tr>");
        foreach (var m in r.Models)
            sb.Append($"<tr><th>{E(m.Model)}: Cohen's kappa vs human majority (flip rate)</th><td>{F(m.KappaVsHumans)} ({F(m.FlipRate)})</td></tr>");
        if (r.WithoutFlagged is { ExcludedSessions.Count: > 0 } w)
        {
            // The same figures without the careless-rater flags' raters, so a reader sees whether they move them.
            sb.Append($"<tr><th>without the {w.ExcludedSessions.Count} flagged rater(s): questions with a majority</th><td>{w.LabelledItems}</td></tr>")
              .Append($"<tr><th>without flagged raters: human-human Fleiss' kappa</th><td>{F(w.Humans.FleissKappa)}</td></tr>");
            foreach (var m in w.Models)
                sb.Append($"<tr><th>without flagged raters: {E(m.Model)} Cohen's kappa vs human majority</th><td>{F(m.KappaVsHumans)}</td></tr>");
        }
        sb.Append("</tbody></table></div><p class=\"muted\">95% intervals (200 resamples here; `persona study analyze` gives the full report).</p>");
        return sb.ToString();
    }

    private static async Task<IResult> Release(long id, HttpContext ctx, StudyDatabase db)
    {
        if (!await StudyWebApp.CheckAntiforgeryAsync(ctx)) return Results.Empty;
        if (!await db.ReleaseAsync(id, ctx.RequestAborted)) return Results.NotFound();
        ctx.Response.StatusCode = StatusCodes.Status303SeeOther;
        ctx.Response.Headers.Location = "/admin";
        return Results.Empty;
    }

    private static async Task ExportCsv(HttpContext ctx, StudyDatabase db)
    {
        ctx.Response.ContentType = "text/csv; charset=utf-8";
        ctx.Response.Headers.ContentDisposition = "attachment; filename=\"answers.csv\"";
        await using var w = new StreamWriter(ctx.Response.Body, new UTF8Encoding(false));
        await w.WriteAsync(StudyExport.CsvHeader + "\n");
        foreach (var row in StudyExport.Rows(db)) await w.WriteAsync(StudyExport.CsvLine(row) + "\n");
    }

    private static async Task ExportJsonl(HttpContext ctx, StudyDatabase db)
    {
        ctx.Response.ContentType = "application/x-ndjson; charset=utf-8";
        ctx.Response.Headers.ContentDisposition = "attachment; filename=\"answers.jsonl\"";
        await using var w = new StreamWriter(ctx.Response.Body, new UTF8Encoding(false));
        foreach (var row in StudyExport.Rows(db)) await w.WriteAsync(StudyExport.JsonLine(row) + "\n");
    }

    private static async Task ExportDatabase(HttpContext ctx, StudyDatabase db)
    {
        var temp = Path.Combine(Path.GetTempPath(), $"persona-study-{Guid.NewGuid():N}.sqlite");
        try
        {
            db.BackupTo(temp);
            ctx.Response.ContentType = "application/vnd.sqlite3";
            ctx.Response.Headers.ContentDisposition = "attachment; filename=\"study.sqlite\"";
            await ctx.Response.SendFileAsync(temp, ctx.RequestAborted);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
