using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;

using Persona.Personas;

namespace Persona.Benchmark;

/// <summary>
/// The persona the answer was meant for (key: value lines), given to <see cref="PersonaCriticEvaluator"/>,
/// with its attributes when the caller has them typed (a population of this project): then its text is never parsed.
/// </summary>
public sealed class PersonaContext(string persona, IReadOnlyDictionary<string, string>? attributes = null) : EvaluationContext(PersonaCriticEvaluator.ContextName, persona)
{
    public string Persona { get; } = persona;
    public IReadOnlyDictionary<string, string>? Attributes { get; } = attributes;

    public PersonaContext(PersonaInput persona) : this(persona.Text, persona.Attributes) { }
}

/// <summary>
/// The PERSONA Bench debate critic as a <c>Microsoft.Extensions.AI.Evaluation</c> evaluator, so a
/// .NET evaluation suite can grade its own answers with it: the question is the last user message,
/// the answer the model response, the persona a <see cref="PersonaContext"/>, the critic the
/// <see cref="ChatConfiguration"/>'s chat client (use a different model from the one under test).
/// The metric is true when no revision is needed; an unreadable verdict leaves it unset with an
/// error diagnostic carrying the raw text, never a silent pass or fail.
/// </summary>
public sealed class PersonaCriticEvaluator(BenchPrompts? prompts = null) : IEvaluator
{
    public const string MetricName = "Persona Critic: No Revision Needed";
    public const string ContextName = "Persona";
    private readonly BenchPrompts _prompts = prompts ?? BenchPrompts.Load();

    public IReadOnlyCollection<string> EvaluationMetricNames => [MetricName];

    public async ValueTask<EvaluationResult> EvaluateAsync(IEnumerable<ChatMessage> messages, ChatResponse modelResponse, ChatConfiguration? chatConfiguration = null,
        IEnumerable<EvaluationContext>? additionalContext = null, CancellationToken cancellationToken = default)
    {
        var metric = new BooleanMetric(MetricName);
        var result = new EvaluationResult(metric);
        var context = additionalContext?.OfType<PersonaContext>().FirstOrDefault();
        var persona = context?.Persona;
        var question = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text;
        string? problem = chatConfiguration is null ? "no ChatConfiguration: the critic needs a chat client"
            : persona is null ? $"no {nameof(PersonaContext)} in additionalContext: the critic needs the persona"
            : string.IsNullOrWhiteSpace(question) ? "no user message: the critic needs the question"
            : string.IsNullOrWhiteSpace(modelResponse.Text) ? "the model response has no text to judge"
            : null;
        if (problem is not null)
        {
            metric.AddDiagnostics(EvaluationDiagnostic.Error(problem));
            return result;
        }
        var attributes = context!.Attributes;
        // Foreign format: a caller's persona given only as text is read as the release's 'key: value' lines, for the simulator's hint.
        if (attributes is null)
            try { attributes = PersonaInputs.ParseText(persona!, "critic"); } catch (PersonaException) { }
        var options = BenchTask.CriticOptions(_prompts, attributes, "", "", "", "0");
        var response = await chatConfiguration!.ChatClient.GetResponseAsync(BenchTask.CriticMessages(_prompts, question!, modelResponse.Text, persona!), options, cancellationToken).ConfigureAwait(false);
        try
        {
            var verdict = BenchTask.ParseVerdict(response.Text);
            metric.Value = !verdict.NeedsRevision;
            metric.Reason = verdict.Conclusion;
            foreach (var key in new[] { "personalization_critic", "helpfulness_critic" })
                if (verdict.Raw.TryGetProperty(key, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String) metric.AddOrUpdateMetadata(key, v.GetString()!);
            metric.Interpretation = new EvaluationMetricInterpretation(verdict.NeedsRevision ? EvaluationRating.Unacceptable : EvaluationRating.Good, failed: verdict.NeedsRevision,
                verdict.NeedsRevision ? "the critic asks for a revision" : "no revision needed");
        }
        catch (Persona.Engine.ItemFailedException ex)
        {
            metric.AddDiagnostics(EvaluationDiagnostic.Error($"{ex.Message}: {(ex.RawText is { Length: > 300 } t ? t[..300] + "…" : ex.RawText)}"));
        }
        metric.AddOrUpdateChatMetadata(response);
        return result;
    }
}
