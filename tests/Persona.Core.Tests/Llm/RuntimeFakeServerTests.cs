using Persona.Engine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Llm;

public sealed class RuntimeFakeServerTests
{
    [Fact]
    public async Task Every_fault_kind_still_yields_one_line_per_id_and_no_completed_call_is_paid_twice()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var rng = new Random(7);
        FakeFault?[] menu =
        [
            new FakeFault.RateLimit(RetryAfterMs: 20), new FakeFault.RateLimit(RetryAfterSeconds: 0), new FakeFault.Status(500), new FakeFault.Status(503),
            new FakeFault.Drop(), new FakeFault.MalformedJson(), new FakeFault.EmptyContent(), new FakeFault.Slow(TimeSpan.FromSeconds(30)),
        ];
        // Each content fails on its first 0-2 attempts with random faults, then succeeds (maybe truncated).
        var lockObj = new object();
        server.FaultRule = r =>
        {
            lock (lockObj)
            {
                if (r.CallNumberForContent <= 2 && rng.NextDouble() < 0.5) return menu[rng.Next(menu.Length)];
                return rng.NextDouble() < 0.05 ? new FakeFault.Truncated() : null;
            }
        };
        var dir = TempDir();
        var requests = Requests(120);
        var outPath = Path.Combine(dir, "out.jsonl");
        // The attempt timeout must sit well above a loaded machine's answer time: an answer the server wrote just as
        // the client gave up (at 800 ms and at 2.5 s, in full-suite runs) is paid and asked again: a timeout's price, not a
        // double payment of a completed call. The slow fault stays far beyond it.
        var opts = Options(dir, "openai:fake-model", server.BaseUrl) with { Resilience = Fast(16) with { Timeout = TimeSpan.FromSeconds(8) } };
        await using (var rt = LlmRuntime.Open(opts))
        {
            var outcome = await BatchRunner.RunAsync(rt, requests, outPath);
            Assert.Equal(0, outcome.ExitCode);
            Assert.Equal(120, outcome.Completed);
        }
        var lines = ReadOutput(outPath);
        Assert.Equal(requests.Select(r => r.Id), lines.Select(l => l.GetProperty("id").GetString()));
        Assert.All(lines, l => Assert.False(l.TryGetProperty("error", out _)));
        foreach (var r in requests)
            Assert.Equal(1, server.PaidFor(r.Messages[0].Text));
        var paidFirst = server.TotalPaid;

