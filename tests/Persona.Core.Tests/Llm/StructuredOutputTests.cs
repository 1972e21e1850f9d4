using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Llm;

public sealed class StructuredOutputTests
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {"type":"object","properties":{"choice":{"type":"string","enum":["A","B"]},"confidence":{"type":"number","minimum":0,"maximum":1},
         "reasons":{"type":"array","items":{"type":"string"},"minItems":1}},"required":["choice","confidence"],"additionalProperties":false}
        """).RootElement.Clone();

    private static ChatOptions Json() => new() { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "verdict") };

    [Fact]
    public async Task Json_in_prose_or_a_code_fence_is_extracted_and_the_schema_is_sent()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Enqueue(new FakeFault.Content("Sure! Here it is:\n```json\n{\"choice\":\"B\",\"confidence\":0.7,\"reasons\":[\"x\"]}\n```\nHope that helps."));
        await using var rt = LlmRuntime.Open(Options(TempDir(), "openai:fake-model", server.BaseUrl));
        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "pick")], Json());
        Assert.Equal("B", JsonDocument.Parse(r.Text).RootElement.GetProperty("choice").GetString());
        var req = Assert.Single(server.Requests);
        Assert.Contains("json_schema", req.ResponseFormat);
        Assert.Contains("JSON Schema", req.Messages[0].Content);
        Assert.Equal(1, server.TotalPaid);
    }

    [Fact]
    public async Task An_invalid_answer_is_repaired_once_and_the_repaired_answer_is_cached()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Enqueue(new FakeFault.Content("{\"choice\":\"C\",\"confidence\":2}"), new FakeFault.Content("{\"choice\":\"A\",\"confidence\":0.5}"));
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl));
        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "pick")], Json());
        Assert.Equal("{\"choice\":\"A\",\"confidence\":0.5}", r.Text);
        Assert.Equal(2, server.TotalReceived);
        var repair = server.Requests.Last();
        Assert.Contains("not valid for the schema", repair.Messages[^1].Content);
        Assert.Contains("\"C\"", repair.Messages[^2].Content);
        Assert.Equal(2, rt.Budget.Snapshot().Completed); // both requests were paid and counted

        var again = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "pick")], Json());
        Assert.Equal(r.Text, again.Text);
        Assert.Equal(2, server.TotalReceived);
    }

    [Fact]
    public async Task An_answer_that_stays_invalid_is_a_recorded_failure_with_its_raw_text()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.Content("I would rather not answer in JSON.");
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl));
        var ex = await Assert.ThrowsAsync<StructuredOutputException>(() => rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "pick")], Json()));
        Assert.Equal("I would rather not answer in JSON.", ex.RawText);
        await rt.Store.FlushAsync();
        var call = Assert.Single(rt.Store.Cache.ReadCalls());
        Assert.Equal("error", call.Status);
        Assert.Equal("I would rather not answer in JSON.", call.RawText);
        Assert.Equal(0, rt.Store.Cache.GetStats().Responses);
    }

    [Fact]
    public async Task Without_native_support_the_schema_goes_in_the_prompt_only()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = _ => "{\"choice\":\"A\",\"confidence\":1}";
        await using var rt = LlmRuntime.Open(Options(TempDir(), "openai:fake-model", server.BaseUrl) with { NativeJsonSchema = false });
        var r = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "pick")], Json());
        Assert.Equal("A", JsonDocument.Parse(r.Text).RootElement.GetProperty("choice").GetString());
        Assert.Null(Assert.Single(server.Requests).ResponseFormat);
    }

    [Theory]
    [InlineData("{\"a\":1}", "{\"a\":1}")]
    [InlineData("text before {\"a\":{\"b\":\"}\"}} after", "{\"a\":{\"b\":\"}\"}}")]
    [InlineData("```\n[1,2]\n```", "[1,2]")]
    [InlineData("noise { not json } then {\"ok\":true}", "{\"ok\":true}")]
    public void Extraction_finds_the_json(string text, string expected)
    {
        Assert.True(JsonExtraction.TryExtract(text, out _, out var json));
        Assert.Equal(expected, json);
    }

    [Fact]
    public void Extraction_fails_on_truncated_json() => Assert.False(JsonExtraction.TryExtract("{\"choice\":\"A\",\"conf", out _, out _));

    [Fact]
    public void Validator_reports_each_kind_of_violation()
    {
        var bad = JsonDocument.Parse("{\"choice\":\"C\",\"confidence\":\"high\",\"extra\":1,\"reasons\":[]}").RootElement;
        var errors = JsonSchemaValidator.Validate(bad, Schema);
        Assert.Contains(errors, e => e.Contains("$.choice") && e.Contains("not one of"));
        Assert.Contains(errors, e => e.Contains("$.confidence: expected number"));
        Assert.Contains(errors, e => e.Contains("unexpected property 'extra'"));
        Assert.Contains(errors, e => e.Contains("$.reasons: 0 items"));
        var missing = JsonSchemaValidator.Validate(JsonDocument.Parse("{\"choice\":\"A\"}").RootElement, Schema);
        Assert.Contains(missing, e => e.Contains("missing required property 'confidence'"));
        Assert.Empty(JsonSchemaValidator.Validate(JsonDocument.Parse("{\"choice\":\"A\",\"confidence\":0.2,\"reasons\":[\"r\"]}").RootElement, Schema));
    }
}
