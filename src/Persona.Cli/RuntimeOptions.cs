using System.CommandLine;
using Spectre.Console;
using Persona.Llm;

namespace Persona.Cli;

/// <summary>
/// The LM runtime options shared by every verb that calls a model (`llm batch/ping`,
/// `personas build/audit`, `prompts curate`): one definition, so flags, defaults and help read
/// the same everywhere. <c>full: false</c> gives the subset a one-off call needs (`llm ping`).
/// </summary>
internal sealed class RuntimeOptions
{
    public readonly Option<string> Model = new("--model") { Description = "PROVIDER:NAME: openai:NAME (any OpenAI-compatible server), ollama:NAME, local:PATH.gguf, or offline (deterministic simulator).", Required = true };
    public readonly Option<string[]> BaseUrl = new("--base-url") { Description = "Server base URL(s), comma-separated or repeated; calls are spread over them. Default: OPENAI_BASE_URL, else the provider's default. The key comes from OPENAI_API_KEY only.", AllowMultipleArgumentsPerToken = true };
    public readonly Option<double> Timeout = new Option<double>("--timeout") { Description = "Per-attempt timeout in seconds, for the whole answer; a call that times out twice fails (the server is likely hung).", DefaultValueFactory = _ => 60 }.Between(0.001, 86_400);
    public readonly Option<int> OfflineSeed = new("--offline-seed") { Description = "Seed of the offline simulator.", DefaultValueFactory = _ => 0 };
    public readonly Option<FileInfo?> World = new("--world") { Description = "The offline simulator's planted world (JSON, format persona-world/1). Default: data/llm/world.json, an illustration with invented effect sizes." };
    public readonly Option<double> MaxFailureRate = new Option<double>("--max-failure-rate") { Description = "End a stage cleanly (resumable, exit code 5) once more than this share of its items failed (unparsable answers, refusals, HTTP 400s, timeouts after retries).", DefaultValueFactory = _ => 0.05 }.Between(0.0, 1.0, "it is a share of the stage's items");
    public readonly Option<int> Concurrency = new Option<int>("--concurrency") { Description = "Calls in flight per endpoint (upper bound; lowered on 429 and raised again on success).", DefaultValueFactory = _ => 16 }.Between(1, OptionRules.MaxConcurrency);
    public readonly Option<DirectoryInfo?> RunDir;
    public readonly Option<double?> MaxCost = new Option<double?>("--max-cost") { Description = "Stop cleanly once this many USD (estimated from data/llm/prices.csv) have been spent in this invocation." }.Between(0.0, 1e9);
    public readonly Option<long?> MaxCalls = new Option<long?>("--max-calls") { Description = "Stop cleanly after this many paid calls in this invocation (cache hits are free)." }.Between(0L, long.MaxValue);
    public readonly Option<bool> Refresh = new("--refresh") { Description = "Ignore cached answers and pay for new ones (they replace the cached ones)." };
    public readonly Option<int> MaxAttempts = new Option<int>("--max-attempts") { Description = "Attempts per call on 429, 5xx, timeouts and dropped connections.", DefaultValueFactory = _ => 6 }.Between(1, 100);
    public readonly Option<int> BreakerFailures = new Option<int>("--breaker-failures") { Description = "Consecutive failures of an endpoint that, lasting at least --breaker-seconds, trip its circuit breaker.", DefaultValueFactory = _ => 8 }.Between(1, 1_000_000);
    public readonly Option<double> BreakerSeconds = new Option<double>("--breaker-seconds") { Description = "Minimum length of a failure streak before the breaker trips.", DefaultValueFactory = _ => 20 }.Between(0.0, 86_400);
    public readonly Option<double> BackoffMs = new Option<double>("--backoff-ms") { Description = "Base of the exponential backoff between attempts, in milliseconds.", DefaultValueFactory = _ => 500, Hidden = true }.Between(1.0, 600_000);

    private readonly bool _full;
    private readonly RoleOptionGroup[] _roles;

