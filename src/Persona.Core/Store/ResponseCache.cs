using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using static Persona.Store.SqliteRaw;

namespace Persona.Store;

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

/// <summary>One role's distinct answers in a store, with their tokens and cost when paid (<see cref="ResponseCache.GetAnswerTotals"/>).</summary>
public sealed record AnswerTotals(string Role, long Answers, long PromptTokens, long CompletionTokens, double CostUsd, long Unpriced);

/// <summary>Totals over the calls table, for manifests and summaries.</summary>
public sealed record StoreStats(long Calls, long CacheHits, long Failures, long Responses, long PromptTokens, long CompletionTokens, double CostUsd);

/// <summary>
/// The content-addressed response cache and the provenance log of calls (tables <c>responses</c>
/// and <c>calls</c> of the run's store). A response queued but not yet committed is visible to
/// lookups through <see cref="_pending"/>, so a duplicate request arriving in that window is not
/// paid again.
/// </summary>
public sealed class ResponseCache
{
    // How long provenance-only writes may wait to share a commit. Every commit makes each reader
    // connection drop its page cache (WAL snapshot changed), so replaying a cached run, where
    // every call adds a provenance row, committed hundreds of times a second and each lookup
    // started cold. A paid answer waits at most PaidLingerMs (a group commit: at hundreds of calls
    // a second, one transaction per answer was the engine's bottleneck, 4x slower than batching);
    // simulated answers cost nothing and wait like provenance.
    internal const int ProvenanceLingerMs = 200, PaidLingerMs = 5;

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
    private const string SelectResponse = "SELECT provider,model,response_model,content,finish_reason,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,price_known,simulated,created_utc FROM responses WHERE khash=? AND key=?";

    private readonly SqliteReaders _readers;
    private readonly SqliteWriter? _writer;
    private readonly ConcurrentDictionary<string, StoredResponse> _pending = new(StringComparer.Ordinal);

    internal ResponseCache(SqliteReaders readers, SqliteWriter? writer)
    {
        _readers = readers;
        _writer = writer;
    }

