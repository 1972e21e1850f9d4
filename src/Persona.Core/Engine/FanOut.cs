using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Persona.Llm;

namespace Persona.Engine;

/// <summary>Knobs of the shared fan-out. One set of rules for every stage.</summary>
public sealed record FanOutOptions
{
    /// <summary>Items in flight at once (each may make several calls in sequence).</summary>
    public int Concurrency { get; init; } = 16;
    /// <summary>
    /// End the run cleanly (resumable, <see cref="FailureRateExceededException"/>) once more than this
    /// share of finished items failed, counted after <see cref="MinItemsForFailureRate"/> items: a
    /// model that is plainly broken should not be paid for 317,200 times.
    /// </summary>
    public double MaxFailureRate { get; init; } = 0.05;
    public int MinItemsForFailureRate { get; init; } = 40;
    /// <summary>The second Ctrl-C: abandons calls in flight (their cost may be lost).</summary>
    public CancellationToken Abort { get; init; }
    /// <summary>Live counters for progress displays.</summary>
    public FanOutCounters? Counters { get; init; }
}

/// <summary>What went wrong with one item: it becomes a failure record and never ends the run.</summary>
public sealed record ItemFailure(string Kind, string Message, string? RawText)
{
    public const string Unparsable = "unparsable", CallFailed = "call_failed", Refused = "refused", Invalid = "invalid";
    /// <summary>The item's call went to a batch file (--batch-export): pending, not failed; the caller stops after the round.</summary>
    public const string Deferred = "deferred";

    public static ItemFailure From(Exception ex) => ex switch
    {
        ItemFailedException f => new ItemFailure(f.Kind, f.Message, f.RawText),
        StructuredOutputException s => new ItemFailure(Unparsable, s.Message, s.RawText),
        LlmCallException c => new ItemFailure(CallFailed, c.Message, c.RawText),
        JsonException j => new ItemFailure(Unparsable, "unreadable answer: " + j.Message, null),
        _ => new ItemFailure(Invalid, ex.Message, null),
    };
}

/// <summary>
/// A result that can itself be a failure record (e.g. a failed sample with its turns and raw text):
/// the fan-out counts it against --max-failure-rate and reports it as the outcome's failure.
/// </summary>
public interface IItemResult
{
    ItemFailure? Failure { get; }
}

/// <summary>A stage's own per-item failure (a refusal, an answer that breaks the task's rules after every attempt).</summary>
public sealed class ItemFailedException(string kind, string message, string? rawText = null) : Exception(message)
{
    public string Kind { get; } = kind;
    public string? RawText { get; } = rawText;
}

/// <summary>Too many items failed: the model is plainly broken. Resumable; CLI exit code 5.</summary>
public sealed class FailureRateExceededException(string message) : RunStoppedException(message)
{
    public const int Code = 5;
    public override int ExitCode => Code;
}

/// <summary>One item's outcome, in input order: a result or a failure.</summary>
public sealed record ItemOutcome<TIn, TOut>(long Index, TIn Item, TOut? Result, ItemFailure? Failure)
{
    public bool Succeeded => Failure is null;
}

/// <summary>Live counters of a fan-out.</summary>
public sealed class FanOutCounters
{
    internal long _started, _done, _failed;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, long> _inFlightSince = new();

    public long Started => Interlocked.Read(ref _started);
    public long Done => Interlocked.Read(ref _done);
    public long Failed => Interlocked.Read(ref _failed);
    public long InFlight => _inFlightSince.Count;

    /// <summary>How long the oldest item in flight has been waiting (a hung server shows here).</summary>
    public TimeSpan LongestInFlight
    {
        get
        {
            var now = Stopwatch.GetTimestamp();
            long oldest = now;
            foreach (var v in _inFlightSince.Values) if (v < oldest) oldest = v;
            return Stopwatch.GetElapsedTime(oldest, now);
        }
    }

    internal void Begin(long index) { Interlocked.Increment(ref _started); _inFlightSince[index] = Stopwatch.GetTimestamp(); }
    internal void End(long index, bool failed)
    {
        _inFlightSince.TryRemove(index, out _);
        if (failed) Interlocked.Increment(ref _failed);
        Interlocked.Increment(ref _done);
    }
}

/// <summary>
/// The one fan-out every stage runs on: items start in input order, at most
/// <see cref="FanOutOptions.Concurrency"/> at a time, and their outcomes stream back in input
/// order. Memory is bounded by the concurrency (a window of twice the concurrency between the
/// oldest unreported item and the newest started one), not by the number of items.
/// <para>One stop rule: when the stop token fires (first Ctrl-C), a budget cap is reached or an
/// endpoint is down (<see cref="RunStoppedException"/>), or the failure rate is exceeded, no new
/// item starts, items in flight finish (their calls see only <see cref="FanOutOptions.Abort"/>, so
/// they are saved), every finished item is streamed (in order; items that did not run are skipped),
/// and then the stop is thrown
/// (<see cref="OperationCanceledException"/> or the <see cref="RunStoppedException"/>): the run is
/// resumable and a rerun pays for none of it. The abort token (second Ctrl-C) cancels in-flight
/// calls too. A per-item problem (unparsable after repair, a refusal, HTTP 400, a timeout after
/// retries) is an <see cref="ItemFailure"/>; <see cref="PersonaException"/> and programming
/// errors end the run after the in-flight items finish.</para>
/// </summary>
public static class FanOut
{
    public static IAsyncEnumerable<ItemOutcome<TIn, TOut>> RunAsync<TIn, TOut>(IEnumerable<TIn> items,
        Func<TIn, long, CancellationToken, ValueTask<TOut>> work, FanOutOptions? options = null, CancellationToken stop = default)
        => RunAsync(ToAsync(items), work, options, stop);

