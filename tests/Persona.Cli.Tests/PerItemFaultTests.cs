using System.Text.Json;

namespace Persona.Cli.Tests;

/// <summary>Issue #8, defect 2: one huge message is one item's concern, not a crash of the batch and of every rerun.</summary>
public sealed class PerItemFaultTests
{
    [Fact]
    public async Task A_5_MB_message_to_the_offline_model_gets_a_bounded_answer_and_the_batch_completes()
    {
        var dir = Cli.TempDir("items");
        var input = Path.Combine(dir, "requests.jsonl");
        File.WriteAllLines(input,
        [
            JsonSerializer.Serialize(new { id = "big", messages = new[] { new { role = "user", content = new string('a', 5_000_000) } } }),
            JsonSerializer.Serialize(new { id = "small", messages = new[] { new { role = "user", content = "hello there" } } }),
        ]);
        var output = Path.Combine(dir, "out.jsonl");
        string[] args = ["llm", "batch", "--in", input, "--out", output, "--model", "offline", "--run-dir", Path.Combine(dir, "run")];
        for (var run = 0; run < 2; run++) // the rerun (all cached) too
        {
            var (code, stdout, stderr) = await Cli.RunSplit(args);
            Assert.True(code == 0, stderr);
            Assert.DoesNotContain("   at ", stdout + stderr);
        }
        Assert.True(new FileInfo(output).Length < 1_000_000, $"results.jsonl is {new FileInfo(output).Length:N0} bytes");
        Assert.Equal(2, File.ReadAllLines(output).Length);
    }
}
