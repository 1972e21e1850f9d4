using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;

namespace Persona.Personas;

/// <summary>The five idiosyncratic fields an LM writes (method.md section 1, stage 3).</summary>
public sealed record EnrichmentFields(string DetailedJobDescription, string DefiningQuirks, string Mannerisms, string PersonalTime, string Lifestyle)
{
    public PersonaRecord ApplyTo(PersonaRecord p) => p with
    {
        DetailedJobDescription = DetailedJobDescription,
        DefiningQuirks = DefiningQuirks,
        Mannerisms = Mannerisms,
        PersonalTime = PersonalTime,
        Lifestyle = Lifestyle,
    };
}

/// <summary>Why one enrichment answer was not accepted; <see cref="Rule"/> is one of the E* ids of <see cref="PersonaEnricher"/>.</summary>
public sealed record EnrichmentFailure(int Attempt, string Rule, string Message);

/// <summary>
/// The accepted fields (null when every attempt failed), the attempt that produced them, the model
/// that answered, and every rejected attempt.
/// </summary>
public sealed record EnrichmentOutcome(EnrichmentFields? Fields, int Attempt, string? AnsweredBy, bool Simulated, IReadOnlyList<EnrichmentFailure> Failures);

/// <summary>
/// Stage 3: an LM writes the five idiosyncratic fields of one persona, given a few high-level
/// categories. The LM may not alter anything else: the request's JSON schema has exactly these five
/// required string properties and additionalProperties false, and the answer is checked again here
/// (so the rule holds whatever client sits below). An answer that sets any other key (say
/// <c>"age": 99</c>), misses a field, or is not JSON is rejected and the request repeated with the
/// next sample index, up to <see cref="MaxAttempts"/> times.
/// <para>Rejection ids: E1 not JSON / not valid for the schema; E2 a key other than the five (a
/// census or psychodemographic key is named as such); E3 a field missing; E4 a field empty or not a
/// string; E5 the call failed for good (the runtime already retried it).</para>
/// </summary>
public sealed class PersonaEnricher
{
    /// <summary>Bump whenever the prompt or schema below changes (it keys the cache).</summary>
    public const string DefaultTemplateVersion = "personas.enrich/1";

    public static readonly IReadOnlyList<string> FieldKeys =
        ["detailed_job_description", "defining_quirks", "mannerisms", "personal_time", "lifestyle"];

    public const string SystemPrompt = """
        You write the open-ended part of a synthetic person's profile for a research testbed on how
        different people want AI assistants to answer them. The profile you are given comes from the
        US census and from survey statistics: treat every field as a fixed fact. Never change,
        contradict or restate a field differently (age, sex, job, income, family, beliefs...).

        Write five fields, each one to three sentences, third person, no name:
        - detailed_job_description: what their work involves day to day, consistent with their
          employment status, class of worker, industry and occupation. If they have no job, say what
          fills their weekdays instead (school, caring for family, looking for work, retirement),
          consistent with their age. A child's weekdays are school and play, never paid work.
        - defining_quirks: habits or traits that make them memorable.
        - mannerisms: how they talk, move and react.
        - personal_time: what they do with free time.
        - lifestyle: how they live: home, routines, spending, pace of life.
        Let the themes you are given colour what you write. Keep it plausible for this exact person.

        Reply with a JSON object with exactly these five string keys and no other key.
        """;

