using Persona.Llm;
using Persona.Engine;

namespace Persona.Core.Tests.Engine;

public sealed class FanOutTests
{
    private static async Task<List<ItemOutcome<int, int>>> Collect(IAsyncEnumerable<ItemOutcome<int, int>> run)
    {
        var list = new List<ItemOutcome<int, int>>();
        await foreach (var o in run) list.Add(o);
        return list;
    }

    [Fact]
    public async Task Results_stream_in_input_order_whatever_the_finishing_order()
    {
        // Later items finish first: the stream must still come back 0, 1, 2, ...
        var run = FanOut.RunAsync(Enumerable.Range(0, 200), async (i, _, ct) =>
        {
            await Task.Delay((200 - i) % 7, ct);
            return i * 10;
        }, new FanOutOptions { Concurrency = 8 });
        var got = await Collect(run);
        Assert.Equal(Enumerable.Range(0, 200), got.Select(o => (int)o.Index));
        Assert.Equal(Enumerable.Range(0, 200).Select(i => i * 10), got.Select(o => o.Result));
    }

    [Fact]
    public async Task Memory_is_bounded_by_the_concurrency_not_the_number_of_items()
    {
        // Count items started but not yet handed to the consumer; the consumer is slow on purpose.
        long started = 0, consumed = 0, maxAhead = 0, maxInFlight = 0, inFlight = 0;
        async IAsyncEnumerable<int> Items()
        {
            for (var i = 0; i < 5000; i++) yield return i;
            await Task.CompletedTask;
        }
        var run = FanOut.RunAsync(Items(), async (i, _, ct) =>
        {
            Interlocked.Increment(ref started);
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            InterlockedMax(ref maxAhead, Interlocked.Read(ref started) - Interlocked.Read(ref consumed));
            await Task.Yield();
            Interlocked.Decrement(ref inFlight);
            return i;
        }, new FanOutOptions { Concurrency = 4 });
        await foreach (var o in run)
        {
            if (o.Index % 500 == 0) await Task.Delay(5);
            Interlocked.Increment(ref consumed);
        }
        Assert.Equal(5000, consumed);
        Assert.True(maxInFlight <= 4, $"{maxInFlight} items ran at once with concurrency 4");
        Assert.True(maxAhead <= 2 * 4 + 1, $"{maxAhead} items were started ahead of the consumer");
    }

    [Fact]
    public async Task A_per_item_failure_becomes_a_record_with_the_raw_text_and_the_run_goes_on()
    {
        var run = FanOut.RunAsync(Enumerable.Range(0, 100), (i, _, _) => i % 25 == 3
            ? throw new StructuredOutputException("not JSON", "garbage " + i, null, ["no JSON value found"])
            : i % 25 == 4 ? throw new LlmCallException("HTTP 400: bad request") : new ValueTask<int>(i),
            new FanOutOptions { Concurrency = 4, MaxFailureRate = 0.2 });
        var got = await Collect(run);
        Assert.Equal(100, got.Count);
        var failed = got.Where(o => !o.Succeeded).ToList();
        Assert.Equal(8, failed.Count);
        Assert.All(failed.Where(f => f.Index % 25 == 3), f => { Assert.Equal(ItemFailure.Unparsable, f.Failure!.Kind); Assert.Equal("garbage " + f.Index, f.Failure.RawText); });
        Assert.All(failed.Where(f => f.Index % 25 == 4), f => Assert.Equal(ItemFailure.CallFailed, f.Failure!.Kind));
    }

    [Fact]
    public async Task Too_many_failures_end_the_run_cleanly_after_in_flight_items_finish()
    {
        var seen = new List<long>();
        var ex = await Assert.ThrowsAsync<FailureRateExceededException>(async () =>
        {
            await foreach (var o in FanOut.RunAsync(Enumerable.Range(0, 10_000),
                               (i, _, _) => i % 2 == 0 ? throw new LlmCallException("refused") : new ValueTask<int>(i),
                               new FanOutOptions { Concurrency = 4, MaxFailureRate = 0.05, MinItemsForFailureRate = 40 }))
                seen.Add(o.Index);
        });
        Assert.Contains("--max-failure-rate", ex.Message);
        Assert.Equal(FailureRateExceededException.Code, ex.ExitCode);
        Assert.InRange(seen.Count, 40, 100); // stopped soon after the threshold, not after 10,000 items
        Assert.Equal(seen.OrderBy(x => x), seen);
    }

    [Fact]
    public async Task A_stop_lets_items_in_flight_finish_and_report_then_throws_a_resumable_cancellation()
    {
        using var stop = new CancellationTokenSource();
        var finished = 0;
        var reported = new List<long>();
        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var o in FanOut.RunAsync(Enumerable.Range(0, 1000), async (i, _, abort) =>
                           {
                               if (i == 5) stop.Cancel();
                               await Task.Delay(100, abort); // only the abort token may cut this short
                               Interlocked.Increment(ref finished);
                               return i;
                           }, new FanOutOptions { Concurrency = 4 }, stop.Token))
                reported.Add(o.Index);
        });
        Assert.Equal(finished, reported.Count);                 // every item that started finished and was reported
        Assert.InRange(finished, 6, 9);                          // ... and none started after the stop
        Assert.Equal(Enumerable.Range(0, finished).Select(i => (long)i), reported);
    }

    [Fact]
    public async Task Abort_cancels_calls_in_flight()
    {
        using var abort = new CancellationTokenSource();
        var finished = 0;
        var started = DateTime.UtcNow;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in FanOut.RunAsync(Enumerable.Range(0, 100), async (i, _, a) =>
                           {
                               if (i == 2) abort.CancelAfter(50);
                               await Task.Delay(TimeSpan.FromSeconds(30), a);
                               Interlocked.Increment(ref finished);
                               return i;
                           }, new FanOutOptions { Concurrency = 4, Abort = abort.Token }, abort.Token)) { }
        });
        Assert.Equal(0, finished);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_budget_stop_from_one_item_stops_starting_and_is_rethrown()
    {
        var starts = 0;
        var ex = await Assert.ThrowsAsync<BudgetExceededException>(async () =>
        {
            await foreach (var _ in FanOut.RunAsync(Enumerable.Range(0, 1000), async (i, _, _) =>
                           {
                               Interlocked.Increment(ref starts);
                               await Task.Yield();
                               if (i >= 10) throw new BudgetExceededException("cap");
                               return i;
                           }, new FanOutOptions { Concurrency = 4 })) { }
        });
        Assert.Equal(3, ex.ExitCode);
        Assert.InRange(starts, 11, 20);
    }

    [Fact]
    public async Task A_programming_error_is_not_a_per_item_failure()
    {
        await Assert.ThrowsAsync<NullReferenceException>(async () =>
        {
            await foreach (var _ in FanOut.RunAsync(Enumerable.Range(0, 50), (i, _, _) => i == 7 ? throw new NullReferenceException() : new ValueTask<int>(i))) { }
        });
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long cur;
        while (value > (cur = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, cur) != cur) { }
    }
}
