using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using ChatCompletion = OpenAI.Chat.ChatCompletion;
using ChatCompletionOptions = OpenAI.Chat.ChatCompletionOptions;

namespace Persona.Llm;

/// <summary>One candidate for the first answer token and its log-probability (natural log).</summary>
public readonly record struct TokenLogprob(string Token, double Logprob);

/// <summary>The first answer token and the server's top candidates for it.</summary>
public sealed record LogprobAnswer(string Token, IReadOnlyList<TokenLogprob> Top);

/// <summary>
/// Asking for the first answer token's top log-probabilities (OpenAI chat completions
/// <c>logprobs: true, top_logprobs: N</c>; vLLM the same). A request asks with
/// <see cref="WithTopLogprobs"/>; the provider layer (<see cref="LogprobsChatClient"/>, the offline
/// simulator) answers with <see cref="Format"/>'s JSON as the response text, so the answer and its
/// log-probabilities travel through the cache and the store like any text. The request's N is part
/// of the cache key (<see cref="CacheKey"/>), so an answer cached without log-probabilities is never
/// taken for one with them.
/// </summary>
public static class Logprobs
{
    /// <summary>ChatOptions.AdditionalProperties key: how many top log-probabilities to ask for (int).</summary>
    public const string RequestKey = "persona.top_logprobs";
    /// <summary>OpenAI's largest top_logprobs.</summary>
    public const int MaxTop = 20;
    /// <summary>The response text's format marker.</summary>
    public const string FormatName = "persona-logprobs/1";

    public static ChatOptions WithTopLogprobs(this ChatOptions options, int top)
    {
        if (top is < 1 or > MaxTop) throw new ArgumentOutOfRangeException(nameof(top), top, $"top log-probabilities are 1 to {MaxTop}");
        (options.AdditionalProperties ??= [])[RequestKey] = top;
        return options;
    }

    /// <summary>The number of top log-probabilities asked for, or null.</summary>
    public static int? Requested(ChatOptions? options) =>
        options?.AdditionalProperties is { } ap && ap.TryGetValue(RequestKey, out var v) && v is not null
            ? v switch { int i => i, long l => (int)l, JsonElement { ValueKind: JsonValueKind.Number } e => e.GetInt32(), _ => Convert.ToInt32(v, CultureInfo.InvariantCulture) }
            : null;

    /// <summary>The answer as the response text: <c>{"format":"persona-logprobs/1","token":"A","top_logprobs":[{"token":"A","logprob":-0.1},...]}</c>.</summary>
    public static string Format(LogprobAnswer a)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("format", FormatName);
            w.WriteString("token", a.Token);
            w.WriteStartArray("top_logprobs");
            foreach (var t in a.Top)
            {
                w.WriteStartObject();
                w.WriteString("token", t.Token);
                w.WriteNumber("logprob", Math.Round(t.Logprob, 8));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>Reads <see cref="Format"/>'s text; false for any other text (an answer without log-probabilities).</summary>
    public static bool TryParse(string? text, out LogprobAnswer answer)
    {
        answer = null!;
        if (string.IsNullOrWhiteSpace(text) || !text.TrimStart().StartsWith('{')) return false;
        try
        {
            using var doc = JsonDocument.Parse(text);
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("format", out var f) || f.ValueKind != JsonValueKind.String || f.GetString() != FormatName
                || !r.TryGetProperty("top_logprobs", out var top) || top.ValueKind != JsonValueKind.Array) return false;
            var list = new List<TokenLogprob>();
            foreach (var t in top.EnumerateArray())
            {
                if (!t.TryGetProperty("token", out var tok) || tok.ValueKind != JsonValueKind.String || !t.TryGetProperty("logprob", out var lp) || !lp.TryGetDouble(out var x)) return false;
                list.Add(new TokenLogprob(tok.GetString()!, x));
            }
            answer = new LogprobAnswer(r.TryGetProperty("token", out var first) && first.ValueKind == JsonValueKind.String ? first.GetString()! : "", list);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

/// <summary>
/// A server that does not return log-probabilities when they were asked for: the run stops with this
/// (a clear error naming the server and what to use instead), never a silent fallback to another elicitation.
/// </summary>
public sealed class LogprobsUnavailableException(string message) : PersonaException(message);

/// <summary>
/// Innermost layer over an OpenAI-compatible endpoint: a request carrying <see cref="Logprobs.RequestKey"/>
/// is sent with <c>logprobs: true, top_logprobs: N</c> (through <c>ChatOptions.RawRepresentationFactory</c>,
/// which Microsoft.Extensions.AI.OpenAI uses as the SDK's <see cref="ChatCompletionOptions"/>), and the first
/// content token's candidates are read from the raw <see cref="ChatCompletion"/> and returned as
/// <see cref="Logprobs.Format"/>'s text. A completion without them is <see cref="LogprobsUnavailableException"/>.
/// Other requests pass through untouched.
/// </summary>
public sealed class LogprobsChatClient(IChatClient inner, string endpointName) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (Logprobs.Requested(options) is not { } top) return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        var asked = options!.Clone();
        asked.AdditionalProperties = new AdditionalPropertiesDictionary(options.AdditionalProperties!.Where(kv => kv.Key != Logprobs.RequestKey));
        var previous = options.RawRepresentationFactory;
        asked.RawRepresentationFactory = client =>
        {
            var raw = previous?.Invoke(client) as ChatCompletionOptions ?? new ChatCompletionOptions();
            raw.IncludeLogProbabilities = true;
            raw.TopLogProbabilityCount = top;
            return raw;
        };
        var response = await base.GetResponseAsync(messages, asked, cancellationToken).ConfigureAwait(false);
        var first = (response.RawRepresentation as ChatCompletion)?.ContentTokenLogProbabilities is { Count: > 0 } tokens ? tokens[0] : null;
        if (first is null || first.TopLogProbabilities is not { Count: > 0 } candidates)
            throw new LogprobsUnavailableException(
                $"{endpointName} returned no log-probabilities for model {response.ModelId ?? "(unnamed)"} (asked logprobs: true, top_logprobs: {top}). " +
                "--survey-elicitation logprobs needs a server that returns them (OpenAI, vLLM); use verbalized or sample:N with this one.");
        var answer = new LogprobAnswer(first.Token, candidates.Select(c => new TokenLogprob(c.Token, c.LogProbability)).ToList());
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, Logprobs.Format(answer)))
        {
            ModelId = response.ModelId,
            FinishReason = response.FinishReason,
            Usage = response.Usage,
            ResponseId = response.ResponseId,
            CreatedAt = response.CreatedAt,
            AdditionalProperties = response.AdditionalProperties,
        };
    }
}
