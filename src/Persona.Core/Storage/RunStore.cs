using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Persona.Storage;

/// <summary>A completed, paid-for model answer as kept in the content-addressed cache.</summary>
public sealed record StoredResponse(
    string Key,
    string Provider,
    string Model,
    string? ResponseModelId,
    string Content,
    string? FinishReason,
    long PromptTokens,
    long CompletionTokens,
    bool TokensEstimated,
    double CostUsd,
    bool PriceKnown,
    bool Simulated,
    DateTimeOffset CreatedUtc);

/// <summary>
/// Provenance of one logical call as seen by the cache layer: a cache hit, a paid success or a
/// recorded failure. Never holds an API key.
/// </summary>
public sealed record CallRecord(
    string Key,
    string Provider,
    string Model,
    string? Endpoint,
    string Parameters,
    DateTimeOffset StartedUtc,
    double LatencyMs,
    long PromptTokens,
    long CompletionTokens,
    bool TokensEstimated,
    double CostUsd,
    bool Cached,
    int Attempts,
    string Status,
    string? Error,
    string? RawText,
    string? FinishReason,
    bool Simulated);

/// <summary>Totals over the calls table, for manifests and summaries.</summary>
public sealed record StoreStats(long Calls, long CacheHits, long Failures, long Responses, long PromptTokens, long CompletionTokens, double CostUsd);

/// <summary>
/// The run's SQLite store: a content-addressed response cache plus a provenance log of calls.
/// Reads go through a small pool of connections with prepared statements (WAL lets them run beside
/// the writer); all writes go through one channel drained by a single writer task in batched
/// transactions, so hundreds of in-flight calls never contend on SQLite's write lock. A response
/// queued but not yet committed is still visible to readers through <see cref="_pending"/>, so a
/// duplicate request arriving in that window is not paid again.
/// </summary>
public sealed class RunStore : IAsyncDisposable
{
    private const int MaxBatch = 2048;
    private readonly string _connectionString;
    private readonly Channel<object> _writes = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, StoredResponse> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<Reader> _readers = new();
    private readonly Task _writerTask;
    private readonly SqliteConnection _writeConnection;
    private Exception? _writerFault;
    private int _disposed;

    public string Path { get; }

