using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.AI;
using Persona.Storage;

namespace Persona.Llm;

/// <summary>Everything needed to open an LM runtime over a run directory.</summary>
public sealed record LlmRuntimeOptions
{
    /// <summary>--model PROVIDER:NAME (openai:NAME, ollama:NAME, local:PATH.gguf, offline).</summary>
    public required string Model { get; init; }
    /// <summary>The run directory: holds store.sqlite (cache + provenance) and manifest.json.</summary>
    public required string RunDirectory { get; init; }
    /// <summary>--base-url values (each may be comma-separated); empty means OPENAI_BASE_URL or the provider default.</summary>
    public IReadOnlyList<string>? BaseUrls { get; init; }
    public ResilienceOptions Resilience { get; init; } = new();
    public double? MaxCostUsd { get; init; }
    public long? MaxCalls { get; init; }
    /// <summary>Skip cache reads (answers are re-sampled and overwrite the cached ones).</summary>
    public bool Refresh { get; init; }
    public int OfflineSeed { get; init; }
    public double OfflineNoise { get; init; } = 0.1;
    /// <summary>Send the JSON schema as response_format (null: the provider's default, true for openai/ollama).</summary>
    public bool? NativeJsonSchema { get; init; }
    /// <summary>Price table; null loads data/llm/prices.csv.</summary>
    public PriceTable? Prices { get; init; }
    /// <summary>Environment lookup (tests inject one); keys are read from it and never stored.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;
}

/// <summary>
/// The LM runtime of one run: an <see cref="IChatClient"/> pipeline over a run directory. Stages
/// take <see cref="ChatClient"/> and call it like any IChatClient; everything operational happens
/// in the layers below, outermost first:
/// <list type="number">
/// <item>cache (<see cref="PersistentCacheChatClient"/>): a hit returns at once, costs nothing and
/// never touches the budget; it stores the final answer of a logical call, after structured-output
/// validation, so a repair is never redone on resume.</item>
/// <item>structured output (<see cref="StructuredOutputChatClient"/>): extraction, validation and
/// one repair request. It sits above accounting so that the repair request, which is paid, is
/// budgeted and counted like any other request.</item>
/// <item>accounting and budget (<see cref="AccountingChatClient"/>): one reservation per request
/// that may be paid, before it leaves; tokens and cost when it returns.</item>
/// <item>retry (<see cref="RetryingChatClient"/>): attempts of one request. It sits below the
/// budget so retries are not counted as extra calls, and below the cache so a failed attempt is
/// never cached.</item>
/// <item>endpoint pool (<see cref="EndpointPoolChatClient"/>): one attempt on the least busy
/// healthy endpoint under its adaptive limit and timeout, and the circuit breaker.</item>
/// <item>the provider (OpenAI-compatible HTTP, a registered provider, or the offline simulator,
/// which needs neither retry nor pool).</item>
/// </list>
/// </summary>
public sealed class LlmRuntime : IAsyncDisposable
{
    private readonly DateTimeOffset _opened = DateTimeOffset.UtcNow;
    private readonly LlmRuntimeOptions _options;

    private LlmRuntime(LlmRuntimeOptions options, ModelSpec model, RunStore store, IChatClient provider, IChatClient pipeline,
        EndpointPoolChatClient? pool, IReadOnlyList<string> endpoints, bool simulated, Budget budget, string identity)
    {
        _options = options;
        Model = model;
        Store = store;
        ChatClient = pipeline;
        Pool = pool;
        Endpoints = endpoints;
        Simulated = simulated;
        Budget = budget;
        ModelIdentity = identity;
    }

    /// <summary>The pipeline stages call.</summary>
    public IChatClient ChatClient { get; }
    public ModelSpec Model { get; }
    public string ModelIdentity { get; }
    public RunStore Store { get; }
    public Budget Budget { get; }
    /// <summary>Base URLs (or "in-process") in use; never holds a key.</summary>
    public IReadOnlyList<string> Endpoints { get; }
    /// <summary>True for the offline simulator: nothing it returns is a model's answer.</summary>
    public bool Simulated { get; }
    public string RunDirectory => _options.RunDirectory;
    public LlmRuntimeOptions Options => _options;
    internal EndpointPoolChatClient? Pool { get; }

