using System.Globalization;
using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// Keys the runtime understands in <c>ChatOptions.AdditionalProperties</c> (inputs, stripped
/// before a request leaves the process) and sets in <c>ChatResponse.AdditionalProperties</c>
/// (outputs, provenance of the answer). Read responses with <see cref="CallInfo"/> rather than
/// by key: one typed view, so a layer never depends on another layer's class.
/// </summary>
public static class LlmMetadata
{
    // Request side.
    /// <summary>Version of the prompt template that produced the messages; part of the cache key.</summary>
    public const string TemplateVersion = "template_version";
    /// <summary>Index of the sample (int) when temperature &gt; 0: n samples are n distinct cached calls.</summary>
    public const string SampleIndex = "sample_index";
    /// <summary>
    /// A <see cref="SimulationHint"/>: what the stage is doing, for the offline simulator's planted
    /// world. Real providers never see it (it is stripped) and it is not part of their cache key; it
    /// is part of the simulator's, whose answers depend on it.
    /// </summary>
    public const string Simulation = "persona.simulation";
    /// <summary>Set by the cache layer on what it forwards: the call's cache key (the batch exporter's custom_id).</summary>
    public const string RequestCacheKey = "persona.request_cache_key";

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
    /// <summary>The answer needed the structured-output layer's repair request.</summary>
    public const string Repaired = "persona.repaired";

    internal static bool IsRequestKey(string key) => key is TemplateVersion or SampleIndex or Simulation or RequestCacheKey;

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

    /// <summary>The typed provenance of an answer.</summary>
    public static LlmCallInfo CallInfo(this ChatResponse response) => new(response.AdditionalProperties);

    /// <summary>The stage's simulation hint, if any.</summary>
    public static SimulationHint? SimulationHintOf(ChatOptions? options)
        => options?.AdditionalProperties is { } ap && ap.TryGetValue(Simulation, out var v) ? v as SimulationHint : null;

    /// <summary>Sets template version, sample index and simulation hint on options (any may be null).</summary>
    public static ChatOptions WithRunMetadata(this ChatOptions options, string? templateVersion = null, long? sampleIndex = null, SimulationHint? hint = null)
    {
        var ap = options.AdditionalProperties ??= new AdditionalPropertiesDictionary();
        if (templateVersion is not null) ap[TemplateVersion] = templateVersion;
        if (sampleIndex is { } s) ap[SampleIndex] = s;
        if (hint is not null) ap[Simulation] = hint;
        return options;
    }
}

/// <summary>A typed read of the runtime's keys on a response.</summary>
public readonly struct LlmCallInfo(AdditionalPropertiesDictionary? p)
{
    public bool Cached => Get(LlmMetadata.Cached, false);
    public string? CacheKey => Get<string?>(LlmMetadata.CacheKey, null);
    public int Attempts => Get(LlmMetadata.Attempts, 1);
    public string? Endpoint => Get<string?>(LlmMetadata.Endpoint, null);
    public double CostUsd => Get(LlmMetadata.CostUsd, 0.0);
    public bool PriceKnown => Get(LlmMetadata.PriceKnown, true);
    public bool TokensEstimated => Get(LlmMetadata.TokensEstimated, false);
    public bool Simulated => Get(LlmMetadata.Simulated, false);
    public bool Repaired => Get(LlmMetadata.Repaired, false);

    private T Get<T>(string key, T fallback) => p is not null && p.TryGetValue(key, out var v) && v is T t ? t : fallback;
}

/// <summary>
/// What a stage tells the offline simulator about a call: the task kind (e.g.
/// <c>preference_judge</c>, <c>bench_critic</c>), the persona's attributes (display key to value)
/// and task options (e.g. which position holds the personalised answer, the generation mode).
/// Never sent to a real provider.
/// </summary>
public sealed record SimulationHint(string Task, IReadOnlyDictionary<string, string>? Persona = null, IReadOnlyDictionary<string, string>? Options = null)
{
    public string? Option(string key) => Options is not null && Options.TryGetValue(key, out var v) ? v : null;

    public double? NumberOption(string key)
        => Option(key) is { } s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
}
