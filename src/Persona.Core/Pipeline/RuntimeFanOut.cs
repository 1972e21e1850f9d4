using Persona.Llm;

namespace Persona.Pipeline;

/// <summary>Fan-out settings from a run's runtime, so every stage applies the same --max-failure-rate and concurrency.</summary>
public static class RuntimeFanOut
{
    /// <summary>Concurrency of <paramref name="role"/> (default: the default role), the run's failure-rate rule, the abort token.</summary>
    public static FanOutOptions FanOutOptions(this LlmRuntime runtime, ModelRole? role = null, CancellationToken abort = default, FanOutCounters? counters = null)
        => new()
        {
            Concurrency = (role ?? runtime.Default).Concurrency,
            MaxFailureRate = runtime.Options.MaxFailureRate,
            Abort = abort,
            Counters = counters,
        };
}