    /// <param name="runDirDefault">How the help describes the default run directory.</param>
    /// <param name="defaultModel">When set, --model is optional and defaults to this (the main job runs offline).</param>
    /// <param name="roles">Named roles this verb uses besides --model (e.g. "critic", "judge"): each gets --ROLE-model, --ROLE-base-url and --ROLE-concurrency.</param>
    public RuntimeOptions(bool full = true, string runDirDefault = "runs/<input file name>", string? defaultModel = null, params string[] roles)
    {
        _full = full;
        _roles = roles.Select(r => new RoleOptionGroup(r)).ToArray();
        if (defaultModel is not null)
        {
            Model.Required = false;
            Model.DefaultValueFactory = _ => defaultModel;
        }
        RunDir = new Option<DirectoryInfo?>("--run-dir") { Description = $"Run directory (store.sqlite cache + provenance, manifest.json). Default: {runDirDefault}." };
    }

    /// <summary>
    /// For verbs that call one role only (re-scoring calls the critic, the summary audit the judge):
    /// --model is optional and defaults to that role's model, and the help says so.
    /// </summary>
    public static RuntimeOptions ForRole(string runDirDefault, string role)
    {
        var o = new RuntimeOptions(true, runDirDefault, null, role) { _modelFromRole = role };
        o.Model.Required = false;
        o.Model.Description = $"PROVIDER:NAME of the default role. Default: the --{role}-model (this verb calls only the {role}).";
        return o;
    }

    private string? _modelFromRole;


    public const string ExitCodes =
        "Exit codes: 0 done, 1 bad input or unreachable server (nothing paid),\n" +
        "  3 stopped by --max-cost/--max-calls (resumable), 4 circuit open: endpoint down (resumable),\n" +
        "  5 stopped by --max-failure-rate (resumable), 130 cancelled by Ctrl-C (resumable; a second Ctrl-C aborts calls in flight).";

    public void AddTo(Command c)
    {
        c.Options.Add(Model);
        c.Options.Add(BaseUrl);
        c.Options.Add(Timeout);
        c.Options.Add(OfflineSeed);
        c.Options.Add(World);
        if (!_full) return;
        foreach (var o in new Option[] { Concurrency, RunDir, MaxCost, MaxCalls, MaxFailureRate, Refresh, MaxAttempts, BreakerFailures, BreakerSeconds, BackoffMs })
            c.Options.Add(o);
        foreach (var role in _roles) role.AddTo(c);
    }

