using System.Runtime.CompilerServices;
using System.Text.Json;
using Persona.Llm;
using Persona.Store;

namespace Persona.Engine;

/// <summary>How a task run fans out and whether it reuses samples already in the log.</summary>
public sealed record TaskRunOptions
{
    public FanOutOptions FanOut { get; init; } = new();
    /// <summary>Reuse samples the log already holds (status ok) instead of calling the solver again (the cache would make it free, but not instant).</summary>
    public bool Reuse { get; init; } = true;
    /// <summary>Keep every turn's messages and output text in the log (see <see cref="SampleContext"/>); off for very large runs.</summary>
    public bool LogTexts { get; init; } = true;
}

/// <summary>Counts of a finished task run, per score set.</summary>
public sealed record TaskRunSummary(string Task, long Samples, long Succeeded, long Failed, IReadOnlyDictionary<string, ScoreSetSummary> ScoreSets);

public sealed record ScoreSetSummary(long Scored, long Failed, double? Mean);

/// <summary>
/// Runs an <see cref="EvalTask{TItem}"/> over a runtime on the shared <see cref="FanOut"/>: every
/// sample (success or failure, with its turns) goes to the run store's sample log, each scorer's
/// result to its named score set. <see cref="RescoreAsync"/> scores a logged task again with
/// another scorer (say, a different critic) and pays only for the scorer's calls.
/// </summary>
public static class TaskRunner
{
    public static async IAsyncEnumerable<SampleRecord> RunAsync<TItem>(EvalTask<TItem> task, LlmRuntime runtime, TaskRunOptions? options = null,
        [EnumeratorCancellation] CancellationToken stop = default)
    {
        options ??= new TaskRunOptions();
        var store = runtime.Store;
        async ValueTask<SampleRecord> Work(TItem item, long seq, CancellationToken abort)
        {
            var inputs = new SortedDictionary<string, string>(new Dictionary<string, string>(task.Inputs(item)), StringComparer.Ordinal);
            var id = SampleRecord.ComputeId(task.Name, task.Version, inputs);
            var ctx = new SampleContext(id, runtime.Role, options.LogTexts);
            SampleRecord record;
            Dictionary<string, Score> scores = new(StringComparer.Ordinal);
            // A logged sample is reused only when the models that made it are the roles' models now: a sample's id
            // names the item, not the model, so after --model or --critic-model changed it would keep the old model's answer.
            SampleRecord? logged = null;
            long loggedSeq = -1;
            if (options.Reuse && store.Samples.TryGetSample(task.Name, id, out var row) && row.Status == SampleRecord.StatusOk)
            {
                logged = SampleRecord.FromJson(row.Json);
                loggedSeq = row.Seq;
            }
            if (logged is not null && (task.Roles is { } roles && logged.Turns.Any(t => !roles.Contains(t.Role))
                                       || !logged.Turns.All(t => runtime.Role(t.Role).Identity.Identity == t.Model))) logged = null;
            if (logged is not null)
            {
                record = logged with { Seq = seq };
                foreach (var s in store.Samples.ReadSampleScores(task.Name, id)) scores[s.ScoreSet] = ReadScore(s.Json);
                if (record.Seq != loggedSeq) store.Samples.EnqueueSample(new SampleRow(task.Name, id, seq, record.Status, record.ToJson()));
            }
            else
            {
                try
                {
                    var result = await task.Solver(item, ctx, abort).ConfigureAwait(false);
                    record = new SampleRecord(id, task.Name, task.Version, seq, inputs, SampleRecord.StatusOk, result.Output, result.Data, ctx.Turns, null, ctx.Simulated);
                }
                catch (DeferredCallException ex)
                {
                    // Written to a batch file: pending, not logged, so the run after the import picks it up.
                    return new SampleRecord(id, task.Name, task.Version, seq, inputs, SampleRecord.StatusDeferred, null, null, ctx.Turns, null, ctx.Simulated) { Deferred = ex.File };
                }
                catch (Exception ex) when (ex is LlmCallException or ItemFailedException or JsonException)
                {
                    record = new SampleRecord(id, task.Name, task.Version, seq, inputs, SampleRecord.StatusFailed, null, null, ctx.Turns, ItemFailure.From(ex), ctx.Simulated);
                }
                store.Samples.EnqueueSample(new SampleRow(task.Name, id, seq, record.Status, record.ToJson()));
            }
            if (record.Status == SampleRecord.StatusOk)
                foreach (var scorer in task.Scorers)
                {
                    if (scores.TryGetValue(scorer.Name, out var kept) && (scorer.Role is null || kept.Model == runtime.Role(scorer.Role).Identity.Identity)) continue;
                    Score score;
                    try
                    {
                        score = await ScoreOneAsync(scorer, record, runtime, abort, options.LogTexts).ConfigureAwait(false);
                    }
                    catch (DeferredCallException ex)
                    {
                        return record with { Scores = scores, Status = SampleRecord.StatusDeferred, Deferred = ex.File };
                    }
                    store.Samples.EnqueueScore(new ScoreRow(task.Name, id, scorer.Name, JsonSerializer.Serialize(score, SampleRecord.Json)));
                    scores[scorer.Name] = score;
                }
            return record with { Scores = scores };
        }

        try
        {
            await foreach (var o in FanOut.RunAsync(task.Dataset, Work, options.FanOut, stop).ConfigureAwait(false))
                yield return o.Result!;
        }
        finally
        {
            await store.FlushAsync().ConfigureAwait(false); // the log is durable when the stream ends, however it ends
        }
    }

