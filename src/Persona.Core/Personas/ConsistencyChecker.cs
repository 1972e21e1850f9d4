using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;

namespace Persona.Personas;

/// <summary>
/// The LM's verdict on one profile. <see cref="Consistent"/> is null when no readable verdict
/// came back (the raw answer is then in <see cref="Raw"/>).
/// </summary>
public sealed record ConsistencyVerdict(bool? Consistent, IReadOnlyList<string> Reasons, string? AnsweredBy, string? Raw);

/// <summary>
/// Stage 4b: an LM reads the whole profile and says whether it is self-consistent and plausible
/// (structured: {"consistent": bool, "reasons": [string]}). Temperature 0, so the verdict is one
/// cached call per profile.
/// </summary>
public sealed class ConsistencyChecker
{
    public const string DefaultTemplateVersion = "personas.consistency/1";

    public const string SystemPrompt = """
        You review synthetic person profiles for a research testbed. Most fields come from the US
        census and survey statistics; the job description, quirks, mannerisms, personal time and
        lifestyle were written by a language model. Decide whether the whole profile is
        self-consistent and plausible for one real person: the written fields must agree with the
        census fields (age, employment, occupation, income, education, family, military service,
        health) and with each other. Unusual is fine; impossible or contradictory is not.
        Reply with a JSON object: {"consistent": true or false, "reasons": ["<short reason>", ...]}
        giving, when inconsistent, each contradiction as one short reason.
        """;

    public static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "consistent": { "type": "boolean" },
            "reasons": { "type": "array", "items": { "type": "string" }, "maxItems": 5 }
          },
          "required": ["consistent", "reasons"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    private readonly IChatClient _chat;

    public ConsistencyChecker(IChatClient chat, string templateVersion = DefaultTemplateVersion)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentException.ThrowIfNullOrWhiteSpace(templateVersion);
        _chat = chat;
        TemplateVersion = templateVersion;
    }

    public string TemplateVersion { get; }

    public static IList<ChatMessage> CreateMessages(PersonaRecord p) =>
    [
        new(ChatRole.System, SystemPrompt),
        new(ChatRole.User, "Profile:\n" + PersonaRenderer.Render(p) + "\nIs this profile self-consistent and plausible?"),
    ];

    public ChatOptions CreateOptions() => new()
    {
        Temperature = 0f,
        MaxOutputTokens = 400,
        ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "consistency_verdict", "Whether a persona profile is self-consistent, and why not."),
        AdditionalProperties = new AdditionalPropertiesDictionary { [LlmMetadata.TemplateVersion] = TemplateVersion },
    };

    /// <summary>One verdict; an unreadable answer is a null verdict, a failed call propagates as <see cref="LlmCallException"/>.</summary>
    public async Task<ConsistencyVerdict> CheckAsync(PersonaRecord persona, CancellationToken ct = default)
    {
        ChatResponse response;
        try
        {
            response = await _chat.GetResponseAsync(CreateMessages(persona), CreateOptions(), ct).ConfigureAwait(false);
        }
        catch (StructuredOutputException ex)
        {
            return new ConsistencyVerdict(null, [], null, ex.RawText);
        }
        return Parse(response.Text) with { AnsweredBy = response.ModelId };
    }

    public static ConsistencyVerdict Parse(string? text)
    {
        if (!JsonExtraction.TryExtract(text, out var root, out _) || root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("consistent", out var c) || c.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            return new ConsistencyVerdict(null, [], null, text);
        var reasons = root.TryGetProperty("reasons", out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!.Trim()).Where(x => x.Length > 0).ToArray()
            : [];
        return new ConsistencyVerdict(c.ValueKind == JsonValueKind.True, reasons, null, null);
    }
}
