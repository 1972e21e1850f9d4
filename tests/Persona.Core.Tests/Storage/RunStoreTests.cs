using Microsoft.Data.Sqlite;
using Persona.Storage;

namespace Persona.Core.Tests.Storage;

public sealed class RunStoreTests
{
    private static StoredResponse Resp(string key, string content) =>
        new(key, "openai", "m", "m-1", content, "stop", 10, 5, false, 0.01, true, false, DateTimeOffset.UnixEpoch);

    [Fact]
    public async Task Responses_are_visible_before_commit_and_persist_across_reopen_in_wal_mode()
    {
        var path = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"), "store.sqlite");
        await using (var store = RunStore.Open(path))
        {
            for (var i = 0; i < 5000; i++) store.EnqueueResponse(Resp($"k{i}", $"c{i}"));
            Assert.True(store.TryGetResponse("k4999", out var early));
            Assert.Equal("c4999", early.Content);
            store.EnqueueResponse(Resp("k1", "replaced"));
            await store.FlushAsync();
            Assert.False(store.TryGetResponse("missing", out _));
        }
        await using (var store = RunStore.Open(path))
        {
            Assert.True(store.TryGetResponse("k1", out var r));
            Assert.Equal("replaced", r.Content);
            Assert.Equal(5000, store.GetStats().Responses);
        }
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string)cmd.ExecuteScalar()!);
    }

    [Fact]
    public async Task Concurrent_writers_and_readers_do_not_contend()
    {
        var path = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"), "store.sqlite");
        await using var store = RunStore.Open(path);
        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 64 }, (i, ct) =>
        {
            store.EnqueueResponse(Resp($"k{i}", "x"));
            store.EnqueueCall(new CallRecord($"k{i}", "openai", "m", "http://e", "{}", DateTimeOffset.UnixEpoch, 1, 1, 1, false, 0, false, 1, "ok", null, null, "stop", false));
            Assert.True(store.TryGetResponse($"k{i}", out var _));
            return ValueTask.CompletedTask;
        });
        await store.FlushAsync();
        var stats = store.GetStats();
        Assert.Equal(2000, stats.Calls);
        Assert.Equal(2000, stats.Responses);
    }

    [Fact]
    public async Task A_queue_budget_smaller_than_one_item_still_lands_every_write_from_parallel_producers()
    {
        // Producers past the byte budget wait for the writer; they must never wait on each other
        // (items still waiting cannot be drained), or this run would hang instead of finishing.
        var path = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"), "store.sqlite");
        await using var store = RunStore.Open(path, queueBudgetBytes: 1);
        var text = new string('x', 4096);
        var run = Parallel.ForEachAsync(Enumerable.Range(0, 3000), new ParallelOptions { MaxDegreeOfParallelism = 32 }, (i, ct) =>
        {
            store.EnqueueResponse(Resp($"k{i}", text + i));
            store.EnqueueSample(new SampleRow("t", $"s{i}", i, "ok", "{\"x\":\"" + text + "\"}"));
            return ValueTask.CompletedTask;
        });
        await run.WaitAsync(TimeSpan.FromMinutes(2));
        await store.FlushAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(3000, store.GetStats().Responses);
        Assert.True(store.TryGetResponse("k2999", out var last));
        Assert.Equal(text + 2999, last.Content);
        Assert.Equal(3000, store.ReadSamples("t").Count());
    }
}
