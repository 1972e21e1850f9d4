using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Persona.Cli.Tests;

/// <summary>The study verbs' share of the second hardening pass (issue 24): paths, messages, inputs.</summary>
public sealed partial class StudyCliHardeningTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-cli-study-hardening", Guid.NewGuid().ToString("N"));

    private Task<(int Code, string Stdout, string Stderr)> Create(string outDir, params string[] extra) =>
        Cli.RunSplit(["study", "create", "--pairs", Cli.Fixture("study-pairs"), "--out", outDir, "--persona-count", "2", "--raters", "1", "--items", "2", .. extra]);

    [Fact]
    public async Task Create_prints_the_next_command_with_an_absolute_shell_quoted_path()
    {
        var outDir = Path.Combine(_dir, "my study", "it's here");
        var (code, stdout, stderr) = await Create(outDir);
        Assert.True(code == 0, stdout + stderr);
        var quoted = "'" + Path.GetFullPath(outDir).Replace("'", "'\\''") + "'";
        Assert.Contains($"Next: persona study serve {quoted}", stdout);
        // A shell reads the quoted word back as the path itself.
        using var sh = Process.Start(new ProcessStartInfo("sh", ["-c", $"printf %s {quoted}"]) { RedirectStandardOutput = true })!;
        Assert.Equal(Path.GetFullPath(outDir), await sh.StandardOutput.ReadToEndAsync());
    }

    [Fact]
    public async Task A_zero_persona_count_names_the_flag_that_exists()
    {
        var (code, _, stderr) = await Cli.RunSplit("study", "create", "--pairs", Cli.Fixture("study-pairs"), "--out", Path.Combine(_dir, "s"), "--persona-count", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("--persona-count must be at least 1", stderr);
        Assert.DoesNotContain("--personas-count", stderr);
    }

    [Fact]
    public async Task An_unknown_split_is_named_with_the_splits_there_are()
    {
        var (code, _, stderr) = await Create(Path.Combine(_dir, "s"), "--splits", "foo");
        Assert.NotEqual(0, code);
        Assert.Contains("--splits: unknown split 'foo'", stderr);
        Assert.Contains("test-seen", stderr);
        Assert.DoesNotContain("such personas", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]+")]
    private static partial Regex EntryLink();

    [Fact]
    public async Task Serve_resolves_a_relative_study_path_against_the_current_directory()
    {
        var work = Path.Combine(_dir, "work dir");
        var (code, stdout, stderr) = await Create(Path.Combine(work, "sd", "web"));
        Assert.True(code == 0, stdout + stderr);
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "persona"), ["study", "serve", "sd/web", "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = work,
        };
        psi.Environment["PERSONA_STUDY_ADMIN_TOKEN"] = "relative-path-test-token-0123456789";
        using var server = Process.Start(psi)!;
        var seen = new System.Text.StringBuilder();
        try
        {
            string? entry = null;
            while (await server.StandardOutput.ReadLineAsync() is { } line)
            {
                seen.AppendLine(line);
                if (EntryLink().Match(line) is { Success: true } m) entry ??= m.Value;
                if (line.Contains("Press Ctrl-C", StringComparison.Ordinal)) break;
            }
            // stderr only once the server is gone: reading it to the end first would wait for the server forever.
            if (entry is null) Assert.Fail(seen + await server.StandardError.ReadToEndAsync());
            // Lines wrap at 80 columns when stdout is not a terminal: compare without the line breaks.
            Assert.Contains($"Serving {Path.Combine(work, "sd", "web", "study.sqlite")}", seen.ToString().Replace(Environment.NewLine, ""));
            using var http = new HttpClient();
            Assert.Contains("Start", await http.GetStringAsync(entry));
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            await server.WaitForExitAsync();
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