    public static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "detailed_job_description": { "type": "string", "minLength": 1, "maxLength": 1200 },
            "defining_quirks": { "type": "string", "minLength": 1, "maxLength": 1200 },
            "mannerisms": { "type": "string", "minLength": 1, "maxLength": 1200 },
            "personal_time": { "type": "string", "minLength": 1, "maxLength": 1200 },
            "lifestyle": { "type": "string", "minLength": 1, "maxLength": 1200 }
          },
          "required": ["detailed_job_description", "defining_quirks", "mannerisms", "personal_time", "lifestyle"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    private static readonly HashSet<string> FixedKeys = PersonaRecord.Keys
        .Where(k => !FieldKeys.Contains(k))
        .Concat(["big_five", "openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"])
        .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private readonly IChatClient _chat;

    public PersonaEnricher(IChatClient chat, int maxAttempts = 3, float temperature = 0.9f, string templateVersion = DefaultTemplateVersion)
    {
        ArgumentNullException.ThrowIfNull(chat);
        if (maxAttempts < 1) throw new PersonaException($"The number of enrichment attempts must be at least 1 (got {maxAttempts}).");
        if (!(temperature is >= 0 and <= 2)) throw new PersonaException($"The enrichment temperature must lie in [0, 2] (got {temperature}).");
        ArgumentException.ThrowIfNullOrWhiteSpace(templateVersion);
        _chat = chat;
        MaxAttempts = maxAttempts;
        Temperature = temperature;
        TemplateVersion = templateVersion;
    }

    public int MaxAttempts { get; }
    public float Temperature { get; }
    public string TemplateVersion { get; }

    public static IList<ChatMessage> CreateMessages(PersonaRecord persona, IReadOnlyList<EnrichmentCategory> categories)
    {
        var census = persona with
        {
            DetailedJobDescription = null, DefiningQuirks = null, Mannerisms = null, PersonalTime = null, Lifestyle = null,
        };
        var sb = new StringBuilder();
        sb.Append("Person:\n").Append(PersonaRenderer.Render(census));
        sb.Append("\nThemes to draw on:\n");
        foreach (var c in categories) sb.Append("- ").Append(c.Name).Append(" (").Append(c.Prompt).Append(")\n");
        sb.Append("\nWrite the five fields for this person.");
        return [new ChatMessage(ChatRole.System, SystemPrompt), new ChatMessage(ChatRole.User, sb.ToString())];
    }

    /// <summary>Options of attempt <paramref name="attempt"/> (0-based): its sample index makes it a distinct cached call.</summary>
    public ChatOptions CreateOptions(int attempt) => new()
    {
        Temperature = Temperature,
        MaxOutputTokens = 900,
        ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "persona_enrichment", "The five open-ended fields of one persona."),
        AdditionalProperties = new AdditionalPropertiesDictionary
        {
            [LlmMetadata.TemplateVersion] = TemplateVersion,
            [LlmMetadata.SampleIndex] = (long)attempt,
        },
    };

    /// <summary>
    /// Asks for the fields until one answer is acceptable or the attempts run out. Exceptions other
    /// than a failed call (a run stop, cancellation, bad input) propagate.
    /// </summary>
    public async Task<EnrichmentOutcome> EnrichAsync(PersonaRecord persona, IReadOnlyList<EnrichmentCategory> categories, CancellationToken ct = default)
    {
        var messages = CreateMessages(persona, categories);
        var failures = new List<EnrichmentFailure>();
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            ChatResponse response;
            try
            {
                response = await _chat.GetResponseAsync(messages, CreateOptions(attempt), ct).ConfigureAwait(false);
            }
            catch (StructuredOutputException ex)
            {
                // The runtime's schema check (and its one repair) failed: say what the answer tried to do.
                failures.Add(Parse(ex.RawText, attempt, out _) ?? new EnrichmentFailure(attempt, "E1", "answer not valid for the schema: " + string.Join("; ", ex.Errors.Take(3))));
                continue;
            }
            catch (LlmCallException ex)
            {
                failures.Add(new EnrichmentFailure(attempt, "E5", "call failed: " + ex.Message));
                continue;
            }
            if (Parse(response.Text, attempt, out var fields) is { } failure)
            {
                failures.Add(failure);
                continue;
            }
            var simulated = response.AdditionalProperties?.TryGetValue(LlmMetadata.Simulated, out var s) == true && s is true;
            return new EnrichmentOutcome(fields, attempt, response.ModelId, simulated, failures);
        }
        return new EnrichmentOutcome(null, -1, null, false, failures);
    }

    /// <summary>Checks one answer; returns null and the fields when it is acceptable, else why not.</summary>
    public static EnrichmentFailure? Parse(string? text, int attempt, out EnrichmentFields? fields)
    {
        fields = null;
        if (!JsonExtraction.TryExtract(text, out var root, out _) || root.ValueKind != JsonValueKind.Object)
            return new EnrichmentFailure(attempt, "E1", "the answer is not a JSON object");
        var extra = root.EnumerateObject().Select(p => p.Name).Where(n => !FieldKeys.Contains(n)).ToList();
        if (extra.Count > 0)
        {
            var fixedOnes = extra.Where(FixedKeys.Contains).ToList();
            var msg = fixedOnes.Count > 0
                ? $"tried to set census/psychodemographic field(s) {string.Join(", ", fixedOnes.Select(k => Describe(root, k)))}"
                : "";
            var others = extra.Except(fixedOnes).ToList();
            if (others.Count > 0) msg += (msg.Length > 0 ? "; " : "") + "unexpected key(s) " + string.Join(", ", others);
            return new EnrichmentFailure(attempt, "E2", msg);
        }
        var values = new string[FieldKeys.Count];
        for (var i = 0; i < FieldKeys.Count; i++)
        {
            if (!root.TryGetProperty(FieldKeys[i], out var v))
                return new EnrichmentFailure(attempt, "E3", $"field '{FieldKeys[i]}' is missing");
            if (v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString()))
                return new EnrichmentFailure(attempt, "E4", $"field '{FieldKeys[i]}' is empty or not a string");
            values[i] = v.GetString()!.Trim();
        }
        fields = new EnrichmentFields(values[0], values[1], values[2], values[3], values[4]);
        return null;
    }

    private static string Describe(JsonElement root, string key)
    {
        var raw = root.GetProperty(key).GetRawText();
        return $"{key}={(raw.Length > 40 ? raw[..40] + "..." : raw)}";
    }
}
