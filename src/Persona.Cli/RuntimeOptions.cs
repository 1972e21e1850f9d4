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
    public readonly Option<double> Timeout = new("--timeout") { Description = "Per-attempt timeout in seconds, for the whole answer; a call that times out twice fails (the server is likely hung).", DefaultValueFactory = _ => 60 };
    public readonly Option<int> OfflineSeed = new("--offline-seed") { Description = "Seed of the offline simulator.", DefaultValueFactory = _ => 0 };
    public readonly Option<double> OfflineNoise = new("--offline-noise") { Description = "Probability that the offline simulator flips a persona's true choice.", DefaultValueFactory = _ => 0.1 };
    public readonly Option<int> Concurrency = new("--concurrency") { Description = "Calls in flight per endpoint (upper bound; lowered on 429 and raised again on success).", DefaultValueFactory = _ => 16 };
    public readonly Option<DirectoryInfo?> RunDir;
    public readonly Option<double?> MaxCost = new("--max-cost") { Description = "Stop cleanly once this many USD (estimated from data/llm/prices.csv) have been spent in this invocation." };
    public readonly Option<long?> MaxCalls = new("--max-calls") { Description = "Stop cleanly after this many paid calls in this invocation (cache hits are free)." };
    public readonly Option<bool> Refresh = new("--refresh") { Description = "Ignore cached answers and pay for new ones (they replace the cached ones)." };
    public readonly Option<int> MaxAttempts = new("--max-attempts") { Description = "Attempts per call on 429, 5xx, timeouts and dropped connections.", DefaultValueFactory = _ => 6 };
    public readonly Option<int> BreakerFailures = new("--breaker-failures") { Description = "Consecutive failures of an endpoint that, lasting at least --breaker-seconds, trip its circuit breaker.", DefaultValueFactory = _ => 8 };
    public readonly Option<double> BreakerSeconds = new("--breaker-seconds") { Description = "Minimum length of a failure streak before the breaker trips.", DefaultValueFactory = _ => 20 };
    public readonly Option<double> BackoffMs = new("--backoff-ms") { Description = "Base of the exponential backoff between attempts, in milliseconds.", DefaultValueFactory = _ => 500, Hidden = true };

    private readonly bool _full;

    /// <param name="runDirDefault">How the help describes the default run directory.</param>
    /// <param name="defaultModel">When set, --model is optional and defaults to this (the main job runs offline).</param>
    public RuntimeOptions(bool full = true, string runDirDefault = "runs/<input file name>", string? defaultModel = null)
    {
        _full = full;
        if (defaultModel is not null)
        {
            Model.Required = false;
            Model.DefaultValueFactory = _ => defaultModel;
        }
        RunDir = new Option<DirectoryInfo?>("--run-dir") { Description = $"Run directory (store.sqlite cache + provenance, manifest.json). Default: {runDirDefault}." };
    }

    public const string ExitCodes =
        "Exit codes: 0 done, 1 bad input or unreachable server (nothing paid),\n" +
        "  3 stopped by --max-cost/--max-calls (resumable), 4 circuit open: endpoint down (resumable), 130 cancelled (resumable).";

    public void AddTo(Command c)
    {
        c.Options.Add(Model);
        c.Options.Add(BaseUrl);
        c.Options.Add(Timeout);
        c.Options.Add(OfflineSeed);
        c.Options.Add(OfflineNoise);
        if (!_full) return;
        foreach (var o in new Option[] { Concurrency, RunDir, MaxCost, MaxCalls, Refresh, MaxAttempts, BreakerFailures, BreakerSeconds, BackoffMs })
            c.Options.Add(o);
    }

    /// <summary>The runtime options of this invocation; <paramref name="defaultRunDir"/> applies when --run-dir is absent.</summary>
    public LlmRuntimeOptions Build(ParseResult parse, string defaultRunDir)
    {
        if (!_full)
            throw new InvalidOperationException("Build needs the full option set; the ping verb builds its own options.");
        return new LlmRuntimeOptions
        {
            Model = parse.GetValue(Model)!,
            BaseUrls = parse.GetValue(BaseUrl),
            RunDirectory = parse.GetValue(RunDir)?.FullName ?? defaultRunDir,
            MaxCostUsd = parse.GetValue(MaxCost),
            MaxCalls = parse.GetValue(MaxCalls),
            Refresh = parse.GetValue(Refresh),
            OfflineSeed = parse.GetValue(OfflineSeed),
            OfflineNoise = parse.GetValue(OfflineNoise),
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
    }

    private static int AtLeast1(int v, string option, string unit) =>
        v >= 1 ? v : throw new PersonaException($"{option} must be at least 1 {unit} (got {v}).");

    public static TimeSpan Seconds(double s, string option)
    {
        if (!(s > 0)) throw new PersonaException($"{option} must be more than 0 seconds.");
        return TimeSpan.FromSeconds(s);
    }
}
