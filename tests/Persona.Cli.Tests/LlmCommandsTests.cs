using Spectre.Console;
using System.Text.Json;
using Persona.Cli;
using Persona.Testing.FakeLlm;

namespace Persona.Cli.Tests;

public sealed class LlmCommandsTests
{
    private static Task<(int Code, string Output)> Run(params string[] args) => Cli.Run(args);

    private static string Dir()
    {
        var d = Path.Combine(Path.GetTempPath(), "persona-cli-llm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    internal static string Requests(string dir, int n)
    {
        var path = Path.Combine(dir, "requests.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, n).Select(i => JsonSerializer.Serialize(new
        {
            id = $"r{i}",
            messages = new[] { new { role = "user", content = $"question {i}" } },
            temperature = 0,
        })));
        return path;
    }

    [Fact]
    public async Task Offline_batch_writes_one_line_per_id_in_order_and_a_rerun_is_all_cached()
    {
        var dir = Dir();
        var input = Requests(dir, 25);
        var output = Path.Combine(dir, "out.jsonl");
        var runDir = Path.Combine(dir, "run");
        var (code, text) = await Run("llm", "batch", "--in", input, "--out", output, "--model", "offline", "--run-dir", runDir);
        Assert.Equal(0, code);
        Assert.Contains("completed", text);
        Assert.Contains("simulated", text);
        var lines = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"r{i}"), lines.Select(l => l.GetProperty("id").GetString()));
        Assert.All(lines, l => Assert.True(l.GetProperty("simulated").GetBoolean()));
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "manifest.json"))).RootElement;
        Assert.True(manifest.GetProperty("simulated").GetBoolean());

        var first = File.ReadAllText(output);
        (code, _) = await Run("llm", "batch", "--in", input, "--out", output, "--model", "offline", "--run-dir", runDir);
        Assert.Equal(0, code);
        var again = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(again, l => Assert.True(l.GetProperty("cached").GetBoolean()));
        Assert.Equal(lines.Select(l => l.GetProperty("content").GetString()), again.Select(l => l.GetProperty("content").GetString()));
        Assert.NotEqual(first, File.ReadAllText(output)); // only the cached flags differ
    }

    [Fact]
    public async Task Malformed_request_line_exits_1_with_its_line_number()
    {
        var dir = Dir();
        var input = Requests(dir, 3);
        File.AppendAllText(input, "{\"id\":\"x\",\"messages\":\"oops\"}\n");
        var (code, text) = await Run("llm", "batch", "--in", input, "--out", Path.Combine(dir, "o.jsonl"), "--model", "offline", "--run-dir", Path.Combine(dir, "run"));
        Assert.Equal(1, code);
        Assert.Contains("requests.jsonl:4", text);
        Assert.False(Directory.Exists(Path.Combine(dir, "run")));
    }

    [Fact]
    public async Task Unknown_provider_and_unreachable_server_exit_1()
    {
        var dir = Dir();
        var input = Requests(dir, 2);
        var (code, text) = await Run("llm", "batch", "--in", input, "--out", Path.Combine(dir, "o.jsonl"), "--model", "nope:x");
        Assert.Equal(1, code);
        Assert.Contains("unknown provider", text);
        (code, text) = await Run("llm", "batch", "--in", input, "--out", Path.Combine(dir, "o.jsonl"), "--model", "openai:m",
            "--base-url", FakeLlmServer.UnreachableBaseUrl(), "--run-dir", Path.Combine(dir, "run"));
        Assert.Equal(1, code);
        Assert.Contains("No model server reachable", text);
        Assert.False(File.Exists(Path.Combine(dir, "o.jsonl")));
    }

    [Fact]
    public async Task Budget_stop_exits_3_and_the_rerun_completes()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var dir = Dir();
        var input = Requests(dir, 12);
        var output = Path.Combine(dir, "out.jsonl");
        string[] args = ["llm", "batch", "--in", input, "--out", output, "--model", "openai:fake-model", "--base-url", server.BaseUrl, "--run-dir", Path.Combine(dir, "run"), "--concurrency", "2"];
        var (code, text) = await Run([.. args, "--max-calls", "5"]);
        Assert.Equal(3, code);
        Assert.Contains("--max-calls 5 reached", text);
        Assert.False(File.Exists(output));
        (code, _) = await Run(args);
        Assert.Equal(0, code);
        Assert.Equal(12, server.TotalPaid);
        Assert.Equal(12, File.ReadAllLines(output).Length);
    }

    [Fact]
    public async Task Dead_endpoint_exits_4_and_is_resumable()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.Status(503);
        var dir = Dir();
        var input = Requests(dir, 10);
        var output = Path.Combine(dir, "out.jsonl");
        string[] args = ["llm", "batch", "--in", input, "--out", output, "--model", "openai:fake-model", "--base-url", server.BaseUrl,
            "--run-dir", Path.Combine(dir, "run"), "--breaker-failures", "3", "--breaker-seconds", "0", "--backoff-ms", "2", "--max-attempts", "3"];
        var (code, text) = await Run(args);
        Assert.Equal(4, code);
        Assert.Contains("circuit open", text);
        server.FaultRule = null;
        (code, _) = await Run(args);
        Assert.Equal(0, code);
        Assert.Equal(10, File.ReadAllLines(output).Length);
    }

    [Fact]
    public async Task Ping_reports_the_answering_model()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var (code, text) = await Run("llm", "ping", "--model", "openai:fake-model", "--base-url", server.BaseUrl);
        Assert.Equal(0, code);
        Assert.Contains("fake-model", text);
        Assert.Contains("echo: Reply with the single word: pong", text.Replace("\n", " "), StringComparison.Ordinal);
        (code, text) = await Run("llm", "ping", "--model", "offline");
        Assert.Equal(0, code);
        Assert.Contains("offline-simulator", text);
    }

    [Fact]
    public async Task Help_documents_exit_codes_and_examples()
    {
        var writer = new StringWriter();
        var root = PersonaApp.BuildRoot(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) }));
        var code = await root.Parse(["llm", "batch", "--help"]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = writer });
        var text = writer.ToString();
        Assert.Equal(0, code);
        Assert.Contains("3 stopped by --max-cost/--max-calls", text);
        Assert.Contains("Examples:", text);
    }
}