    /// <summary>Calls waiting on a server now (for progress lines).</summary>
    public WaitState Waiting => Pool?.Waiting() ?? WaitState.None;

    /// <summary>Calls in flight the runtime can usefully hold (concurrency per endpoint × endpoints).</summary>
    public int TotalConcurrency => _options.Resilience.Concurrency * Math.Max(1, Endpoints.Count);

    /// <summary>
    /// Validates the options (model spec, base URLs, key for the hosted API, budget) and opens the
    /// run store. Makes no network call: reachability is checked before the first paid call.
    /// </summary>
    public static LlmRuntime Open(LlmRuntimeOptions options)
    {
        var model = ModelSpec.Parse(options.Model);
        var budget = new Budget(options.MaxCostUsd, options.MaxCalls);
        if (options.Resilience.Concurrency < 1) throw new PersonaException("--concurrency must be at least 1.");
        if (options.Resilience.Timeout <= TimeSpan.Zero) throw new PersonaException("--timeout must be more than 0 seconds.");
        IChatClient provider;
        EndpointPoolChatClient? pool = null;
        IReadOnlyList<string> endpoints;
        var simulated = false;
        bool native;
        var identity = model.Identity;
        switch (model.Provider)
        {
            case "offline":
                var sim = new OfflineSimulator(options.OfflineSeed, options.OfflineNoise);
                provider = sim;
                identity = sim.Identity;
                endpoints = ["offline-simulator"];
                simulated = true;
                native = true;
                break;
            case "openai" or "ollama":
            {
                var urls = ChatClientFactory.ResolveBaseUrls(model, options.BaseUrls, options.Environment);
                var key = options.Environment("OPENAI_API_KEY");
                SecretScrubber.Register(key);
                if (string.IsNullOrEmpty(key) && urls.Any(ChatClientFactory.IsHostedOpenAi))
                    throw new PersonaException("OPENAI_API_KEY is not set, and the OpenAI API needs it. Export it, or point --base-url (or OPENAI_BASE_URL) at a local OpenAI-compatible server. Nothing was sent.");
                var eps = urls.Select(u => ChatClientFactory.CreateOpenAiEndpoint(u, model.Name, model.Provider == "ollama" ? null : key, options.Resilience)).ToList();
                pool = new EndpointPoolChatClient(eps, options.Resilience)
                {
                    KeySource = model.Provider == "ollama" ? "nowhere (no key is sent to ollama)" : string.IsNullOrEmpty(key) ? "OPENAI_API_KEY, which is not set (a placeholder was sent)" : "OPENAI_API_KEY",
                };
                provider = new RetryingChatClient(pool, options.Resilience);
                endpoints = urls.Select(u => SecretScrubber.Scrub(u)).ToList(); // display names: never a URL's user:password
                native = options.NativeJsonSchema ?? true;
                break;
            }
            default:
            {
                if (!ChatClientFactory.TryGetProvider(model.Provider, out var external))
                    throw new PersonaException(model.Provider == "local"
                        ? "local provider not available in this build: --model local:PATH.gguf needs the Persona.Llm.Local component (LLamaSharp), which was not registered."
                        : $"Unknown provider '{model.Provider}'. Known providers: {string.Join(", ", ChatClientFactory.KnownProviders())}.");
                var client = external.Create(model, options);
                pool = new EndpointPoolChatClient([new LlmEndpoint("in-process", client, options.Resilience.Concurrency)], options.Resilience);
                provider = new RetryingChatClient(pool, options.Resilience);
                endpoints = ["in-process"];
                native = options.NativeJsonSchema ?? external.SupportsJsonSchema;
                break;
            }
        }

        OutputPaths.EnsureFolderTarget(options.RunDirectory, "--run-dir");
        Directory.CreateDirectory(options.RunDirectory);
        var store = RunStore.Open(Path.Combine(options.RunDirectory, "store.sqlite"));
        var prices = options.Prices ?? PriceTable.LoadDefault();
        var pipeline = new ChatClientBuilder(provider)
            .Use(inner => new PersistentCacheChatClient(inner, store, model, options.Refresh, simulated, identity))
            .Use(inner => new StructuredOutputChatClient(inner, native))
            .Use(inner => new AccountingChatClient(inner, model, budget, prices))
            .Build();
        return new LlmRuntime(options, model, store, provider, pipeline, pool, endpoints, simulated, budget, identity);
    }

