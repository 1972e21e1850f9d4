using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Persona.Store;

/// <summary>
/// One table's share of a <see cref="SqliteWriter"/>: made on the writer's thread over its connection
/// (so it can prepare its statements once), it applies the items it knows inside the batch's
/// transaction and hears when they are committed or lost.
/// </summary>
public abstract class SqliteWritePart : IDisposable
{
    /// <summary>Writes <paramref name="item"/> if it is this part's; false leaves it to the next part.</summary>
    public abstract bool TryApply(object item);

    /// <summary>The item is on disk (after its transaction committed).</summary>
    public virtual void Committed(object item) { }

    /// <summary>The item was not written (its savepoint rolled back, or its batch failed).</summary>
    public virtual void Failed(object item, Exception error) { }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>How a <see cref="SqliteWriter"/> batches and what a failure means.</summary>
public sealed record SqliteWriterOptions
{
    public int MaxBatch { get; init; } = 32_768;

    /// <summary>Queued items beyond which <see cref="SqliteWriter.Enqueue"/> waits.</summary>
    public int QueueCapacity { get; init; } = 65_536;

    /// <summary>Approximate queued bytes beyond which <see cref="SqliteWriter.Enqueue"/> waits (see <see cref="Size"/>).</summary>
    public long QueueBudgetBytes { get; init; } = 32L << 20;

    /// <summary>Heap bytes an item holds while queued, for the budget.</summary>
    public Func<object, long> Size { get; init; } = _ => 64;

    /// <summary>How long an item may wait for others to share its commit (0: commit what is queued now).</summary>
    public Func<object, int> LingerMs { get; init; } = _ => 0;

    /// <summary>Each item in its own savepoint, so one that fails is rolled back alone and the rest of its batch commits.</summary>
    public bool SavepointPerItem { get; init; }

    /// <summary>
    /// A failed batch stops the writer for good: later writes and flushes throw. For a cache whose
    /// readers trust that what was queued is written; a store whose callers each wait for their own
    /// write (the study's) carries on instead.
    /// </summary>
    public bool FaultIsFatal { get; init; } = true;
}

/// <summary>
/// The one way persona writes a SQLite file: every write goes through a bounded queue drained by a
/// single dedicated thread in group-committed transactions, so hundreds of concurrent producers
/// never contend on SQLite's write lock and one commit (one fsync) serves many writes. The run's
/// store (response cache, sample log, batch ledger) and the human study's database both write
/// through it; each table's statements live in its <see cref="SqliteWritePart"/>.
/// </summary>
public sealed class SqliteWriter : IAsyncDisposable
{
    private readonly Func<SqliteConnection> _connect;
    private readonly Func<SqliteConnection, IReadOnlyList<SqliteWritePart>> _parts;
    private readonly SqliteWriterOptions _options;
    private readonly string _name;
    private readonly Channel<object> _writes;
    private readonly object _budgetGate = new();
    private readonly object _startGate = new();
    private long _queuedBytes;
    private Task? _loop;
    private Exception? _fault;
    private int _disposed;

