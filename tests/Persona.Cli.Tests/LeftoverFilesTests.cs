using System.Text.Json;
using Persona.Testing.FakeLlm;

namespace Persona.Cli.Tests;

/// <summary>Issue #8, defect 11: a failed run leaves nothing behind, and a killed run's temp files are cleaned by the next.</summary>
public sealed class LeftoverFilesTests
{
    private static string Parquet => Cli.Fixture("p_56_2024_first2000.parquet");
    private static string Dictionary => Cli.Fixture("PUMS_Data_Dictionary_2023.csv");

    [Fact]
    public async Task A_build_that_fails_validation_leaves_no_out_folder()
    {
        var dir = Cli.TempDir("leftover");
        var outDir = Path.Combine(dir, "pop");
        var (code, _, stderr) = await Cli.RunSplit("personas", "build", "--n", "5", "--model", "offline", "--out", outDir,
            "--source", Parquet, "--dictionary", Dictionary, "--min-age", "150");
        Assert.Equal(1, code);
        Assert.Contains("--min-age", stderr);
        Assert.False(Directory.Exists(outDir), "the failed build left " + string.Join(", ", Directory.Exists(outDir) ? Directory.GetFiles(outDir) : []));
    }

    [Fact]
    public async Task A_failed_audit_leaves_no_store_beside_its_input_and_no_lm_check_needs_none()
    {
        var dir = Cli.TempDir("leftover");
        var pop = Path.Combine(dir, "pop");
        Assert.Equal(0, (await Cli.Run("personas", "build", "--n", "4", "--model", "offline", "--out", pop, "--source", Parquet, "--dictionary", Dictionary)).Code);
        // The audit reads a copy of the personas alone in a folder (the build folder has its own store).
        var alone = Path.Combine(dir, "alone");
        Directory.CreateDirectory(alone);
        var personas = Path.Combine(alone, "personas.jsonl");
        File.Copy(Path.Combine(pop, "personas.jsonl"), personas);
        var (code, _, stderr) = await Cli.RunSplit("personas", "audit", "--personas", personas, "--model", "openai:m", "--base-url", FakeLlmServer.UnreachableBaseUrl());
        Assert.Equal(1, code);
        Assert.Contains("No model server reachable", stderr);
        Assert.Equal(["personas.jsonl"], Directory.GetFiles(alone).Select(Path.GetFileName));

        // Without the LM check nothing needs a store, so the personas folder is only read.
        var outFile = Path.Combine(Cli.TempDir("leftover"), "audit.json");
        (code, _, stderr) = await Cli.RunSplit("personas", "audit", "--personas", personas, "--model", "offline", "--no-lm-check", "--out", outFile);
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(outFile));
        Assert.Equal(["personas.jsonl"], Directory.GetFiles(alone).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Temp_files_of_a_killed_run_are_removed_by_the_next_run_of_the_same_output()
    {
        var dir = Cli.TempDir("leftover");
        var input = Path.Combine(dir, "requests.jsonl");
        File.WriteAllLines(input, Enumerable.Range(0, 3).Select(i => JsonSerializer.Serialize(new { id = $"r{i}", messages = new[] { new { role = "user", content = $"q{i}" } } })));
        var output = Path.Combine(dir, "out.jsonl");
        // What a SIGKILLed writer leaves: a temp named after a process that no longer exists, and an old pid-less one.
        var deadPid = Path.Combine(dir, ".out.jsonl.2147483000.tmp");
        var oldGuid = Path.Combine(dir, $".out.jsonl.{Guid.NewGuid():N}.tmp");
        var other = Path.Combine(dir, ".other.jsonl.2147483000.tmp");
        foreach (var f in new[] { deadPid, oldGuid, other }) File.WriteAllText(f, "partial");
        File.SetLastWriteTimeUtc(oldGuid, DateTime.UtcNow.AddHours(-3));
        var (code, _) = await Cli.Run("llm", "batch", "--in", input, "--out", output, "--model", "offline", "--run-dir", Path.Combine(dir, "run"));
        Assert.Equal(0, code);
        Assert.False(File.Exists(deadPid));
        Assert.False(File.Exists(oldGuid));
        Assert.True(File.Exists(other)); // another output's temp is not ours to remove

        // The persona writers (AtomicFile) clean theirs too.
        var personas = Path.Combine(dir, "p.jsonl");
        var stale = Path.Combine(dir, ".p.jsonl.2147483000.0123456789abcdef0123456789abcdef.tmp");
        File.WriteAllText(stale, "partial");
        Assert.Equal(0, (await Cli.Run("census", "sample", "--n", "5", "--source", Parquet, "--dictionary", Dictionary, "--out", personas)).Code);
        Assert.False(File.Exists(stale));
    }
}