    /// <summary>Checks that some endpoint answers (no-op for in-process providers). Throws <see cref="PersonaException"/> if none does.</summary>
    public Task EnsureReachableAsync(CancellationToken ct) => Pool?.EnsureReachableAsync(ct) ?? Task.CompletedTask;

    /// <summary>Writes manifest.json atomically (model, endpoints, parameters, totals, status; never keys).</summary>
    public async Task WriteManifestAsync(string status, IReadOnlyDictionary<string, object?>? counts = null, string? stopReason = null)
    {
        await Store.FlushAsync().ConfigureAwait(false);
        var snap = Budget.Snapshot();
        var stats = Store.GetStats();
        var manifest = new Dictionary<string, object?>
        {
            ["format"] = "persona-llm-run/1",
            ["status"] = status,
            ["stop_reason"] = stopReason ?? snap.StopReason,
            ["simulated"] = Simulated,
            ["model"] = Model.Identity,
            ["model_identity"] = ModelIdentity,
            ["endpoints"] = Endpoints,
            ["parameters"] = new Dictionary<string, object?>
            {
                ["concurrency"] = _options.Resilience.Concurrency,
                ["timeout_s"] = _options.Resilience.Timeout.TotalSeconds,
                ["max_attempts"] = _options.Resilience.MaxAttempts,
                ["max_cost_usd"] = _options.MaxCostUsd,
                ["max_calls"] = _options.MaxCalls,
                ["refresh"] = _options.Refresh,
                ["offline_seed"] = Simulated ? _options.OfflineSeed : null,
                ["offline_noise"] = Simulated ? _options.OfflineNoise : null,
            },
            ["this_invocation"] = new Dictionary<string, object?>
            {
                ["started_utc"] = _opened.ToString("O"),
                ["finished_utc"] = DateTimeOffset.UtcNow.ToString("O"),
                ["paid_calls_started"] = snap.Started,
                ["paid_calls_completed"] = snap.Completed,
                ["paid_calls_failed"] = snap.Failed,
                ["prompt_tokens"] = snap.PromptTokens,
                ["completion_tokens"] = snap.CompletionTokens,
                ["estimated_cost_usd"] = Math.Round(snap.CostUsd, 6),
                ["unpriced_calls"] = snap.UnpricedCalls,
            },
            ["store_totals"] = new Dictionary<string, object?>
            {
                ["calls_logged"] = stats.Calls,
                ["cache_hits"] = stats.CacheHits,
                ["failures"] = stats.Failures,
                ["cached_responses"] = stats.Responses,
                ["paid_prompt_tokens"] = stats.PromptTokens,
                ["paid_completion_tokens"] = stats.CompletionTokens,
                ["estimated_cost_usd"] = Math.Round(stats.CostUsd, 6),
            },
            ["counts"] = counts,
        };
        var path = Path.Combine(_options.RunDirectory, "manifest.json");
        var tmp = path + ".tmp";
        await File.WriteAllTextAsync(tmp, JsonSerializer.Serialize(manifest, ManifestJson)).ConfigureAwait(false);
        File.Move(tmp, path, overwrite: true);
    }

    private static readonly JsonSerializerOptions ManifestJson = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Store.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            ChatClient.Dispose(); // disposes every layer down to the provider's HTTP clients
        }
    }
}
