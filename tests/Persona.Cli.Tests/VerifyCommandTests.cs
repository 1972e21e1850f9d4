using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Persona.Run;

namespace Persona.Cli.Tests;

/// <summary>`persona verify RUN` over a folder whose manifest was made from the real files it holds.</summary>
public sealed class VerifyCommandTests
{
    [Fact]
    public async Task Verify_passes_an_untouched_run_names_a_changed_output_with_exit_2_and_rejects_a_folder_without_a_manifest_in_one_line()
    {
        var run = Cli.TempDir("verify");
        var (sampled, sampleText) = await Cli.Run("census", "sample", "--n", "5", "--seed", "2", "--out", Path.Combine(run, "personas.jsonl"));
        Assert.True(sampled == 0, sampleText);
        File.WriteAllText(Path.Combine(run, "store.sqlite"), "cache");
        var extract = await RunInput.OfFileAsync("census-extract", BundledData.Path("acs/pums-2024-us.parquet"), run);
        var manifest = new Dictionary<string, object?> { ["format"] = "persona-testbed-run/1", ["status"] = "completed" };
        (await RunFingerprint.ComputeAsync(run, [extract])).AddTo(manifest);
        File.WriteAllText(Path.Combine(run, "manifest.json"), JsonSerializer.Serialize(manifest));

        var (ok, okText) = await Cli.Run("verify", run);
        Assert.True(ok == 0, okText);
        Assert.Contains("verified: 1 output and 1 input", okText);

        File.AppendAllText(Path.Combine(run, "store.sqlite"), " grows on every resume");
        var personas = Path.Combine(run, "personas.jsonl");
        var bytes = File.ReadAllBytes(personas);
        bytes[10] ^= 0x20;
        File.WriteAllBytes(personas, bytes);
        var (differs, stdout, stderr) = await Cli.RunSplit("verify", run);
        Assert.Equal(VerifyCommand.DiffersExitCode, differs);
        Assert.Equal(2, differs);
        Assert.Matches(@"output changed\s*│\s*personas\.jsonl", stdout);
        Assert.Contains("differs: 1 difference", stdout);
        Assert.DoesNotContain("store.sqlite", stdout);
        Assert.Equal("", stderr);

        var empty = Cli.TempDir("verify-empty");
        var (bad, badOut, badErr) = await Cli.RunSplit("verify", empty);
        Assert.Equal(1, bad);
        Assert.Equal("", badOut);
        Assert.Equal($"error: '{empty}' has no manifest.json; give the run folder that `persona run` wrote (its --out).", badErr.Trim());

        File.WriteAllText(Path.Combine(empty, "manifest.json"), "{\"format\": \"persona-llm-run/2\"}");
        var (noOutputs, _, noOutputsErr) = await Cli.RunSplit("verify", empty);
        Assert.Equal(1, noOutputs);
        Assert.Contains("has no \"outputs\"", noOutputsErr);
        Assert.Single(noOutputsErr.Trim().Split('\n'));
    }

