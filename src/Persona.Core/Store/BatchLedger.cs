using Microsoft.Data.Sqlite;
using SQLitePCL;
using static Persona.Store.SqliteRaw;

namespace Persona.Store;

/// <summary>A request written to an OpenAI Batch file, so its result can be imported into the cache under its key.</summary>
public sealed record BatchRequestRow(string Key, string Role, string Provider, string Model, string File);

/// <summary>
/// The batch ledger: which requests were written to which OpenAI Batch (or vLLM run-batch) file
/// under which role, so a result file imported later lands in the cache under the right key and
/// a result for a request this run never exported is refused.
/// </summary>
public sealed class BatchLedger
{
    private readonly SqliteReaders _readers;
    private readonly SqliteWriter? _writer;

    internal BatchLedger(SqliteReaders readers, SqliteWriter? writer)
    {
        _readers = readers;
        _writer = writer;
    }

    internal static void CreateSchema(SqliteConnection c) => Exec(c, """
        CREATE TABLE IF NOT EXISTS batch_requests(
          key TEXT PRIMARY KEY, role TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, file TEXT NOT NULL) WITHOUT ROWID;
        """);

    /// <summary>Queues the record of an exported batch request.</summary>
    public void EnqueueBatchRequest(BatchRequestRow row)
        => (_writer ?? throw new InvalidOperationException("This run store was opened read-only.")).Enqueue(row);

    /// <summary>The exported request with this key (flush the store first).</summary>
    public bool TryGetBatchRequest(string key, out BatchRequestRow row)
    {
        using var c = _readers.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT role, provider, model, file FROM batch_requests WHERE key=$k";
        cmd.Parameters.AddWithValue("$k", key);
        using var r = cmd.ExecuteReader();
        if (!r.Read()) { row = null!; return false; }
        row = new BatchRequestRow(key, r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3));
        return true;
    }

    internal static long QueuedSize(object item) => item is BatchRequestRow br ? 2L * ((br.Key?.Length ?? 0) + (br.File?.Length ?? 0)) : 0;

    internal static SqliteWritePart Part(SqliteConnection c) => new WritePart(c.Handle!);

    private sealed class WritePart(sqlite3 db) : SqliteWritePart
    {
        private readonly sqlite3_stmt _insert = Prepare(db, "INSERT OR REPLACE INTO batch_requests(key,role,provider,model,file) VALUES(?,?,?,?,?)");

        public override bool TryApply(object item)
        {
            if (item is not BatchRequestRow br) return false;
            Text(_insert, 1, br.Key); Text(_insert, 2, br.Role); Text(_insert, 3, br.Provider); Text(_insert, 4, br.Model); Text(_insert, 5, br.File);
            Step(db, _insert);
            return true;
        }

        public override void Dispose()
        {
            _insert.Dispose();
            base.Dispose();
        }
    }
}
