using Microsoft.Data.Sqlite;
using Persona.Store;

namespace Persona.Core.Tests.Store;

/// <summary>The one writer both the run's store and the study's database write through, with each one's failure rule.</summary>
public sealed class SqliteWriterTests
{
    private sealed record Row(int Id, string? Name);

    /// <summary>Writes <see cref="Row"/>s into t(id PRIMARY KEY, name NOT NULL) and records what it hears back.</summary>
    private sealed class RowPart(SqliteConnection c, List<string> heard) : SqliteWritePart
    {
        public override bool TryApply(object item)
        {
            if (item is not Row r) return false;
            using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT INTO t(id, name) VALUES($i, $n)";
            cmd.Parameters.AddWithValue("$i", r.Id);
            cmd.Parameters.AddWithValue("$n", (object?)r.Name ?? DBNull.Value);
            cmd.ExecuteNonQuery();
            return true;
        }

        public override void Committed(object item) { if (item is Row r) lock (heard) heard.Add($"ok {r.Id}"); }
        public override void Failed(object item, Exception error) { if (item is Row r) lock (heard) heard.Add($"failed {r.Id}"); }
    }

    private static (string Path, Func<SqliteConnection> Connect) NewDb()
    {
        var path = Path.Combine(Path.GetTempPath(), "persona-writer-tests", Guid.NewGuid().ToString("N") + ".sqlite");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var cs = $"Data Source={path};Pooling=False";
        using (var c = new SqliteConnection(cs))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL);";
            cmd.ExecuteNonQuery();
        }
        return (path, () => { var c = new SqliteConnection(cs); c.Open(); return c; });
    }

    private static List<long> Ids(string path)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id FROM t ORDER BY id";
        using var r = cmd.ExecuteReader();
        var ids = new List<long>();
        while (r.Read()) ids.Add(r.GetInt64(0));
        return ids;
    }

    [Fact]
    public async Task With_a_savepoint_per_item_a_bad_write_fails_alone_and_the_rest_of_its_commit_lands()
    {
        var (path, connect) = NewDb();
        var heard = new List<string>();
        var writer = new SqliteWriter(path, connect, c => [new RowPart(c, heard)],
            new SqliteWriterOptions { SavepointPerItem = true, FaultIsFatal = false, LingerMs = _ => 1000 });
        // One linger window gathers all three into one transaction; the NOT NULL breaks the middle one.
        writer.Enqueue(new Row(1, "a"));
        writer.Enqueue(new Row(2, null));
        writer.Enqueue(new Row(3, "c"));
        await writer.FlushAsync();
        writer.Enqueue(new Row(4, "d")); // the writer carries on
        await writer.DisposeAsync();

        Assert.Equal([1L, 3L, 4L], Ids(path));
        Assert.Equal(["ok 1", "failed 2", "ok 3", "ok 4"], heard.OrderBy(h => h[^1]).ToList());
    }

    [Fact]
    public async Task Without_savepoints_a_bad_write_stops_the_writer_and_every_later_write_and_flush_says_so()
    {
        var (path, connect) = NewDb();
        var heard = new List<string>();
        var writer = new SqliteWriter(path, connect, c => [new RowPart(c, heard)], new SqliteWriterOptions { LingerMs = _ => 1000 });
        writer.Enqueue(new Row(1, "a"));
        writer.Enqueue(new Row(2, null));
        await Assert.ThrowsAsync<SqliteException>(writer.FlushAsync);
        Assert.Throws<InvalidOperationException>(() => writer.Enqueue(new Row(3, "c")));
        var disposed = await Assert.ThrowsAsync<InvalidOperationException>(async () => await writer.DisposeAsync());
        Assert.Contains("failed to save", disposed.Message);

        // The batch was one transaction: the good row went down with the bad one, and both were told.
        Assert.Empty(Ids(path));
        Assert.Equal(["failed 1", "failed 2"], heard.Order().ToList());
    }

    [Fact]
    public async Task An_item_no_part_takes_is_a_fault_not_a_silent_drop()
    {
        var (path, connect) = NewDb();
        var writer = new SqliteWriter(path, connect, c => [new RowPart(c, [])]);
        writer.Enqueue("not a row");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(writer.FlushAsync);
        Assert.Contains("String", ex.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await writer.DisposeAsync());
    }

    [Fact]
    public async Task A_run_stores_sample_and_the_answer_it_was_made_from_share_one_writer_and_both_survive_a_reopen()
    {
        var path = Path.Combine(Path.GetTempPath(), "persona-writer-tests", Guid.NewGuid().ToString("N"), "store.sqlite");
        await using (var store = RunStore.Open(path))
        {
            store.Cache.EnqueueResponse(new StoredResponse("k", "openai", "m", null, "answer", "stop", 1, 1, false, 0, true, false, DateTimeOffset.UnixEpoch));
            store.Samples.EnqueueSample(new SampleRow("task", "s1", 0, "ok", "{\"id\":\"s1\"}"));
            store.Batches.EnqueueBatchRequest(new BatchRequestRow("k", "model", "openai", "m", "batch-0001.jsonl"));
            await store.FlushAsync();
        }
        await using var reopened = RunStore.OpenReadOnly(path);
        Assert.True(reopened.Cache.TryGetResponse("k", out var r));
        Assert.Equal("answer", r.Content);
        Assert.True(reopened.Samples.TryGetSample("task", "s1", out var s));
        Assert.Equal("{\"id\":\"s1\"}", s.Json);
        Assert.True(reopened.Batches.TryGetBatchRequest("k", out var b));
        Assert.Equal("batch-0001.jsonl", b.File);
        Assert.Throws<InvalidOperationException>(() => reopened.Samples.EnqueueSample(new SampleRow("task", "s2", 1, "ok", "{}")));
    }
}
