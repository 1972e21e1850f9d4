using Microsoft.Data.Sqlite;
using Persona.Store;

namespace Persona.Core.Tests.Store;

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
            for (var i = 0; i < 5000; i++) store.Cache.EnqueueResponse(Resp($"k{i}", $"c{i}"));
            Assert.True(store.Cache.TryGetResponse("k4999", out var early));
            Assert.Equal("c4999", early.Content);
            store.Cache.EnqueueResponse(Resp("k1", "replaced"));
            await store.FlushAsync();
            Assert.False(store.Cache.TryGetResponse("missing", out _));
        }
        await using (var store = RunStore.Open(path))
        {
            Assert.True(store.Cache.TryGetResponse("k1", out var r));
            Assert.Equal("replaced", r.Content);
            Assert.Equal(5000, store.Cache.GetStats().Responses);
        }
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string)cmd.ExecuteScalar()!);
    }

    [Fact]
    public async Task Writes_from_64_parallel_producers_all_land_on_disk_and_read_back_after_a_reopen()
    {
        var path = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"), "store.sqlite");
        await using (var store = RunStore.Open(path))
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 64 }, (i, ct) =>
            {
                store.Cache.EnqueueResponse(Resp($"k{i}", $"answer {i}"));
                store.Cache.EnqueueCall(new CallRecord($"k{i}", "openai", "m", "http://e", "{}", DateTimeOffset.UnixEpoch, 1, 1, 1, false, 0, false, 1, "ok", null, null, "stop", false));
                return ValueTask.CompletedTask;
            });
        }
        // A new store on the same file sees only what was committed: nothing is served from the writer's pending queue.
        await using var reopened = RunStore.Open(path);
        var stats = reopened.Cache.GetStats();
        Assert.Equal(2000, stats.Calls);
        Assert.Equal(2000, stats.Responses);
        for (var i = 0; i < 2000; i++)
        {
            Assert.True(reopened.Cache.TryGetResponse($"k{i}", out var r), $"k{i} was lost");
            Assert.Equal($"answer {i}", r.Content);
        }
    }

    [Fact]
    public async Task A_queue_budget_smaller_than_one_item_still_lands_every_write_from_parallel_producers()
    {
        // Producers past the byte budget wait for the writer; they must never wait on each other
        // (items still waiting cannot be drained), or this run would hang instead of finishing.
        var path = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"), "store.sqlite");
        await using var store = RunStore.Open(path, queueBudgetBytes: 1);
        var text = new string('x', 4096);
        // 400 items x 2 writes over 32 producers: each write waits for a writer cycle here (a budget of 1 byte), so 3,000 took
        // 80 s on an idle machine and passed the 2-minute limit under load; a producer waiting on another hangs at any count.
        const int n = 400;
        var run = Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = 32 }, (i, ct) =>
        {
            store.Cache.EnqueueResponse(Resp($"k{i}", text + i));
            store.Samples.EnqueueSample(new SampleRow("t", $"s{i}", i, "ok", "{\"x\":\"" + text + "\"}"));
            return ValueTask.CompletedTask;
        });
        await run.WaitAsync(TimeSpan.FromMinutes(2));
        await store.FlushAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(n, store.Cache.GetStats().Responses);
        Assert.True(store.Cache.TryGetResponse($"k{n - 1}", out var last));
        Assert.Equal(text + (n - 1), last.Content);
        Assert.Equal(n, store.Samples.ReadSamples("t").Count());
    }

    [Fact]
    public async Task A_store_written_before_the_hash_index_opens_with_every_answer_and_later_writes_replace_them()
    {
        var path = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"), "store.sqlite");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var old = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            old.Open();
            using var cmd = old.CreateCommand();
            // The layout of stores written up to 2026-12-01: answers keyed by their text key.
            cmd.CommandText = """
                CREATE TABLE responses(
                  key TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL, response_model TEXT,
                  content TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER NOT NULL,
                  completion_tokens INTEGER NOT NULL, tokens_estimated INTEGER NOT NULL, cost_usd REAL NOT NULL,
                  price_known INTEGER NOT NULL, simulated INTEGER NOT NULL, created_utc TEXT NOT NULL) WITHOUT ROWID;
                INSERT INTO responses VALUES('k1','openai','m','m-1','one','stop',10,5,0,0.01,1,0,'1970-01-01T00:00:00.0000000+00:00');
                INSERT INTO responses VALUES('k2','openai','m','m-1','two','length',7,3,1,0.02,1,0,'1970-01-01T00:00:00.0000000+00:00');
                """;
            cmd.ExecuteNonQuery();
        }
        await using (var store = RunStore.Open(path))
        {
            Assert.True(store.Cache.TryGetResponse("k2", out var two));
            Assert.Equal(("two", "length", 7L, 3L, true, 0.02), (two.Content, two.FinishReason, two.PromptTokens, two.CompletionTokens, two.TokensEstimated, two.CostUsd));
            Assert.False(store.Cache.TryGetResponse("k3", out _));
            store.Cache.EnqueueResponse(Resp("k1", "replaced"));
            store.Cache.EnqueueResponse(Resp("k3", "three"));
            await store.FlushAsync();
        }
        await using (var store = RunStore.Open(path))
        {
            Assert.True(store.Cache.TryGetResponse("k1", out var one));
            Assert.Equal("replaced", one.Content);
            Assert.True(store.Cache.TryGetResponse("k3", out _));
            Assert.Equal(3, store.Cache.GetStats().Responses);
        }
    }

    [Fact]
    public async Task An_answer_whose_key_hash_matches_but_whose_key_differs_is_not_returned()
    {
        var path = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"), "store.sqlite");
        await using (var store = RunStore.Open(path))
        {
            store.Cache.EnqueueResponse(Resp("other", "x"));
            await store.FlushAsync();
        }
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            // Plant a row as a 64-bit hash collision would leave it: the index finds it, the key must refuse it.
            cmd.CommandText = "UPDATE responses SET khash=$h";
            cmd.Parameters.AddWithValue("$h", ResponseCache.KeyHash("wanted"));
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }
        await using (var store = RunStore.Open(path))
        {
            Assert.False(store.Cache.TryGetResponse("wanted", out _));
            store.Cache.EnqueueResponse(Resp("wanted", "mine"));
            await store.FlushAsync();
            Assert.True(store.Cache.TryGetResponse("wanted", out var mine));
            Assert.Equal("mine", mine.Content);
            Assert.Equal(2, store.Cache.GetStats().Responses); // the colliding row was not replaced
        }
    }
}
