using Persona.Engine;
using System.Text;
using Persona.Llm;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Llm;

/// <summary>Issue #8, defects 4 and 5: a refused key ends the run at once; a key echoed by the server is never written anywhere.</summary>
public sealed class KeyRejectionAndScrubbingTests
{
    private const string Secret = "sk-proj-Zx81secretKEYnever2BeWritten";

    private static LlmRuntimeOptions WithKey(string dir, string baseUrl) =>
        Options(dir, "openai:fake-model", baseUrl) with { Environment = n => n == "OPENAI_API_KEY" ? Secret : null, Resilience = Fast(4) };

    [Theory]
    [InlineData(401, "Unauthorized")]
    [InlineData(403, "Forbidden")]
    public async Task A_refused_key_ends_the_batch_at_once_naming_the_variable(int status, string word)
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.RejectKey(status);
        var dir = TempDir();
        var outPath = Path.Combine(dir, "out.jsonl");
        await using (var rt = LlmRuntime.Open(WithKey(dir, server.BaseUrl)))
        {
            var ex = await Assert.ThrowsAsync<ApiKeyRejectedException>(() => BatchRunner.RunAsync(rt, Requests(60), outPath));
            Assert.Contains("refused the API key", ex.Message);
            Assert.Contains($"HTTP {status} {word}", ex.Message);
            Assert.Contains("OPENAI_API_KEY", ex.Message);
            Assert.DoesNotContain(Secret, ex.Message);
        }
        // Only the calls already in flight (4) reached the server; no retries, no walk through all 60.
        Assert.InRange(server.TotalReceived, 1, 4);
        Assert.False(File.Exists(outPath));
        AssertNoSecretIn(dir);
    }

    [Fact]
    public async Task A_key_echoed_in_a_per_item_error_body_is_scrubbed_from_results_and_store()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = r => r.LastUserContent == "q question 1" ? new FakeFault.RejectKey(400) : null;
        var dir = TempDir();
        var outPath = Path.Combine(dir, "out.jsonl");
        await using (var rt = LlmRuntime.Open(WithKey(dir, server.BaseUrl)))
        {
            var outcome = await BatchRunner.RunAsync(rt, Requests(3), outPath);
            Assert.Equal(1, outcome.Failed);
            var failure = Assert.Single(rt.Store.Cache.ReadCalls(), c => c.Status == "error");
            Assert.Contains(SecretScrubber.Mask, failure.Error);
            await rt.WriteManifestAsync("completed");
        }
        var error = ReadOutput(outPath)[1].GetProperty("error").GetString();
        Assert.Contains(SecretScrubber.Mask, error);
        AssertNoSecretIn(dir);
    }

    [Fact]
    public void Scrubber_masks_the_configured_key_and_token_shaped_strings_but_not_words()
    {
        Assert.Equal("key [redacted] refused", SecretScrubber.Scrub("key abcdefgh12345678 refused", alsoSecret: "abcdefgh12345678"));
        Assert.Equal("Authorization: Bearer [redacted]", SecretScrubber.Scrub("Authorization: Bearer some.opaque-token_42"));
        Assert.Equal("provided: [redacted].", SecretScrubber.Scrub("provided: sk-abcdefghijklmnop1234."));
        Assert.Equal("ask-me skeleton sk-short", SecretScrubber.Scrub("ask-me skeleton sk-short"));
        // Credentials in a base URL (a proxy's user:password) never reach a message or a manifest.
        Assert.Equal("https://[redacted]@proxy.example/v1 answered 500", SecretScrubber.Scrub("https://bob:hunter2pass@proxy.example/v1 answered 500"));
    }

    [Fact]
    public async Task Credentials_in_a_base_url_are_not_written_to_the_manifest()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var dir = TempDir();
        var withUser = server.BaseUrl.Replace("http://", "http://bob:hunter2pass@", StringComparison.Ordinal);
        await using (var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", withUser)))
        {
            Assert.All(rt.Endpoints, e => Assert.DoesNotContain("hunter2pass", e));
            await rt.WriteManifestAsync("completed");
        }
        Assert.DoesNotContain("hunter2pass", File.ReadAllText(Path.Combine(dir, "manifest.json")));
    }

    private static void AssertNoSecretIn(string dir)
    {
        foreach (var f in Directory.GetFiles(dir, "*", SearchOption.AllDirectories))
            Assert.DoesNotContain(Secret, Encoding.UTF8.GetString(File.ReadAllBytes(f)));
    }
}
