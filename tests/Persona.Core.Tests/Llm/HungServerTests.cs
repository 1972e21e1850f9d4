using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Llm;

/// <summary>Issue #8, defect 6: a hung server costs a bounded, visible wait; a huge Retry-After is capped and said.</summary>
public sealed class HungServerTests
{
    [Fact]
    public void The_default_worst_case_per_request_on_a_hung_server_is_minutes_not_a_quarter_hour()
    {
        var d = new ResilienceOptions();
        var worst = d.Timeout * Math.Min(d.MaxAttempts, d.MaxTimeoutAttempts);
        Assert.True(worst <= TimeSpan.FromMinutes(2), $"a hung server costs {worst} per request by default");
        Assert.True(d.Timeout >= TimeSpan.FromSeconds(30), "long answers of a slow local server still fit");
    }

    [Fact]
    public async Task Timeouts_are_retried_fewer_times_than_other_transient_faults()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.Hang();
        var dir = TempDir();
        var opts = Options(dir, "openai:fake-model", server.BaseUrl) with
        {
            // Long enough for each attempt to reach the server on a loaded machine: at 300 ms a first attempt was once cut
            // before its request arrived, and the server counted one call where two were made.
            Resilience = Fast(2) with { Timeout = TimeSpan.FromSeconds(2), MaxAttempts = 6, MaxTimeoutAttempts = 2 },
        };
        await using var rt = LlmRuntime.Open(opts);
        var ex = await Assert.ThrowsAsync<LlmCallException>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "are you there")], new ChatOptions { Temperature = 0 }));
        Assert.Contains("did not answer", ex.Message);
        Assert.Contains("--timeout", ex.Message);
        Assert.Equal(2, server.TotalReceived);
    }

    [Fact]
    public async Task Calls_waiting_on_a_slow_server_are_visible_with_how_long()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.Hang();
        var dir = TempDir();
        var opts = Options(dir, "openai:fake-model", server.BaseUrl) with { Resilience = Fast(4) with { Timeout = TimeSpan.FromSeconds(60), MaxAttempts = 1 } };
        await using var rt = LlmRuntime.Open(opts);
        Assert.Equal(0, rt.Waiting.Calls);
        using var stop = new CancellationTokenSource();
        var call = rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "slow one")], new ChatOptions { Temperature = 0 }, stop.Token);
        // Poll rather than sleep a fixed time: on a loaded CI machine the call may reach the wire late.
        var w = await WaitForAsync(() => rt.Waiting, s => s.Calls == 1 && s.Longest >= TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
        Assert.Equal(1, w.Calls);
        Assert.True(w.Longest >= TimeSpan.FromMilliseconds(500), w.Longest.ToString());
        Assert.Contains("waiting", w.Describe(TimeSpan.FromSeconds(5)));
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(0, rt.Waiting.Calls);
    }

    private static async Task<T> WaitForAsync<T>(Func<T> read, Func<T, bool> done, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        var value = read();
        while (!done(value) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            value = read();
        }
        return value;
    }

    [Fact]
    public async Task A_retry_after_of_hours_is_capped_and_said()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Enqueue(new FakeFault.RateLimit(RetryAfterSeconds: 7200));
        var dir = TempDir();
        var opts = Options(dir, "openai:fake-model", server.BaseUrl) with { Resilience = Fast(1) with { MaxRetryAfter = TimeSpan.FromMilliseconds(200) } };
        await using var rt = LlmRuntime.Open(opts);
        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "later")], new ChatOptions { Temperature = 0 });
        Assert.Equal("echo: later", r.Text);
        Assert.NotNull(rt.Waiting.Notice);
        Assert.Contains("asked to wait 2 h", rt.Waiting.Notice);
        Assert.Contains("capped", rt.Waiting.Notice);
    }
}
