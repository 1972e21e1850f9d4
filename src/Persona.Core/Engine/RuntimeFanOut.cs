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
        await ForEachAsync(task, rt, role, total, step, progress, ct, abort, s => samples.Add(keep is null ? s : keep(s))).ConfigureAwait(false);
        return samples;
    }

    /// <summary>
    /// <see cref="CollectAsync"/> for statistics that need no sample kept: each sample, without transcripts, goes to
    /// <paramref name="each"/> in the task's order as it comes. Returns how many samples there were and how many failed.
    /// </summary>
    public static async Task<(int Samples, int Failed)> ForEachAsync<T>(EvalTask<T> task, LlmRuntime rt, ModelRole? role, long total, string step,
        StepProgress progress, CancellationToken ct, CancellationToken abort, Action<SampleRecord> each)
    {
        long done = 0;
        int failed = 0, deferred = 0;
        progress(step, 0, total);
        await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(task, rt, new TaskRunOptions { FanOut = rt.FanOutOptions(role, abort) }, ct), task.Name, s =>
        {
            if (s.Status == SampleRecord.StatusDeferred) deferred++;
            else if (s.Status != SampleRecord.StatusOk) failed++;
            each(s.WithoutTranscripts());
            if ((++done & 31) == 0 || done == total) progress(step, done, total);
        }).ConfigureAwait(false);
        progress(step, done, total);
        // Written to batch files (--batch-export): the stage ends here and runs again once they are imported.
        BatchPendingException.ThrowIf(deferred, step);
        return ((int)done, failed);
    }
}