    public static async IAsyncEnumerable<ItemOutcome<TIn, TOut>> RunAsync<TIn, TOut>(IAsyncEnumerable<TIn> items,
        Func<TIn, long, CancellationToken, ValueTask<TOut>> work, FanOutOptions? options = null,
        [EnumeratorCancellation] CancellationToken stop = default)
    {
        options ??= new FanOutOptions();
        if (options.Concurrency < 1) throw new PersonaException($"--concurrency must be at least 1 (got {options.Concurrency}).");
        var abort = options.Abort;
        var counters = options.Counters;
        using var stopStarting = CancellationTokenSource.CreateLinkedTokenSource(stop, abort);
        using var slots = new SemaphoreSlim(options.Concurrency);
        var window = 2 * options.Concurrency;
        using var windowSlots = new SemaphoreSlim(window);
        var pending = Channel.CreateBounded<(long Index, TIn Item, Task<ItemOutcome<TIn, TOut>?> Task)>(new BoundedChannelOptions(window + 1) { SingleReader = true, SingleWriter = true });
        Exception? runStop = null; // RunStoppedException or a fatal exception, first one wins
        long finished = 0, failed = 0;
        var maxRate = options.MaxFailureRate;

        void StopWith(Exception ex)
        {
            Interlocked.CompareExchange(ref runStop, ex, null);
            try { stopStarting.Cancel(); } catch (ObjectDisposedException) { }
        }

        void CountFailure(string message)
        {
            var f = Interlocked.Increment(ref failed);
            var n = Interlocked.Read(ref finished) + 1;
            if (n >= options.MinItemsForFailureRate && (double)f / n > maxRate)
                StopWith(new FailureRateExceededException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{f} of {n} items failed ({(double)f / n:P1}), more than --max-failure-rate {maxRate:P0}: the model looks broken (last: {Shorten(message, 200)}). Finished items are saved; fix the model or raise --max-failure-rate, then rerun to resume.")));
        }

        async Task<ItemOutcome<TIn, TOut>?> RunOne(long index, TIn item)
        {
            counters?.Begin(index);
            var itemFailed = false;
            try
            {
                var result = await work(item, index, abort).ConfigureAwait(false);
                if (result is IItemResult { Failure: { } failure })
                {
                    itemFailed = true;
                    CountFailure(failure.Message);
                    return new ItemOutcome<TIn, TOut>(index, item, result, failure);
                }
                return new ItemOutcome<TIn, TOut>(index, item, result, null);
            }
            catch (DeferredCallException ex)
            {
                // Every independent call of the round is exported, so one stops nothing; nor is it a failure.
                return new ItemOutcome<TIn, TOut>(index, item, default, new ItemFailure(ItemFailure.Deferred, ex.Message, null));
            }
            catch (RunStoppedException ex)
            {
                StopWith(ex);
                return null; // not run: the rerun does it
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                return null;
            }
            catch (Exception ex) when (ex is LlmCallException or ItemFailedException or JsonException)
            {
                itemFailed = true;
                CountFailure(ex.Message);
                return new ItemOutcome<TIn, TOut>(index, item, default, ItemFailure.From(ex));
            }
            catch (Exception ex)
            {
                StopWith(ex);
                return null;
            }
            finally
            {
                Interlocked.Increment(ref finished);
                counters?.End(index, itemFailed);
                slots.Release();
            }
        }

        var producer = Task.Run(async () =>
        {
            long index = 0;
            try
            {
                await foreach (var item in items.WithCancellation(CancellationToken.None).ConfigureAwait(false))
                {
                    try
                    {
                        await windowSlots.WaitAsync(stopStarting.Token).ConfigureAwait(false);
                        await slots.WaitAsync(stopStarting.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                    if (stopStarting.IsCancellationRequested) { slots.Release(); break; }
                    var i = index++;
                    // On the pool, not inline: a synchronous provider (the simulator, a cache hit) would otherwise run every item on this one thread.
                    var task = Task.Run(() => RunOne(i, item), CancellationToken.None);
                    await pending.Writer.WriteAsync((i, item, task), CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                StopWith(ex); // the dataset itself failed (e.g. a bad input line): a fatal stop
            }
            finally
            {
                pending.Writer.TryComplete();
            }
        }, CancellationToken.None);

        await foreach (var (_, _, task) in pending.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var outcome = await task.ConfigureAwait(false);
            windowSlots.Release();
            // An item that did not run (stopped before its call) is skipped: indices stay increasing, with gaps only at a stop.
            if (outcome is not null) yield return outcome;
        }
        await producer.ConfigureAwait(false);

        if (runStop is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(runStop).Throw();
        if (abort.IsCancellationRequested) throw new OperationCanceledException("Aborted: calls in flight were abandoned.", abort);
        if (stop.IsCancellationRequested) throw new OperationCanceledException("Stopped: calls in flight finished and were saved; rerun to resume.", stop);
    }

    private static async IAsyncEnumerable<T> ToAsync<T>(IEnumerable<T> items)
    {
        foreach (var item in items) yield return item;
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static string Shorten(string s, int n) => s.Length <= n ? s : s[..(n - 3)] + "...";
}
