using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.AI;
using Persona.Store;

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
    /// <summary>Send the JSON schema as response_format (null: the provider's default, true for openai/ollama).</summary>
    public bool? NativeJsonSchema { get; init; }
    /// <summary>Price table; null loads data/llm/prices.csv.</summary>
    public PriceTable? Prices { get; init; }
    /// <summary>Environment lookup (tests inject one); keys are read from it and never stored.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;
    /// <summary>
    /// Named roles besides the default one (<see cref="LlmRuntime.DefaultRole"/>), e.g. "critic",
    /// "judge". A role's unset fields fall back to the default role's (<see cref="RoleOptions"/>).
    /// </summary>
    public IReadOnlyDictionary<string, RoleOptions> Roles { get; init; } = new Dictionary<string, RoleOptions>();
    /// <summary>--max-failure-rate: the share of failed items that ends a stage cleanly (see Persona.Engine.FanOut).</summary>
    public double MaxFailureRate { get; init; } = 0.05;
    /// <summary>The offline simulator's world description (planted effects); null: the bundled data/llm/world.json.</summary>
    public string? WorldPath { get; init; }
    /// <summary>When set, roles served by a server send nothing: their uncached calls are written to OpenAI Batch files (no key needed).</summary>
    public BatchExportWriter? BatchExport { get; init; }
}

/// <summary>
/// One named role's model and endpoints. Unset values fall back to the default role: the model to
/// --model; base URLs to --base-url when the role's provider is the default's (else that provider's
/// default); concurrency to --concurrency.
/// </summary>
public sealed record RoleOptions
{
    public string? Model { get; init; }
    public IReadOnlyList<string>? BaseUrls { get; init; }
    public int? Concurrency { get; init; }
}

/// <summary>
/// The LM runtime of one run directory: one store (cache + provenance), one budget and one
/// manifest shared by any number of named <see cref="ModelRole"/>s, each its own
/// <see cref="IChatClient"/> pipeline with its own model, endpoints and concurrency. Stages take a
/// role's <see cref="ModelRole.Client"/> and call it like any IChatClient; everything operational
/// happens in the layers below, outermost first:
/// <list type="number">
/// <item>cache (<see cref="PersistentCacheChatClient"/>): a hit returns at once, costs nothing and
/// never touches the budget; it stores the final answer of a logical call, after structured-output
/// validation, so a repair is never redone on resume.</item>
/// <item>structured output (<see cref="StructuredOutputChatClient"/>): extraction, validation and
/// one repair request. It sits above accounting so that the repair request, which is paid, is
/// budgeted and counted like any other request.</item>
/// <item>accounting and budget (<see cref="AccountingChatClient"/>): one reservation per request
/// that may be paid, before it leaves, against the budget all roles share; tokens and cost when it
/// returns, per role.</item>
/// <item>retry (<see cref="RetryingChatClient"/>): attempts of one request. It sits below the
/// budget so retries are not counted as extra calls, and below the cache so a failed attempt is
/// never cached.</item>
/// <item>endpoint pool (<see cref="EndpointPoolChatClient"/>): one attempt on the least busy
/// healthy endpoint under its adaptive limit and timeout, and the circuit breaker.</item>
/// <item>identity (<see cref="IdentifiedChatClient"/>) over the provider (OpenAI-compatible HTTP, a
/// registered provider, or the offline simulator, which needs neither retry nor pool).</item>
/// </list>
/// </summary>
public sealed class LlmRuntime : IAsyncDisposable
{
    /// <summary>The role of --model: the answerer, the model under test.</summary>
    public const string DefaultRole = "model";

    private readonly DateTimeOffset _opened = DateTimeOffset.UtcNow;
    private readonly LlmRuntimeOptions _options;
    private readonly PriceTable _prices;
    private readonly Dictionary<string, ModelRole> _roles = new(StringComparer.Ordinal);
    private readonly object _rolesGate = new();
    private LlmRuntime(LlmRuntimeOptions options, RunStore store, Budget budget, PriceTable prices)
    {
        _options = options;
        Store = store;
        Budget = budget;
        _prices = prices;
    }

    public RunStore Store { get; }
    public Budget Budget { get; }
    public string RunDirectory => _options.RunDirectory;
    public LlmRuntimeOptions Options => _options;

    /// <summary>The default role (--model).</summary>
    public ModelRole Default => Role(DefaultRole);
    /// <summary>The default role's pipeline.</summary>
    public IChatClient ChatClient => Default.Client;
    public ModelSpec Model => Default.Identity.Spec;
    public string ModelIdentity => Default.Identity.Identity;
    /// <summary>Base URLs (or "in-process") of the default role; never holds a key.</summary>
    public IReadOnlyList<string> Endpoints => Default.Identity.Endpoints;
    /// <summary>True when any role is the offline simulator: nothing it returns is a model's answer.</summary>
    public bool Simulated { get { lock (_rolesGate) return _roles.Values.Any(r => r.Identity.Simulated); } }
    /// <summary>Calls in flight the default role can usefully hold (concurrency per endpoint x endpoints).</summary>
    public int TotalConcurrency => Default.Concurrency;

