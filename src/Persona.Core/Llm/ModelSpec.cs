namespace Persona.Llm;

/// <summary>
/// A parsed <c>--model PROVIDER:NAME</c> value. The provider is lower-cased; the name is kept as
/// given (model names and GGUF paths are case-sensitive). <c>offline</c> needs no name.
/// </summary>
public sealed record ModelSpec(string Provider, string Name)
{
    /// <summary>Providers built into Persona.Core; others (e.g. <c>local</c>) register themselves.</summary>
    public static readonly IReadOnlyList<string> BuiltInProviders = ["openai", "ollama", "offline"];

    /// <summary>"provider:name", the identity that goes into cache keys and manifests.</summary>
    public string Identity => Name.Length == 0 ? Provider : $"{Provider}:{Name}";

    public override string ToString() => Identity;

    public static ModelSpec Parse(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
            throw new PersonaException("--model is required: expected PROVIDER:NAME, e.g. openai:gpt-4o-mini, ollama:llama3.1, local:model.gguf or offline.");
        spec = spec.Trim();
        var colon = spec.IndexOf(':');
        var provider = (colon < 0 ? spec : spec[..colon]).Trim().ToLowerInvariant();
        var name = colon < 0 ? "" : spec[(colon + 1)..].Trim();
        if (provider.Length == 0)
            throw new PersonaException($"--model '{spec}' has no provider: expected PROVIDER:NAME, e.g. openai:gpt-4o-mini.");
        var known = ModelProviders.IsRegistered(provider) || provider == "local";
        if (!known)
            throw new PersonaException($"--model '{spec}': unknown provider '{provider}'. Known providers: {string.Join(", ", ModelProviders.Names())}.");
        if (provider != "offline" && name.Length == 0)
            throw new PersonaException($"--model '{spec}': provider '{provider}' needs a model name after the colon, e.g. {provider}:{(provider == "local" ? "model.gguf" : "gpt-4o-mini")}.");
        return new ModelSpec(provider, name);
    }
}
