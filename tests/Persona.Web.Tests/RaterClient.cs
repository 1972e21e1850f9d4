using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Persona.Web.Tests;

/// <summary>
/// A rater driven over plain HTTP, as a browser would: its own cookies, the anti-forgery field
/// read from each form, redirects followed by hand so every request can be timed.
/// </summary>
public sealed partial class RaterClient : IDisposable
{
    private readonly HttpClient _http;
    public string BaseUrl { get; }
    public string? Token { get; private set; }
    public List<(string Kind, double Ms, int Status)> Timings { get; } = [];
    /// <summary>The body of the last claim's response (the refusal page when no place was given).</summary>
    public string? LastBody { get; private set; }

    /// <param name="from">Loopback address to connect from (127.x.y.z), so that many raters are many machines to the server or proxy.</param>
    /// <param name="pinnedThumbprint">Over https, the only certificate accepted (a self-signed one made for the run).</param>
    public RaterClient(string baseUrl, string? from = null, string? pinnedThumbprint = null)
    {
        BaseUrl = baseUrl;
        var handler = new SocketsHttpHandler { CookieContainer = new CookieContainer(), UseCookies = true, AllowAutoRedirect = false };
        if (pinnedThumbprint is not null)
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == pinnedThumbprint;
        if (from is not null)
        {
            var local = IPAddress.Parse(from);
            handler.ConnectCallback = async (ctx, ct) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(local, 0));
                    await socket.ConnectAsync(IPAddress.Parse(ctx.DnsEndPoint.Host), ctx.DnsEndPoint.Port, ct);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        _http = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };
    }

    [GeneratedRegex("name=\"__af\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    public static string? AntiforgeryToken(string html) => AntiforgeryField().Match(html) is { Success: true } m ? m.Groups[1].Value : null;

    public async Task<(HttpStatusCode Status, string Body, string? Location)> GetAsync(string path, string kind = "page")
    {
        var sw = Stopwatch.StartNew();
        using var r = await _http.GetAsync(path);
        var body = await r.Content.ReadAsStringAsync();
        Timings.Add((kind, sw.Elapsed.TotalMilliseconds, (int)r.StatusCode));
        return (r.StatusCode, body, r.Headers.Location?.OriginalString);
    }

    public async Task<(HttpStatusCode Status, string Body, string? Location)> PostAsync(string path, IEnumerable<KeyValuePair<string, string>> form, string kind = "submit")
    {
        var sw = Stopwatch.StartNew();
        using var r = await _http.PostAsync(path, new FormUrlEncodedContent(form));
        var body = await r.Content.ReadAsStringAsync();
        Timings.Add((kind, sw.Elapsed.TotalMilliseconds, (int)r.StatusCode));
        return (r.StatusCode, body, r.Headers.Location?.OriginalString);
    }

    /// <summary>
    /// Opens the entry link and claims a place; returns the rater path (/r/TOKEN) or null when no place is given
    /// (the study is full, or the PID holds a place this client cannot prove is its own).
    /// </summary>
    public async Task<string?> ClaimAsync(string entryPath, string? prolificPid = null, string? prolificSession = null)
    {
        prolificSession ??= $"sess-{prolificPid}";
        var query = prolificPid is null ? "" : $"?PROLIFIC_PID={prolificPid}&STUDY_ID=study1&SESSION_ID={prolificSession}";
        var (_, page, _) = await GetAsync(entryPath + query, "entry");
        var form = new List<KeyValuePair<string, string>> { new("__af", AntiforgeryToken(page) ?? throw new InvalidOperationException("no anti-forgery field on the entry page")) };
        if (prolificPid is not null)
        {
            form.Add(new("PROLIFIC_PID", prolificPid));
            form.Add(new("STUDY_ID", "study1"));
            form.Add(new("SESSION_ID", prolificSession));
        }
        var (status, body, location) = await PostAsync(entryPath, form, "claim");
        LastBody = body;
        if (status != HttpStatusCode.SeeOther) return null;
        Token = location!.Split('/')[2];
        return location;
    }

    /// <summary>
    /// Answers every question of the claimed place (choosing by <paramref name="choose"/>: 0 left, 1 right)
    /// and returns the thank-you page. With <paramref name="resubmit"/>, every answer is posted twice, like a retry.
    /// </summary>
    /// <summary>Answers the consent form (yes, and the screening question right, unless told otherwise) when the place shows it.</summary>
    public async Task<(HttpStatusCode Status, string? Location)> ConsentAsync(bool consent = true, bool passScreening = true)
    {
        var (_, page, _) = await GetAsync($"/r/{Token}", "page");
        if (!page.Contains("/consent\"", StringComparison.Ordinal)) return (HttpStatusCode.OK, null); // already consented
        var (status, _, location) = await PostAsync($"/r/{Token}/consent",
        [
            new("__af", AntiforgeryToken(page) ?? throw new InvalidOperationException("no form on the consent page")),
            new("consent", consent ? "yes" : "no"), new("screening", passScreening ? "persona" : "self"),
        ], "consent");
        return (status, location);
    }

    /// <param name="thinkMs">Mean pause before each answer is sent (uniform in 0.5-1.5 times it), as a reader's; 0: none (a saturating load).</param>
    public async Task<string> CompleteAsync(Func<int, int> choose, bool resubmit = false, int thinkMs = 0)
    {
        await ConsentAsync();
        var (_, _, _) = await GetAsync($"/r/{Token}", "page");
        var next = $"/r/{Token}/q/1";
        for (var guard = 0; guard < 200; guard++)
        {
            if (next.EndsWith("/done", StringComparison.Ordinal))
            {
                var (s, done, _) = await GetAsync(next, "page");
                if (s != HttpStatusCode.OK) throw new InvalidOperationException($"thank-you page returned {(int)s}");
                return done;
            }
            var (status, page, _) = await GetAsync(next, "page");
            if (status != HttpStatusCode.OK) throw new InvalidOperationException($"{next} returned {(int)status}");
            var position = int.Parse(next.Split('/')[^1].Split('?')[0], System.Globalization.CultureInfo.InvariantCulture);
            var form = new[]
            {
                new KeyValuePair<string, string>("__af", AntiforgeryToken(page) ?? throw new InvalidOperationException($"no form on {next}")),
                new("choice", choose(position) == 0 ? "left" : "right"),
                new("justification", $"Simulated rater explanation for question {position}: this person would value it."),
            };
            if (thinkMs > 0) await Task.Delay(TimeSpan.FromMilliseconds(thinkMs * (0.5 + Random.Shared.NextDouble())));
            var (ps, _, location) = await PostAsync(next, form);
            if (ps != HttpStatusCode.SeeOther) throw new InvalidOperationException($"POST {next} returned {(int)ps}");
            if (resubmit)
            {
                var (again, _, _) = await PostAsync(next, form, "resubmit");
                if (again != HttpStatusCode.SeeOther) throw new InvalidOperationException($"repeat POST {next} returned {(int)again}");
            }
            next = location!;
        }
        throw new InvalidOperationException("the rater flow did not end");
    }

    public void Dispose() => _http.Dispose();
}
