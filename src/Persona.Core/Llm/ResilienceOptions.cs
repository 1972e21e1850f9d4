namespace Persona.Llm;

/// <summary>Knobs of the retry / concurrency / circuit-breaker layer. Defaults suit hosted APIs; tests shrink them.</summary>
public sealed record ResilienceOptions
{
    /// <summary>Upper bound on calls in flight per endpoint (the AIMD limit moves below it).</summary>
    public int Concurrency { get; init; } = 16;
    /// <summary>Per-attempt timeout (the whole answer: calls are not streamed, so there is no first-token signal).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Attempts per call, the first included.</summary>
    public int MaxAttempts { get; init; } = 6;
    /// <summary>
    /// Attempts that may end in a timeout: a server that did not answer in <see cref="Timeout"/> twice is
    /// hung or overloaded, and four more full waits (the 429/5xx budget) would cost minutes per call.
    /// </summary>
    public int MaxTimeoutAttempts { get; init; } = 2;
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>A Retry-After longer than this is capped (a server asking for an hour would stall the run).</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Consecutive failures (5xx, timeouts, dropped connections, auth errors) that trip an endpoint's breaker...</summary>
    public int BreakerFailures { get; init; } = 8;
    /// <summary>...provided the failure streak has lasted at least this long (a burst is not an outage).</summary>
    public TimeSpan BreakerMinDuration { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>How often a tripped endpoint is probed while others still serve.</summary>
    public TimeSpan BreakerProbeInterval { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Timeout of the reachability check made before the first call.</summary>
    public TimeSpan PreflightTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Seed of the backoff jitter.</summary>
    public int JitterSeed { get; init; } = 1;
}
