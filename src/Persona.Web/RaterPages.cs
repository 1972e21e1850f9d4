using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Persona.Study;
using static Persona.Web.Html;

namespace Persona.Web;

/// <summary>
/// The rater flow: entry (claims a place) -> instructions and persona -> one question per page ->
/// thank-you with the completion code. A rater's token is the only key to their pages; positions
/// in the URL index that rater's own items, so no other rater's items can be addressed.
/// </summary>
internal static class RaterPages
{
    private static readonly string[] ProlificKeys = ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID"];

    public static void Map(WebApplication app)
    {
        var entry = app.MapGroup("/s/{key}").RequireRateLimiting(StudyWebApp.EntryPolicy);
        entry.MapGet("", Entry);
        entry.MapPost("", Claim);
        var rater = app.MapGroup("/r/{token}").RequireRateLimiting(StudyWebApp.RaterPolicy);
        rater.MapGet("", Start);
        rater.MapPost("/consent", Consent);
        rater.MapGet("/q/{position:int}", Question);
        rater.MapPost("/q/{position:int}", Answer);
        rater.MapGet("/done", Done);
    }

    private static bool EntryKeyMatches(StudyDatabase db, string key) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(db.EntryKey));

    private static ProlificIds IdsFrom(Func<string, string?> get)
    {
        string? Clean(string k) => get(k) is { Length: > 0 and <= 128 } v && v.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') ? v : null;
        return new ProlificIds(Clean("PROLIFIC_PID"), Clean("STUDY_ID"), Clean("SESSION_ID"));
    }

    private static IResult Entry(string key, HttpContext ctx, StudyDatabase db)
    {
        if (!EntryKeyMatches(db, key)) return Results.NotFound();
        var ids = IdsFrom(k => ctx.Request.Query[k].FirstOrDefault());
        var o = db.Options;
        var body = new StringBuilder();
        body.Append("<h1>").Append(E(o.Title)).Append("</h1>")
            .Append("<div class=\"card\"><p>In this study you will <strong>role-play one person</strong> described by a short profile. ")
            .Append($"For each of {o.ItemsPerPersona + o.AttentionChecks} questions you will read two answers and choose the one <strong>that person</strong> would prefer, ")
            .Append("then explain your choice in a few sentences. Your own opinion does not matter here: answer as the person would.</p>")
            .Append("<p>Please write your explanations yourself. <strong>Do not use chatbots or AI tools.</strong></p>")
            .Append("<p class=\"muted\">It takes about 20 minutes. You can stop and come back later with the same link.</p></div>")
            .Append($"<form method=\"post\" action=\"/s/{E(key)}\">").Append(StudyWebApp.AntiforgeryField(ctx));
        body.Append(Hidden(ProlificKeys[0], ids.Pid)).Append(Hidden(ProlificKeys[1], ids.StudyId)).Append(Hidden(ProlificKeys[2], ids.SessionId))
            .Append("<button type=\"submit\">Start</button></form>");
        return StudyWebApp.Page(o.Title, body.ToString());
    }

    /// <summary>Holds the rater's own link in their browser: proof, beside Prolific's SESSION_ID, that a returning participant is the one who claimed the place.</summary>
    internal const string RaterCookie = "persona_rater";

    private static async Task<IResult> Claim(string key, HttpContext ctx, StudyDatabase db)
    {
        if (!EntryKeyMatches(db, key)) return Results.NotFound();
        if (!await StudyWebApp.CheckAntiforgeryAsync(ctx)) return Results.Empty;
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var claim = await db.ClaimAsync(IdsFrom(k => form[k].FirstOrDefault()), ctx.Request.Cookies[RaterCookie], ctx.RequestAborted);
        switch (claim.Status)
        {
            case ClaimStatus.New or ClaimStatus.Resumed:
                ctx.Response.Cookies.Append(RaterCookie, claim.Session!.Token, new CookieOptions
                {
                    // Lax: the cookie comes along when Prolific sends the participant back to the entry link.
                    HttpOnly = true, SameSite = SameSiteMode.Lax, Secure = ctx.Request.IsHttps, Path = "/", IsEssential = true, MaxAge = TimeSpan.FromDays(30),
                });
                return SeeOther($"/r/{claim.Session.Token}");
            case ClaimStatus.PidHasPlace:
                // Said without naming the persona or the progress: whoever sent only the PID learns nothing.
                return StudyWebApp.Page("Place already taken", "<h1>You already have a place in this study</h1>" +
                    "<p>This Prolific ID already holds a place. To continue it, open the study again from Prolific (your same submission) " +
                    "or use the personal link shown when you started, in the browser you started in.</p>" +
                    "<p class=\"muted\">If you think this is a mistake, message the researcher on Prolific.</p>", StatusCodes.Status409Conflict);
            case ClaimStatus.PidDone:
                return StudyWebApp.Page("Already taken part", "<h1>You have already taken part</h1><p>This Prolific ID has already taken part in this study, " +
                    "so it cannot take another place. Thank you for your interest.</p>", StatusCodes.Status409Conflict);
            default:
                return StudyWebApp.Page("Study full", "<h1>Thank you for your interest</h1><p>Every place in this study is taken at the moment. " +
                                                      "Places of raters who stop are offered again later; please try again in an hour.</p>");
        }
    }

    /// <summary>Prolific's "returned" path: the study's return code when it has one, else how to return by hand.</summary>
    private static IResult Returned(StudyDatabase db, string title, string why, int status = StatusCodes.Status200OK)
    {
        var o = db.Options;
        var body = new StringBuilder($"<h1>{E(title)}</h1><div class=\"card\"><p>{E(why)}</p>");
        string? redirect = null;
        if (o.ReturnCode is { } code)
        {
            redirect = "https://app.prolific.com/submissions/complete?cc=" + Uri.EscapeDataString(code);
            body.Append($"<p>You will be taken back to Prolific in a few seconds. If not, <a href=\"{E(redirect)}\">return to Prolific</a>.</p>");
        }
        else if (o.ProlificRedirect)
            body.Append("<p>If you came from Prolific, please <strong>return your submission</strong> there (open the study on Prolific and choose \"Return submission\").</p>");
        body.Append("</div>");
        return StudyWebApp.Page(title, body.ToString(), status, refreshUrl: redirect);
    }

    private static async Task<(RaterSession? Session, IResult? Stop)> Load(string token, HttpContext ctx, StudyDatabase db)
    {
        var s = db.FindSession(token);
        if (s is null) return (null, Results.NotFound());
        if (s.State == SessionState.Released && s.EndReason == EndReasons.NoConsent)
            return (null, Returned(db, "Thank you", "You chose not to take part, so no answers were recorded and your place was offered to someone else."));
        if (s.State == SessionState.Released && s.EndReason == EndReasons.ScreenedOut)
            return (null, Returned(db, "Thank you", "This study needs raters who answer as the person in the profile, not as themselves, " +
                "so it cannot continue with your answer to the last question. Your place was offered to someone else."));
        if (s.State == SessionState.Released && s.EndReason == EndReasons.AttentionFailed)
            return (null, Returned(db, "This place was closed", "One of the questions was an attention check that asked for a particular answer, " +
                "and a different answer was given. The study cannot continue with this link.", StatusCodes.Status410Gone));
        if (s.State == SessionState.Released)
            return (null, StudyWebApp.Page("Place closed",
                "<h1>This place was closed</h1><p>The researcher has closed this place in the study, so no more answers can be given with this link. " +
                "If you think this is a mistake, please contact the researcher.</p>", 410));
        if (s.State == SessionState.Expired)
            return (null, StudyWebApp.Page("Place handed on",
                $"<h1>This place was handed on</h1><p>This link was inactive for more than {db.Options.SlotTimeoutMinutes} minutes, so its place was offered to another rater. " +
                "Answers you gave are kept. If you still want to take part, start again from the study link.</p>", 410));
        await db.TouchAsync(s, ctx.RequestAborted);
        return (s, null);
    }

    private static async Task<IResult> Start(string token, HttpContext ctx, StudyDatabase db)
    {
        var (s, stop) = await Load(token, ctx, db);
        if (s is null) return stop!;
        if (s.State == SessionState.Completed) return Results.Redirect($"/r/{token}/done");
        if (!s.Consented) return StudyWebApp.Page("Before you start", ConsentBody(ctx, db, s, null));
        var next = s.NextOpenPosition ?? 1;
        var o = db.Options;
        var body = new StringBuilder()
            .Append("<h1>Your person</h1>")
            .Append("<div class=\"card\"><p>Imagine you are the person below. For each question, read both answers and <strong>choose the one this person would prefer</strong>, ")
            .Append("not the one you would prefer. Then explain in your own words why this person would prefer it ")
            .Append($"(at least {o.MinJustificationChars} characters). You can change your choice while you write. Do not use chatbots or AI tools.</p>")
            .Append("<p class=\"muted\">Keep this page's address to continue later, on this or another device: ")
            .Append($"<a href=\"/r/{E(token)}\">your personal link</a>. Do not share it.</p></div>")
            .Append("<div class=\"card\"><h2>Profile</h2>").Append(PersonaCard(s.PersonaText)).Append("</div>")
            .Append($"<p><a class=\"button\" href=\"/r/{E(token)}/q/{next}\">{(s.AnsweredPositions.Count == 0 ? "Begin" : "Continue")} with question {next}</a></p>");
        return StudyWebApp.Page("Instructions", body.ToString());
    }

    /// <summary>
    /// Consent and one screening question, before the persona is shown. The screening question checks
    /// the one thing the task depends on: answering as the persona, not as oneself.
    /// </summary>
    private static string ConsentBody(HttpContext ctx, StudyDatabase db, RaterSession s, string? problem)
    {
        var o = db.Options;
        var sb = new StringBuilder("<h1>Before you start</h1>")
            .Append("<div class=\"card\"><h2>Information and consent</h2>")
            .Append("<p>This is a research study on how well computer-written answers fit different people. You will read a short profile of a person and, ")
            .Append($"for {s.ItemCount} questions, choose which of two answers that person would prefer and explain why in your own words.</p>")
            .Append("<p>We store your choices, your explanations, the times of your answers and, if you came from Prolific, your Prolific IDs. ")
            .Append("Your answers are used for research only and published without your Prolific ID. Taking part is voluntary; you may stop at any time.</p></div>");
        if (problem is not null) sb.Append("<p class=\"error\" role=\"alert\">").Append(E(problem)).Append("</p>");
        sb.Append($"<form method=\"post\" action=\"/r/{E(s.Token)}/consent\">").Append(StudyWebApp.AntiforgeryField(ctx))
          .Append("<fieldset class=\"card\"><legend><strong>Do you agree to take part?</strong></legend>")
          .Append("<p><label><input type=\"radio\" name=\"consent\" value=\"yes\" required> Yes, I have read the information above and agree to take part</label></p>")
          .Append("<p><label><input type=\"radio\" name=\"consent\" value=\"no\"> No, I do not agree to take part</label></p></fieldset>")
          .Append("<fieldset class=\"card\"><legend><strong>In this study, whose preference do you choose?</strong></legend>")
          .Append("<p><label><input type=\"radio\" name=\"screening\" value=\"self\"> My own: the answer I like better</label></p>")
          .Append("<p><label><input type=\"radio\" name=\"screening\" value=\"persona\"> The person in the profile, even where I disagree</label></p>")
          .Append("<p class=\"muted\">Not needed if you do not agree to take part.</p></fieldset>")
          .Append("<p><button type=\"submit\">Continue</button></p></form>");
        return sb.ToString();
    }

    private static async Task<IResult> Consent(string token, HttpContext ctx, StudyDatabase db)
    {
        var (s, stop) = await Load(token, ctx, db);
        if (s is null) return stop!;
        if (!await StudyWebApp.CheckAntiforgeryAsync(ctx)) return Results.Empty;
        if (s.Consented || s.State != SessionState.Active) return SeeOther($"/r/{token}");
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var consent = form["consent"].FirstOrDefault();
        var screening = form["screening"].FirstOrDefault();
        if (consent is not ("yes" or "no"))
            return StudyWebApp.Page("Before you start", ConsentBody(ctx, db, s, "Please say whether you agree to take part."), StatusCodes.Status422UnprocessableEntity);
        if (consent == "yes" && screening is not ("self" or "persona"))
            return StudyWebApp.Page("Before you start", ConsentBody(ctx, db, s, "Please answer the question whose preference you choose."), StatusCodes.Status422UnprocessableEntity);
        await db.RecordConsentAsync(token, consent == "yes", screening == "persona", ctx.RequestAborted);
        return SeeOther($"/r/{token}");
    }

    private static async Task<IResult> Question(string token, int position, HttpContext ctx, StudyDatabase db)
    {
        var (s, stop) = await Load(token, ctx, db);
        if (s is null) return stop!;
        if (!s.Consented && s.State == SessionState.Active) return Results.Redirect($"/r/{token}");
        var item = db.FindItem(s.PersonaId, position);
        if (item is null) return Results.NotFound();
        var stored = db.FindAnswer(s.SessionId, item.ItemId);
        var notice = ctx.Request.Query.ContainsKey("saved") ? "This question was already answered (for example in another tab); the first answer was kept." : null;
        return StudyWebApp.Page($"Question {position} of {s.ItemCount}", QuestionBody(ctx, db, s, item, stored, null, null, notice ?? ""));
    }

    private static string QuestionBody(HttpContext ctx, StudyDatabase db, RaterSession s, StudyItem item, StoredAnswer? stored, string? side, string? text, string message)
    {
        var o = db.Options;
        var personalisedLeft = StudyPlan.PersonalisedLeft(item.Flip, s.RaterIndex);
        var left = personalisedLeft ? item.Personalised : item.Generic;
        var right = personalisedLeft ? item.Generic : item.Personalised;
        var done = s.AnsweredPositions.Count;
        var sb = new StringBuilder()
            .Append($"<p class=\"muted\">Question {item.Position} of {s.ItemCount} · {done} answered</p>")
            .Append($"<progress max=\"{s.ItemCount}\" value=\"{done}\" aria-label=\"{done} of {s.ItemCount} answered\">{done} of {s.ItemCount}</progress>")
            .Append("<details class=\"persona-box card\" open><summary>Your person (show profile)</summary>").Append(PersonaCard(s.PersonaText)).Append("</details>")
            .Append("<div class=\"card\"><p class=\"muted\">Question</p><p class=\"question\">").Append(E(item.Instruction)).Append("</p></div>");
        if (message.Length > 0) sb.Append("<p class=\"error\" role=\"alert\">").Append(E(message)).Append("</p>");
        if (stored is not null)
        {
            var chosenText = stored.Side == "left" ? left : right;
            sb.Append($"<div class=\"card\"><p>Your saved choice: <strong>Answer {(stored.Side == "left" ? "A" : "B")}</strong></p>")
              .Append("<div class=\"text\">").Append(E(chosenText)).Append("</div>")
              .Append("<p class=\"muted\">Your explanation:</p><div class=\"text\">").Append(E(stored.Justification)).Append("</div></div>");
            var next = NextAfter(s, item.Position);
            sb.Append(next is null ? $"<p><a class=\"button\" href=\"/r/{E(s.Token)}/done\">Finish</a></p>" : $"<p><a class=\"button\" href=\"/r/{E(s.Token)}/q/{next}\">Next question</a></p>");
            return sb.ToString();
        }
        sb.Append($"<form method=\"post\" action=\"/r/{E(s.Token)}/q/{item.Position}\">").Append(StudyWebApp.AntiforgeryField(ctx))
          .Append("<fieldset class=\"choices\"><legend>Which answer would this person prefer?</legend>")
          .Append(AnswerCard("left", "A", left, side)).Append(AnswerCard("right", "B", right, side))
          .Append("</fieldset>")
          .Append($"<p><label for=\"why\"><strong>Why would this person prefer it?</strong> <span class=\"muted\">(at least {o.MinJustificationChars} characters)</span></label></p>")
          .Append($"<textarea id=\"why\" name=\"justification\" required minlength=\"{o.MinJustificationChars}\" maxlength=\"{o.MaxJustificationChars}\">").Append(E(text)).Append("</textarea>")
          .Append($"<p><button type=\"submit\">Save and continue</button></p></form>");
        return sb.ToString();
    }

    private static string AnswerCard(string value, string letter, string text, string? selected) =>
        $"<label class=\"answer\"><span class=\"head\"><input type=\"radio\" name=\"choice\" value=\"{value}\" required{(selected == value ? " checked" : "")}> Answer {letter}</span>" +
        $"<span class=\"text\">{E(text)}</span></label>";

    private static int? NextAfter(RaterSession s, int position)
    {
        for (var p = 1; p <= s.ItemCount; p++)
        {
            var candidate = (position + p - 1) % s.ItemCount + 1;
            if (candidate != position && !s.AnsweredPositions.Contains(candidate)) return candidate;
        }
        return null;
    }

    private static async Task<IResult> Answer(string token, int position, HttpContext ctx, StudyDatabase db)
    {
        var (s, stop) = await Load(token, ctx, db);
        if (s is null) return stop!;
        if (!await StudyWebApp.CheckAntiforgeryAsync(ctx)) return Results.Empty;
        var item = db.FindItem(s.PersonaId, position);
        if (item is null) return Results.NotFound();
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var side = form["choice"].FirstOrDefault();
        var text = (form["justification"].FirstOrDefault() ?? "").Replace("\r\n", "\n").Trim();
        var o = db.Options;
        string? problem = side is not ("left" or "right") ? "Please choose Answer A or Answer B."
            : text.Length < o.MinJustificationChars ? $"Please explain your choice in at least {o.MinJustificationChars} characters (you wrote {text.Length})."
            : text.Length > o.MaxJustificationChars ? $"Please keep your explanation under {o.MaxJustificationChars} characters."
            : null;
        if (problem is not null)
            return StudyWebApp.Page($"Question {position} of {s.ItemCount}", QuestionBody(ctx, db, s, item, null, side, text, problem), StatusCodes.Status422UnprocessableEntity);
        var ids = new ProlificIds(s.ProlificPid, s.ProlificStudyId, s.ProlificSessionId);
        var result = await db.SubmitAsync(token, position, side!, text, ids, ctx.RequestAborted);
        return result.Status switch
        {
            SubmitStatus.SessionExpired => (await Load(token, ctx, db)).Stop!,
            SubmitStatus.BadItem => Results.NotFound(),
            SubmitStatus.AlreadyStored => SeeOther($"/r/{token}/q/{position}?saved=1"),
            SubmitStatus.NotConsented => SeeOther($"/r/{token}"),
            _ when result.Excluded => SeeOther($"/r/{token}"),
            _ when result.Completed => SeeOther($"/r/{token}/done"),
            _ => SeeOther($"/r/{token}/q/{result.NextPosition}"),
        };
    }

    private static async Task<IResult> Done(string token, HttpContext ctx, StudyDatabase db)
    {
        var (s, stop) = await Load(token, ctx, db);
        if (s is null) return stop!;
        if (s.State != SessionState.Completed)
            return Results.Redirect(s.NextOpenPosition is { } n ? $"/r/{token}/q/{n}" : $"/r/{token}");
        var o = db.Options;
        var body = new StringBuilder("<h1>Thank you!</h1><div class=\"card\"><p>All your answers are saved.</p>")
            .Append("<p>Your completion code:</p><p class=\"code\">").Append(E(db.CompletionCode)).Append("</p>");
        string? redirect = null;
        if (o.ProlificRedirect)
        {
            redirect = "https://app.prolific.com/submissions/complete?cc=" + Uri.EscapeDataString(db.CompletionCode);
            body.Append($"<p>You will be taken back to Prolific in a few seconds. If not, <a href=\"{E(redirect)}\">return to Prolific</a>.</p>");
        }
        body.Append("</div>");
        return StudyWebApp.Page("Thank you", body.ToString(), refreshUrl: redirect);
    }

    /// <summary>303 after a POST: the browser fetches the next page with GET, so a reload never re-posts.</summary>
    private static IResult SeeOther(string url) => new SeeOtherResult(url);

    private sealed class SeeOtherResult(string url) : IResult
    {
        public Task ExecuteAsync(HttpContext ctx)
        {
            ctx.Response.StatusCode = StatusCodes.Status303SeeOther;
            ctx.Response.Headers.Location = url;
            return Task.CompletedTask;
        }
    }
}
