using Persona.Engine;
using Microsoft.Extensions.AI;
using Persona.Llm;

namespace Persona.Core.Tests.Llm;

public sealed class RuntimePartsTests
{
    private static readonly ChatMessage[] Msgs = [new(ChatRole.User, "hi")];

    [Fact]
    public void Cache_key_covers_a_per_call_model_id_the_tools_and_for_the_simulator_only_the_hint()
    {
        var k = CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0 }).Key;
        Assert.NotEqual(k, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0, ModelId = "other-model" }).Key);
        var weather = AIFunctionFactory.Create((string city) => "sunny", "weather", "Weather in a city");
        var time = AIFunctionFactory.Create((string city) => "noon", "time", "Time in a city");
        var withTool = CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0, Tools = [weather] }).Key;
        Assert.NotEqual(k, withTool);
        Assert.NotEqual(withTool, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0, Tools = [time] }).Key);
        Assert.NotEqual(withTool, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0, Tools = [weather], ToolMode = ChatToolMode.RequireAny }).Key);

        ChatOptions Hinted(string persona) => new ChatOptions { Temperature = 0 }.WithRunMetadata(hint: new SimulationHint("t", new Dictionary<string, string> { ["age"] = persona }));
        // A real model answers the messages, not the hint; the simulator answers both.
        Assert.Equal(k, CacheKey.Compute("openai:m", Msgs, Hinted("30")).Key);
        Assert.NotEqual(CacheKey.Compute("offline", Msgs, Hinted("30"), includeSimulation: true).Key,
                        CacheKey.Compute("offline", Msgs, Hinted("70"), includeSimulation: true).Key);
    }

    [Fact]
    public void Cache_key_covers_model_messages_parameters_template_and_sample()
    {
        var k = CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0 }).Key;
        Assert.Equal(64, k.Length);
        Assert.Equal(k, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0 }).Key);
        Assert.NotEqual(k, CacheKey.Compute("openai:m2", Msgs, new ChatOptions { Temperature = 0 }).Key);
        Assert.NotEqual(k, CacheKey.Compute("openai:m", [new(ChatRole.User, "hi!")], new ChatOptions { Temperature = 0 }).Key);
        Assert.NotEqual(k, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0, MaxOutputTokens = 5 }).Key);
        Assert.NotEqual(k, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0, AdditionalProperties = new() { [LlmMetadata.TemplateVersion] = "v2" } }).Key);
        Assert.Equal(k, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 0, AdditionalProperties = new() { [LlmMetadata.SampleIndex] = 4 } }).Key);
        var s0 = CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 1 }).Key;
        Assert.Equal(s0, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 1, AdditionalProperties = new() { [LlmMetadata.SampleIndex] = 0 } }).Key);
        Assert.NotEqual(s0, CacheKey.Compute("openai:m", Msgs, new ChatOptions { Temperature = 1, AdditionalProperties = new() { [LlmMetadata.SampleIndex] = 1 } }).Key);
    }

    [Theory]
    [InlineData("openai:gpt-4o-mini", "openai", "gpt-4o-mini")]
    [InlineData("OLLAMA:Llama3.1:8b", "ollama", "Llama3.1:8b")]
    [InlineData("offline", "offline", "")]
    [InlineData("local:/models/x.gguf", "local", "/models/x.gguf")]
    public void Model_specs_parse(string spec, string provider, string name)
    {
        var m = ModelSpec.Parse(spec);
        Assert.Equal(provider, m.Provider);
        Assert.Equal(name, m.Name);
    }

    [Theory]
    [InlineData("", "--model is required")]
    [InlineData("bogus:x", "unknown provider 'bogus'")]
    [InlineData("openai:", "needs a model name")]
    public void Bad_model_specs_are_rejected(string spec, string message)
        => Assert.Contains(message, Assert.Throws<PersonaException>(() => ModelSpec.Parse(spec)).Message);

    [Fact]
    public void Retry_after_accepts_ms_seconds_and_http_dates()
    {
        var now = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromMilliseconds(250), RetryAfter.Parse("250", "9", now));
        Assert.Equal(TimeSpan.FromSeconds(3), RetryAfter.Parse(null, "3", now));
        Assert.Equal(TimeSpan.FromSeconds(30), RetryAfter.Parse(null, now.AddSeconds(30).ToString("r"), now));
        Assert.Equal(TimeSpan.Zero, RetryAfter.Parse(null, now.AddSeconds(-30).ToString("r"), now));
        Assert.Null(RetryAfter.Parse(null, "soon", now));
    }

    [Fact]
    public async Task Adaptive_limiter_halves_on_429_and_climbs_back_by_one_per_window()
    {
        var l = new AdaptiveLimiter(8);
        l.OnRateLimited();
        Assert.Equal(4, l.Limit);
        l.OnRateLimited();
        l.OnRateLimited();
        l.OnRateLimited();
        Assert.Equal(1, l.Limit);
        await l.AcquireAsync(default);
        var second = l.AcquireAsync(default).AsTask();
        Assert.False(second.IsCompleted);
        l.OnSuccess(); // window of 1 at limit 1: the limit becomes 2 and the waiter gets in
        await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, l.Limit);
        for (var i = 0; i < 2; i++) l.OnSuccess();
        Assert.Equal(3, l.Limit);
        using var cts = new CancellationTokenSource();
        await l.AcquireAsync(default);
        var blocked = l.AcquireAsync(cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked);
        Assert.Equal(3, l.InFlight);
    }

    [Fact]
    public void Prices_match_snapshots_and_flag_unknown_models()
    {
        var t = PriceTable.LoadDefault();
        Assert.NotEmpty(t.Rows);
        var (cost, known) = t.Estimate(ModelSpec.Parse("openai:gpt-4o-mini-2024-07-18"), 1_000_000, 1_000_000);
        Assert.True(known);
        Assert.Equal(0.75, cost, 6);
        Assert.Equal((0.0, false), t.Estimate(ModelSpec.Parse("openai:my-own-model"), 100, 100));
        Assert.Equal((0.0, true), t.Estimate(ModelSpec.Parse("ollama:llama3"), 100, 100));
    }

    [Fact]
    public void Budget_stops_at_the_call_cap_and_stays_stopped()
    {
        var b = new Budget(maxCalls: 2);
        b.StartCall();
        b.StartCall();
        Assert.Throws<BudgetExceededException>(() => b.StartCall());
        Assert.Throws<BudgetExceededException>(() => b.StartCall());
        Assert.Equal(2, b.Snapshot().Started);
    }

    [Fact]
    public void Token_counter_works_offline() => Assert.InRange(TokenCounter.Count("The quick brown fox jumps over the lazy dog."), 8, 12);

    [Fact]
    public void Batch_lines_are_validated_with_line_numbers()
    {
        var dir = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "r.jsonl");
        File.WriteAllLines(path, ["{\"id\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "", "{\"id\":\"b\",\"messages\":[]}"]);
        Assert.Contains("r.jsonl:3", Assert.Throws<PersonaException>(() => BatchRequestReader.Read(path)).Message);
        File.WriteAllLines(path, ["{\"id\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "{\"id\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"y\"}]}"]);
        Assert.Contains("duplicate id \"a\" (first on line 1)", Assert.Throws<PersonaException>(() => BatchRequestReader.Read(path)).Message);
        File.WriteAllLines(path, ["{\"id\":1,\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}"]);
        Assert.Contains("r.jsonl:1: messages[0].role", Assert.Throws<PersonaException>(() => BatchRequestReader.Read(path)).Message);
        File.WriteAllLines(path, ["{\"id\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":0.5,\"max_tokens\":9,\"sample_index\":2}", "not json"]);
        Assert.Contains("r.jsonl:2: not valid JSON", Assert.Throws<PersonaException>(() => BatchRequestReader.Read(path)).Message);
    }
}
