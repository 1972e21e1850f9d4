using System.Text.Json;
using Persona.Cli;
using Persona.Llm.Local.Tests;

namespace Persona.Cli.Tests;

/// <summary>`--model local:PATH.gguf` through the real CLI, on a random-weight GGUF the test writes.</summary>
public sealed class LocalModelCommandsTests
{
    private static Task<(int Code, string Output)> Run(params string[] args) => Cli.Run(args);

    [Fact]
    public async Task Batch_on_a_local_gguf_answers_every_request_and_replays_from_cache()
    {
        var dir = Directory.CreateTempSubdirectory("persona-cli-local-").FullName;
        var model = Path.Combine(dir, "tiny.gguf");
        TinyGguf.Write(model, seed: 3);
        var input = Path.Combine(dir, "requests.jsonl");
        File.WriteAllLines(input, Enumerable.Range(0, 3).Select(i => JsonSerializer.Serialize(new
        {
            id = $"q{i}",
            messages = new[] { new { role = "user", content = $"say something about {i}" } },
            temperature = 0,
            max_tokens = 8,
        })));
        var output = Path.Combine(dir, "out.jsonl");
        string[] args = ["llm", "batch", "--in", input, "--out", output, "--model", $"local:{model}", "--run-dir", Path.Combine(dir, "run")];

        var (code, text) = await Run(args);
        Assert.True(code == 0, text);
        var lines = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["q0", "q1", "q2"], lines.Select(l => l.GetProperty("id").GetString()));
        Assert.All(lines, l => Assert.False(string.IsNullOrEmpty(l.GetProperty("content").GetString())));
        Assert.All(lines, l => Assert.False(l.TryGetProperty("error", out _)));

        (code, text) = await Run(args);
        Assert.True(code == 0, text);
        var again = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(again, l => Assert.True(l.GetProperty("cached").GetBoolean()));
        Assert.Equal(lines.Select(l => l.GetProperty("content").GetString()), again.Select(l => l.GetProperty("content").GetString()));
    }

    [Fact]
    public async Task A_missing_gguf_file_exits_1_before_anything_runs()
    {
        var dir = Directory.CreateTempSubdirectory("persona-cli-local-").FullName;
        var input = Path.Combine(dir, "requests.jsonl");
        File.WriteAllText(input, "{\"id\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n");
        var (code, text) = await Run("llm", "batch", "--in", input, "--out", Path.Combine(dir, "o.jsonl"),
            "--model", $"local:{Path.Combine(dir, "absent.gguf")}", "--run-dir", Path.Combine(dir, "run"));
        Assert.Equal(1, code);
        Assert.Contains("absent.gguf", text);
        Assert.False(File.Exists(Path.Combine(dir, "o.jsonl")));
    }
}
