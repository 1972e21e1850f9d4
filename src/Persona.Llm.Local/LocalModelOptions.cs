namespace Persona.Llm.Local;

/// <summary>
/// Settings for in-process GGUF inference. Per-call <c>ChatOptions</c> override the sampling
/// defaults here; everything else is fixed when the model is loaded.
/// </summary>
public sealed record LocalModelOptions
{
    /// <summary>
    /// Tokens of context (prompt + answer). Null: the model's trained context length, capped at
    /// <see cref="MaxDefaultContextSize"/> because the KV cache grows with it.
    /// </summary>
    public int? ContextSize { get; init; }

    /// <summary>The cap applied when <see cref="ContextSize"/> is null.</summary>
    public const int MaxDefaultContextSize = 4096;

    /// <summary>CPU threads for llama.cpp; null: one per logical processor.</summary>
    public int? Threads { get; init; }

    /// <summary>Layers offloaded to a GPU; the CPU backend shipped here ignores anything above 0.</summary>
    public int GpuLayerCount { get; init; }

    /// <summary>Prompt tokens evaluated per llama.cpp batch.</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>Sampling seed used when a call sets no <c>ChatOptions.Seed</c>; fixed so runs repeat.</summary>
    public long Seed { get; init; }

    /// <summary>Answer length used when a call sets no <c>ChatOptions.MaxOutputTokens</c>.</summary>
    public int MaxOutputTokens { get; init; } = 512;

    /// <summary>Default sampling parameters (llama.cpp's own defaults), overridden per call by ChatOptions.</summary>
    public float Temperature { get; init; } = 0.8f;
    public int TopK { get; init; } = 40;
    public float TopP { get; init; } = 0.95f;
    public float MinP { get; init; } = 0.05f;

    internal void Validate()
    {
        if (ContextSize is <= 0)
            throw new PersonaException($"Local model context size must be positive; got {ContextSize}.");
        if (Threads is <= 0)
            throw new PersonaException($"Local model thread count must be positive; got {Threads}.");
        if (GpuLayerCount < 0)
            throw new PersonaException($"Local model GPU layer count must be 0 or more; got {GpuLayerCount}.");
        if (BatchSize <= 0)
            throw new PersonaException($"Local model batch size must be positive; got {BatchSize}.");
        if (MaxOutputTokens < 0)
            throw new PersonaException($"Local model max output tokens must be 0 or more; got {MaxOutputTokens}.");
    }
}
