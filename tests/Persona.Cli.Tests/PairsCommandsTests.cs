using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace Persona.Cli.Tests;

public sealed class PairsCommandsTests
{
    private static string Dir()
    {
        var d = Path.Combine(Path.GetTempPath(), "persona-cli-pairs-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    private static (string Personas, string Prompts) Inputs(string dir, int personas)
    {
        var p = Path.Combine(dir, "personas.csv");
        File.WriteAllLines(p, new[] { "age,sex,race,education" }.Concat(Enumerable.Range(0, personas).Select(i =>
            $"{18 + i % 70},{(i % 2 == 0 ? "Female" : "Male")},{(i % 3 == 0 ? "Asian alone" : "White alone")},\"{(i % 4 == 0 ? "Bachelor's degree" : "Regular high school diploma")}\"")));
        var q = Path.Combine(dir, "prompts.csv");
        File.WriteAllLines(q, new[] { "id,question,split" }.Concat(Enumerable.Range(0, 40).Select(i => $"q{i},\"Question {i}, about values?\",{(i < 30 ? "train" : "held_out")}")));
        return (p, q);
    }

    private static string[] BuildArgs(string personas, string prompts, string outDir) =>
        ["pairs", "build", "--personas", personas, "--prompts", prompts, "--model", "offline", "--out", outDir,
         "--train-prompts", "10", "--heldout-prompts", "4", "--train-pairs", "6", "--concurrency", "2"];

    [Fact]
    public async Task Build_then_export_from_the_command_line_and_a_dry_run_sends_nothing()
    {
        var dir = Dir();
        var (personas, prompts) = Inputs(dir, 5);
        var outDir = Path.Combine(dir, "pairs");
        var (code, text) = await Cli.Run([.. BuildArgs(personas, prompts, outDir), "--dry-run"]);
        Assert.True(code == 0, text);
        Assert.Contains("nothing sent", text);
        Assert.Contains("verification", text);
        Assert.False(File.Exists(Path.Combine(outDir, "pairs.jsonl")));
        Assert.False(File.Exists(Path.Combine(outDir, "store.sqlite")));

        (code, text) = await Cli.Run(BuildArgs(personas, prompts, outDir));
        Assert.True(code == 0, text);
        Assert.Contains("agreement, both orders", text);
        Assert.Contains("simulated", text);
        Assert.Equal(5 * 14, File.ReadAllLines(Path.Combine(outDir, "pairs.jsonl")).Length);
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "manifest.json"))).RootElement;
        foreach (var role in new[] { "model", "critic", "judge" }) Assert.True(manifest.GetProperty("roles").TryGetProperty(role, out _), role);

        (code, text) = await Cli.Run("pairs", "export", outDir, "--format", "hf", "--out", Path.Combine(dir, "hf"), "--drop-flagged");
        Assert.True(code == 0, text);
        Assert.True(File.Exists(Path.Combine(dir, "hf", "data", "train-00000-of-00001.parquet")));
        Assert.True(File.Exists(Path.Combine(dir, "hf", "README.md")));
    }

    [Fact]
    public async Task Bad_inputs_get_one_clear_line_and_exit_1()
    {
        var dir = Dir();
        var (personas, prompts) = Inputs(dir, 3);
        var small = Path.Combine(dir, "small.csv");
        File.WriteAllLines(small, ["question,split", "\"A?\",train", "\"B?\",held_out"]);
        var (code, text) = await Cli.Run(BuildArgs(personas, small, Path.Combine(dir, "o1")));
        Assert.Equal(1, code);
        Assert.Contains("1 train and 1 held-out prompts, but the schedule needs 10 and 4", text);
        Assert.DoesNotContain("   at ", text);
        (code, text) = await Cli.Run([.. BuildArgs(personas, prompts, Path.Combine(dir, "o2")), "--verify", "some"]);
        Assert.Equal(1, code);
        Assert.Contains("--verify 'some'", text);
        (code, text) = await Cli.Run([.. BuildArgs(personas, prompts, Path.Combine(dir, "o3")), "--shard", "3/2"]);
        Assert.Equal(1, code);
        Assert.Contains("--shard '3/2'", text);
        (code, text) = await Cli.Run("pairs", "merge", Path.Combine(dir, "nope"), "--out", Path.Combine(dir, "m"));
        Assert.Equal(1, code);
        Assert.Contains("not the output of a finished", text);
    }

    [Fact]
    public async Task Kill_9_in_the_middle_then_a_rerun_pays_nothing_twice_and_gives_the_uninterrupted_runs_files()
    {
        var dir = Dir();
        var (personas, prompts) = Inputs(dir, 60);
        var clean = Path.Combine(dir, "clean");
        var (code, text) = await Cli.Run(BuildArgs(personas, prompts, clean));
        Assert.True(code == 0, text);

        var killed = Path.Combine(dir, "killed");
        var exe = Path.Combine(AppContext.BaseDirectory, "persona");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in BuildArgs(personas, prompts, killed)) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            var store = Path.Combine(killed, "store.sqlite");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            // Wait until some answers are stored, then kill without warning.
            while (DateTime.UtcNow < deadline && !(File.Exists(store) && new FileInfo(store).Length + (File.Exists(store + "-wal") ? new FileInfo(store + "-wal").Length : 0) > 200_000))
                await Task.Delay(20);
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
        }
        Assert.False(File.Exists(Path.Combine(killed, "pairs.jsonl")) && File.ReadAllLines(Path.Combine(killed, "pairs.jsonl")).Length == 60 * 14,
            "the run finished before it could be killed; the test needs a longer schedule");

        (code, text) = await Cli.Run(BuildArgs(personas, prompts, killed));
        Assert.True(code == 0, text);
        foreach (var f in new[] { "pairs.jsonl", "pairs.parquet", "pairs-report.json", "shard.json" })
            Assert.Equal(Sha(Path.Combine(clean, f)), Sha(Path.Combine(killed, f)));
        Assert.Empty(Directory.GetFiles(killed, ".pairs.*.tmp"));
        // Nothing completed before the kill was paid again: every answer is stored exactly once.
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(killed, "store.sqlite")};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM calls WHERE cached = 0 AND status = 'ok' GROUP BY key HAVING COUNT(*) > 1";
        using var r = cmd.ExecuteReader();
        Assert.False(r.Read(), "an answer was paid twice");
    }

    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
