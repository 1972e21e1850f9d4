using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Persona.Study;

namespace Persona.Web;

/// <summary>
/// The study web app: rater pages under /s/{entry key} and /r/{rater token}, the dashboard under
/// /admin. Thin over <see cref="StudyDatabase"/>; all HTML is rendered here without script.
/// </summary>
public static class StudyWebApp
{
    internal const string RaterPolicy = "rater";
    internal const string EntryPolicy = "entry";

    public static WebApplication Build(StudyWebOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.AdminToken) || options.AdminToken.Length < 16)
            throw new PersonaException($"The admin token must be at least 16 characters ({StudyWebOptions.AdminTokenVariable}).");
        // Relative to the current directory, where the user typed it (the host would resolve a relative content root elsewhere).
        options = options with { StudyDirectory = Path.GetFullPath(options.StudyDirectory) };
        var (proxies, networks) = ParseTrustedProxies(options.TrustedProxies);
        var certificate = LoadCertificate(options);
        var db = StudyDatabase.Open(options.StudyDirectory, options.Clock);
        // Always Production: in Development ASP.NET Core adds its exception page, which shows stack traces.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = options.StudyDirectory, Args = [], EnvironmentName = Microsoft.Extensions.Hosting.Environments.Production,
        });
        builder.WebHost.UseUrls([.. options.Urls]);
        // The slim builder leaves TLS out; this brings https:// addresses and Kestrel's certificate configuration
        // (Kestrel:Certificates:Default:Path/KeyPath, e.g. as Kestrel__Certificates__Default__Path in the environment).
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 64 * 1024;
            if (certificate is not null) k.ConfigureHttpsDefaults(h => h.ServerCertificate = certificate);
        });
        // Request logs would carry rater tokens and the admin token in URLs: only warnings and errors,
        // and none from data protection, which warns that its keys are stored unencrypted in the study folder.
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Antiforgery", LogLevel.Error);
        // A failed start (port in use) is reported by the caller in one line; the host would add a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);

        builder.Services.AddSingleton(db);
        builder.Services.AddSingleton(options);
        // Keys in the study folder: anti-forgery tokens survive a restart of the server.
        builder.Services.AddDataProtection().SetApplicationName("persona-study")
            .PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(options.StudyDirectory, "keys")));
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "persona_af";
            // Secure whenever the rater came over TLS (directly or through a trusted proxy); the default never sets it.
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.FormFieldName = "__af";
            o.SuppressXFrameOptionsHeader = true; // set to DENY below for every response
        });
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(RaterPolicy, ctx => RateLimitPartition.GetTokenBucketLimiter(
                "r:" + (ctx.Request.RouteValues["token"] as string ?? ctx.Connection.RemoteIpAddress?.ToString() ?? "?"),
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.RaterBurst,
                    TokensPerPeriod = options.RaterPermitsPer10Seconds,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(10),
                    QueueLimit = 0,
                }));
            o.AddPolicy(EntryPolicy, ctx => RateLimitPartition.GetFixedWindowLimiter(
                "e:" + (ctx.Connection.RemoteIpAddress?.ToString() ?? "?"),
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.EntryPermitsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        });

        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = ctx => WriteError(ctx, StatusCodes.Status500InternalServerError),
        });
        // Behind a reverse proxy (nginx, Caddy), rate limits, cookies and HSTS see the rater's address and
        // scheme. Only the named proxies are believed (loopback when none is named: the framework's default);
        // a header from anyone else is ignored. ForwardLimit 1: the proxy's own entry, the rightmost, is the
        // one that counts, so a rater who sends a made-up X-Forwarded-For through the proxy changes nothing.
        var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto, ForwardLimit = 1 };
        if (proxies.Count + networks.Count > 0)
        {
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var p in proxies) forwarded.KnownProxies.Add(p);
            foreach (var n in networks) forwarded.KnownIPNetworks.Add(n);
        }
        app.UseForwardedHeaders(forwarded);
        app.Use(SecurityHeaders);
        app.UseStatusCodePages(ctx => WriteError(ctx.HttpContext, ctx.HttpContext.Response.StatusCode));
        app.UseRateLimiter();

        app.MapGet("/static/study.css", (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=3600";
            return Results.Text(Html.Css, "text/css; charset=utf-8");
        });
        app.MapGet("/", () => Results.Content(Html.Page("Persona study", "<h1>Persona study</h1><p>Please use the link you were given to take part.</p>"), "text/html; charset=utf-8"));
        RaterPages.Map(app);
        AdminPages.Map(app);
        return app;
    }

    /// <summary>The address Kestrel actually listens on (useful with port 0).</summary>
    public static string ListeningAddress(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');

    public static string EntryPath(StudyDatabase db) => "/s/" + db.EntryKey;

    /// <summary>--trusted-proxy values: an address, or a network in CIDR notation.</summary>
    internal static (List<System.Net.IPAddress> Proxies, List<System.Net.IPNetwork> Networks) ParseTrustedProxies(IReadOnlyList<string> values)
    {
        var proxies = new List<System.Net.IPAddress>();
        var networks = new List<System.Net.IPNetwork>();
        foreach (var v in values)
        {
            if (v.Contains('/') && System.Net.IPNetwork.TryParse(v, out var n)) networks.Add(n);
            else if (!v.Contains('/') && System.Net.IPAddress.TryParse(v, out var a)) proxies.Add(a);
            else throw new PersonaException($"--trusted-proxy: '{v}' is neither an IP address (10.0.0.5, ::1) nor a network (10.0.0.0/24, fd00::/8).");
        }
        return (proxies, networks);
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2? LoadCertificate(StudyWebOptions o)
    {
        if (o.CertificatePath is null && o.KeyPath is null) return null;
        if (o.CertificatePath is null || o.KeyPath is null) throw new PersonaException("--cert and --key go together: the certificate (PEM) and its private key (PEM).");
        foreach (var (flag, path) in new[] { ("--cert", o.CertificatePath), ("--key", o.KeyPath) })
            if (!File.Exists(path)) throw new PersonaException($"{flag}: '{path}' does not exist or is not a file.");
        try
        {
            return System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(o.CertificatePath, o.KeyPath);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            // The message names the problem (no PEM block, key does not match); it never holds the key itself.
            throw new PersonaException($"Cannot read the certificate '{o.CertificatePath}' with the key '{o.KeyPath}': {ex.Message}");
        }
    }

    private static Task SecurityHeaders(HttpContext ctx, Func<Task> next)
    {
        var h = ctx.Response.Headers;
        // Once a rater reached us over TLS (directly or through a trusted proxy), the browser keeps to it for a year.
        if (ctx.Request.IsHttps) h.StrictTransportSecurity = "max-age=31536000";
        // No script anywhere; styles only from our own stylesheet; forms post only to us.
        h.ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer"; // rater and admin tokens live in URLs
        h["Cross-Origin-Opener-Policy"] = "same-origin";
        if (!ctx.Request.Path.StartsWithSegments("/static")) h.CacheControl = "no-store";
        return next();
    }

    internal static Task WriteError(HttpContext ctx, int status)
    {
        var (title, text) = status switch
        {
            400 => ("Request not accepted", "This form could not be accepted (it may have expired). Go back, reload the page and try again."),
            401 => ("Not authorised", "This page needs the researcher's admin token."),
            404 => ("Not found", "There is nothing at this address. Check that you used the complete link you were given."),
            413 => ("Too long", "That was more text than this form accepts."),
            429 => ("Slow down", "Too many requests in a short time. Wait a few seconds and try again."),
            _ => ("Something went wrong", "The server could not complete this request. Your saved answers are safe; reload the page in a moment."),
        };
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "text/html; charset=utf-8";
        if (status == 429) ctx.Response.Headers.RetryAfter = "10";
        return ctx.Response.WriteAsync(Html.Page(title, $"<h1>{Html.E(title)}</h1><p>{Html.E(text)}</p>"));
    }

    /// <summary>Validates the anti-forgery token of a form POST; false (and a 400 page written) when missing or wrong.</summary>
    internal static async Task<bool> CheckAntiforgeryAsync(HttpContext ctx)
    {
        var af = ctx.RequestServices.GetRequiredService<IAntiforgery>();
        try
        {
            await af.ValidateRequestAsync(ctx);
            return true;
        }
        catch (AntiforgeryValidationException)
        {
            await WriteError(ctx, StatusCodes.Status400BadRequest);
            return false;
        }
    }

    internal static string AntiforgeryField(HttpContext ctx)
    {
        var tokens = ctx.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(ctx);
        return Html.Hidden(tokens.FormFieldName, tokens.RequestToken);
    }

    internal static IResult Page(string title, string body, int status = 200, string? refreshUrl = null) =>
        Results.Content(Html.Page(title, body, refreshUrl), "text/html; charset=utf-8", System.Text.Encoding.UTF8, status);
}
