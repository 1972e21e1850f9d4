using System.Text.Json;
using Persona.Testing.FakeLlm;

namespace Persona.Cli.Tests;

/// <summary>Issue #8, defects 4 and 5 at the command line. The key comes from the process environment, so these run alone.</summary>
[Collection(nameof(KeyHandlingCliTests))]
[CollectionDefinition(nameof(KeyHandlingCliTests), DisableParallelization = true)]
public sealed class KeyHandlingCliTests
{
    private const string Secret = "sk-proj-CLIsecretKEY0123456789abcdef";

    private static async Task<(int Code, string Stdout, string Stderr)> WithKey(params string[] args)
    {
        var before = Environment.GetEnvironmentVariable("OPENAI_API_KEY");
        Environment.SetEnvironmentVariable("OPENAI_API_KEY", Secret);
        try { return await Cli.RunSplit(args); }
        finally { Environment.SetEnvironmentVariable("OPENAI_API_KEY", before); }
    }

    [Fact]
    public async Task Ping_with_a_refused_key_says_so_and_never_prints_the_echoed_key()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.RejectKey(401);
        var (code, stdout, stderr) = await WithKey("llm", "ping", "--model", "openai:fake-model", "--base-url", server.BaseUrl);
        Assert.Equal(1, code);
        Assert.Contains("refused the API key", stderr);
        Assert.Contains("OPENAI_API_KEY", stderr);
        Assert.DoesNotContain(Secret, stdout + stderr);
    }

    [Fact]
    public async Task Small_batch_with_a_refused_key_is_an_error_not_completed_with_every_item_failed()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.RejectKey(403);
        var dir = Cli.TempDir("keys");
        var input = Path.Combine(dir, "requests.jsonl");
        File.WriteAllLines(input, Enumerable.Range(0, 3).Select(i => JsonSerializer.Serialize(new { id = $"r{i}", messages = new[] { new { role = "user", content = $"q{i}" } } })));
        var output = Path.Combine(dir, "out.jsonl");
        var (code, stdout, stderr) = await WithKey("llm", "batch", "--in", input, "--out", output, "--model", "openai:fake-model", "--base-url", server.BaseUrl, "--run-dir", Path.Combine(dir, "run"));
        Assert.Equal(1, code);
        Assert.Contains("refused the API key (HTTP 403 Forbidden", stderr);
        Assert.DoesNotContain("completed", stdout);
        Assert.DoesNotContain(Secret, stdout + stderr);
        Assert.False(File.Exists(output));
        foreach (var f in Directory.GetFiles(dir, "*", SearchOption.AllDirectories))
            Assert.DoesNotContain(Secret, File.ReadAllText(f));
    }
}
