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
        Assert.Contains("10 stage(s)", output);
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
        Assert.Contains("<section id=\"rm\">", html);
        // 24 fidelity histograms, the two reward-model figures, the five bench figures and the survey's heat map, embedded.
        Assert.Equal(24 + 2 + 5 + 1, System.Text.RegularExpressions.Regex.Matches(html, "<img alt=\"[^\"]*\" src=\"data:image/").Count);
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

    /// <summary>A copy of the fixture's run, to damage without touching the shared one.</summary>
    private string CopyOfRun(string name)
    {
        var copy = Path.Combine(run.Root, name, "run");
        foreach (var f in Directory.GetFiles(run.Run, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(run.Run, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
        return copy;
    }

    [Fact]
    public async Task Warnings_for_a_truncated_results_json_and_a_wrong_shape_pairs_report_go_to_stderr_in_words_without_type_names()
    {
        var copy = CopyOfRun("damaged-stage-files");
        var results = Path.Combine(copy, "bench", "results.json");
        var bytes = File.ReadAllBytes(results);
        File.WriteAllBytes(results, bytes[..(bytes.Length / 2)]); // cut off mid-file
        File.WriteAllText(Path.Combine(copy, "pairs", "pairs-report.json"), "{\"pairs\": \"many\", \"verification\": []}\n");
        File.WriteAllText(Path.Combine(copy, "bench", "loo", "loo.json"), "[1, 2]\n");

        var (code, stdout, stderr) = await Cli.RunSplit("report", copy);
        Assert.True(code == 0, stdout + stderr);
        Assert.DoesNotContain("warning", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("warning: bench/results.json line ", StringComparison.Ordinal) && l.Contains("cut off"));
        Assert.Contains(lines, l => l.StartsWith("warning: pairs/pairs-report.json", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("warning: bench/loo/loo.json", StringComparison.Ordinal));
        foreach (var text in new[] { stdout, stderr, await File.ReadAllTextAsync(Path.Combine(copy, "report.html")) })
        {
            Assert.DoesNotMatch(@"Persona\.[A-Z][A-Za-z]+\.", text);
            Assert.DoesNotContain("System.", text);
            Assert.DoesNotContain("could not be converted", text);
        }
    }

    [Fact]
    public async Task A_damaged_run_manifest_is_named_damaged_in_words_on_stderr_and_in_the_page_and_the_report_is_still_written()
    {
        var copy = CopyOfRun("damaged-manifest");
        File.WriteAllText(Path.Combine(copy, "manifest.json"), "{\"format\": \"persona-testbed-run/1\", \"status\": \"comp");
        var (code, stdout, stderr) = await Cli.RunSplit("report", copy);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("warning: manifest.json line 1: not valid JSON", stderr);
        Assert.Contains("the manifest is damaged", stderr);
        var html = await File.ReadAllTextAsync(Path.Combine(copy, "report.html"));
        Assert.Contains("the manifest is damaged", html);
    }

    [Fact]
    public async Task A_run_whose_manifest_was_edited_to_cancelled_gets_a_report_that_says_unfinished_and_marks_the_stages_not_run()
    {
        var copy = CopyOfRun("cancelled-manifest");
        // The stage files of the fixture are all there (as an earlier run of the folder leaves them); the manifest says where this run stopped.
        File.WriteAllText(Path.Combine(copy, "manifest.json"), """
            {"format": "persona-testbed-run/1", "status": "cancelled", "simulated": true,
             "stages": {"population": {"status": "completed"}, "survey": {"status": "completed"}, "prompts": {"status": "completed"}, "pairs": {"status": "cancelled"}},
             "outputs": {}, "inputs": []}
            """);
        var (code, stdout, stderr) = await Cli.RunSplit("report", copy);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("unfinished:", stderr);
        Assert.Contains("\"cancelled\" by Ctrl-C", stderr);
        Assert.Contains("not run: rm, bench, loo, passk, summaries, study, dataset, report", stderr);
        var html = await File.ReadAllTextAsync(Path.Combine(copy, "report.html"));
        Assert.Contains("data-unfinished=\"top\"", html);
        Assert.Contains("This run did not finish", html);
        // The stage table lists every stage, those without a record as not run.
        Assert.Matches(@"<td>pairs</td><td[^>]*>cancelled</td>", html);
        Assert.Matches(@"<td>bench</td><td[^>]*>not run</td>", html);
        Assert.Matches(@"<td>dataset</td><td[^>]*>not run</td>", html);
        // A section whose files an earlier run left says they are not this run's.
        Assert.Contains("data-stage-unfinished=\"bench\"", html);
        Assert.Contains("data-stage-unfinished=\"pairs\"", html);
        Assert.DoesNotContain("data-stage-unfinished=\"population\"", html);
    }
}