    /// <summary>Roles opened so far, in name order.</summary>
    public IReadOnlyList<ModelRole> Roles { get { lock (_rolesGate) return _roles.Values.OrderBy(r => r.Name, StringComparer.Ordinal).ToArray(); } }
    /// <summary>Calls waiting on a server now, over every role (for progress lines).</summary>
    public WaitState Waiting => Roles.Select(r => r.Pool?.Waiting() ?? WaitState.None).Aggregate(WaitState.None, WaitState.Combine);

    /// <summary>
    /// Validates the options (model specs, base URLs, keys for the hosted API, budget) and opens the
    /// run store and every declared role. Makes no network call: reachability is checked before the
    /// first paid call.
    /// </summary>
    public static LlmRuntime Open(LlmRuntimeOptions options)
    {
        var budget = new Budget(options.MaxCostUsd, options.MaxCalls);
        if (options.Resilience.Concurrency < 1) throw new PersonaException("--concurrency must be at least 1.");
        if (options.Resilience.Timeout <= TimeSpan.Zero) throw new PersonaException("--timeout must be more than 0 seconds.");
        if (!(options.MaxFailureRate is >= 0 and <= 1)) throw new PersonaException($"--max-failure-rate must lie between 0 and 1 (got {options.MaxFailureRate.ToString(System.Globalization.CultureInfo.InvariantCulture)}).");
        ModelSpec.Parse(options.Model);
        foreach (var (name, role) in options.Roles)
        {
            if (!IsRoleName(name)) throw new PersonaException($"Role name '{name}' is not valid: expected lower-case letters, digits and '-'.");
            if (role.Model is not null) ModelSpec.Parse(role.Model);
            if (role.Concurrency is < 1) throw new PersonaException($"--{name}-concurrency must be at least 1.");
        }
        var prices = options.Prices ?? PriceTable.LoadDefault();
        // Build every declared role before touching the disk: a bad spec or a missing key fails with nothing written.
        var built = new List<(string Name, Func<RunStore, ModelRole> Make)>();
        foreach (var name in new[] { DefaultRole }.Concat(options.Roles.Keys.Where(k => k != DefaultRole).Order(StringComparer.Ordinal)))
            built.Add((name, PrepareRole(name, options, budget, prices)));
        OutputPaths.EnsureFolderTarget(options.RunDirectory, "--run-dir");
        Directory.CreateDirectory(options.RunDirectory);
        var store = RunStore.Open(Path.Combine(options.RunDirectory, "store.sqlite"));
        var rt = new LlmRuntime(options, store, budget, prices);
        foreach (var (name, make) in built) rt._roles[name] = make(store);
        return rt;
    }

    /// <summary>
    /// The role named <paramref name="name"/>; a role not declared in the options is opened on first
    /// use from the default role's settings (its own pipeline, counted on its own).
    /// </summary>
    public ModelRole Role(string name)
    {
        lock (_rolesGate)
        {
            if (_roles.TryGetValue(name, out var r)) return r;
            if (!IsRoleName(name)) throw new ArgumentException($"Role name '{name}' is not valid.", nameof(name));
            r = PrepareRole(name, _options, Budget, _prices)(Store);
            _roles[name] = r;
            return r;
        }
    }

    private static bool IsRoleName(string name) => name.Length is > 0 and <= 32 && name.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-');

    private static Func<RunStore, ModelRole> PrepareRole(string name, LlmRuntimeOptions options, Budget budget, PriceTable prices)
    {
        var declared = options.Roles.GetValueOrDefault(name);
        var spec = ModelSpec.Parse(declared?.Model ?? options.Model);
        var defaultSpec = ModelSpec.Parse(options.Model);
        var baseUrls = declared?.BaseUrls is { Count: > 0 } own ? own
            : spec.Provider == defaultSpec.Provider ? options.BaseUrls
            : null;
        var resilience = declared?.Concurrency is { } c ? options.Resilience with { Concurrency = c } : options.Resilience;
        var fallsBack = declared is null || (declared.Model is null && declared.BaseUrls is null && declared.Concurrency is null);

        // Batch export is a mode of the run, not a provider: every uncached call of a served model becomes a batch line (made with the store below).
        var batch = spec.Provider != "offline" && options.BatchExport is not null;
        var made = batch ? null : ModelProviders.Get(spec).Create(new ProviderRequest(name, spec, options, baseUrls, resilience));
        var pool = made?.Pool;
        IReadOnlyList<string> endpoints = made?.Endpoints ?? ["batch-export"];
        var native = made?.NativeJsonSchema ?? true;
        var identity = made?.Identity ?? spec.Identity;
        var simulated = made?.Simulated ?? false;
        var id = new ModelIdentity(name, spec, identity, simulated, endpoints);
        var concurrency = resilience.Concurrency * Math.Max(1, endpoints.Count);
        return store =>
        {
            var usage = new RoleUsage();
            var pipeline = new ChatClientBuilder(new IdentifiedChatClient(made?.Client ?? new BatchExportChatClient(options.BatchExport!, store, name, spec), id))
                .UsePersistentCache(store, options.Refresh, usage)
                .UseStructuredOutput(native)
                .UseAccounting(budget, prices, usage)
                .Build();
            return new ModelRole(name, id, pipeline, pool, concurrency, usage, fallsBack && name != DefaultRole) { World = made?.World };
        };
    }