    /// <summary>
    /// A run folder with one real output (a census sample) and a whole-run manifest hashed from it, as
    /// `persona run` writes them; <paramref name="status"/> and <paramref name="stages"/> as an interrupted run leaves them.
    /// </summary>
    private static async Task<string> MakeRun(string area, string status, IReadOnlyDictionary<string, string> stages)
    {
        var run = Cli.TempDir(area);
        var (sampled, sampleText) = await Cli.Run("census", "sample", "--n", "5", "--seed", "2", "--out", Path.Combine(run, "population", "personas.jsonl"));
        Assert.True(sampled == 0, sampleText);
        var extract = await RunInput.OfFileAsync("census-extract", BundledData.Path("acs/pums-2024-us.parquet"), run);
        var manifest = new Dictionary<string, object?>
        {
            ["format"] = TestbedRun.Format, ["status"] = status, ["simulated"] = true,
            ["stages"] = stages.ToDictionary(kv => kv.Key, kv => (object?)new Dictionary<string, object?> { ["status"] = kv.Value, ["fingerprint"] = "f" }),
        };
        (await RunFingerprint.ComputeAsync(run, [extract])).AddTo(manifest);
        File.WriteAllText(Path.Combine(run, "manifest.json"), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
        return run;
    }

    private static string Sha256Of(string file) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));

    [Fact]
    public async Task Verify_of_a_run_whose_manifest_was_edited_to_cancelled_by_ctrl_c_exits_3_and_names_the_stages_not_run()
    {
        var run = await MakeRun("verify-cancelled", "cancelled", new Dictionary<string, string> { ["population"] = "completed", ["survey"] = "completed", ["prompts"] = "cancelled" });
        var (code, stdout, stderr) = await Cli.RunSplit("verify", run);
        Assert.True(code == 3, stdout + stderr);
        Assert.DoesNotContain("verified", stdout);
        Assert.Contains("unfinished:", stdout);
        Assert.Contains("\"cancelled\" by Ctrl-C", stdout);
        Assert.Contains("cancelled: prompts", stdout);
        Assert.Contains("not run: pairs, rm, bench, loo, passk, summaries, study, dataset, report", stdout);
        Assert.Contains("1 output and 1 input", stdout); // what exists still matches
        Assert.Equal("", stderr);

        // A changed output as well: the difference decides the exit code, and the run is still said to be unfinished.
        var personas = Path.Combine(run, "population", "personas.jsonl");
        File.AppendAllText(personas, "\n");
        (code, stdout, _) = await Cli.RunSplit("verify", run);
        Assert.Equal(VerifyCommand.DiffersExitCode, code);
        Assert.Contains("output changed", stdout);
        Assert.Contains("unfinished:", stdout);
    }

    [Fact]
    public async Task Verify_of_a_run_whose_manifest_was_edited_to_running_as_kill_9_leaves_it_exits_3()
    {
        var run = await MakeRun("verify-killed", "running", new Dictionary<string, string> { ["population"] = "completed" });
        var (code, stdout, stderr) = await Cli.RunSplit("verify", run);
        Assert.True(code == 3, stdout + stderr);
        Assert.Contains("unfinished:", stdout);
        Assert.Contains("\"running\": the process was killed", stdout);
        Assert.Contains("not run: survey, prompts, pairs", stdout); // the registry's order: survey follows the population

        // "completed" with every stage completed is the finished run: exit 0.
        var all = TestbedStages.All.ToDictionary(s => s, _ => "completed");
        var done = await MakeRun("verify-done", "completed", all);
        (code, stdout, stderr) = await Cli.RunSplit("verify", done);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("verified:", stdout);
    }

    [Fact]
    public async Task A_manifest_edited_to_say_not_simulated_or_with_an_output_and_its_hash_rewritten_fails_verify_expect_with_exit_2()
    {
        var run = await MakeRun("verify-tampered", "completed", TestbedStages.All.ToDictionary(s => s, _ => "completed"));
        var manifestPath = Path.Combine(run, "manifest.json");
        var pinned = Sha256Of(manifestPath); // what the user kept from the end of `persona run`
        var (code, stdout, stderr) = await Cli.RunSplit("verify", run, "--expect", pinned);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("verified:", stdout);

        // "simulated": true -> false, nothing else touched: every hash the manifest lists still matches.
        var node = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        node["simulated"] = false;
        File.WriteAllText(manifestPath, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        (code, stdout, stderr) = await Cli.RunSplit("verify", run, "--expect", pinned);
        Assert.True(code == VerifyCommand.DiffersExitCode, stdout + stderr);
        Assert.Contains("manifest changed", stdout);
        Assert.Contains("is not the manifest you pinned", stdout);
        Assert.Equal("", stderr);

        // An output rewritten together with its recorded hash.
        var personas = Path.Combine(run, "population", "personas.jsonl");
        File.WriteAllText(personas, "{\"id\":\"forged\"}\n");
        node["simulated"] = true;
        node["outputs"]!["population/personas.jsonl"] = Sha256Of(personas);
        File.WriteAllText(manifestPath, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Delete(Path.Combine(run, "manifest.sha256")); // whoever rewrites the manifest can rewrite or drop its digest too
        (code, stdout, stderr) = await Cli.RunSplit("verify", run);
        Assert.True(code == 0, stdout + stderr); // unpinned, the manifest vouches for itself: documented
        (code, stdout, stderr) = await Cli.RunSplit("verify", run, "--expect", pinned.ToUpperInvariant());
        Assert.True(code == VerifyCommand.DiffersExitCode, stdout + stderr);
        Assert.Contains("is not the manifest you pinned", stdout);

        // A digest that is not one: a usage error, one line.
        (code, stdout, stderr) = await Cli.RunSplit("verify", run, "--expect", "abc123");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains("--expect 'abc123' is not a SHA-256", Assert.Single(stderr.Trim().Split('\n')));
    }

    [Fact]
    public async Task A_damaged_manifest_is_damaged_to_verify_and_to_report_in_the_same_words()
    {
        var run = await MakeRun("verify-damaged", "completed", TestbedStages.All.ToDictionary(s => s, _ => "completed"));
        var manifestPath = Path.Combine(run, "manifest.json");
        var text = File.ReadAllText(manifestPath);
        File.WriteAllText(manifestPath, text[..(text.Length / 2)]);
        var (code, stdout, stderr) = await Cli.RunSplit("verify", run);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains("the manifest is damaged", stderr);
        // The folder holds no stage report besides the manifest: report cannot tell it is a run, and says why.
        (code, stdout, stderr) = await Cli.RunSplit("report", run);
        Assert.Equal(1, code);
        Assert.Contains("the manifest is damaged", stderr);
        Assert.DoesNotContain("is not a run folder", stderr);
    }
}
