using System.Security.Cryptography;
using Persona.Testing;

namespace Persona.Cli.Tests;

/// <summary>`persona report` over a real small run folder built with the existing verbs (shared by the tests of this class).</summary>
public sealed class ReportCommandTests(RunFolderFixture run) : IClassFixture<RunFolderFixture>
{
    private static Dictionary<string, string> Hashes(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != "report.html")
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public async Task Report_of_a_real_run_rebuilds_byte_identical_reads_only_and_says_it_is_simulated()
    {
        var before = Hashes(run.Run);
        var (code, output) = await Cli.Run("report", run.Run);
        Assert.True(code == 0, output);
        Assert.Contains("simulated:", output);
        Assert.Contains("9 stage(s)", output);
        var path = Path.Combine(run.Run, "report.html");
        var first = await File.ReadAllBytesAsync(path);

        (code, output) = await Cli.Run("report", run.Run);
        Assert.True(code == 0, output);
        Assert.Equal(first, await File.ReadAllBytesAsync(path));
        // Reading a run changes none of its files (the study database included).
        Assert.Equal(before, Hashes(run.Run));

        var html = System.Text.Encoding.UTF8.GetString(first);
        Assert.Contains("data-banner=\"top\"", html);
        Assert.DoesNotContain("Not run:", html);
        Assert.DoesNotContain("Could not read", html);
        // 24 fidelity histograms and the five bench figures, embedded.
        Assert.Equal(24 + 5, System.Text.RegularExpressions.Regex.Matches(html, "<img alt=\"[^\"]*\" src=\"data:image/").Count);
        Assert.Contains("persona study serve RUN/study", html);
        Assert.DoesNotContain(run.Root, html);
    }

    [Fact]
    public async Task A_partial_run_gets_a_report_with_the_missing_stages_not_run()
    {
        var partial = Path.Combine(run.Root, "partial", "run");
        foreach (var f in Directory.GetFiles(Path.Combine(run.Run, "population"), "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(partial, Path.GetRelativePath(run.Run, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
        var (code, output) = await Cli.Run("report", partial);
        Assert.True(code == 0, output);
        var html = await File.ReadAllTextAsync(Path.Combine(partial, "report.html"));
        foreach (var f in new[] { "prompts/curation-report.json", "pairs/pairs-report.json", "bench/results.json", "study/study.sqlite" })
            Assert.Contains($"Not run: <code>{f}</code>", html);
        Assert.Contains("data-banner=\"population\"", html);
    }

    [Fact]
    public async Task A_folder_that_is_not_a_run_fails_with_one_line()
    {
        var notRun = Path.Combine(run.Root, "not-a-run");
        Directory.CreateDirectory(notRun);
        File.WriteAllText(Path.Combine(notRun, "notes.txt"), "hello");
        var (code, stdout, stderr) = await Cli.RunSplit("report", notRun);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains("is not a run folder", line);
        Assert.False(File.Exists(Path.Combine(notRun, "report.html")));

        // A stage folder is not a run either, and a missing folder is named.
        (code, _, stderr) = await Cli.RunSplit("report", Path.Combine(run.Run, "bench"));
        Assert.Equal(1, code);
        Assert.Contains("is not a run folder", stderr);
        (code, _, stderr) = await Cli.RunSplit("report", Path.Combine(run.Root, "missing"));
        Assert.Equal(1, code);
        Assert.Contains("does not exist", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
