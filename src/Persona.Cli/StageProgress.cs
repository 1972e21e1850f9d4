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

    public static async Task<T> RunAsync<T>(IAnsiConsole console, Func<string, string> describe, Func<StageProgress, Task<T>> work)
    {
        T result = default!;
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx => result = await work(new StageProgress(ctx, describe)));
        return result;
    }
}