    /// <summary>The runtime options of this invocation; <paramref name="defaultRunDir"/> applies when --run-dir is absent.</summary>
    public LlmRuntimeOptions Build(ParseResult parse, string defaultRunDir)
    {
        if (!_full)
            throw new InvalidOperationException("Build needs the full option set; the ping verb builds its own options.");
        var model = parse.GetValue(Model) ?? (_modelFromRole is { } fromRole
            ? parse.GetValue(_roles.First(r => r.Name == fromRole).ModelOption) ?? throw new PersonaException($"give --{fromRole}-model (this verb calls only the {fromRole}).")
            : throw new PersonaException("--model is required."));
        var roles = _roles.Select(r => (r.Name, Options: r.Read(parse))).Where(x => x.Options is not null).ToDictionary(x => x.Name, x => x.Options!, StringComparer.Ordinal);
        // The simulator calls no server: a base URL given with it would be taken and silently ignored.
        if (parse.GetValue(BaseUrl) is { Length: > 0 } && IsOffline(model))
            throw new PersonaException($"--base-url names a server, but --model {model} is the built-in offline simulator, which calls none. Drop --base-url, or give a served model (--model openai:NAME).");
        foreach (var (name, role) in roles)
            if (role.BaseUrls is { Count: > 0 } && IsOffline(role.Model ?? model))
                throw new PersonaException($"--{name}-base-url names a server, but the {name} is the offline simulator ({role.Model ?? model}), which calls none. Drop --{name}-base-url, or give --{name}-model openai:NAME.");
        return new LlmRuntimeOptions
        {
            Model = model,
            BaseUrls = parse.GetValue(BaseUrl),
            RunDirectory = parse.GetValue(RunDir)?.FullName ?? defaultRunDir,
            MaxCostUsd = parse.GetValue(MaxCost),
            MaxCalls = parse.GetValue(MaxCalls),
            Refresh = parse.GetValue(Refresh),
            OfflineSeed = parse.GetValue(OfflineSeed),
            WorldPath = parse.GetValue(World)?.FullName,
            MaxFailureRate = parse.GetValue(MaxFailureRate),
            Roles = roles,
            Resilience = new ResilienceOptions
            {
                Concurrency = parse.GetValue(Concurrency),
                Timeout = Seconds(parse.GetValue(Timeout), "--timeout"),
                MaxAttempts = AtLeast1(parse.GetValue(MaxAttempts), "--max-attempts", "attempt per call"),
                BreakerFailures = AtLeast1(parse.GetValue(BreakerFailures), "--breaker-failures", "failure"),
                BreakerMinDuration = TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(BreakerSeconds))),
                BackoffBase = TimeSpan.FromMilliseconds(Math.Max(1, parse.GetValue(BackoffMs))),
            },
        };
    }

    /// <summary>
    /// Runs a verb's LM work; a budget or circuit-breaker stop is not an error but a resumable end:
    /// it is recorded in the manifest, explained, and becomes the exit code.
    /// </summary>
    public static async Task<int> UntilStoppedAsync(IAnsiConsole console, LlmRuntime rt, Func<Task<int>> work)
    {
        try
        {
            return await work();
        }
        catch (RunStoppedException ex)
        {
            await rt.WriteManifestAsync("stopped", null, ex.Message);
            console.MarkupLineInterpolated($"[yellow]stopped:[/] {ex.Message} Run the same command again to resume; nothing finished is paid twice (exit code {ex.ExitCode}).");
            return ex.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await rt.WriteManifestAsync(Interrupts.Abort.IsCancellationRequested ? "aborted" : "cancelled");
            throw;
        }
    }

    /// <summary>--ROLE-model, --ROLE-base-url, --ROLE-concurrency: one role's model; unset values fall back to --model, --base-url, --concurrency.</summary>
    private sealed class RoleOptionGroup(string name)
    {
        public string Name { get; } = name;
        public Option<string?> ModelOption => _model;
        private readonly Option<string?> _model = new($"--{name}-model") { Description = $"PROVIDER:NAME of the {name} role. Default: --model (the {name} is then the model under test, and the summary says so)." };
        private readonly Option<string[]> _baseUrl = new($"--{name}-base-url") { Description = $"Base URL(s) of the {name}'s server(s). Default: --base-url when the {name} uses the same provider, else that provider's default.", AllowMultipleArgumentsPerToken = true };
        private readonly Option<int?> _concurrency = new Option<int?>($"--{name}-concurrency") { Description = $"Calls in flight per endpoint for the {name}. Default: --concurrency." }.Between(1, OptionRules.MaxConcurrency);

        public void AddTo(Command c)
        {
            c.Options.Add(_model);
            c.Options.Add(_baseUrl);
            c.Options.Add(_concurrency);
        }

        public RoleOptions? Read(ParseResult parse)
        {
            var model = parse.GetValue(_model);
            var urls = parse.GetValue(_baseUrl);
            var concurrency = parse.GetValue(_concurrency);
            if (model is null && urls is not { Length: > 0 } && concurrency is null) return null;
            return new RoleOptions { Model = model, BaseUrls = urls is { Length: > 0 } ? urls : null, Concurrency = concurrency };
        }
    }

    /// <summary>The --ROLE-model given for one of this verb's roles, or null (verbs whose role is optional, e.g. `rm train`'s judge).</summary>
    public string? RoleModel(ParseResult parse, string role) => _roles.FirstOrDefault(r => r.Name == role) is { } g ? parse.GetValue(g.ModelOption) : null;

    /// <summary>True when any of the role's own flags (--ROLE-model, --ROLE-base-url, --ROLE-concurrency) was given.</summary>
    public bool RoleGiven(ParseResult parse, string role) => _roles.First(r => r.Name == role).Read(parse) is not null;

    private static bool IsOffline(string model) => ModelSpec.Parse(model).Provider == "offline";

    private static int AtLeast1(int v, string option, string unit) =>
        v >= 1 ? v : throw new PersonaException($"{option} must be at least 1 {unit} (got {v}).");

    public static TimeSpan Seconds(double s, string option)
    {
        if (!(s > 0)) throw new PersonaException($"{option} must be more than 0 seconds.");
        return TimeSpan.FromSeconds(s);
    }
}
