using Spectre.Console;

namespace Persona.Cli;

/// <summary>
/// Progress bars keyed by stage name: the first report of a stage adds its bar. Spectre's tasks
/// are safe to update from any thread; the lock only guards the dictionary.
/// </summary>
internal sealed class StageProgress(ProgressContext ctx, Func<string, string> describe)
{
    private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);

    public void Report(string stage, long done, long total, string? suffix = null)
    {
        lock (_tasks)
        {
            if (!_tasks.TryGetValue(stage, out var task))
                _tasks[stage] = task = ctx.AddTask(Markup.Escape(describe(stage)));
            task.MaxValue = Math.Max(1, total);
            task.Value = Math.Min(done, task.MaxValue);
            if (suffix is not null) task.Description = Markup.Escape(describe(stage) + "  " + suffix);
        }
    }

    /// <param name="waiting">When given, polled twice a second; a non-empty answer (calls waiting on a slow server) gets its own line.</param>
    public static async Task<T> RunAsync<T>(IAnsiConsole console, Func<string, string> describe, Func<StageProgress, Task<T>> work, Func<string>? waiting = null)
    {
        T result = default!;
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                using var stop = new CancellationTokenSource();
                var ticker = waiting is null ? Task.CompletedTask : TickAsync(ctx, waiting, stop.Token);
                try
                {
                    result = await work(new StageProgress(ctx, describe));
                }
                finally
                {
                    await stop.CancelAsync();
                    await ticker;
                }
            });
        return result;
    }

    /// <summary>What the runtime's calls are waiting for, for <see cref="RunAsync{T}"/> (shown once a call has waited 5 s).</summary>
    public static Func<string> WaitingOf(Persona.Llm.LlmRuntime rt) =>
        () => rt.Waiting.Describe(rt.Options.Resilience.Timeout, showAfter: TimeSpan.FromSeconds(5));

    private static async Task TickAsync(ProgressContext ctx, Func<string> waiting, CancellationToken ct)
    {
        ProgressTask? row = null;
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(500, ct); }
            catch (OperationCanceledException) { break; }
            var text = waiting();
            if (text.Length == 0)
            {
                if (row is not null) row.Description = "LM calls: none waiting";
                continue;
            }
            row ??= ctx.AddTask("LM calls", maxValue: 1);
            row.IsIndeterminate = true;
            row.Description = Markup.Escape("LM calls " + text);
        }
        if (row is not null)
        {
            row.IsIndeterminate = false;
            row.Description = "LM calls: done";
            row.Value = 1;
        }
    }
}
