using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;

namespace Persona.Choice;

/// <summary>
/// The one role-play A-or-B judgment: a model plays a persona and says which of two answers that
/// person would prefer. Pair verification, leave-one-out and the study's LM judge all ask it here,
/// with one schema (<c>preferred</c>: "A" or "B", and <c>reasoning</c>), one parser and one hint
/// for the simulator; each keeps its own versioned wording. Asked in both orders by the callers, so
/// position bias cancels and can be measured.
/// </summary>
public static class RolePlayChoice
{
    /// <summary>The answer's field naming the preferred answer.</summary>
    public const string Field = "preferred";

    public static readonly JsonElement Schema = JsonDocument.Parse("""
        {"type":"object","properties":{"reasoning":{"type":"string"},"preferred":{"type":"string","enum":["A","B"]}},"required":["reasoning","preferred"],"additionalProperties":false}
        """).RootElement.Clone();

    /// <summary>
    /// What the offline simulator needs to plant a choice (it never reads the prompt's wording): whose
    /// preference, on which prompt, in which order (a label of the caller's, part of the planted draw),
    /// which side is the personalised answer and how long each side is (the caller's unit).
    /// </summary>
    /// <remarks>The two texts (optional) let the simulated world plant preferences on the answers' words (its marker
    /// words); callers that leave them out keep the hint, and the cache keys, they always had.</remarks>
    public sealed record Ask(string PersonaKey, string PromptKey, IReadOnlyDictionary<string, string>? Attributes, string Order,
        bool PersonalisedFirst, int FirstLength, int SecondLength, string? PersonalisedText = null, string? GenericText = null);

    /// <summary>The request options of a choice: temperature 0, the schema, the template version and the hint.</summary>
    /// <param name="schemaName">The response format's name and description are part of a call's cache key: each caller keeps
    /// the ones its cached answers were asked with (leave-one-out: "choice", no description).</param>
    public static ChatOptions Options(string templateVersion, Ask a, int? maxOutputTokens = null, string schemaName = "preference",
        string? schemaDescription = "The answer the persona prefers.") =>
        new ChatOptions
        {
            Temperature = 0,
            MaxOutputTokens = maxOutputTokens,
            ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, schemaName, schemaDescription),
        }.WithRunMetadata(templateVersion, hint: new SimulationHint("preference_judge", a.Attributes, HintOptions(a)));

    private static Dictionary<string, string> HintOptions(Ask a)
    {
        var o = new Dictionary<string, string>
        {
            ["persona_key"] = a.PersonaKey, ["prompt_key"] = a.PromptKey, ["order"] = a.Order,
            ["first"] = a.PersonalisedFirst ? "personalised" : "generic",
            ["first_length"] = a.FirstLength.ToString(CultureInfo.InvariantCulture),
            ["second_length"] = a.SecondLength.ToString(CultureInfo.InvariantCulture),
            ["field"] = Field,
        };
        if (a.PersonalisedText is not null && a.GenericText is not null)
        {
            o["personalised_text"] = a.PersonalisedText;
            o["generic_text"] = a.GenericText;
        }
        return o;
    }

    /// <summary>
    /// "A" or "B" from a model's answer, or null when it holds no usable choice. Tolerant of what
    /// small models do (code fences, prose around the JSON, "Answer A", a trailing full stop) and of
    /// the field name "choice" that study judgments stored before the schema was shared.
    /// </summary>
    public static string? Parse(string? text)
    {
        if (!JsonExtraction.TryExtract(text, out var v, out _) || v.ValueKind != JsonValueKind.Object) return null;
        foreach (var name in new[] { Field, "choice" })
        {
            if (!v.TryGetProperty(name, out var c) || c.ValueKind != JsonValueKind.String) continue;
            var s = c.GetString()!.Trim().Trim('"', '.').ToUpperInvariant();
            if (s is "A" or "B") return s;
            if (s is "ANSWER A" or "ANSWER B") return s[^1..];
        }
        return null;
    }

    /// <summary>True when the letter names the personalised answer, given which side it was shown on; null for no choice.</summary>
    public static bool? ChosePersonalised(string? letter, bool personalisedFirst) => letter is null ? null : (letter == "A") == personalisedFirst;
}
