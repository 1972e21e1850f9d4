using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using SQLitePCL;

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
    bool Simulated,
    string? Role = null);

/// <summary>One task sample as logged (its JSON is a <c>Persona.Pipeline.SampleRecord</c> without scores).</summary>
public sealed record SampleRow(string Task, string Id, long Seq, string Status, string Json);

/// <summary>One named score of one sample (its JSON is a <c>Persona.Pipeline.Score</c>).</summary>
public sealed record ScoreRow(string Task, string SampleId, string ScoreSet, string Json);

/// <summary>A request written to an OpenAI Batch file, so its result can be imported into the cache under its key.</summary>
public sealed record BatchRequestRow(string Key, string Role, string Provider, string Model, string File);

/// <summary>Totals over the calls table, for manifests and summaries.</summary>
/// <summary>One role's distinct answers in a store, with their tokens and cost when paid (<see cref="RunStore.GetAnswerTotals"/>).</summary>
public sealed record AnswerTotals(string Role, long Answers, long PromptTokens, long CompletionTokens, double CostUsd, long Unpriced);

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
    private const int MaxBatch = 32768;
    // How long provenance-only writes may wait to share a commit. Every commit makes each reader
    // connection drop its page cache (WAL snapshot changed), so replaying a cached run, where
    // every call adds a provenance row, committed hundreds of times a second and each lookup
    // started cold. A paid answer waits at most PaidLingerMs (a group commit: at hundreds of calls
    // a second, one transaction per answer was the engine's bottleneck, 4x slower than batching);
    // simulated answers cost nothing and wait like provenance; flushes are never held back.
    private const int ProvenanceLingerMs = 200, PaidLingerMs = 5, LingerPollMs = 10;
    private readonly string _connectionString;
    // Bounded: when producers outrun the one writer (two cores, 10^6 samples), they wait here instead
    // of queueing the whole run in memory (an unbounded queue reached 1.2 GB of heap at 10^6 items).
    private const int QueueCapacity = 65_536;
    private readonly Channel<object> _writes = Channel.CreateBounded<object>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    // And bounded in bytes: a pair's sample record is over 10 KB of UTF-16 text, and as the store grew
    // the writer fell behind and the item-bounded backlog filled (live after a full GC: 2.6 k queued
    // items at 10 k pairs, 32.6 k at 60 k), so the pairs build's memory crept with the pairs done.
    // Items count here from their enqueue until their transaction commits.
    internal const long DefaultQueueBudgetBytes = 32L << 20;
    private readonly long _queueBudgetBytes;
    private long _queuedBytes;
    private readonly object _budgetGate = new();
    private readonly ConcurrentDictionary<string, StoredResponse> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Task, string Id), SampleRow> _pendingSamples = new();
    private readonly ConcurrentBag<Reader> _readers = new();
    // Each reader maps the file; bounding them bounds memory (mapped pages count once per mapping)
    // and costs nothing, since lookups are synchronous and never outnumber the cores for long.
    private readonly SemaphoreSlim _readerSlots = new(Math.Max(2, Environment.ProcessorCount));
    private readonly Task _writerTask;
    private readonly SqliteConnection _writeConnection;
    private Exception? _writerFault;
    private int _disposed;

    public string Path { get; }

    /// <summary>True when opened by <see cref="OpenReadOnly"/>: nothing can be queued.</summary>
    public bool IsReadOnly { get; }

    private RunStore(string path, long queueBudgetBytes, bool readOnly = false)
    {
        Path = path;
        _queueBudgetBytes = queueBudgetBytes;
        IsReadOnly = readOnly;
        _connectionString = readOnly ? ReadOnlyConnectionString(path) : new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Pooling = false,
            Mode = SqliteOpenMode.ReadWriteCreate,
        }.ToString();
        _writeConnection = new SqliteConnection(_connectionString);
        _writeConnection.Open();
        if (readOnly)
        {
            _writerTask = Task.CompletedTask;
            _writes.Writer.TryComplete();
            // A damaged file fails here, inside OpenReadOnly's guard, not later as a bare SQLite error.
            try
            {
                using var probe = _writeConnection.CreateCommand();
                probe.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('samples', 'scores')";
                if (Convert.ToInt64(probe.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 2)
                    throw new PersonaException($"'{path}' is not a run store written by persona (no sample log).");
            }
            catch
            {
                _writeConnection.Dispose();
                throw;
            }
            return;
        }
        Exec(_writeConnection, $"""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            PRAGMA busy_timeout=10000;
            PRAGMA cache_size=-32768;
            CREATE TABLE IF NOT EXISTS responses(
              {ResponseColumns});
            CREATE TABLE IF NOT EXISTS calls(
              seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
              endpoint TEXT, parameters TEXT NOT NULL, started_utc TEXT NOT NULL, latency_ms REAL NOT NULL,
              prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, tokens_estimated INTEGER NOT NULL,
              cost_usd REAL NOT NULL, cached INTEGER NOT NULL, attempts INTEGER NOT NULL, status TEXT NOT NULL,
              error TEXT, raw_text TEXT, finish_reason TEXT, simulated INTEGER NOT NULL);
            DROP INDEX IF EXISTS calls_key;
            CREATE TABLE IF NOT EXISTS samples(
              task TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL,
              PRIMARY KEY(task, id)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS samples_seq ON samples(task, seq);
            CREATE TABLE IF NOT EXISTS batch_requests(
              key TEXT PRIMARY KEY, role TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, file TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS scores(
              task TEXT NOT NULL, sample_id TEXT NOT NULL, score_set TEXT NOT NULL, record TEXT NOT NULL,
              PRIMARY KEY(task, sample_id, score_set)) WITHOUT ROWID;
            """);
        MigrateResponses(_writeConnection);
        Exec(_writeConnection, "CREATE INDEX IF NOT EXISTS responses_khash ON responses(khash)");
        // Stores written before model roles existed lack the role column; calls logged then were the default role's.
        using (var probe = _writeConnection.CreateCommand())
        {
            probe.CommandText = "SELECT COUNT(*) FROM pragma_table_info('calls') WHERE name='role'";
            if (Convert.ToInt64(probe.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
                Exec(_writeConnection, "ALTER TABLE calls ADD COLUMN role TEXT");
        }
        // A thread of its own, not the pool's: replaying cached calls keeps every pool thread busy with
        // synchronous hits, and a pool-scheduled writer then starved and fell behind until the end.
        _writerTask = Task.Factory.StartNew(WriterLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    // Answers are appended in rowid order and found through a small index of a 64-bit hash of their
    // key. Keyed by the key itself (a random SHA-256), every insert landed on a random page of a
    // tree as large as all the answers: at 2 M pairs (8 M answers, 11 GB) each lookup and each
    // insert was a random disk access once the tree outgrew the page cache, and every checkpoint
    // rewrote thousands of scattered pages. The hash index is ~20 bytes an answer, small enough to
    // stay in memory, and a miss (every call of a fresh run) never reads an answer page.
    private const string ResponseColumns =
        "id INTEGER PRIMARY KEY, khash INTEGER NOT NULL, key TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, response_model TEXT, " +
        "content TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, tokens_estimated INTEGER NOT NULL, " +
        "cost_usd REAL NOT NULL, price_known INTEGER NOT NULL, simulated INTEGER NOT NULL, created_utc TEXT NOT NULL";
    private const string ResponseFields = "key,provider,model,response_model,content,finish_reason,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,price_known,simulated,created_utc";

    /// <summary>The 64-bit hash the responses index is keyed by: the first 8 bytes of the key's SHA-256 (collisions are resolved by comparing the key).</summary>
    internal static long KeyHash(string key)
    {
        // Every lookup and every insert hashes its key (18 M times at 2 M pairs): no allocation for
        // the usual 64-character keys.
        var max = System.Text.Encoding.UTF8.GetMaxByteCount(key.Length);
        var rented = max > 512 ? System.Buffers.ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> utf8 = rented ?? stackalloc byte[512];
        Span<byte> digest = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(utf8[..System.Text.Encoding.UTF8.GetBytes(key, utf8)], digest);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(digest);
    }

    /// <summary>Rewrites a store made before the hash index (responses keyed by their text key) into the current layout, once.</summary>
    private static void MigrateResponses(SqliteConnection c)
    {
        c.CreateFunction<string, long>("persona_khash", KeyHash, isDeterministic: true);
        // Immediate, and probed inside: of two processes opening one old store, the second waits and then finds it migrated.
        using var tx = c.BeginTransaction(deferred: false);
        using (var probe = c.CreateCommand())
        {
            probe.CommandText = "SELECT COUNT(*) FROM pragma_table_info('responses') WHERE name='khash'";
            if (Convert.ToInt64(probe.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0) return;
        }
        Exec(c, $"""
            ALTER TABLE responses RENAME TO responses_by_key;
            CREATE TABLE responses({ResponseColumns});
            INSERT INTO responses(khash,{ResponseFields}) SELECT persona_khash(key),{ResponseFields} FROM responses_by_key;
            DROP TABLE responses_by_key;
            """);
        tx.Commit();
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
        try
        {
            return new RunStore(path, DefaultQueueBudgetBytes, readOnly: true);
        }
        catch (SqliteException ex)
        {
            throw new PersonaException($"Cannot read the run store '{path}': {ex.Message.TrimEnd('.')}. Expected a SQLite file written by persona.", ex);
        }
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
        try
        {
            return new RunStore(path, queueBudgetBytes);
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
        _readerSlots.Wait();
        Reader? reader = null;
        try
        {
            if (!_readers.TryTake(out reader)) reader = new Reader(_connectionString);
            return reader.TryRead(key, out response);
        }
        finally
        {
            if (reader is not null) _readers.Add(reader);
            _readerSlots.Release();
        }
    }

    /// <summary>Queues a completed response for the cache (insert or replace: --refresh overwrites).</summary>
    public void EnqueueResponse(StoredResponse response)
    {
        ThrowIfFaulted();
        _pending[response.Key] = response;
        Write(response);
    }

    /// <summary>Queues a task sample (insert or replace: a rerun that regenerates a failed sample overwrites it).</summary>
    public void EnqueueSample(SampleRow sample)
    {
        ThrowIfFaulted();
        _pendingSamples[(sample.Task, sample.Id)] = sample;
        Write(sample);
    }

    /// <summary>Queues a score of a sample under a named score set (insert or replace).</summary>
    public void EnqueueScore(ScoreRow score)
    {
        ThrowIfFaulted();
        Write(score);
    }

    /// <summary>A logged sample, seeing queued writes (pooled prepared reads: a run checks every sample before generating it).</summary>
    public bool TryGetSample(string task, string id, out SampleRow sample)
    {
        ThrowIfFaulted();
        if (_pendingSamples.TryGetValue((task, id), out sample!)) return true;
        _readerSlots.Wait();
        Reader? reader = null;
        try
        {
            if (!_readers.TryTake(out reader)) reader = new Reader(_connectionString);
            return reader.TryReadSample(task, id, out sample);
        }
        finally
        {
            if (reader is not null) _readers.Add(reader);
            _readerSlots.Release();
        }
    }

    /// <summary>Every logged sample of a task in dataset order, streamed (call <see cref="FlushAsync"/> first).</summary>
    public IEnumerable<SampleRow> ReadSamples(string task)
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, seq, status, record FROM samples WHERE task=$t ORDER BY seq, id";
        cmd.Parameters.AddWithValue("$t", task);
        using var r = cmd.ExecuteReader();
        while (r.Read()) yield return new SampleRow(task, r.GetString(0), r.GetInt64(1), r.GetString(2), RecordCodec.Read(r, 3));
    }

    /// <summary>Every score of a task (all score sets), streamed in sample then score-set order.</summary>
    public IEnumerable<ScoreRow> ReadScores(string task, string? scoreSet = null)
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT sample_id, score_set, record FROM scores WHERE task=$t" + (scoreSet is null ? "" : " AND score_set=$s") + " ORDER BY sample_id, score_set";
        cmd.Parameters.AddWithValue("$t", task);
        if (scoreSet is not null) cmd.Parameters.AddWithValue("$s", scoreSet);
        using var r = cmd.ExecuteReader();
        while (r.Read()) yield return new ScoreRow(task, r.GetString(0), r.GetString(1), r.GetString(2));
    }

    /// <summary>The scores of one sample (all score sets).</summary>
    public IReadOnlyList<ScoreRow> ReadSampleScores(string task, string sampleId)
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT score_set, record FROM scores WHERE task=$t AND sample_id=$i ORDER BY score_set";
        cmd.Parameters.AddWithValue("$t", task);
        cmd.Parameters.AddWithValue("$i", sampleId);
        using var r = cmd.ExecuteReader();
        var list = new List<ScoreRow>();
        while (r.Read()) list.Add(new ScoreRow(task, sampleId, r.GetString(0), r.GetString(1)));
        return list;
    }

    /// <summary>Every logged sample of a task in dataset order with all its scores, streamed (one query, no per-sample lookups).</summary>
    public IEnumerable<(SampleRow Sample, IReadOnlyList<ScoreRow> Scores)> ReadSamplesWithScores(string task)
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT s.id, s.seq, s.status, s.record, sc.score_set, sc.record " +
                          "FROM samples s LEFT JOIN scores sc ON sc.task = s.task AND sc.sample_id = s.id " +
                          "WHERE s.task = $t ORDER BY s.seq, s.id, sc.score_set";
        cmd.Parameters.AddWithValue("$t", task);
        using var r = cmd.ExecuteReader();
        SampleRow? current = null;
        var scores = new List<ScoreRow>();
        while (r.Read())
        {
            var id = r.GetString(0);
            if (current is not null && current.Id != id)
            {
                yield return (current, scores);
                scores = [];
                current = null;
            }
            current ??= new SampleRow(task, id, r.GetInt64(1), r.GetString(2), RecordCodec.Read(r, 3));
            if (!r.IsDBNull(4)) scores.Add(new ScoreRow(task, id, r.GetString(4), r.GetString(5)));
        }
        if (current is not null) yield return (current, scores);
    }

    /// <summary>Names of the tasks with logged samples, and the score sets of each.</summary>
    public IReadOnlyList<(string Task, long Samples, IReadOnlyList<string> ScoreSets)> ListTasks()
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        var list = new List<(string, long, IReadOnlyList<string>)>();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT task, COUNT(*) FROM samples GROUP BY task ORDER BY task";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var task = r.GetString(0);
            using var sc = c.CreateCommand();
            sc.CommandText = "SELECT DISTINCT score_set FROM scores WHERE task=$t ORDER BY score_set";
            sc.Parameters.AddWithValue("$t", task);
            using var sr = sc.ExecuteReader();
            var sets = new List<string>();
            while (sr.Read()) sets.Add(sr.GetString(0));
            list.Add((task, r.GetInt64(1), sets));
        }
        return list;
    }

    /// <summary>Queues the record of an exported batch request.</summary>
    public void EnqueueBatchRequest(BatchRequestRow row)
    {
        ThrowIfFaulted();
        Write(row);
    }

    /// <summary>The exported request with this key (call <see cref="FlushAsync"/> first).</summary>
    public bool TryGetBatchRequest(string key, out BatchRequestRow row)
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT role, provider, model, file FROM batch_requests WHERE key=$k";
        cmd.Parameters.AddWithValue("$k", key);
        using var r = cmd.ExecuteReader();
        if (!r.Read()) { row = null!; return false; }
        row = new BatchRequestRow(key, r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3));
        return true;
    }

    /// <summary>Queues a provenance record.</summary>
    public void EnqueueCall(CallRecord call)
    {
        ThrowIfFaulted();
        if (call.Error is not null || call.RawText is not null) // a server may echo the key in its error body
            call = call with { Error = SecretScrubber.ScrubOrNull(call.Error), RawText = SecretScrubber.ScrubOrNull(call.RawText) };
        Write(call);
    }

    /// <summary>Completes when everything queued before the call is committed.</summary>
    public Task FlushAsync()
    {
        if (IsReadOnly) return Task.CompletedTask;
        ThrowIfFaulted();
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try { Write(tcs); } catch (ObjectDisposedException) { return Task.CompletedTask; }
        return tcs.Task;
    }

    /// <summary>Queues an item, waiting for room when the writer is behind (back-pressure, not memory).</summary>
    private void Write(object item)
    {
        if (IsReadOnly) throw new InvalidOperationException($"The run store '{Path}' was opened read-only.");
        var size = QueuedSize(item);
        // Wait while what is queued ahead exceeds the budget; an empty channel always admits (the
        // writer cannot drain items still waiting here, so waiters must never wait on each other).
        if (Interlocked.Add(ref _queuedBytes, size) - size > _queueBudgetBytes)
            lock (_budgetGate)
                while (Volatile.Read(ref _queuedBytes) - size > _queueBudgetBytes && _writes.Reader.Count > 0 && _writerFault is null && Volatile.Read(ref _disposed) == 0)
                    Monitor.Wait(_budgetGate, 50);
        if (_writes.Writer.TryWrite(item)) return;
        var wait = _writes.Writer.WaitToWriteAsync();
        while (true)
        {
            // The writer is a dedicated thread, so blocking a caller here cannot deadlock it.
            if (!(wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult()))
                throw new ObjectDisposedException(nameof(RunStore));
            if (_writes.Writer.TryWrite(item)) return;
            ThrowIfFaulted();
            wait = _writes.Writer.WaitToWriteAsync();
        }
    }

    /// <summary>Approximate bytes an item holds on the heap (its strings, UTF-16), for the queue's budget.</summary>
    private static long QueuedSize(object item) => 64 + 2L * item switch
    {
        // Null-tolerant: records built by deserialization can hold nulls their declarations exclude.
        StoredResponse r => r.Key.Length + r.Content.Length,
        CallRecord c => c.Key.Length + c.Parameters.Length + Len(c.Error) + Len(c.RawText),
        SampleRow sr => sr.Id.Length + sr.Json.Length,
        ScoreRow sc => sc.SampleId.Length + sc.Json.Length,
        BatchRequestRow br => Len(br.Key) + Len(br.File),
        _ => 0,
    };

    private static long Len(string? s) => s?.Length ?? 0;

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

    /// <summary>
    /// Per role, the distinct answers this store's calls used and what they cost when paid, each
    /// counted once: unlike the spend of an invocation it does not depend on what was cached
    /// before, on a kill and resume, or on which of two identical calls came first.
    /// </summary>
    public IReadOnlyList<AnswerTotals> GetAnswerTotals()
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        c.CreateFunction<string, long>("persona_khash", KeyHash, isDeterministic: true);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT k.role, COUNT(*), COALESCE(SUM(r.prompt_tokens),0), COALESCE(SUM(r.completion_tokens),0), COALESCE(SUM(r.cost_usd),0.0), COALESCE(SUM(r.price_known=0),0)
            FROM (SELECT key, MIN(COALESCE(role,'model')) AS role FROM calls WHERE status='ok' GROUP BY key) k
            CROSS JOIN responses r ON r.khash = persona_khash(k.key) AND r.key = k.key
            GROUP BY k.role ORDER BY k.role
            """;
        using var r = cmd.ExecuteReader();
        var list = new List<AnswerTotals>();
        while (r.Read()) list.Add(new AnswerTotals(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), Math.Round(r.GetDouble(4), 6), r.GetInt64(5)));
        return list;
    }

    /// <summary>All provenance rows in insertion order (for inspection and tests; not for hot paths).</summary>
    public IReadOnlyList<CallRecord> ReadCalls()
    {
        using var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT key,provider,model,endpoint,parameters,started_utc,latency_ms,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,cached,attempts,status,error,raw_text,finish_reason,simulated,role FROM calls ORDER BY seq";
        using var r = cmd.ExecuteReader();
        var list = new List<CallRecord>();
        while (r.Read())
        {
            list.Add(new CallRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4),
                DateTimeOffset.Parse(r.GetString(5), System.Globalization.CultureInfo.InvariantCulture), r.GetDouble(6), r.GetInt64(7), r.GetInt64(8),
                r.GetInt64(9) != 0, r.GetDouble(10), r.GetInt64(11) != 0, (int)r.GetInt64(12), r.GetString(13),
                r.IsDBNull(14) ? null : r.GetString(14), r.IsDBNull(15) ? null : r.GetString(15), r.IsDBNull(16) ? null : r.GetString(16), r.GetInt64(17) != 0, r.IsDBNull(18) ? null : r.GetString(18)));
        }
        return list;
    }

    private void WriterLoop()
    {
        // The raw statements bind by position and skip Microsoft.Data.Sqlite's per-execution
        // parameter lookup and boxing: a replay writes one provenance row per cached call.
        var db = _writeConnection.Handle!;
        // Insert or replace by key (--refresh overwrites): the index is not unique, so the old row goes first.
        using var delResponse = Prepare(db, "DELETE FROM responses WHERE khash=? AND key=?");
        using var insResponse = Prepare(db, $"INSERT INTO responses(khash,{ResponseFields}) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        using var insCall = Prepare(db, """
            INSERT INTO calls(key,provider,model,endpoint,parameters,started_utc,latency_ms,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,cached,attempts,status,error,raw_text,finish_reason,simulated,role)
            VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
            """);
        using var insSample = Prepare(db, "INSERT OR REPLACE INTO samples(task,id,seq,status,record) VALUES(?,?,?,?,?)");
        using var insScore = Prepare(db, "INSERT OR REPLACE INTO scores(task,sample_id,score_set,record) VALUES(?,?,?,?)");
        using var insBatch = Prepare(db, "INSERT OR REPLACE INTO batch_requests(key,role,provider,model,file) VALUES(?,?,?,?,?)");
        var batch = new List<object>(MaxBatch);
        var reader = _writes.Reader;
        try
        {
            while (WaitToRead(reader))
            {
                batch.Clear();
                var urgent = false;
                var linger = ProvenanceLingerMs;
                var lingerStart = Environment.TickCount64;
                while (true)
                {
                    while (batch.Count < MaxBatch && reader.TryRead(out var item))
                    {
                        batch.Add(item);
                        urgent |= item is TaskCompletionSource;
                        if (item is StoredResponse { Simulated: false }) linger = PaidLingerMs;
                    }
                    if (urgent || batch.Count >= MaxBatch || reader.Completion.IsCompleted) break;
                    if (Environment.TickCount64 - lingerStart >= linger) break;
                    Thread.Sleep(linger == PaidLingerMs ? 1 : LingerPollMs);
                }
                using (var tx = _writeConnection.BeginTransaction())
                {
                    foreach (var item in batch)
                    {
                        switch (item)
                        {
                            case StoredResponse r:
                            {
                                var khash = KeyHash(r.Key);
                                Int(delResponse, 1, khash); Text(delResponse, 2, r.Key);
                                Step(db, delResponse);
                                var st = insResponse;
                                Int(st, 1, khash); Text(st, 2, r.Key); Text(st, 3, r.Provider); Text(st, 4, r.Model); Text(st, 5, r.ResponseModelId); Text(st, 6, r.Content);
                                Text(st, 7, r.FinishReason); Int(st, 8, r.PromptTokens); Int(st, 9, r.CompletionTokens); Int(st, 10, r.TokensEstimated ? 1 : 0);
                                raw.sqlite3_bind_double(st, 11, r.CostUsd); Int(st, 12, r.PriceKnown ? 1 : 0); Int(st, 13, r.Simulated ? 1 : 0);
                                Text(st, 14, r.CreatedUtc.ToString("O"));
                                Step(db, st);
                                break;
                            }
                            case SampleRow sr:
                                Text(insSample, 1, sr.Task); Text(insSample, 2, sr.Id); Int(insSample, 3, sr.Seq); Text(insSample, 4, sr.Status); RecordCodec.Bind(insSample, 5, sr.Json);
                                Step(db, insSample);
                                break;
                            case BatchRequestRow br:
                                Text(insBatch, 1, br.Key); Text(insBatch, 2, br.Role); Text(insBatch, 3, br.Provider); Text(insBatch, 4, br.Model); Text(insBatch, 5, br.File);
                                Step(db, insBatch);
                                break;
                            case ScoreRow sc:
                                Text(insScore, 1, sc.Task); Text(insScore, 2, sc.SampleId); Text(insScore, 3, sc.ScoreSet); Text(insScore, 4, sc.Json);
                                Step(db, insScore);
                                break;
                            case CallRecord c:
                            {
                                var st = insCall;
                                Text(st, 1, c.Key); Text(st, 2, c.Provider); Text(st, 3, c.Model); Text(st, 4, c.Endpoint); Text(st, 5, c.Parameters);
                                Text(st, 6, c.StartedUtc.ToString("O")); raw.sqlite3_bind_double(st, 7, c.LatencyMs); Int(st, 8, c.PromptTokens);
                                Int(st, 9, c.CompletionTokens); Int(st, 10, c.TokensEstimated ? 1 : 0); raw.sqlite3_bind_double(st, 11, c.CostUsd);
                                Int(st, 12, c.Cached ? 1 : 0); Int(st, 13, c.Attempts); Text(st, 14, c.Status); Text(st, 15, c.Error); Text(st, 16, c.RawText);
                                Text(st, 17, c.FinishReason); Int(st, 18, c.Simulated ? 1 : 0); Text(st, 19, c.Role);
                                Step(db, st);
                                break;
                            }
                        }
                    }
                    tx.Commit();
                }
                long committed = 0;
                foreach (var item in batch)
                {
                    committed += QueuedSize(item);
                    if (item is StoredResponse s) _pending.TryRemove(new KeyValuePair<string, StoredResponse>(s.Key, s));
                    else if (item is SampleRow sr) _pendingSamples.TryRemove(new KeyValuePair<(string, string), SampleRow>((sr.Task, sr.Id), sr));
                    else if (item is TaskCompletionSource tcs) tcs.TrySetResult();
                }
                Interlocked.Add(ref _queuedBytes, -committed);
                lock (_budgetGate) Monitor.PulseAll(_budgetGate);
            }
        }
        catch (Exception ex)
        {
            _writerFault = ex;
            foreach (var item in batch) if (item is TaskCompletionSource tcs) tcs.TrySetException(ex);
            while (reader.TryRead(out var item)) if (item is TaskCompletionSource tcs) tcs.TrySetException(ex);
        }
    }

    // Written with "O"; the exact round-trip parser is several times cheaper than the general one, which matters once per cache hit.
    private static DateTimeOffset ParseUtc(string s)
        => DateTimeOffset.TryParseExact(s, "O", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var t)
            ? t : DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    private void ThrowIfFaulted()
    {
        if (_writerFault is { } ex) throw new InvalidOperationException($"The run store '{Path}' stopped accepting writes: {ex.Message}", ex);
    }

    private static bool WaitToRead(ChannelReader<object> reader)
    {
        var wait = reader.WaitToReadAsync();
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        var rc = raw.sqlite3_prepare_v2(db, sql, out var stmt);
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
        return stmt;
    }

    private static void Text(sqlite3_stmt st, int i, string? v)
    {
        if (v is null) raw.sqlite3_bind_null(st, i);
        else raw.sqlite3_bind_text(st, i, v);
    }

    private static void Int(sqlite3_stmt st, int i, long v) => raw.sqlite3_bind_int64(st, i, v);

    private static void Step(sqlite3 db, sqlite3_stmt st)
    {
        var rc = raw.sqlite3_step(st);
        raw.sqlite3_reset(st);
        if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, db);
    }

    private static string? ColumnText(sqlite3_stmt st, int i)
        => raw.sqlite3_column_type(st, i) == raw.SQLITE_NULL ? null : raw.sqlite3_column_text(st, i).utf8_to_string();

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
        private readonly sqlite3_stmt _select;
        private readonly sqlite3_stmt _selectSample;

        public Reader(string connectionString)
        {
            _connection = new SqliteConnection(connectionString);
            _connection.Open();
            // Lookups by a random content hash touch random pages: map the file instead of read()-ing them into a small private cache.
            using (var pragma = _connection.CreateCommand())
            {
                // 64 MB: mapped pages count in the process's resident memory; a 10^6-sample store must not look like a leak.
                pragma.CommandText = "PRAGMA mmap_size=67108864;";
                pragma.ExecuteNonQuery();
            }
            _select = Prepare(_connection.Handle!, "SELECT provider,model,response_model,content,finish_reason,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,price_known,simulated,created_utc FROM responses WHERE khash=? AND key=?");
            _selectSample = Prepare(_connection.Handle!, "SELECT seq,status,record FROM samples WHERE task=? AND id=?");
        }

        public bool TryReadSample(string task, string id, out SampleRow sample)
        {
            var st = _selectSample;
            try
            {
                raw.sqlite3_bind_text(st, 1, task);
                raw.sqlite3_bind_text(st, 2, id);
                var rc = raw.sqlite3_step(st);
                if (rc == raw.SQLITE_DONE) { sample = null!; return false; }
                if (rc != raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
                sample = new SampleRow(task, id, raw.sqlite3_column_int64(st, 0), ColumnText(st, 1)!, RecordCodec.Column(st, 2));
                return true;
            }
            finally
            {
                raw.sqlite3_reset(st);
            }
        }

        public bool TryRead(string key, out StoredResponse response)
        {
            var st = _select;
            try
            {
                raw.sqlite3_bind_int64(st, 1, KeyHash(key));
                raw.sqlite3_bind_text(st, 2, key);
                var rc = raw.sqlite3_step(st);
                if (rc == raw.SQLITE_DONE) { response = null!; return false; }
                if (rc != raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, _connection.Handle);
                response = new StoredResponse(
                    key, ColumnText(st, 0)!, ColumnText(st, 1)!, ColumnText(st, 2), ColumnText(st, 3)!, ColumnText(st, 4),
                    raw.sqlite3_column_int64(st, 5), raw.sqlite3_column_int64(st, 6), raw.sqlite3_column_int64(st, 7) != 0,
                    raw.sqlite3_column_double(st, 8), raw.sqlite3_column_int64(st, 9) != 0, raw.sqlite3_column_int64(st, 10) != 0,
                    ParseUtc(ColumnText(st, 11)!));
                return true;
            }
            finally
            {
                raw.sqlite3_reset(st);
            }
        }

        public void Dispose()
        {
            _select.Dispose();
            _selectSample.Dispose();
            _connection.Dispose();
        }
    }
}

/// <summary>
/// Sample records are stored deflated (a BLOB; older stores hold TEXT, still read): at 317,200
/// samples the JSON was most of the store and of the page cache. Fastest level: about a third of
/// the size for a few microseconds a sample.
/// </summary>
internal static class RecordCodec
{
    public static void Bind(sqlite3_stmt st, int index, string json)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);
        using var ms = new MemoryStream(bytes.Length / 2 + 64);
        using (var z = new System.IO.Compression.DeflateStream(ms, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) z.Write(bytes);
        raw.sqlite3_bind_blob(st, index, ms.GetBuffer().AsSpan(0, (int)ms.Length));
    }

    public static string Column(sqlite3_stmt st, int index)
        => raw.sqlite3_column_type(st, index) == raw.SQLITE_BLOB ? Inflate(raw.sqlite3_column_blob(st, index)) : raw.sqlite3_column_text(st, index).utf8_to_string();

    public static string Read(SqliteDataReader r, int index)
        => r.GetFieldType(index) == typeof(byte[]) ? Inflate((byte[])r.GetValue(index)) : r.GetString(index);

    private static string Inflate(ReadOnlySpan<byte> data)
    {
        using var input = new MemoryStream(data.ToArray());
        using var z = new System.IO.Compression.DeflateStream(input, System.IO.Compression.CompressionMode.Decompress);
        using var output = new MemoryStream(data.Length * 3);
        z.CopyTo(output);
        return System.Text.Encoding.UTF8.GetString(output.GetBuffer(), 0, (int)output.Length);
    }
}