    /// <summary>Checks that some endpoint of every role answers (no-op for in-process providers). Throws <see cref="PersonaException"/> if none does.</summary>
    public async Task EnsureReachableAsync(CancellationToken ct)
    {
        foreach (var role in Roles)
            if (role.Pool is { } pool) await pool.EnsureReachableAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Writes manifest.json atomically (every role's model, endpoints, calls, tokens and cost; parameters; totals; status; never keys).</summary>
    public async Task WriteManifestAsync(string status, IReadOnlyDictionary<string, object?>? counts = null, string? stopReason = null)
    {
        var manifest = await ManifestDataAsync(status, counts, stopReason).ConfigureAwait(false);
        var path = Path.Combine(_options.RunDirectory, "manifest.json");
        var tmp = path + ".tmp";
        await File.WriteAllTextAsync(tmp, JsonSerializer.Serialize(manifest, ManifestJson)).ConfigureAwait(false);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The manifest's content (roles, world, parameters, spend) for callers that write a manifest of their own around it.</summary>
    public async Task<Dictionary<string, object?>> ManifestDataAsync(string status, IReadOnlyDictionary<string, object?>? counts = null, string? stopReason = null)
    {
        await Store.FlushAsync().ConfigureAwait(false);
        var snap = Budget.Snapshot();
        var stats = Store.Cache.GetStats();
        var roles = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var r in Roles)
        {
            var u = r.Usage.Snapshot();
            roles[r.Name] = new Dictionary<string, object?>
            {
                ["model"] = r.Identity.Spec.Identity,
                ["model_identity"] = r.Identity.Identity,
                ["simulated"] = r.Identity.Simulated,
                ["endpoints"] = r.Identity.Endpoints,
                ["concurrency"] = r.Concurrency,
                ["same_as_default_role"] = r.FallsBackToDefault,
                ["paid_calls"] = u.PaidCalls,
                ["cache_hits"] = u.CacheHits,
                ["failed_calls"] = u.FailedCalls,
                ["prompt_tokens"] = u.PromptTokens,
                ["completion_tokens"] = u.CompletionTokens,
                ["estimated_cost_usd"] = Math.Round(u.CostUsd, 6),
            };
        }
        var manifest = new Dictionary<string, object?>
        {
            ["format"] = "persona-llm-run/2",
            ["status"] = status,
            ["stop_reason"] = stopReason ?? snap.StopReason,
            ["simulated"] = Simulated,
            ["model"] = Model.Identity,
            ["model_identity"] = ModelIdentity,
            ["endpoints"] = Endpoints,
            ["roles"] = roles,
            ["world"] = Roles.Select(r => r.World).FirstOrDefault(w => w is not null),
            ["parameters"] = new Dictionary<string, object?>
            {
                ["concurrency"] = _options.Resilience.Concurrency,
                ["timeout_s"] = _options.Resilience.Timeout.TotalSeconds,
                ["max_attempts"] = _options.Resilience.MaxAttempts,
                ["max_cost_usd"] = _options.MaxCostUsd,
                ["max_calls"] = _options.MaxCalls,
                ["max_failure_rate"] = _options.MaxFailureRate,
                ["refresh"] = _options.Refresh,
                ["offline_seed"] = Simulated ? _options.OfflineSeed : null,
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
        return manifest;
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
            foreach (var r in Roles) r.Client.Dispose(); // disposes every layer down to the provider's HTTP clients
        }
    }
}

/// <summary>
/// One named role of a run (answerer, critic, judge, ...): its pipeline, identity, endpoint pool,
/// useful concurrency and usage. <see cref="FallsBackToDefault"/>: nothing was configured for it,
/// so it uses the default role's model (a stage may warn that its grader is the model under test).
/// </summary>
public sealed record ModelRole(string Name, ModelIdentity Identity, IChatClient Client, EndpointPoolChatClient? Pool, int Concurrency, RoleUsage Usage, bool FallsBackToDefault)
{
    /// <summary>The planted world a simulated role answers from (source, hash), as its provider reports it; null for a model.</summary>
    public IReadOnlyDictionary<string, object?>? World { get; init; }
}
