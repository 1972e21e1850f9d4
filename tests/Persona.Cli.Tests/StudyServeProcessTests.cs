using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Persona.Cli.Tests;

/// <summary>`persona study serve` as a process: the built binary, signalled directly.</summary>
public sealed partial class StudyServeProcessTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-cli-serve", Guid.NewGuid().ToString("N"));

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]+")]
    private static partial Regex EntryLink();

    [Fact]
    public async Task Serve_prints_its_links_answers_on_them_and_stops_cleanly_on_sigint()
    {
        var study = Path.Combine(_dir, "study");
        var (code, output) = await Cli.Run("study", "create", "--pairs", Cli.Fixture("study-pairs"), "--out", study, "--persona-count", "2", "--raters", "1", "--items", "2");
        Assert.True(code == 0, output);
        const string secret = "env-admin-token-which-must-not-be-printed";
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "persona"), ["study", "serve", study, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["PERSONA_STUDY_ADMIN_TOKEN"] = secret;
        using var server = Process.Start(psi)!;
        var seen = new System.Text.StringBuilder();
        try
        {
            string? entry = null;
            var until = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < until && await server.StandardOutput.ReadLineAsync() is { } line)
            {
                seen.AppendLine(line);
                if (EntryLink().Match(line) is { Success: true } m) entry ??= m.Value;
                if (line.Contains("Press Ctrl-C", StringComparison.Ordinal)) break;
            }
            Assert.True(entry is not null, seen.ToString());
            using var http = new HttpClient();
            Assert.Contains("Start", await http.GetStringAsync(entry));
            Assert.DoesNotContain(secret, seen.ToString());
            Assert.Contains("<PERSONA_STUDY_ADMIN_TOKEN>", seen.ToString());

            using (var kill = Process.Start("kill", ["-INT", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.WaitForExitAsync(exit.Token);
            var rest = await server.StandardOutput.ReadToEndAsync();
            Assert.True(server.ExitCode == 0, seen + rest + await server.StandardError.ReadToEndAsync());
            Assert.Contains("stopped; every acknowledged answer is in the study database", rest);
        }
        finally
        {
            if (!server.HasExited) server.Kill();
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