    private RunStore(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Pooling = false,
            Mode = SqliteOpenMode.ReadWriteCreate,
        }.ToString();
        _writeConnection = new SqliteConnection(_connectionString);
        _writeConnection.Open();
        Exec(_writeConnection, """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            PRAGMA busy_timeout=10000;
            CREATE TABLE IF NOT EXISTS responses(
              key TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL, response_model TEXT,
              content TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER NOT NULL,
              completion_tokens INTEGER NOT NULL, tokens_estimated INTEGER NOT NULL, cost_usd REAL NOT NULL,
              price_known INTEGER NOT NULL, simulated INTEGER NOT NULL, created_utc TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS calls(
              seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
              endpoint TEXT, parameters TEXT NOT NULL, started_utc TEXT NOT NULL, latency_ms REAL NOT NULL,
              prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, tokens_estimated INTEGER NOT NULL,
              cost_usd REAL NOT NULL, cached INTEGER NOT NULL, attempts INTEGER NOT NULL, status TEXT NOT NULL,
              error TEXT, raw_text TEXT, finish_reason TEXT, simulated INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS calls_key ON calls(key);
            """);
        _writerTask = Task.Run(WriterLoopAsync);
    }

    /// <summary>Opens (creating if needed) the store at <paramref name="path"/>.</summary>
    public static RunStore Open(string path)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        try
        {
            return new RunStore(path);
        }
        catch (SqliteException ex)
        {
            throw new PersonaException($"Cannot open the run store '{path}': {ex.Message}. Expected a SQLite file written by persona, or a writable location.", ex);
        }
    }

    /// <summary>Looks up a cached response; sees queued writes before they are committed.</summary>
    public bool TryGetResponse(string key, out StoredResponse response)
    {
        ThrowIfFaulted();
        if (_pending.TryGetValue(key, out response!)) return true;
        if (!_readers.TryTake(out var reader)) reader = new Reader(_connectionString);
        try
        {
            reader.Key.Value = key;
            using var r = reader.Select.ExecuteReader();
            if (!r.Read()) { response = null!; return false; }
            response = new StoredResponse(
                key, r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7) != 0,
                r.GetDouble(8), r.GetInt64(9) != 0, r.GetInt64(10) != 0, DateTimeOffset.Parse(r.GetString(11), System.Globalization.CultureInfo.InvariantCulture));
            return true;
        }
        finally
        {
            _readers.Add(reader);
        }
    }

    /// <summary>Queues a completed response for the cache (insert or replace: --refresh overwrites).</summary>
    public void EnqueueResponse(StoredResponse response)
    {
        ThrowIfFaulted();
        _pending[response.Key] = response;
        if (!_writes.Writer.TryWrite(response)) throw new ObjectDisposedException(nameof(RunStore));
    }

    /// <summary>Queues a provenance record.</summary>
    public void EnqueueCall(CallRecord call)
    {
        ThrowIfFaulted();
        if (!_writes.Writer.TryWrite(call)) throw new ObjectDisposedException(nameof(RunStore));
    }

    /// <summary>Completes when everything queued before the call is committed.</summary>
    public Task FlushAsync()
    {
        ThrowIfFaulted();
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_writes.Writer.TryWrite(tcs)) return Task.CompletedTask;
        return tcs.Task;
    }

    public StoreStats GetStats()
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT COUNT(*), COALESCE(SUM(cached),0), COALESCE(SUM(status<>'ok'),0),
                   (SELECT COUNT(*) FROM responses),
                   COALESCE(SUM(CASE WHEN cached=0 THEN prompt_tokens END),0),
                   COALESCE(SUM(CASE WHEN cached=0 THEN completion_tokens END),0),
                   COALESCE(SUM(CASE WHEN cached=0 THEN cost_usd END),0.0)
            FROM calls
            """;
        using var r = cmd.ExecuteReader();
        r.Read();
        return new StoreStats(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetDouble(6));
    }

    /// <summary>All provenance rows in insertion order (for inspection and tests; not for hot paths).</summary>
    public IReadOnlyList<CallRecord> ReadCalls()
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT key,provider,model,endpoint,parameters,started_utc,latency_ms,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,cached,attempts,status,error,raw_text,finish_reason,simulated FROM calls ORDER BY seq";
        using var r = cmd.ExecuteReader();
        var list = new List<CallRecord>();
        while (r.Read())
        {
            list.Add(new CallRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4),
                DateTimeOffset.Parse(r.GetString(5), System.Globalization.CultureInfo.InvariantCulture), r.GetDouble(6), r.GetInt64(7), r.GetInt64(8),
                r.GetInt64(9) != 0, r.GetDouble(10), r.GetInt64(11) != 0, (int)r.GetInt64(12), r.GetString(13),
                r.IsDBNull(14) ? null : r.GetString(14), r.IsDBNull(15) ? null : r.GetString(15), r.IsDBNull(16) ? null : r.GetString(16), r.GetInt64(17) != 0));
        }
        return list;
    }

    private async Task WriterLoopAsync()
    {
        using var insResponse = _writeConnection.CreateCommand();
        insResponse.CommandText = """
            INSERT OR REPLACE INTO responses(key,provider,model,response_model,content,finish_reason,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,price_known,simulated,created_utc)
            VALUES($k,$p,$m,$rm,$c,$f,$pt,$ct,$te,$cost,$pk,$sim,$t)
            """;
        var rp = AddParams(insResponse, "$k", "$p", "$m", "$rm", "$c", "$f", "$pt", "$ct", "$te", "$cost", "$pk", "$sim", "$t");
        using var insCall = _writeConnection.CreateCommand();
        insCall.CommandText = """
            INSERT INTO calls(key,provider,model,endpoint,parameters,started_utc,latency_ms,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,cached,attempts,status,error,raw_text,finish_reason,simulated)
            VALUES($k,$p,$m,$e,$par,$s,$lat,$pt,$ct,$te,$cost,$cached,$att,$st,$err,$raw,$f,$sim)
            """;
        var cp = AddParams(insCall, "$k", "$p", "$m", "$e", "$par", "$s", "$lat", "$pt", "$ct", "$te", "$cost", "$cached", "$att", "$st", "$err", "$raw", "$f", "$sim");
        var batch = new List<object>(MaxBatch);
        var reader = _writes.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && reader.TryRead(out var item)) batch.Add(item);
                using (var tx = _writeConnection.BeginTransaction())
                {
                    insResponse.Transaction = tx;
                    insCall.Transaction = tx;
                    foreach (var item in batch)
                    {
                        switch (item)
                        {
                            case StoredResponse s:
                                Set(rp, s.Key, s.Provider, s.Model, s.ResponseModelId, s.Content, s.FinishReason, s.PromptTokens, s.CompletionTokens,
                                    s.TokensEstimated ? 1 : 0, s.CostUsd, s.PriceKnown ? 1 : 0, s.Simulated ? 1 : 0, s.CreatedUtc.ToString("O"));
                                insResponse.ExecuteNonQuery();
                                break;
                            case CallRecord c:
                                Set(cp, c.Key, c.Provider, c.Model, c.Endpoint, c.Parameters, c.StartedUtc.ToString("O"), c.LatencyMs, c.PromptTokens,
                                    c.CompletionTokens, c.TokensEstimated ? 1 : 0, c.CostUsd, c.Cached ? 1 : 0, c.Attempts, c.Status, c.Error, c.RawText,
                                    c.FinishReason, c.Simulated ? 1 : 0);
                                insCall.ExecuteNonQuery();
                                break;
                        }
                    }
                    tx.Commit();
                }
                foreach (var item in batch)
                {
                    if (item is StoredResponse s) _pending.TryRemove(new KeyValuePair<string, StoredResponse>(s.Key, s));
                    else if (item is TaskCompletionSource tcs) tcs.TrySetResult();
                }
            }
        }
        catch (Exception ex)
        {
            _writerFault = ex;
            foreach (var item in batch) if (item is TaskCompletionSource tcs) tcs.TrySetException(ex);
            while (reader.TryRead(out var item)) if (item is TaskCompletionSource tcs) tcs.TrySetException(ex);
        }
    }

    private void ThrowIfFaulted()
    {
        if (_writerFault is { } ex) throw new InvalidOperationException($"The run store '{Path}' stopped accepting writes: {ex.Message}", ex);
    }

    private static SqliteParameter[] AddParams(SqliteCommand cmd, params string[] names)
    {
        var ps = new SqliteParameter[names.Length];
        for (var i = 0; i < names.Length; i++) ps[i] = cmd.Parameters.Add(new SqliteParameter { ParameterName = names[i] });
        cmd.Prepare();
        return ps;
    }

    private static void Set(SqliteParameter[] ps, params object?[] values)
    {
        for (var i = 0; i < ps.Length; i++) ps[i].Value = values[i] ?? DBNull.Value;
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _writes.Writer.TryComplete();
        await _writerTask.ConfigureAwait(false);
        _writeConnection.Dispose();
        while (_readers.TryTake(out var r)) r.Dispose();
        if (_writerFault is { } ex) throw new InvalidOperationException($"The run store '{Path}' failed to save: {ex.Message}", ex);
    }

    private sealed class Reader : IDisposable
    {
        private readonly SqliteConnection _connection;
        public SqliteCommand Select { get; }
        public SqliteParameter Key { get; }

        public Reader(string connectionString)
        {
            _connection = new SqliteConnection(connectionString);
            _connection.Open();
            Select = _connection.CreateCommand();
            Select.CommandText = "SELECT provider,model,response_model,content,finish_reason,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,price_known,simulated,created_utc FROM responses WHERE key=$k";
            Key = Select.Parameters.Add(new SqliteParameter { ParameterName = "$k", Value = "" });
            Select.Prepare();
        }

        public void Dispose()
        {
            Select.Dispose();
            _connection.Dispose();
        }
    }
}
