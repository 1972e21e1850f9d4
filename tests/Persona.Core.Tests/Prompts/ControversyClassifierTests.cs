using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Prompts;

namespace Persona.Core.Tests.Prompts;

public class ControversyClassifierTests
{
    [Theory]
    [InlineData("""{"controversial": true, "reason": "Religion divides people."}""", true, "Religion divides people.")]
    [InlineData("""{"controversial": false, "reason": "A factual question."}""", false, "A factual question.")]
    [InlineData("```json\n{\"controversial\": true, \"reason\": \"fenced\"}\n```", true, "fenced")]
    [InlineData("```\n{\"controversial\": false,\n \"reason\": \"fenced, no language\"}\n```", false, "fenced, no language")]
    [InlineData("Here is my verdict: {\"controversial\": true, \"reason\": \"prose around it\"} Hope this helps!", true, "prose around it")]
    [InlineData("""{"Controversial": "yes", "Reason": "quoted, capitalised"}""", true, "quoted, capitalised")]
    [InlineData("""{"controversial": "no"}""", false, null)]
    [InlineData("""{"reason": "a } brace {inside} a string", "controversial": true}""", true, "a } brace {inside} a string")]
    [InlineData("""Not this {one}. But {"controversial": false, "reason": "second object"}""", false, "second object")]
    [InlineData("<think>Maybe {\"controversial\": false}?</think>\n{\"controversial\": true, \"reason\": \"final\"}", true, "final")]
    public void Parses_verdicts(string answer, bool expected, string? reason)
    {
        var v = ControversyClassifier.ParseAnswer(answer);
        Assert.Equal(expected, v.Controversial);
        Assert.Equal(reason, v.Reason);
        Assert.Null(v.Raw);
        Assert.True(v.Parsed);
    }

    [Theory]
    [InlineData("Yes, definitely controversial.")]
    [InlineData("{\"controversial\": maybe}")]
    [InlineData("{\"controversial\": \"perhaps\", \"reason\": \"x\"}")]
    [InlineData("{\"verdict\": true}")]
    [InlineData("{\"controversial\": true")]
    [InlineData("[true, \"reason\"]")]
    [InlineData("<think>{\"controversial\": true}")]
    [InlineData("   ")]
    public async Task Garbage_is_an_unreadable_verdict_never_a_no_and_keeps_the_raw_text(string answer)
    {
        var v = ControversyClassifier.ParseAnswer(answer);
        Assert.Null(v.Controversial);
        Assert.Null(v.Reason);
        Assert.Equal(answer, v.Raw);
        // Through the classifier's own fan-out too: an unreadable answer must not become "not controversial" (a silent drop).
        var all = await new ControversyClassifier(new FakeChatClient(_ => answer), "t/1").ClassifyAllAsync(["Is eating meat wrong?", "Should taxes rise?"]);
        Assert.All(all, x => Assert.Null(x.Controversial));
        Assert.All(all, x => Assert.Equal(answer, x.Raw));
    }

    [Fact]
    public async Task Requests_carry_system_prompt_schema_and_template_version()
    {
        var chat = FakeChatClient.AlwaysYes();
        var classifier = new ControversyClassifier(chat, "test-template/7");
        var v = await classifier.ClassifyAsync("Is eating meat wrong?");
        Assert.True(v.Controversial);

        var options = Assert.Single(chat.Options)!;
        Assert.Equal("test-template/7", options.AdditionalProperties![ControversyClassifier.TemplateVersionKey]);
        var format = Assert.IsType<ChatResponseFormatJson>(options.ResponseFormat);
        Assert.NotNull(format.Schema);
        var schema = format.Schema!.Value;
        Assert.Equal("boolean", schema.GetProperty("properties").GetProperty("controversial").GetProperty("type").GetString());
        Assert.Equal(["controversial", "reason"], schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(0f, options.Temperature);

        var messages = Assert.Single(chat.Requests);
        Assert.Equal(ChatRole.System, messages[0].Role);
        Assert.Contains("controversial", messages[0].Text);
        Assert.Equal("Question:\nIs eating meat wrong?", messages[1].Text);
    }

    [Fact]
    public async Task Each_request_gets_its_own_options_instance()
    {
        var chat = FakeChatClient.AlwaysYes();
        await new ControversyClassifier(chat).ClassifyAllAsync(["a?", "b?"]);
        Assert.NotSame(chat.Options[0], chat.Options[1]);
        Assert.NotSame(chat.Options[0]!.AdditionalProperties, chat.Options[1]!.AdditionalProperties);
    }

    [Fact]
    public async Task Concurrency_is_bounded_and_results_stay_in_input_order()
    {
        var chat = new FakeChatClient(q => $$"""{"controversial": {{(q.Length % 2 == 0 ? "true" : "false")}}, "reason": "{{q}}"}""", delayMs: 15);
        var prompts = Enumerable.Range(0, 40).Select(i => $"Question number {i} {new string('x', i)}?").ToList();
        var progress = new List<CurationProgress>();
        var verdicts = await new ControversyClassifier(chat, maxConcurrency: 3)
            .ClassifyAllAsync(prompts, new SyncProgress(progress));

        Assert.Equal(40, chat.Calls);
        Assert.InRange(chat.MaxInFlight, 2, 3);
        Assert.Equal(prompts, verdicts.Select(v => v.Reason));
        Assert.Equal(prompts.Select(p => p.Length % 2 == 0), verdicts.Select(v => v.Controversial!.Value));
        Assert.Equal(40, progress.Max(p => p.Done));
        Assert.All(progress, p => Assert.Equal("classify", p.Stage));
    }

    [Fact]
    public async Task Cancellation_stops_classification()
    {
        var chat = new FakeChatClient(_ => """{"controversial": true, "reason": "r"}""", delayMs: 50);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(60));
        var prompts = Enumerable.Range(0, 200).Select(i => $"Q{i}?").ToList();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new ControversyClassifier(chat, maxConcurrency: 2).ClassifyAllAsync(prompts, ct: cts.Token));
        Assert.True(chat.Calls < 200);
    }

    [Fact]
    public async Task Client_exceptions_propagate()
    {
        var chat = new FakeChatClient(q => q.StartsWith("boom") ? throw new HttpRequestException("down") : """{"controversial": true}""");
        await Assert.ThrowsAsync<HttpRequestException>(() => new ControversyClassifier(chat).ClassifyAllAsync(["fine?", "boom?"]));
    }

    [Fact]
    public void System_prompt_asks_for_the_schema_fields()
    {
        Assert.Contains("\"controversial\"", ControversyClassifier.SystemPrompt);
        Assert.Contains("\"reason\"", ControversyClassifier.SystemPrompt);
    }
}

/// <summary>Progress&lt;T&gt; posts to the thread pool, so assertions could race; this one records synchronously.</summary>
internal sealed class SyncProgress(List<CurationProgress> sink) : IProgress<CurationProgress>
{
    public void Report(CurationProgress value) { lock (sink) sink.Add(value); }
}
