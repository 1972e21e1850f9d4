using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// Makes a JSON-schema request come back as JSON valid for that schema, or fail as one call.
/// The schema is sent as response_format when the provider honours it (<c>nativeSchema</c>), and
/// always also stated in a system instruction, because many OpenAI-compatible servers accept
/// response_format and ignore it. The answer is extracted (whole text, code fence, or the JSON
/// inside prose) and validated; if that fails the model is asked once to repair its answer; if that
/// fails too, a <see cref="StructuredOutputException"/> carries the raw text. On success the
/// response text is exactly the JSON. Requests without a schema pass through untouched.
/// </summary>
public sealed class StructuredOutputChatClient(IChatClient inner, bool nativeSchema) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (options?.ResponseFormat is not ChatResponseFormatJson { Schema: { } schema } format)
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);

        var request = new List<ChatMessage>(messages);
        request.Insert(0, new ChatMessage(ChatRole.System,
            "Reply with only a JSON value (no prose, no code fence) that is valid for this JSON Schema:\n" + schema.GetRawText()));
        var sendOptions = options;
        if (!nativeSchema)
        {
            sendOptions = options.Clone();
            sendOptions.ResponseFormat = null;
        }

        var first = await base.GetResponseAsync(request, sendOptions, cancellationToken).ConfigureAwait(false);
        if (TryAccept(first, schema, out var json, out var errors))
            return WithText(first, json, first);

        request.Add(new ChatMessage(ChatRole.Assistant, first.Text));
        request.Add(new ChatMessage(ChatRole.User,
            "That reply is not valid for the schema (" + string.Join("; ", errors.Take(5)) + "). " +
            "Reply again with only the corrected JSON value."));
        ChatResponse second;
        try
        {
            second = await base.GetResponseAsync(request, sendOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (LlmCallException ex)
        {
            throw new StructuredOutputException($"Answer not valid for schema '{format.SchemaName ?? "response"}' and the repair request failed: {ex.Message}",
                first.Text, first.Usage, errors);
        }
        var usage = Sum(first.Usage, second.Usage);
        if (TryAccept(second, schema, out json, out var errors2))
            return WithText(second, json, first);
        throw new StructuredOutputException(
            $"Answer not valid for schema '{format.SchemaName ?? "response"}' after one repair: {string.Join("; ", errors2.Take(5))}",
            second.Text, usage, errors2);
    }

    private static bool TryAccept(ChatResponse response, JsonElement schema, out string json, out IReadOnlyList<string> errors)
    {
        if (!JsonExtraction.TryExtract(response.Text, out var value, out json))
        {
            errors = [response.FinishReason == ChatFinishReason.Length ? "the answer was cut off (finish_reason length) before the JSON was complete" : "no JSON value found in the answer"];
            return false;
        }
        errors = JsonSchemaValidator.Validate(value, schema);
        return errors.Count == 0;
    }

    private static ChatResponse WithText(ChatResponse final, string json, ChatResponse first)
    {
        var result = new ChatResponse(new ChatMessage(ChatRole.Assistant, json))
        {
            ModelId = final.ModelId,
            FinishReason = final.FinishReason,
            ResponseId = final.ResponseId,
            CreatedAt = final.CreatedAt,
            Usage = ReferenceEquals(final, first) ? final.Usage : Sum(first.Usage, final.Usage),
            AdditionalProperties = final.AdditionalProperties is null ? new() : new AdditionalPropertiesDictionary(final.AdditionalProperties),
        };
        if (!ReferenceEquals(final, first))
        {
            // Both requests were paid: the stored answer carries their sum.
            var p = result.AdditionalProperties;
            p[LlmMetadata.CostUsd] = first.CallInfo().CostUsd + final.CallInfo().CostUsd;
            p[LlmMetadata.Attempts] = first.CallInfo().Attempts + final.CallInfo().Attempts;
            p[LlmMetadata.Repaired] = true;
        }
        return result;
    }

    private static UsageDetails? Sum(UsageDetails? a, UsageDetails? b)
    {
        if (a is null) return b;
        if (b is null) return a;
        return new UsageDetails
        {
            InputTokenCount = (a.InputTokenCount ?? 0) + (b.InputTokenCount ?? 0),
            OutputTokenCount = (a.OutputTokenCount ?? 0) + (b.OutputTokenCount ?? 0),
            TotalTokenCount = (a.TotalTokenCount ?? 0) + (b.TotalTokenCount ?? 0),
        };
    }
}