    internal static void CreateSchema(SqliteConnection c)
    {
        Exec(c, $"""
            CREATE TABLE IF NOT EXISTS responses(
              {ResponseColumns});
            CREATE TABLE IF NOT EXISTS calls(
              seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
              endpoint TEXT, parameters TEXT NOT NULL, started_utc TEXT NOT NULL, latency_ms REAL NOT NULL,
              prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, tokens_estimated INTEGER NOT NULL,
              cost_usd REAL NOT NULL, cached INTEGER NOT NULL, attempts INTEGER NOT NULL, status TEXT NOT NULL,
              error TEXT, raw_text TEXT, finish_reason TEXT, simulated INTEGER NOT NULL);
            DROP INDEX IF EXISTS calls_key;
            """);
        MigrateResponses(c);
        Exec(c, "CREATE INDEX IF NOT EXISTS responses_khash ON responses(khash)");
        // Stores written before model roles existed lack the role column; calls logged then were the default role's.
        using var probe = c.CreateCommand();
        probe.CommandText = "SELECT COUNT(*) FROM pragma_table_info('calls') WHERE name='role'";
        if (Convert.ToInt64(probe.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
            Exec(c, "ALTER TABLE calls ADD COLUMN role TEXT");
    }

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

    /// <summary>Looks up a cached response; sees queued writes before they are committed.</summary>
    public bool TryGetResponse(string key, out StoredResponse response)
    {
        _writer?.ThrowIfFaulted();
        if (_pending.TryGetValue(key, out response!)) return true;
        var reader = _readers.Rent();
        var st = reader.Statement(SelectResponse);
        try
        {
            raw.sqlite3_bind_int64(st, 1, KeyHash(key));
            raw.sqlite3_bind_text(st, 2, key);
            if (!StepRow(reader.Db, st)) { response = null!; return false; }
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
            _readers.Return(reader);
        }
    }

    /// <summary>Queues a completed response for the cache (insert or replace: --refresh overwrites).</summary>
    public void EnqueueResponse(StoredResponse response)
    {
        var writer = Writer();
        writer.ThrowIfFaulted();
        _pending[response.Key] = response;
        writer.Enqueue(response);
    }

    /// <summary>Queues a provenance record.</summary>
    public void EnqueueCall(CallRecord call)
    {
        if (call.Error is not null || call.RawText is not null) // a server may echo the key in its error body
            call = call with { Error = SecretScrubber.ScrubOrNull(call.Error), RawText = SecretScrubber.ScrubOrNull(call.RawText) };
        Writer().Enqueue(call);
    }

    private SqliteWriter Writer() => _writer ?? throw new InvalidOperationException("This run store was opened read-only.");

    public StoreStats GetStats()
    {
        using var c = _readers.Open();
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
        using var c = _readers.Open();
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
        using var c = _readers.Open();
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

    // Written with "O"; the exact round-trip parser is several times cheaper than the general one, which matters once per cache hit.
    private static DateTimeOffset ParseUtc(string s)
        => DateTimeOffset.TryParseExact(s, "O", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var t)
            ? t : DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Heap bytes a queued item of this cache holds (0 for another store's item).</summary>
    internal static long QueuedSize(object item) => item switch
    {
        // Null-tolerant: records built by deserialization can hold nulls their declarations exclude.
        StoredResponse r => 2L * (r.Key.Length + r.Content.Length),
        CallRecord c => 2L * (c.Key.Length + c.Parameters.Length + (c.Error?.Length ?? 0) + (c.RawText?.Length ?? 0)),
        _ => 0,
    };

    /// <summary>How long any item of the run's store may wait to share a commit: only a paid answer is in a hurry.</summary>
    internal static int LingerMs(object item) => item is StoredResponse { Simulated: false } ? PaidLingerMs : ProvenanceLingerMs;

    /// <summary>The cache's statements on the writer's connection.</summary>
    internal SqliteWritePart Part(SqliteConnection c) => new WritePart(this, c.Handle!);

    private sealed class WritePart(ResponseCache cache, sqlite3 db) : SqliteWritePart
    {
        // Insert or replace by key (--refresh overwrites): the index is not unique, so the old row goes first.
        private readonly sqlite3_stmt _delete = Prepare(db, "DELETE FROM responses WHERE khash=? AND key=?");
        private readonly sqlite3_stmt _insert = Prepare(db, $"INSERT INTO responses(khash,{ResponseFields}) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        private readonly sqlite3_stmt _call = Prepare(db, """
            INSERT INTO calls(key,provider,model,endpoint,parameters,started_utc,latency_ms,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,cached,attempts,status,error,raw_text,finish_reason,simulated,role)
            VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
            """);

        public override bool TryApply(object item)
        {
            switch (item)
            {
                case StoredResponse r:
                {
                    var khash = KeyHash(r.Key);
                    Int(_delete, 1, khash); Text(_delete, 2, r.Key);
                    Step(db, _delete);
                    var st = _insert;
                    Int(st, 1, khash); Text(st, 2, r.Key); Text(st, 3, r.Provider); Text(st, 4, r.Model); Text(st, 5, r.ResponseModelId); Text(st, 6, r.Content);
                    Text(st, 7, r.FinishReason); Int(st, 8, r.PromptTokens); Int(st, 9, r.CompletionTokens); Int(st, 10, r.TokensEstimated ? 1 : 0);
                    raw.sqlite3_bind_double(st, 11, r.CostUsd); Int(st, 12, r.PriceKnown ? 1 : 0); Int(st, 13, r.Simulated ? 1 : 0);
                    Text(st, 14, r.CreatedUtc.ToString("O"));
                    Step(db, st);
                    return true;
                }
                case CallRecord c:
                {
                    var st = _call;
                    Text(st, 1, c.Key); Text(st, 2, c.Provider); Text(st, 3, c.Model); Text(st, 4, c.Endpoint); Text(st, 5, c.Parameters);
                    Text(st, 6, c.StartedUtc.ToString("O")); raw.sqlite3_bind_double(st, 7, c.LatencyMs); Int(st, 8, c.PromptTokens);
                    Int(st, 9, c.CompletionTokens); Int(st, 10, c.TokensEstimated ? 1 : 0); raw.sqlite3_bind_double(st, 11, c.CostUsd);
                    Int(st, 12, c.Cached ? 1 : 0); Int(st, 13, c.Attempts); Text(st, 14, c.Status); Text(st, 15, c.Error); Text(st, 16, c.RawText);
                    Text(st, 17, c.FinishReason); Int(st, 18, c.Simulated ? 1 : 0); Text(st, 19, c.Role);
                    Step(db, st);
                    return true;
                }
                default:
                    return false;
            }
        }

        public override void Committed(object item)
        {
            if (item is StoredResponse s) cache._pending.TryRemove(new KeyValuePair<string, StoredResponse>(s.Key, s));
        }

        public override void Dispose()
        {
            _delete.Dispose();
            _insert.Dispose();
            _call.Dispose();
            base.Dispose();
        }
    }
}
