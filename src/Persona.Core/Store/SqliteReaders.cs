using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Persona.Store;

/// <summary>
/// Pooled read connections for the lookups a run makes per call and per sample. Each connection
/// prepares a statement once, the first time a part asks for it, so the cache and the sample log
/// share connections without knowing each other's SQL. WAL lets them read beside the writer.
/// </summary>
internal sealed class SqliteReaders : IDisposable
{
    private readonly string _connectionString;
    private readonly ConcurrentBag<Reader> _idle = new();
    // Each reader maps the file; bounding them bounds memory (mapped pages count once per mapping)
    // and costs nothing, since lookups are synchronous and never outnumber the cores for long.
    private readonly SemaphoreSlim _slots = new(Math.Max(2, Environment.ProcessorCount));

    public SqliteReaders(string connectionString) => _connectionString = connectionString;

    /// <summary>An idle reader (or a new one); give it back with <see cref="Return"/>.</summary>
    public Reader Rent()
    {
        _slots.Wait();
        try
        {
            return _idle.TryTake(out var r) ? r : new Reader(_connectionString);
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    public void Return(Reader reader)
    {
        _idle.Add(reader);
        _slots.Release();
    }

    /// <summary>A fresh connection for a one-off query (streams and totals; not for hot paths).</summary>
    public SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    public void Dispose()
    {
        while (_idle.TryTake(out var r)) r.Dispose();
    }

    internal sealed class Reader : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly Dictionary<string, sqlite3_stmt> _statements = new(StringComparer.Ordinal);

        public Reader(string connectionString)
        {
            _connection = new SqliteConnection(connectionString);
            _connection.Open();
            // Lookups by a random content hash touch random pages: map the file instead of read()-ing them into a small private cache.
            using var pragma = _connection.CreateCommand();
            // 64 MB: mapped pages count in the process's resident memory; a 10^6-sample store must not look like a leak.
            pragma.CommandText = "PRAGMA mmap_size=67108864;";
            pragma.ExecuteNonQuery();
        }

        public sqlite3 Db => _connection.Handle!;

        /// <summary>The statement for <paramref name="sql"/>, prepared on first use; reset it after stepping.</summary>
        public sqlite3_stmt Statement(string sql)
        {
            if (!_statements.TryGetValue(sql, out var st)) _statements[sql] = st = SqliteRaw.Prepare(Db, sql);
            return st;
        }

        public void Dispose()
        {
            foreach (var st in _statements.Values) st.Dispose();
            _connection.Dispose();
        }
    }
}

/// <summary>
/// Positional binding over SQLite's C API: the hot statements (one lookup per call, one provenance
/// row per cached call) skip Microsoft.Data.Sqlite's per-execution parameter lookup and boxing.
/// </summary>
internal static class SqliteRaw
{
    public static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        var rc = raw.sqlite3_prepare_v2(db, sql, out var stmt);
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
        return stmt;
    }

    public static void Text(sqlite3_stmt st, int i, string? v)
    {
        if (v is null) raw.sqlite3_bind_null(st, i);
        else raw.sqlite3_bind_text(st, i, v);
    }

    public static void Int(sqlite3_stmt st, int i, long v) => raw.sqlite3_bind_int64(st, i, v);

    public static void Step(sqlite3 db, sqlite3_stmt st)
    {
        var rc = raw.sqlite3_step(st);
        raw.sqlite3_reset(st);
        if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, db);
    }

    /// <summary>Steps a lookup: true with a row to read (reset the statement after reading), false when none.</summary>
    public static bool StepRow(sqlite3 db, sqlite3_stmt st)
    {
        var rc = raw.sqlite3_step(st);
        if (rc == raw.SQLITE_DONE) return false;
        if (rc != raw.SQLITE_ROW) SqliteException.ThrowExceptionForRC(rc, db);
        return true;
    }

    public static string? ColumnText(sqlite3_stmt st, int i)
        => raw.sqlite3_column_type(st, i) == raw.SQLITE_NULL ? null : raw.sqlite3_column_text(st, i).utf8_to_string();

    public static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
