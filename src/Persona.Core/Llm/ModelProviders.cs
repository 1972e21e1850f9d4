using System.Collections.Concurrent;
using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>What a role asks its provider for.</summary>
/// <param name="BaseUrls">The role's --base-url values (null: the provider's default or environment).</param>
public sealed record ProviderRequest(string Role, ModelSpec Spec, LlmRuntimeOptions Options, IReadOnlyList<string>? BaseUrls, ResilienceOptions Resilience);

/// <summary>
/// What a provider gives a role: the client below the runtime's middleware (the cache,
/// structured output and accounting are composed on top of it by <see cref="ChatClientBuilder"/>),
/// its endpoint pool when it has one (for reachability and wait reporting), the endpoints' display
/// names (never a secret), the model's identity, whether it is simulated, and whether it honours a
/// JSON schema natively.
/// </summary>
/// <param name="World">What a simulated provider answers from (its planted world's source and hash), recorded in the run's manifest.</param>
public sealed record ProviderClient(IChatClient Client, EndpointPoolChatClient? Pool, IReadOnlyList<string> Endpoints, string Identity, bool Simulated, bool NativeJsonSchema,
    IReadOnlyDictionary<string, object?>? World = null);

/// <summary>A provider of --model PROVIDER:NAME, registered by name.</summary>
public interface IModelProvider
{
    /// <summary>The PROVIDER part of --model, lower case.</summary>
    string Name { get; }

    /// <summary>The client for one role. Throws <see cref="PersonaException"/> for bad input (a missing key, a bad URL) before anything is sent.</summary>
    ProviderClient Create(ProviderRequest request);
}

/// <summary>
/// The providers by name: the simulator (<c>offline</c>), OpenAI-compatible servers (<c>openai</c>,
/// <c>ollama</c>) and whatever another assembly registers (<c>local</c>, in-process GGUF). The
/// runtime looks a role's provider up here; none is special-cased.
/// </summary>
public static class ModelProviders
{
    private static readonly ConcurrentDictionary<string, IModelProvider> s_providers = new(StringComparer.OrdinalIgnoreCase)
    {
        ["openai"] = new OpenAiCompatibleProvider("openai"),
        ["ollama"] = new OpenAiCompatibleProvider("ollama"),
    };

    /// <summary>Registers a built-in provider that lives in another room (the simulator, from Persona.Simulation: the runtime never names it).</summary>
    internal static void RegisterBuiltIn(IModelProvider provider) => s_providers[provider.Name] = provider;

    /// <summary>Registers (or replaces) a provider; the built-in ones cannot be replaced.</summary>
    public static void Register(IModelProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (ModelSpec.BuiltInProviders.Contains(provider.Name.ToLowerInvariant()))
            throw new ArgumentException($"'{provider.Name}' is a built-in provider.", nameof(provider));
        s_providers[provider.Name] = provider;
    }

    public static bool IsRegistered(string name) => s_providers.ContainsKey(name);

    /// <summary>Every provider name, built-in ones first.</summary>
    public static IEnumerable<string> Names() =>
        ModelSpec.BuiltInProviders.Concat(s_providers.Keys.Select(k => k.ToLowerInvariant()).Order(StringComparer.Ordinal)).Append("local").Distinct();

    /// <summary>The provider of <paramref name="spec"/>, or an error naming the known ones.</summary>
    public static IModelProvider Get(ModelSpec spec) => s_providers.TryGetValue(spec.Provider, out var p) ? p
        : throw new PersonaException(spec.Provider == "local"
            ? "local provider not available in this build: --model local:PATH.gguf needs the Persona.Llm.Local component (LLamaSharp), which was not registered."
            : $"Unknown provider '{spec.Provider}'. Known providers: {string.Join(", ", Names())}.");

    /// <summary>Servers speaking OpenAI's chat completions (OpenAI, vLLM, SGLang, llama.cpp, Ollama): a pool of endpoints with the runtime's retries.</summary>
    private sealed class OpenAiCompatibleProvider(string name) : IModelProvider
    {
        public string Name => name;

        public ProviderClient Create(ProviderRequest r)
        {
            var urls = ChatClientFactory.ResolveBaseUrls(r.Spec, r.BaseUrls, r.Options.Environment);
            var key = r.Options.Environment("OPENAI_API_KEY");
            SecretScrubber.Register(key);
            if (string.IsNullOrEmpty(key) && urls.Any(ChatClientFactory.IsHostedOpenAi))
                throw new PersonaException($"OPENAI_API_KEY is not set, and the OpenAI API needs it{(r.Role == LlmRuntime.DefaultRole ? "" : $" (role {r.Role})")}. Export it, or point --base-url (or OPENAI_BASE_URL) at a local OpenAI-compatible server. Nothing was sent.");
            var ollama = name == "ollama";
            var eps = urls.Select(u => ChatClientFactory.CreateOpenAiEndpoint(u, r.Spec.Name, ollama ? null : key, r.Resilience)).ToList();
            var pool = new EndpointPoolChatClient(eps, r.Resilience)
            {
                KeySource = ollama ? "nowhere (no key is sent to ollama)" : string.IsNullOrEmpty(key) ? "OPENAI_API_KEY, which is not set (a placeholder was sent)" : "OPENAI_API_KEY",
            };
            // Display names only: never a URL's user:password.
            return new ProviderClient(new RetryingChatClient(pool, r.Resilience), pool, [.. urls.Select(u => SecretScrubber.Scrub(u))], r.Spec.Identity,
                Simulated: false, NativeJsonSchema: r.Options.NativeJsonSchema ?? true);
        }
    }

    /// <summary>A provider from another assembly that makes one in-process client (see <see cref="IChatClientProvider"/>).</summary>
    internal sealed class InProcess(IChatClientProvider inner) : IModelProvider
    {
        public string Name => inner.Name;

        public ProviderClient Create(ProviderRequest r)
        {
            var client = inner.Create(r.Spec, r.Options with { Resilience = r.Resilience });
            var pool = new EndpointPoolChatClient([new LlmEndpoint("in-process", client, r.Resilience.Concurrency)], r.Resilience);
            return new ProviderClient(new RetryingChatClient(pool, r.Resilience), pool, ["in-process"], r.Spec.Identity, Simulated: false,
                NativeJsonSchema: r.Options.NativeJsonSchema ?? inner.SupportsJsonSchema);
        }
    }
}