        // Rerun: everything comes from the cache, the server is not asked again.
        var receivedBefore = server.TotalReceived;
        await using (var rt = LlmRuntime.Open(opts))
        {
            var outcome = await BatchRunner.RunAsync(rt, requests, outPath);
            Assert.Equal(120, outcome.Cached);
        }
        Assert.Equal(paidFirst, server.TotalPaid);
        Assert.Equal(receivedBefore, server.TotalReceived);
        Assert.All(ReadOutput(outPath), l => Assert.True(l.GetProperty("cached").GetBoolean()));
    }

    [Fact]
    public async Task A_killed_run_resumes_and_pays_again_only_the_calls_the_kill_cut_off()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Latency = TimeSpan.FromMilliseconds(150);
        var dir = TempDir();
        var requests = Requests(60);
        var outPath = Path.Combine(dir, "out.jsonl");
        var opts = Options(dir, "openai:fake-model", server.BaseUrl) with { Resilience = Fast(4) };
        using var cts = new CancellationTokenSource();
        server.Responder = r =>
        {
            if (r.Sequence == 20) cts.Cancel(); // "kill" while the 20th request is on the server
            return "echo: " + r.LastUserContent;
        };
        await using (var rt = LlmRuntime.Open(opts))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => BatchRunner.RunAsync(rt, requests, outPath, null, cts.Token));
        Assert.False(File.Exists(outPath));
        Assert.InRange(server.TotalPaid, 10, 40);

        server.Responder = r => "echo: " + r.LastUserContent;
        await using (var rt = LlmRuntime.Open(opts))
        {
            var outcome = await BatchRunner.RunAsync(rt, requests, outPath);
            Assert.Equal(0, outcome.ExitCode);
            Assert.InRange(outcome.Cached, 10, 40);
        }
        // Every answer the killed run received was kept and not paid again. A call the server answered as the
        // kill cut its connection (at most the 4 in flight; seen on a loaded machine) never arrived, so it is
        // paid once more: that is a kill's price, not a resume's. Judged on the final counts only, because the
        // server may count the last of those answers after the killed run has already let go.
        var twice = requests.Count(r => server.PaidFor(r.Messages[0].Text) == 2);
        Assert.InRange(twice, 0, 4);
        Assert.Equal(60 + twice, server.TotalPaid);
        Assert.All(requests, r => Assert.InRange(server.PaidFor(r.Messages[0].Text), 1, 2));
        Assert.Equal(60, ReadOutput(outPath).Count);
    }

    [Fact]
    public async Task Budget_stop_is_clean_and_a_later_run_resumes()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var dir = TempDir();
        var requests = Requests(30);
        var outPath = Path.Combine(dir, "out.jsonl");
        await using (var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl) with { MaxCalls = 10 }))
        {
            var outcome = await BatchRunner.RunAsync(rt, requests, outPath);
            Assert.Equal(BudgetExceededException.Code, outcome.ExitCode);
            Assert.Equal("stopped_budget", outcome.Status);
            Assert.Equal(10, outcome.Completed);
            Assert.Equal(20, outcome.NotRun);
        }
        Assert.Equal(10, server.TotalPaid);
        Assert.False(File.Exists(outPath));
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json"))).RootElement;
        Assert.Equal("stopped_budget", manifest.GetProperty("status").GetString());

        await using (var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl)))
        {
            var outcome = await BatchRunner.RunAsync(rt, requests, outPath);
            Assert.Equal(0, outcome.ExitCode);
            Assert.Equal(10, outcome.Cached);
        }
        Assert.Equal(30, server.TotalPaid);
        Assert.Equal(30, ReadOutput(outPath).Count);
    }

    [Fact]
    public async Task Cost_cap_stops_on_estimated_spend()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var dir = TempDir();
        // Each fake answer reports ~3+3 prompt tokens and 4 completion tokens; at $100k/Mtok a call costs ~$1.
        var prices = new PriceTable([new ModelPrice("openai", "fake-model", 100_000, 100_000, "test", "2025")]);
        await using var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl) with { Prices = prices, MaxCostUsd = 3, Resilience = Fast(1) });
        var outcome = await BatchRunner.RunAsync(rt, Requests(20), Path.Combine(dir, "out.jsonl"));
        Assert.Equal(BudgetExceededException.Code, outcome.ExitCode);
        Assert.InRange(outcome.Spend.CostUsd, 3, 5);
        Assert.InRange(server.TotalPaid, 1, 4);
    }

    [Fact]
    public async Task A_dead_endpoint_opens_the_circuit_and_the_run_resumes_when_it_is_back()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.Status(503);
        var dir = TempDir();
        var requests = Requests(40);
        var outPath = Path.Combine(dir, "out.jsonl");
        var opts = Options(dir, "openai:fake-model", server.BaseUrl) with
        {
            Resilience = Fast(4) with { BreakerFailures = 5, BreakerMinDuration = TimeSpan.Zero, MaxAttempts = 4 },
        };
        var sw = Stopwatch.StartNew();
        await using (var rt = LlmRuntime.Open(opts))
        {
            var outcome = await BatchRunner.RunAsync(rt, requests, outPath);
            Assert.Equal(CircuitOpenException.Code, outcome.ExitCode);
            Assert.Equal("stopped_circuit_open", outcome.Status);
            Assert.True(outcome.NotRun > 0);
        }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Equal(0, server.TotalPaid);
        Assert.False(File.Exists(outPath));

        server.FaultRule = null;
        await using (var rt = LlmRuntime.Open(opts))
        {
            var outcome = await BatchRunner.RunAsync(rt, requests, outPath);
            Assert.Equal(0, outcome.ExitCode);
        }
        var lines = ReadOutput(outPath);
        Assert.Equal(40, lines.Count);
        Assert.Equal(40, server.TotalPaid);
    }

    [Fact]
    public async Task Calls_spread_over_endpoints_and_a_failing_one_is_backed_off()
    {
        await using var good = await FakeLlmServer.StartAsync();
        await using var bad = await FakeLlmServer.StartAsync();
        bad.FaultRule = _ => new FakeFault.Status(500);
        good.Latency = TimeSpan.FromMilliseconds(5);
        var dir = TempDir();
        var requests = Requests(80);
        var outPath = Path.Combine(dir, "out.jsonl");
        var opts = Options(dir, "openai:fake-model", good.BaseUrl + "," + bad.BaseUrl, FakeLlmServer.UnreachableBaseUrl()) with
        {
            // A generous timeout: with a breaker of 3 and no minimum duration, a few slow replies from
            // the good server on a loaded machine would otherwise trip it too (seen once in a full run).
            Resilience = Fast(4) with { Timeout = TimeSpan.FromSeconds(10), BreakerFailures = 3, BreakerMinDuration = TimeSpan.Zero, BreakerProbeInterval = TimeSpan.FromSeconds(30) },
        };
        await using (var rt = LlmRuntime.Open(opts))
        {
            Assert.Equal(3, rt.Endpoints.Count);
            var outcome = await BatchRunner.RunAsync(rt, requests, outPath);
            Assert.Equal(0, outcome.ExitCode);
            Assert.Equal(80, outcome.Completed);
            var calls = rt.Store.Cache.ReadCalls();
            Assert.All(calls, c => Assert.Equal(good.BaseUrl, c.Endpoint));
            Assert.Contains(calls, c => c.Attempts > 1);
        }
        Assert.Equal(80, good.TotalPaid);
        Assert.InRange(bad.TotalReceived, 1, 10);
    }

    [Fact]
    public async Task Retry_after_is_honoured_and_the_limit_halves_on_429()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Enqueue(new FakeFault.RateLimit(RetryAfterMs: 400));
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl) with { Resilience = Fast(8) });
        var sw = Stopwatch.StartNew();
        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "hello")], new ChatOptions { Temperature = 0 });
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(390), $"waited only {sw.Elapsed.TotalMilliseconds} ms");
        Assert.Equal("echo: hello", r.Text);
        Assert.Equal(2, Assert.IsType<int>(r.AdditionalProperties![LlmMetadata.Attempts]));
        Assert.Equal(4, rt.Default.Pool!.Endpoints[0].Limiter.Limit);
    }

    [Fact]
    public async Task Sampling_keys_on_sample_index_but_greedy_calls_do_not()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl));
        List<ChatMessage> msgs = [new ChatMessage(ChatRole.User, "tell me a story")];
        for (var pass = 0; pass < 2; pass++)
            for (var s = 0; s < 3; s++)
                await rt.ChatClient.GetResponseAsync(msgs, new ChatOptions { Temperature = 0.8f, AdditionalProperties = new() { [LlmMetadata.SampleIndex] = s } });
        Assert.Equal(3, server.TotalPaid);

        List<ChatMessage> greedy = [new ChatMessage(ChatRole.User, "greedy")];
        for (var s = 0; s < 3; s++)
            await rt.ChatClient.GetResponseAsync(greedy, new ChatOptions { Temperature = 0, AdditionalProperties = new() { [LlmMetadata.SampleIndex] = s } });
        Assert.Equal(1, server.PaidFor("greedy"));

        // The runtime's own keys never reach the server; --refresh pays again deliberately.
        Assert.All(server.Requests, r => Assert.DoesNotContain("sample_index", r.ResponseFormat ?? ""));
        await using var refreshing = LlmRuntime.Open(Options(TempDir(), "openai:fake-model", server.BaseUrl) with { Refresh = true });
        await refreshing.ChatClient.GetResponseAsync(greedy, new ChatOptions { Temperature = 0 });
        await refreshing.ChatClient.GetResponseAsync(greedy, new ChatOptions { Temperature = 0 });
        Assert.Equal(3, server.PaidFor("greedy"));
    }

    [Fact]
    public async Task Identical_requests_in_flight_together_are_paid_once()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Latency = TimeSpan.FromMilliseconds(100);
        await using var rt = LlmRuntime.Open(Options(TempDir(), "openai:fake-model", server.BaseUrl));
        var tasks = Enumerable.Range(0, 10).Select(_ => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "same")], new ChatOptions { Temperature = 0 }));
        var results = await Task.WhenAll(tasks);
        Assert.All(results, r => Assert.Equal("echo: same", r.Text));
        Assert.Equal(1, server.PaidFor("same"));
        Assert.Equal(9, results.Count(r => r.AdditionalProperties![LlmMetadata.Cached] is true));
    }

    [Fact]
    public async Task Identical_requests_arriving_as_their_twin_finishes_are_not_paid_again()
    {
        // With an instant model the window between a twin finishing and the next caller's claim is
        // hit often: 64 waves of 32 identical requests, each wave a new question.
        await using var rt = LlmRuntime.Open(Options(TempDir(), "offline"));
        for (var wave = 0; wave < 64; wave++)
        {
            var text = "question " + wave.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, text)], new ChatOptions { Temperature = 0 }))));
        }
        var usage = rt.Default.Usage.Snapshot();
        Assert.Equal(64, usage.PaidCalls);
        Assert.Equal(64 * 31, usage.CacheHits);
    }

    [Fact]
    public async Task Tokens_are_counted_locally_when_the_server_reports_none_and_provenance_holds_no_key()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.ReportUsage = false;
        var dir = TempDir();
        const string secret = "sk-test-secret-0123456789";
        await using (var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl) with { Environment = n => n == "OPENAI_API_KEY" ? secret : null }))
        {
            var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "count my tokens please")], new ChatOptions { Temperature = 0 });
            Assert.True((bool)r.AdditionalProperties![LlmMetadata.TokensEstimated]!);
            Assert.InRange(r.Usage!.InputTokenCount!.Value, 5, 30);
            Assert.InRange(r.Usage!.OutputTokenCount!.Value, 3, 20);
            await rt.WriteManifestAsync("completed");
            var call = Assert.Single(rt.Store.Cache.ReadCalls());
            Assert.Equal(server.BaseUrl, call.Endpoint);
            Assert.Equal(1, call.Attempts);
            Assert.False(call.Cached);
            Assert.True(call.TokensEstimated);
            Assert.Contains("\"temperature\":0", call.Parameters);
        }
        foreach (var f in Directory.GetFiles(dir))
            Assert.DoesNotContain(secret, Encoding.UTF8.GetString(File.ReadAllBytes(f)));
    }

    [Fact]
    public async Task Truncated_and_failed_calls_are_reported_per_id_without_ending_the_run()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = r => r.LastUserContent switch
        {
            "q question 1" => new FakeFault.Truncated(),
            "q question 2" => new FakeFault.Status(400),
            "q question 3" => new FakeFault.EmptyContent(),
            _ => null,
        };
        var dir = TempDir();
        var outPath = Path.Combine(dir, "out.jsonl");
        await using (var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl) with { Resilience = Fast() with { MaxAttempts = 2 } }))
        {
            var outcome = await BatchRunner.RunAsync(rt, Requests(5), outPath);
            Assert.Equal(0, outcome.ExitCode);
            Assert.Equal(2, outcome.Failed);
            var failures = rt.Store.Cache.ReadCalls().Where(c => c.Status == "error").ToList();
            Assert.Equal(2, failures.Count);
        }
        var lines = ReadOutput(outPath);
        Assert.Equal("length", lines[1].GetProperty("finish_reason").GetString());
        Assert.Contains("400", lines[2].GetProperty("error").GetString());
        Assert.Contains("empty", lines[3].GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Null, lines[3].GetProperty("content").ValueKind);

        // Failures are not cached: a rerun asks again (the 400 and the empty answer), nothing else.
        var before = server.TotalReceived;
        await using (var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl) with { Resilience = Fast() with { MaxAttempts = 2 } }))
            await BatchRunner.RunAsync(rt, Requests(5), outPath);
        Assert.Equal(before + 1 + 2, server.TotalReceived);
    }

    [Fact]
    public async Task Bad_inputs_fail_before_anything_is_paid()
    {
        var dir = TempDir();
        Assert.Contains("unknown provider 'nope'", Assert.Throws<PersonaException>(() => LlmRuntime.Open(Options(dir, "nope:x"))).Message);
        var noKey = Assert.Throws<PersonaException>(() => LlmRuntime.Open(Options(dir, "openai:gpt-4o-mini") with { BaseUrls = null }));
        Assert.Contains("OPENAI_API_KEY", noKey.Message);
        Assert.Contains("local provider not available", Assert.Throws<PersonaException>(() => LlmRuntime.Open(Options(dir, "local:model.gguf"))).Message);
        Assert.Contains("not an http(s) URL", Assert.Throws<PersonaException>(() => LlmRuntime.Open(Options(dir, "openai:m", "ftp://x"))).Message);

        await using var rt = LlmRuntime.Open(Options(dir, "openai:m", FakeLlmServer.UnreachableBaseUrl()));
        var ex = await Assert.ThrowsAsync<PersonaException>(() => BatchRunner.RunAsync(rt, Requests(3), Path.Combine(dir, "o.jsonl")));
        Assert.Contains("No model server reachable", ex.Message);
        Assert.Equal(0, rt.Budget.Snapshot().Completed);
    }

    [Fact]
    public void Hosted_api_key_comes_from_the_environment_and_ollama_has_its_own_default()
    {
        var env = new Dictionary<string, string?> { ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1" };
        Assert.Equal(["http://127.0.0.1:9/v1"], ChatClientFactory.ResolveBaseUrls(ModelSpec.Parse("openai:m"), null, n => env.GetValueOrDefault(n)));
        Assert.Equal([ChatClientFactory.DefaultOllamaBaseUrl], ChatClientFactory.ResolveBaseUrls(ModelSpec.Parse("ollama:llama3"), null, n => env.GetValueOrDefault(n)));
        Assert.Equal(["http://a/v1", "http://b/v1"], ChatClientFactory.ResolveBaseUrls(ModelSpec.Parse("openai:m"), ["http://a/v1/, http://b/v1"], _ => null));
        using var ok = LlmRuntime.Open(Options(TempDir(), "openai:gpt-4o") with { BaseUrls = null, Environment = n => n == "OPENAI_API_KEY" ? "k" : null }).AsDisposable();
    }
}

internal static class RuntimeExtensions
{
    public static IDisposable AsDisposable(this LlmRuntime rt) => new D(rt);
    private sealed class D(LlmRuntime rt) : IDisposable
    {
        public void Dispose() => rt.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
