using Persona.Llm;

namespace Persona.Engine;

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

/// <summary>Reports a step's progress: done of total (0 when unknown).</summary>
public delegate void StepProgress(string step, long done, long total);

/// <summary>Runs a task to its end on a runtime and keeps its samples, the one way every stage and verb does.</summary>
public static class TaskCollector
{
    /// <summary>
    /// Runs <paramref name="task"/> on the run's fan-out (the concurrency of <paramref name="role"/>, the run's failure rule, the
    /// abort token) and returns its samples without transcripts, in the order they finished; reports every 32 samples.
    /// <paramref name="keep"/> cuts each sample further to what the caller's statistics read (the sample log has them whole).
    /// </summary>
    public static async Task<List<SampleRecord>> CollectAsync<T>(EvalTask<T> task, LlmRuntime rt, ModelRole? role, long total, string step,
        StepProgress progress, CancellationToken ct, CancellationToken abort, Func<SampleRecord, SampleRecord>? keep = null)
    {
        var samples = new List<SampleRecord>();
        long done = 0;
        progress(step, 0, total);
        await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(task, rt, new TaskRunOptions { FanOut = rt.FanOutOptions(role, abort) }, ct), task.Name, s =>
        {
            samples.Add(keep is null ? s.WithoutTranscripts() : keep(s.WithoutTranscripts()));
            if ((++done & 31) == 0 || done == total) progress(step, done, total);
        }).ConfigureAwait(false);
        progress(step, done, total);
        // Written to batch files (--batch-export): the stage ends here and runs again once they are imported.
        BatchPendingException.ThrowIf(samples.Count(s => s.Status == SampleRecord.StatusDeferred), step);
        return samples;
    }
}
