using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;
using Persona.Benchmark;

namespace Persona.Core.Tests.Benchmark;

public sealed class PersonaCriticEvaluatorTests
{
    /// <summary>A chat client that answers with a fixed text and keeps what it was sent.</summary>
    private sealed class Scripted(string answer) : IChatClient
    {
        public List<List<ChatMessage>> Calls { get; } = [];
        public List<ChatOptions?> Options { get; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls.Add(messages.ToList());
            Options.Add(options);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer)) { ModelId = "scripted-critic" });
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public object? GetService(Type serviceType, object? serviceKey = null) => null;
        public void Dispose() { }
    }

    private const string Persona = "age: 70\nsex: Female\nideology: Liberal\n";
    private static readonly ChatMessage[] Question = [new(ChatRole.User, "Should I take up running at my age?")];
    private static readonly ChatResponse Answer = new(new ChatMessage(ChatRole.Assistant, "Start with brisk walks and build up slowly."));

    [Fact]
    public async Task A_verdict_without_revision_is_a_passing_boolean_metric_and_the_critic_sees_persona_question_and_answer()
    {
        var critic = new Scripted("""{"chain_of_thought":"c","personalization_critic":"could mention joints","helpfulness_critic":"safe and useful","conclusion":"fine as is","needs_revision":false}""");
        var result = await new PersonaCriticEvaluator().EvaluateAsync(Question, Answer, new ChatConfiguration(critic), [new PersonaContext(Persona)]);
        var metric = result.Get<BooleanMetric>(PersonaCriticEvaluator.MetricName);
        Assert.True(metric.Value);
        Assert.Equal("fine as is", metric.Reason);
        Assert.False(metric.Interpretation!.Failed);
        Assert.Equal("could mention joints", metric.Metadata!["personalization_critic"]);
        var prompt = Assert.Single(critic.Calls)[1].Text;
        Assert.Contains("ideology: Liberal", prompt);
        Assert.Contains("Should I take up running", prompt);
        Assert.Contains("brisk walks", prompt);
        Assert.IsType<ChatResponseFormatJson>(critic.Options[0]!.ResponseFormat); // the JSON format is sent, not just described

        var revise = new Scripted("""{"chain_of_thought":"c","personalization_critic":"p","helpfulness_critic":"h","conclusion":"too generic","needs_revision":true}""");
        var failed = (await new PersonaCriticEvaluator().EvaluateAsync(Question, Answer, new ChatConfiguration(revise), [new PersonaContext(Persona)])).Get<BooleanMetric>(PersonaCriticEvaluator.MetricName);
        Assert.False(failed.Value);
        Assert.True(failed.Interpretation!.Failed);
    }

    [Fact]
    public async Task An_unreadable_verdict_or_a_missing_persona_is_an_error_diagnostic_never_a_value()
    {
        var garbage = new Scripted("Sure! The answer looks great.");
        var metric = (await new PersonaCriticEvaluator().EvaluateAsync(Question, Answer, new ChatConfiguration(garbage), [new PersonaContext(Persona)])).Get<BooleanMetric>(PersonaCriticEvaluator.MetricName);
        Assert.Null(metric.Value);
        var d = Assert.Single(metric.Diagnostics!);
        Assert.Equal(EvaluationDiagnosticSeverity.Error, d.Severity);
        Assert.Contains("looks great", d.Message);

        var unused = new Scripted("{}");
        metric = (await new PersonaCriticEvaluator().EvaluateAsync(Question, Answer, new ChatConfiguration(unused))).Get<BooleanMetric>(PersonaCriticEvaluator.MetricName);
        Assert.Null(metric.Value);
        Assert.Contains("PersonaContext", Assert.Single(metric.Diagnostics!).Message);
        Assert.Empty(unused.Calls);
    }

    [Fact]
    public async Task A_typed_persona_reaches_the_hint_as_given_and_its_text_is_never_parsed()
    {
        const string pass = """{"chain_of_thought":"c","personalization_critic":"p","helpfulness_critic":"h","conclusion":"ok","needs_revision":false}""";
        // The text is prose (no 'key: value' lines): parsed, it would give no attributes at all.
        var typed = new global::Persona.Personas.PersonaInput("p1", "A retired teacher who walks every morning", new Dictionary<string, string> { ["age"] = "70", ["ideology"] = "Liberal" }, 1, null, "test");
        var critic = new Scripted(pass);
        await new PersonaCriticEvaluator().EvaluateAsync(Question, Answer, new ChatConfiguration(critic), [new PersonaContext(typed)]);
        Assert.Equal(typed.Attributes, global::Persona.Llm.LlmMetadata.SimulationHintOf(Assert.Single(critic.Options))!.Persona);
        Assert.Contains("A retired teacher", string.Concat(Assert.Single(critic.Calls).Select(m => m.Text)));

        // A caller's text alone is the release's format: read as 'key: value' lines for the hint.
        var textOnly = new Scripted(pass);
        await new PersonaCriticEvaluator().EvaluateAsync(Question, Answer, new ChatConfiguration(textOnly), [new PersonaContext(Persona)]);
        Assert.Equal("Liberal", global::Persona.Llm.LlmMetadata.SimulationHintOf(Assert.Single(textOnly.Options))!.Persona!["ideology"]);
    }
}