    /// <param name="name">The file, for errors.</param>
    /// <param name="connect">Opens the write connection; called once, on the writer's thread, which then owns it.</param>
    /// <param name="parts">The tables' parts, made over that connection.</param>
    public SqliteWriter(string name, Func<SqliteConnection> connect, Func<SqliteConnection, IReadOnlyList<SqliteWritePart>> parts, SqliteWriterOptions? options = null)
    {
        _name = name;
        _connect = connect;
        _parts = parts;
        _options = options ?? new SqliteWriterOptions();
        _writes = Channel.CreateBounded<object>(new BoundedChannelOptions(_options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    /// <summary>Throws if an earlier batch failed and <see cref="SqliteWriterOptions.FaultIsFatal"/>.</summary>
    public void ThrowIfFaulted()
    {
        if (_fault is { } ex) throw new InvalidOperationException($"The store '{_name}' stopped accepting writes: {ex.Message}", ex);
    }

    /// <summary>Queues an item, waiting for room when the writer is behind (back-pressure, not memory).</summary>
    public void Enqueue(object item)
    {
        ThrowIfFaulted();
        if (Volatile.Read(ref _disposed) != 0) throw new ObjectDisposedException(_name);
        Start();
        var size = _options.Size(item);
        // Wait while what is queued ahead exceeds the budget; an empty channel always admits (the
        // writer cannot drain items still waiting here, so waiters must never wait on each other).
        if (Interlocked.Add(ref _queuedBytes, size) - size > _options.QueueBudgetBytes)
            lock (_budgetGate)
                while (Volatile.Read(ref _queuedBytes) - size > _options.QueueBudgetBytes && _writes.Reader.Count > 0 && _fault is null && Volatile.Read(ref _disposed) == 0)
                    Monitor.Wait(_budgetGate, 50);
        if (_writes.Writer.TryWrite(item)) return;
        var wait = _writes.Writer.WaitToWriteAsync();
        while (true)
        {
            // The writer is a dedicated thread, so blocking a caller here cannot deadlock it.
            if (!(wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult()))
                throw new ObjectDisposedException(_name);
            if (_writes.Writer.TryWrite(item)) return;
            ThrowIfFaulted();
            wait = _writes.Writer.WaitToWriteAsync();
        }
    }

    /// <summary>Completes when everything queued before the call is committed.</summary>
    public Task FlushAsync()
    {
        ThrowIfFaulted();
        if (Volatile.Read(ref _disposed) != 0) return Task.CompletedTask;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try { Enqueue(tcs); } catch (ObjectDisposedException) { return Task.CompletedTask; }
        return tcs.Task;
    }

    private void Start()
    {
        if (Volatile.Read(ref _loop) is not null) return;
        lock (_startGate)
            // A thread of its own, not the pool's: replaying cached calls keeps every pool thread busy
            // with synchronous hits, and a pool-scheduled writer then starved and fell behind.
            _loop ??= Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void Loop()
    {
        var batch = new List<object>(Math.Min(_options.MaxBatch, 4096));
        var reader = _writes.Reader;
        SqliteConnection? connection = null;
        IReadOnlyList<SqliteWritePart> parts = [];
        try
        {
            connection = _connect();
            parts = _parts(connection);
            while (WaitToRead(reader))
            {
                batch.Clear();
                Gather(reader, batch);
                Exception? batchError = null;
                var failed = _options.SavepointPerItem ? new HashSet<object>(ReferenceEqualityComparer.Instance) : null;
                try
                {
                    using var tx = connection.BeginTransaction();
                    foreach (var item in batch)
                    {
                        if (item is TaskCompletionSource) continue;
                        if (failed is null) { Apply(parts, item); continue; }
                        Exec(connection, "SAVEPOINT w");
                        try
                        {
                            Apply(parts, item);
                            Exec(connection, "RELEASE w");
                        }
                        catch (Exception ex)
                        {
                            Exec(connection, "ROLLBACK TO w; RELEASE w");
                            failed.Add(item);
                            Notify(parts, item, ex);
                        }
                    }
                    tx.Commit();
                }
                catch (Exception ex) when (!_options.FaultIsFatal)
                {
                    batchError = ex;
                }
                long done = 0;
                foreach (var item in batch)
                {
                    done += _options.Size(item);
                    if (item is TaskCompletionSource tcs)
                    {
                        if (batchError is null) tcs.TrySetResult(); else tcs.TrySetException(batchError);
                    }
                    else if (batchError is not null) Notify(parts, item, batchError);
                    else if (failed?.Contains(item) != true) foreach (var p in parts) p.Committed(item);
                }
                Interlocked.Add(ref _queuedBytes, -done);
                lock (_budgetGate) Monitor.PulseAll(_budgetGate);
            }
        }
        catch (Exception ex)
        {
            _fault = ex;
            foreach (var item in batch.OrderBy(i => i is TaskCompletionSource ? 0 : 1)) Lost(parts, item, ex);
            while (reader.TryRead(out var item)) Lost(parts, item, ex);
            lock (_budgetGate) Monitor.PulseAll(_budgetGate);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
            connection?.Dispose();
        }
    }

    private void Gather(ChannelReader<object> reader, List<object> batch)
    {
        var urgent = false;
        var linger = int.MaxValue;
        var start = Environment.TickCount64;
        while (true)
        {
            while (batch.Count < _options.MaxBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
                if (item is TaskCompletionSource) urgent = true;
                else linger = Math.Min(linger, _options.LingerMs(item));
            }
            if (urgent || linger <= 0 || batch.Count >= _options.MaxBatch || reader.Completion.IsCompleted) return;
            if (Environment.TickCount64 - start >= linger) return;
            Thread.Sleep(Math.Clamp(linger / 20, 1, 10));
        }
    }

    private static void Apply(IReadOnlyList<SqliteWritePart> parts, object item)
    {
        foreach (var p in parts) if (p.TryApply(item)) return;
        throw new InvalidOperationException($"No table takes a {item.GetType().Name}.");
    }

    private static void Notify(IReadOnlyList<SqliteWritePart> parts, object item, Exception error)
    {
        foreach (var p in parts) p.Failed(item, error);
    }

    private static void Lost(IReadOnlyList<SqliteWritePart> parts, object item, Exception error)
    {
        if (item is TaskCompletionSource tcs) { tcs.TrySetException(error); return; }
        // The writer is already down: a part that fails to hear it must not keep a flush waiting forever.
        try { Notify(parts, item, error); } catch (Exception) { }
    }

    private static bool WaitToRead(ChannelReader<object> reader)
    {
        var wait = reader.WaitToReadAsync();
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Finishes every queued write, then closes the connection; throws if a write was lost.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Task? loop;
        lock (_startGate)
        {
            _writes.Writer.TryComplete();
            loop = _loop;
        }
        if (loop is not null) await loop.ConfigureAwait(false);
        if (_fault is { } ex) throw new InvalidOperationException($"The store '{_name}' failed to save: {ex.Message}", ex);
    }
}
