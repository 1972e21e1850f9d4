using Persona.Llm;
using Persona.Engine;

namespace Persona.Benchmark;

/// <summary>Where a bench job writes: a verb's --out (with its --no-figures and --parquet) or a testbed run's stage folder.</summary>
public sealed record BenchOutput(string Directory, bool Figures = true, bool Parquet = false);

/// <summary>What a bench job ran and computed.</summary>
public sealed record BenchJobResult<T>(IReadOnlyList<SampleRecord> Samples, T Result);

/// <summary>What PERSONA Bench ran (its samples reduced as they came, and how many) and computed.</summary>
public sealed record BenchRunResult(int Samples, BenchTally Tally, BenchResults Results);

/// <summary>
/// The bench family's jobs, each written once and called both by its verb (`bench run`, `passk`,
/// `loo`, `summaries`) and by the testbed's stage: run the task on the shared engine, log its
/// samples, compute the statistics, write the same files. How the items are chosen and what is
/// printed stay with the callers (a verb is parse, call, render).
/// </summary>
public static class BenchJobs
{
    public const string SamplesFile = "samples.jsonl", SamplesParquet = "samples.parquet", ResultsFile = "results.json",
        PassKFile = "passk.json", LooFile = "loo.json", SummariesFile = "summaries.json", FiguresFolder = "figures";

    /// <summary>PERSONA Bench: answers in every mode, graded by the critic; results.json with per-group tables and paired mode comparisons.</summary>
    public static async Task<BenchRunResult> BenchAsync(EvalTask<BenchItem> task, long total, LlmRuntime rt, BenchOutput output,
        int resamples, int minCell, string step, StepProgress progress, CancellationToken ct, CancellationToken abort)
    {
        var tally = new BenchTally(BenchTask.DefaultScoreSet);
        var (count, _) = await TaskCollector.ForEachAsync(task, rt, null, total, step, progress, ct, abort, tally.Add).ConfigureAwait(false);
        await ExportAsync(rt, task.Name, output, ct).ConfigureAwait(false);
        progress("statistics", 0, 1);
        var results = BenchReport.Compute(tally, resamples, 1, minCell);
        BenchReport.Write(Path.Combine(output.Directory, ResultsFile), results);
        if (BestOfNReport.Compute(tally, resamples) is { } best) BenchReport.Write(Path.Combine(output.Directory, BestOfNReport.File), best);
        if (output.Figures)
        {
            BenchPlots.AccuracyByMode(results, Figures(output));
            BenchPlots.GroupHeatmap(results, Figures(output));
        }
        progress("statistics", 1, 1);
        return new(count, tally, results);
    }

    /// <summary>pass@k: n independent draws per item, each critiqued; passk.json with the unbiased estimator and clustered intervals.</summary>
    public static async Task<BenchJobResult<PassAtKResults>> PassKAsync(EvalTask<BenchItem> task, long total, int k, LlmRuntime rt, BenchOutput output,
        int resamples, string step, StepProgress progress, CancellationToken ct, CancellationToken abort)
    {
        var samples = await TaskCollector.CollectAsync(task, rt, null, total, step, progress, ct, abort).ConfigureAwait(false);
        await ExportAsync(rt, task.Name, output, ct).ConfigureAwait(false);
        var r = PassAtK.Compute(samples, BenchTask.DefaultScoreSet, k, resamples);
        BenchReport.Write(Path.Combine(output.Directory, PassKFile), r);
        if (output.Figures) BenchPlots.PassAtKCurves(r, Figures(output));
        return new(samples, r);
    }

    /// <summary>Leave-one-attribute-out: the judge's role-play choices with and without each attribute; loo.json ranks attributes by influence.</summary>
    public static async Task<BenchJobResult<LooResults>> LooAsync(IReadOnlyList<LooItem> items, BenchPrompts prompts, string answerRole, LooOptions options,
        IReadOnlyList<string> skipped, LlmRuntime rt, BenchOutput output, string step, StepProgress progress, CancellationToken ct, CancellationToken abort)
    {
        var task = LeaveOneOut.Create(items, prompts, answerRole);
        var judge = rt.Role(LeaveOneOut.JudgeRole);
        var samples = await TaskCollector.CollectAsync(task, rt, judge, items.Count, step, progress, ct, abort).ConfigureAwait(false);
        await ExportAsync(rt, task.Name, output, ct).ConfigureAwait(false);
        var r = LeaveOneOut.Compute(samples, options, skipped, judge.Identity.Identity);
        BenchReport.Write(Path.Combine(output.Directory, LooFile), r);
        if (output.Figures) BenchPlots.LooInfluence(r, Figures(output));
        return new(samples, r);
    }

    /// <summary>The summary audit of a run's demographic_summary bench samples (read from its store); summaries.json.</summary>
    public static async Task<SummaryResults> SummariesAsync(BenchPrompts prompts, LlmRuntime rt, BenchOutput output, string step,
        StepProgress progress, CancellationToken ct, CancellationToken abort)
    {
        var (task, n) = await SummaryTaskAsync(prompts, rt).ConfigureAwait(false);
        var tally = new SummaryAudit.Tally();
        await TaskCollector.ForEachAsync(task, rt, rt.Role(SummaryAudit.JudgeRole), n, step, progress, ct, abort, tally.Add).ConfigureAwait(false);
        await ExportAsync(rt, task.Name, output, ct).ConfigureAwait(false);
        var r = tally.Result();
        BenchReport.Write(Path.Combine(output.Directory, SummariesFile), r);
        if (output.Figures) BenchPlots.SummaryDrops(r, Figures(output));
        return r;
    }

    /// <summary>The summary audit's task over a store's bench samples, and how many successful demographic_summary samples it will judge.</summary>
    public static async Task<(EvalTask<SampleRecord> Task, int Items)> SummaryTaskAsync(BenchPrompts prompts, LlmRuntime rt)
    {
        await rt.Store.FlushAsync().ConfigureAwait(false);
        // The demographic_summary samples are read from the store twice, to count them and as the task's data, and never held
        // (at 100,000 personas they are 200,000 whole samples with their prompts). The store is in WAL mode: the task's own
        // writes go on while its data is read.
        IEnumerable<SampleRecord> Summaries() => SampleLogExport.Read(rt.Store, BenchTask.TaskName).Where(s => s.Input("mode") == BenchModes.DemographicSummary);
        return (SummaryAudit.Create(Summaries(), prompts), Summaries().Count(s => s.Status == SampleRecord.StatusOk));
    }

    private static string Figures(BenchOutput output) => Path.Combine(output.Directory, FiguresFolder);

    private static async Task ExportAsync(LlmRuntime rt, string task, BenchOutput output, CancellationToken ct)
    {
        Directory.CreateDirectory(output.Directory);
        await SampleLogExport.WriteJsonlAsync(rt.Store, task, Path.Combine(output.Directory, SamplesFile), ct).ConfigureAwait(false);
        if (output.Parquet) await SampleLogExport.WriteParquetAsync(rt.Store, task, Path.Combine(output.Directory, SamplesParquet), ct).ConfigureAwait(false);
    }
}
