using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// Keys the runtime understands in <c>ChatOptions.AdditionalProperties</c> (inputs, stripped
/// before a request leaves the process) and sets in <c>ChatResponse.AdditionalProperties</c>
/// (outputs, provenance of the answer).
/// </summary>
public static class LlmMetadata
{
    // Request side.
    /// <summary>Version of the prompt template that produced the messages; part of the cache key.</summary>
    public const string TemplateVersion = "template_version";
    /// <summary>Index of the sample (int) when temperature &gt; 0: n samples are n distinct cached calls.</summary>
    public const string SampleIndex = "sample_index";

    // Response side.
    public const string Simulated = "simulated";
    public const string Cached = "persona.cached";
    public const string CacheKey = "persona.cache_key";
    public const string Attempts = "persona.attempts";
    public const string Endpoint = "persona.endpoint";
    public const string LatencyMs = "persona.latency_ms";
    public const string CostUsd = "persona.cost_usd";
    public const string PriceKnown = "persona.price_known";
    public const string TokensEstimated = "persona.tokens_estimated";

    internal static bool IsRequestKey(string key) => key is TemplateVersion or SampleIndex;

    /// <summary>Options without the runtime's own request keys, so they never leave the process (a server might reject unknown fields).</summary>
    internal static ChatOptions? StripRequestKeys(ChatOptions? options)
    {
        if (options?.AdditionalProperties is not { Count: > 0 } ap) return options;
        var any = false;
        foreach (var k in ap.Keys) if (IsRequestKey(k)) { any = true; break; }
        if (!any) return options;
        var clone = options.Clone();
        clone.AdditionalProperties = new AdditionalPropertiesDictionary(ap.Where(kv => !IsRequestKey(kv.Key)));
        return clone;
    }
}
