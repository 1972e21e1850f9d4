using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Persona.Study;

namespace Persona.Web.Tests;

/// <summary>
/// The study behind a real nginx with TLS on loopback (see <see cref="NginxProxy"/>). nginx must be
/// installed (.ci/run and tests/study-proxy/run.sh install it); these tests fail, never skip, without it.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed partial class ProxyTests(BrowserFixture fixture)
{
    private const string Why = "This person would like the practical, shorter answer here.";

    [GeneratedRegex(@"http://127\.0\.0\.1:(\d+)/s/[A-Za-z0-9_-]+")]
    private static partial Regex EntryLink();

    /// <summary>
    /// The `persona` the CLI project built (same configuration): the copy beside these tests carries the CLI's
    /// deps.json, whose package assemblies this test project's build replaced with the shared framework's.
    /// </summary>
    private static string PersonaBinary()
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var repo = tfm.Parent!.Parent!.Parent!.Parent!.Parent!.FullName; // tests/Persona.Web.Tests/bin/<config>/<tfm>
        var path = Path.Combine(repo, "src", "Persona.Cli", "bin", tfm.Parent.Name, tfm.Name, "persona");
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: build src/Persona.Cli first.");
    }

    [Fact]
    public async Task A_rater_completes_the_study_in_chromium_through_nginx_with_tls_in_front_of_study_serve()
    {
        NginxProxy.EnsureInstalled();
        var dir = Path.Combine(Path.GetTempPath(), "persona-proxy-tests", Guid.NewGuid().ToString("N"));
        StudyDatabase.Create(dir, StudyPlanner.Plan(TestStudy.MadeUpPairs(2, 3), null, new StudyOptions
        {
            Personas = 2, RatersPerPersona = 1, ItemsPerPersona = 3, MinJustificationChars = 20, ProlificRedirect = true, CompletionCode = "PROXY42", ReturnCode = "BACK42",
        })).Dispose();
        // The real verb, as the README runs it behind nginx: plain HTTP on loopback, forwarded headers believed from nginx only.
        var psi = new ProcessStartInfo(PersonaBinary(),
            ["study", "serve", dir, "--urls", "http://127.0.0.1:0", "--trusted-proxy", NginxProxy.ProxyAddress])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["PERSONA_STUDY_ADMIN_TOKEN"] = TestStudy.AdminToken;
        using var server = Process.Start(psi)!;
        try
        {
            string? entry = null;
            var seen = new System.Text.StringBuilder();
            while (await server.StandardOutput.ReadLineAsync() is { } line)
            {
                seen.AppendLine(line);
                if (EntryLink().Match(line) is { Success: true } m) entry ??= m.Value;
                if (line.Contains("Press Ctrl-C", StringComparison.Ordinal)) break;
            }
            if (entry is null) Assert.Fail(seen + await server.StandardError.ReadToEndAsync()); // stdout closed: the server has exited
            Assert.Contains($"Forwarded headers believed from: {NginxProxy.ProxyAddress}", seen.ToString());
            var upstream = new Uri(entry).Authority;
            await using var proxy = await NginxProxy.StartAsync(upstream);
            var publicEntry = proxy.BaseUrl + new Uri(entry).AbsolutePath;

            await using var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true }); // self-signed, made for this test
            context.SetDefaultTimeout(90_000); // a loaded CI machine runs four test projects beside the browser
            var page = await context.NewPageAsync();
            var first = await page.GotoAsync(publicEntry + "?PROLIFIC_PID=pidProxy01&STUDY_ID=st01&SESSION_ID=se01");
            Assert.StartsWith("https://", page.Url);
            // nginx said https (X-Forwarded-Proto from a trusted proxy): the app sends HSTS and marks its cookies Secure.
            Assert.Equal("max-age=31536000", await first!.HeaderValueAsync("strict-transport-security"));
            await page.GetByRole(AriaRole.Button, new() { Name = "Start" }).ClickAsync();
            await page.WaitForURLAsync("**/r/**");
            await RaterBrowserTests.ConsentAsync(page);
            Assert.All((await context.CookiesAsync()).Where(c => c.Name.StartsWith("persona", StringComparison.Ordinal)), c => Assert.True(c.Secure, c.Name));
            await page.GetByRole(AriaRole.Link, new() { Name = "Begin with question 1" }).ClickAsync();
            var token = new Uri(page.Url).AbsolutePath.Split('/')[2];
            for (var q = 1; q <= 3; q++)
            {
                await page.WaitForURLAsync($"**/r/{token}/q/{q}");
                await page.GetByRole(AriaRole.Radio, new() { Name = q % 2 == 0 ? "Answer B" : "Answer A" }).CheckAsync();
                await page.GetByLabel("Why would this person prefer it?").FillAsync($"{Why} ({q})");
                await page.GetByRole(AriaRole.Button, new() { Name = "Save and continue" }).ClickAsync();
            }
            await page.WaitForURLAsync("**/done");
            Assert.StartsWith(proxy.BaseUrl, page.Url);
            Assert.Contains("PROXY42", await page.InnerTextAsync("main"));
            Assert.Contains("https://app.prolific.com/submissions/complete?cc=PROXY42",
                await page.Locator("a", new() { HasText = "return to Prolific" }).GetAttributeAsync("href"));

            using var db = StudyDatabase.Open(dir);
            var answers = db.Answers().ToList();
            Assert.Equal(3, answers.Count);
            Assert.All(answers, a => Assert.Equal(("pidProxy01", "completed"), (a.ProlificPid, a.SessionState)));
            Assert.Equal([$"{Why} (1)", $"{Why} (2)", $"{Why} (3)"], answers.OrderBy(a => a.Position).Select(a => a.Justification));
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            await server.WaitForExitAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task Through_nginx_the_app_sees_each_raters_address_so_limits_are_per_rater_and_forged_headers_change_nothing()
    {
        NginxProxy.EnsureInstalled();
        await using var study = await TestStudy.StartAsync(new StudyOptions { Personas = 4, RatersPerPersona = 1, ItemsPerPersona = 3, MinJustificationChars = 10 },
            TestStudy.MadeUpPairs(4, 3), w => w with { EntryPermitsPerMinute = 3, TrustedProxies = [NginxProxy.ProxyAddress] });
        await using var proxy = await NginxProxy.StartAsync(new Uri(study.BaseUrl).Authority);
        var entry = StudyWebApp.EntryPath(study.Db);

        async Task<(HttpStatusCode Status, string? Hsts)> Get(string baseUrl, string from, string? forwardedFor = null)
        {
            using var http = new HttpClient(proxy.Handler(from)) { BaseAddress = new Uri(baseUrl) };
            using var request = new HttpRequestMessage(HttpMethod.Get, entry);
            if (forwardedFor is not null) request.Headers.Add("X-Forwarded-For", forwardedFor);
            using var response = await http.SendAsync(request);
            return (response.StatusCode, response.Headers.TryGetValues("Strict-Transport-Security", out var v) ? v.Single() : null);
        }

        // Rater A (127.0.0.3) spends the entry budget of 3 a minute; its 4th request is refused.
        for (var i = 0; i < 3; i++) Assert.Equal((HttpStatusCode.OK, "max-age=31536000"), await Get(proxy.BaseUrl, "127.0.0.3"));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Get(proxy.BaseUrl, "127.0.0.3")).Status);
        // A made-up X-Forwarded-For through nginx does not buy A a fresh budget: nginx appends the real address, the app takes nginx's entry.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Get(proxy.BaseUrl, "127.0.0.3", "198.51.100.77")).Status);
        // Rater B (127.0.0.4), through the same nginx, still has its own budget: the app sees B, not nginx (127.0.0.2).
        Assert.Equal(HttpStatusCode.OK, (await Get(proxy.BaseUrl, "127.0.0.4")).Status);

        // Straight to the app from a peer that is not the trusted proxy: its X-Forwarded-For is ignored.
        // Were it believed, naming the exhausted rater A would be refused, and naming fresh addresses would never be.
        Assert.Equal((HttpStatusCode.OK, null), await Get(study.BaseUrl, "127.0.0.5", "127.0.0.3"));
        Assert.Equal(HttpStatusCode.OK, (await Get(study.BaseUrl, "127.0.0.5", "203.0.113.1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Get(study.BaseUrl, "127.0.0.5", "203.0.113.2")).Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Get(study.BaseUrl, "127.0.0.5", "203.0.113.3")).Status);
    }

    [Fact]
    public async Task Serve_takes_its_certificate_from_the_standard_kestrel_configuration_too()
    {
        var dir = Path.Combine(Path.GetTempPath(), "persona-tls-tests", Guid.NewGuid().ToString("N"));
        var (cert, key) = await NginxProxy.MakeCertificateAsync(Path.Combine(dir, "tls"));
        StudyDatabase.Create(Path.Combine(dir, "study"), StudyPlanner.Plan(TestStudy.MadeUpPairs(1, 2), null,
            new StudyOptions { Personas = 1, RatersPerPersona = 1, ItemsPerPersona = 2 })).Dispose();
        var port = NginxProxy.FreePort();
        var psi = new ProcessStartInfo(PersonaBinary(), ["study", "serve", Path.Combine(dir, "study"), "--urls", $"https://127.0.0.1:{port}"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["PERSONA_STUDY_ADMIN_TOKEN"] = TestStudy.AdminToken;
        psi.Environment["Kestrel__Certificates__Default__Path"] = cert;
        psi.Environment["Kestrel__Certificates__Default__KeyPath"] = key;
        using var server = Process.Start(psi)!;
        try
        {
            var seen = new System.Text.StringBuilder();
            while (await server.StandardOutput.ReadLineAsync() is { } line)
            {
                seen.AppendLine(line);
                if (line.Contains("Press Ctrl-C", StringComparison.Ordinal)) break;
            }
            if (!seen.ToString().Contains("Press Ctrl-C", StringComparison.Ordinal)) Assert.Fail(seen + await server.StandardError.ReadToEndAsync());
            using var pinned = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(cert));
            using var http = new HttpClient(new SocketsHttpHandler
            {
                SslOptions = new() { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && c.GetCertHashString() == pinned.Thumbprint },
            });
            using var response = await http.GetAsync($"https://127.0.0.1:{port}/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("max-age=31536000", response.Headers.GetValues("Strict-Transport-Security").Single());
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            await server.WaitForExitAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task Serve_speaks_tls_itself_with_a_pem_certificate_and_sends_hsts()
    {
        var certDir = Path.Combine(Path.GetTempPath(), "persona-tls-tests", Guid.NewGuid().ToString("N"));
        var (cert, key) = await NginxProxy.MakeCertificateAsync(certDir);
        try
        {
            await using var study = await TestStudy.StartAsync(new StudyOptions { Personas = 1, RatersPerPersona = 1, ItemsPerPersona = 2, MinJustificationChars = 10 },
                TestStudy.MadeUpPairs(1, 2), w => w with { Urls = ["https://127.0.0.1:0"], CertificatePath = cert, KeyPath = key });
            Assert.StartsWith("https://127.0.0.1:", study.BaseUrl);
            using var pinned = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(cert));
            using var http = new HttpClient(new SocketsHttpHandler
            {
                SslOptions = new() { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && c.GetCertHashString() == pinned.Thumbprint },
            }) { BaseAddress = new Uri(study.BaseUrl) };
            using var response = await http.GetAsync(StudyWebApp.EntryPath(study.Db));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("max-age=31536000", response.Headers.GetValues("Strict-Transport-Security").Single());

            // A key that does not belong to the certificate, a missing file, a proxy that is no address: one clear line each.
            var (_, otherKey) = await NginxProxy.MakeCertificateAsync(Path.Combine(certDir, "other"));
            foreach (var (change, expected) in new (Func<StudyWebOptions, StudyWebOptions>, string)[]
            {
                (w => w with { CertificatePath = cert, KeyPath = otherKey }, "Cannot read the certificate"),
                (w => w with { CertificatePath = cert + ".missing", KeyPath = key }, "--cert: "),
                (w => w with { CertificatePath = cert }, "--cert and --key go together"),
                (w => w with { TrustedProxies = ["nginx.local"] }, "--trusted-proxy: 'nginx.local' is neither"),
                (w => w with { TrustedProxies = ["10.0.0.0/99"] }, "--trusted-proxy: '10.0.0.0/99'"),
            })
            {
                var ex = await Assert.ThrowsAsync<PersonaException>(() => TestStudy.StartAsync(new StudyOptions { Personas = 1, RatersPerPersona = 1, ItemsPerPersona = 2 },
                    TestStudy.MadeUpPairs(1, 2), change));
                Assert.Contains(expected, ex.Message);
                Assert.DoesNotContain("PRIVATE KEY", ex.Message);
            }
        }
        finally
        {
            try { Directory.Delete(certDir, recursive: true); } catch (IOException) { }
        }
    }
}
