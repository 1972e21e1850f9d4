using System.Text.Json;
using Persona.Testbed;

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
        var manifest = new Dictionary<string, object?> { ["format"] = "persona-testbed-run/1" };
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
}
