using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// Content address of a call: SHA-256 over a canonical JSON document of the model identity, the
/// messages (role and text), the sampling parameters, the requested response format, the prompt
/// template version, a per-call <c>ChatOptions.ModelId</c>, the tools offered (name, description,
/// parameter schema) and the tool mode, and, when sampling is random (temperature other than 0), the sample index.
/// The endpoint is deliberately not part of it: any server of a fleet may answer a call.
/// </summary>
public static class CacheKey
{
    // 2: ChatOptions.ModelId and tools joined the key (a per-call model switch must not hit another model's answer).
    private const int FormatVersion = 2;
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;

    /// <summary>The key (64 hex chars) and the canonical parameters JSON kept as provenance.</summary>
    /// <param name="includeSimulation">For the offline simulator only: its answers depend on the stage's
    /// <see cref="SimulationHint"/>, so two calls with the same messages but different hints are different calls.</param>
    public static (string Key, string Parameters) Compute(string modelIdentity, IEnumerable<ChatMessage> messages, ChatOptions? options, bool includeSimulation = false)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        string parameters;
        using (var w = new Utf8JsonWriter(buffer))
        {
            WriteParameters(w, options, includeSimulation: false); // provenance: the hint is a persona's attributes, kept once in the sample log, not per call
            w.Flush();
            parameters = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
        buffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", FormatVersion);
            w.WriteString("model", modelIdentity);
            w.WriteStartArray("messages");
            foreach (var m in messages)
            {
                w.WriteStartObject();
                w.WriteString("role", m.Role.Value);
                w.WriteString("content", m.Text);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("params");
            WriteParameters(w, options, includeSimulation);
            w.WriteEndObject();
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(buffer.WrittenSpan, hash);
        if (buffer.Capacity > 1 << 20) t_buffer = null; // don't pin a huge buffer after one giant prompt
        return (Convert.ToHexStringLower(hash), parameters);
    }

    /// <summary>True unless temperature is exactly 0 (unset means the provider's default, which samples).</summary>
    public static bool IsSampling(ChatOptions? options) => options?.Temperature is not 0f;

    private static void WriteParameters(Utf8JsonWriter w, ChatOptions? o, bool includeSimulation)
    {
        w.WriteStartObject();
        if (o is not null)
        {
            if (o.Temperature is { } t) w.WriteNumber("temperature", Math.Round(t, 6));
            if (o.MaxOutputTokens is { } mt) w.WriteNumber("max_tokens", mt);
            if (o.TopP is { } tp) w.WriteNumber("top_p", Math.Round(tp, 6));
            if (o.TopK is { } tk) w.WriteNumber("top_k", tk);
            if (o.FrequencyPenalty is { } fp) w.WriteNumber("frequency_penalty", Math.Round(fp, 6));
            if (o.PresencePenalty is { } pp) w.WriteNumber("presence_penalty", Math.Round(pp, 6));
            if (o.Seed is { } seed) w.WriteNumber("seed", seed);
            if (o.StopSequences is { Count: > 0 } stops)
            {
                w.WriteStartArray("stop");
                foreach (var s in stops) w.WriteStringValue(s);
                w.WriteEndArray();
            }
            if (o.Instructions is { } ins) w.WriteString("instructions", ins);
            if (o.ModelId is { Length: > 0 } modelId) w.WriteString("model_id", modelId);
            if (o.Tools is { Count: > 0 } tools)
            {
                w.WriteStartArray("tools");
                foreach (var tool in tools)
                {
                    w.WriteStartObject();
                    w.WriteString("name", tool.Name);
                    w.WriteString("description", tool.Description);
                    if (tool is AIFunctionDeclaration f)
                    {
                        w.WritePropertyName("parameters");
                        f.JsonSchema.WriteTo(w);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (o.ToolMode is { } mode) w.WriteString("tool_mode", mode switch
            {
                NoneChatToolMode => "none",
                RequiredChatToolMode { RequiredFunctionName: { } fn } => "required:" + fn,
                RequiredChatToolMode => "required",
                _ => "auto",
            });
            switch (o.ResponseFormat)
            {
                case ChatResponseFormatJson json:
                    w.WriteStartObject("response_format");
                    w.WriteString("type", "json");
                    if (json.SchemaName is { } sn) w.WriteString("name", sn);
                    if (json.Schema is { } schema)
                    {
                        w.WritePropertyName("schema");
                        schema.WriteTo(w);
                    }
                    w.WriteEndObject();
                    break;
                case ChatResponseFormatText:
                    w.WriteString("response_format", "text");
                    break;
            }
            if (o.AdditionalProperties is { } ap)
            {
                if (ap.TryGetValue(LlmMetadata.TemplateVersion, out var tv) && tv is not null)
                    w.WriteString("template_version", Convert.ToString(tv, CultureInfo.InvariantCulture));
                // An answer with log-probabilities is another call than one without (or with fewer).
                if (Logprobs.Requested(o) is { } top) w.WriteNumber("top_logprobs", top);
                if (includeSimulation && ap.TryGetValue(LlmMetadata.Simulation, out var sim) && sim is SimulationHint hint)
                {
                    w.WriteStartObject("simulation");
                    w.WriteString("task", hint.Task);
                    void Map(string name, IReadOnlyDictionary<string, string>? map)
                    {
                        if (map is null) return;
                        w.WriteStartObject(name);
                        foreach (var (k, v) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                        w.WriteEndObject();
                    }
                    Map("persona", hint.Persona);
                    Map("options", hint.Options);
                    w.WriteEndObject();
                }
            }
        }
        if (IsSampling(o))
            w.WriteNumber("sample", SampleIndexOf(o));
        w.WriteEndObject();
    }

    internal static long SampleIndexOf(ChatOptions? o)
    {
        if (o?.AdditionalProperties is { } ap && ap.TryGetValue(LlmMetadata.SampleIndex, out var v) && v is not null)
        {
            return v switch
            {
                int i => i,
                long l => l,
                JsonElement { ValueKind: JsonValueKind.Number } e => e.GetInt64(),
                _ => Convert.ToInt64(v, CultureInfo.InvariantCulture),
            };
        }
        return 0;
    }
}