    /// <summary>
    /// Scores every successful logged sample of <paramref name="task"/> with <paramref name="scorer"/>
    /// into its score set (replacing an earlier set of the same name); generation is never redone.
    /// </summary>
    public static async IAsyncEnumerable<SampleRecord> RescoreAsync(LlmRuntime runtime, string task, Scorer scorer, TaskRunOptions? options = null,
        [EnumeratorCancellation] CancellationToken stop = default)
    {
        options ??= new TaskRunOptions();
        var store = runtime.Store;
        await store.FlushAsync().ConfigureAwait(false);
        var logged = store.Samples.ReadSamples(task).Where(r => r.Status == SampleRecord.StatusOk);
        async ValueTask<SampleRecord> Work(SampleRow row, long _, CancellationToken abort)
        {
            var record = SampleRecord.FromJson(row.Json);
            var score = await ScoreOneAsync(scorer, record, runtime, abort, options.LogTexts).ConfigureAwait(false);
            store.Samples.EnqueueScore(new ScoreRow(task, record.Id, scorer.Name, JsonSerializer.Serialize(score, SampleRecord.Json)));
            return record with { Scores = new Dictionary<string, Score> { [scorer.Name] = score } };
        }
        var any = false;
        try
        {
            await foreach (var o in FanOut.RunAsync(logged, Work, options.FanOut, stop).ConfigureAwait(false))
            {
                any = true;
                yield return o.Result!;
            }
        }
        finally
        {
            await store.FlushAsync().ConfigureAwait(false);
        }
        if (!any) throw new PersonaException($"The run store '{store.Path}' holds no successful samples of task '{task}' to score.");
    }

    /// <summary>Runs a task to its end and counts what happened.</summary>
    public static async Task<TaskRunSummary> RunToEndAsync(IAsyncEnumerable<SampleRecord> samples, string task, Action<SampleRecord>? onSample = null)
    {
        long n = 0, ok = 0, failed = 0;
        var sets = new Dictionary<string, (long Scored, long Failed, double Sum, long Valued)>(StringComparer.Ordinal);
        await foreach (var s in samples.ConfigureAwait(false))
        {
            n++;
            if (s.Status == SampleRecord.StatusOk) ok++; else failed++;
            foreach (var (name, score) in s.Scores ?? new Dictionary<string, Score>())
            {
                var cur = sets.GetValueOrDefault(name);
                cur.Scored++;
                if (score.Failure is not null) cur.Failed++;
                if (score.Value is { } v) { cur.Sum += v; cur.Valued++; }
                sets[name] = cur;
            }
            onSample?.Invoke(s);
        }
        return new TaskRunSummary(task, n, ok, failed,
            sets.ToDictionary(kv => kv.Key, kv => new ScoreSetSummary(kv.Value.Scored, kv.Value.Failed, kv.Value.Valued == 0 ? null : kv.Value.Sum / kv.Value.Valued), StringComparer.Ordinal));
    }

    private static async Task<Score> ScoreOneAsync(Scorer scorer, SampleRecord record, LlmRuntime runtime, CancellationToken abort, bool logTexts = true)
    {
        var ctx = new SampleContext(record.Id, runtime.Role, logTexts);
        try
        {
            return await scorer.ScoreAsync(record, ctx, abort).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LlmCallException or ItemFailedException or JsonException)
        {
            // An unparsable verdict is a recorded failure of this score, never silently dropped.
            var raw = ctx.Turns.LastOrDefault();
            return new Score(null, null, null, scorer.Name, raw?.Model, null, ItemFailure.From(ex));
        }
    }

    private static Score ReadScore(string json) => JsonSerializer.Deserialize<Score>(json, SampleRecord.Json)
        ?? throw new PersonaException("A score in the run store is empty.");
}
