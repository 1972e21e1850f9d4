using Microsoft.Data.Sqlite;

namespace Persona.Store;

/// <summary>
/// A run's SQLite file (<c>store.sqlite</c>): the <see cref="Cache"/> of model answers with the
/// provenance of every call, the <see cref="Samples"/> log of task samples and scores, and the
/// <see cref="Batches"/> ledger of exported batch requests. Three stores, one file and one
/// <see cref="SqliteWriter"/>, so a sample and the answers it was made from commit together and a
/// kill loses neither alone. Reads go through a small pool of connections with prepared
/// statements, beside the writer (WAL).
/// </summary>
public sealed class RunStore : IAsyncDisposable
{
    internal const long DefaultQueueBudgetBytes = 32L << 20;
    private readonly SqliteReaders _readers;
    private readonly SqliteWriter? _writer;
    private readonly SqliteConnection? _writeConnection;
    private int _disposed;

    public string Path { get; }

    /// <summary>True when opened by <see cref="OpenReadOnly"/>: nothing can be queued.</summary>
    public bool IsReadOnly => _writer is null;

    public ResponseCache Cache { get; }
    public SampleLog Samples { get; }
    public BatchLedger Batches { get; }

    private RunStore(string path, string connectionString, SqliteWriter? writer, SqliteConnection? writeConnection = null)
    {
        Path = path;
        _writeConnection = writeConnection;
        _readers = new SqliteReaders(connectionString);
        _writer = writer;
        Cache = new ResponseCache(_readers, writer);
        Samples = new SampleLog(_readers, writer);
        Batches = new BatchLedger(_readers, writer);
    }

    /// <summary>
    /// Opens an existing store for reading only: nothing is created, migrated or written, so a run in
    /// a folder the user may not write to (or that is immutable) can be read. A store closed cleanly
    /// has no write-ahead log and opens as immutable (SQLite then needs no -shm file); one with a log
    /// left by a live or killed writer opens read-only through the log.
    /// </summary>
    public static RunStore OpenReadOnly(string path)
    {
        if (!File.Exists(path)) throw new PersonaException($"'{path}' does not exist; expected a run store (store.sqlite).");
        var connectionString = ReadOnlyConnectionString(path);
        try
        {
            // A damaged file fails here, inside this guard, not later as a bare SQLite error.
            using var probe = new SqliteConnection(connectionString);
            probe.Open();
            if (!SampleLog.Present(probe)) throw new PersonaException($"'{path}' is not a run store written by persona (no sample log).");
        }
        catch (SqliteException ex)
        {
            throw new PersonaException($"Cannot read the run store '{path}': {ex.Message.TrimEnd('.')}. Expected a SQLite file written by persona.", ex);
        }
        return new RunStore(path, connectionString, writer: null);
    }

    private static string ReadOnlyConnectionString(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        // Closed cleanly, a store leaves neither file; a writer that is starting may have an empty log and a -shm
        // already, and an immutable reader would then miss its checkpoint rewriting the file underneath.
        var clean = !File.Exists(full + "-wal") && !File.Exists(full + "-shm");
        return new SqliteConnectionStringBuilder
        {
            DataSource = clean ? new Uri(full).AbsoluteUri + "?immutable=1" : full,
            Pooling = false,
            Mode = SqliteOpenMode.ReadOnly,
        }.ToString();
    }

    /// <summary>Opens (creating if needed) the store at <paramref name="path"/>.</summary>
    public static RunStore Open(string path) => Open(path, DefaultQueueBudgetBytes);

    internal static RunStore Open(string path, long queueBudgetBytes)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadWriteCreate }.ToString();
        SqliteConnection? connection = null;
        try
        {
            connection = new SqliteConnection(connectionString);
            connection.Open();
            SqliteRaw.Exec(connection, """
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=NORMAL;
                PRAGMA busy_timeout=10000;
                PRAGMA cache_size=-32768;
                """);
            ResponseCache.CreateSchema(connection);
            SampleLog.CreateSchema(connection);
            BatchLedger.CreateSchema(connection);
        }
        catch (SqliteException ex)
        {
            connection?.Dispose();
            throw new PersonaException($"Cannot open the run store '{path}': {ex.Message}. Expected a SQLite file written by persona, or a writable location.", ex);
        }
        RunStore? store = null;
        var writer = new SqliteWriter(path, () => connection, c => [store!.Cache.Part(c), store.Samples.Part(c), BatchLedger.Part(c)], new SqliteWriterOptions
        {
            QueueBudgetBytes = queueBudgetBytes,
            Size = item => 64 + ResponseCache.QueuedSize(item) + SampleLog.QueuedSize(item) + BatchLedger.QueuedSize(item),
            LingerMs = ResponseCache.LingerMs,
        });
        store = new RunStore(path, connectionString, writer, connection);
        return store;
    }

    /// <summary>Completes when everything queued before the call is committed.</summary>
    public Task FlushAsync() => _writer?.FlushAsync() ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            if (_writer is not null) await _writer.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            // The writer closes its connection when it ran; a store never written to closes it here.
            _writeConnection?.Dispose();
            _readers.Dispose();
        }
    }
}
