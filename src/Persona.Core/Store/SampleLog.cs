using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using static Persona.Store.SqliteRaw;

namespace Persona.Store;

/// <summary>One task sample as logged (its JSON is a <c>Persona.Engine.SampleRecord</c> without scores).</summary>
public sealed record SampleRow(string Task, string Id, long Seq, string Status, string Json);

/// <summary>One named score of one sample (its JSON is a <c>Persona.Engine.Score</c>).</summary>
public sealed record ScoreRow(string Task, string SampleId, string ScoreSet, string Json);

/// <summary>
/// The sample log: every task sample a run generated and every score given to it (tables
/// <c>samples</c> and <c>scores</c> of the run's store), so a run resumes sample by sample and any
/// log can be re-scored. A sample queued but not yet committed is visible to lookups.
/// </summary>
public sealed class SampleLog
{
    private const string SelectSample = "SELECT seq,status,record FROM samples WHERE task=? AND id=?";
    private readonly SqliteReaders _readers;
    private readonly SqliteWriter? _writer;
    private readonly ConcurrentDictionary<(string Task, string Id), SampleRow> _pending = new();

    internal SampleLog(SqliteReaders readers, SqliteWriter? writer)
    {
        _readers = readers;
        _writer = writer;
    }

    internal static void CreateSchema(SqliteConnection c) => Exec(c, """
        CREATE TABLE IF NOT EXISTS samples(
          task TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL,
          PRIMARY KEY(task, id)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS samples_seq ON samples(task, seq);
        CREATE TABLE IF NOT EXISTS scores(
          task TEXT NOT NULL, sample_id TEXT NOT NULL, score_set TEXT NOT NULL, record TEXT NOT NULL,
          PRIMARY KEY(task, sample_id, score_set)) WITHOUT ROWID;
        """);

    /// <summary>True when the file has this log's tables (how a read-only open tells a run store from another SQLite file).</summary>
    internal static bool Present(SqliteConnection c)
    {
        using var probe = c.CreateCommand();
        probe.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('samples', 'scores')";
        return Convert.ToInt64(probe.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 2;
    }

    /// <summary>Queues a task sample (insert or replace: a rerun that regenerates a failed sample overwrites it).</summary>
    public void EnqueueSample(SampleRow sample)
    {
        var writer = Writer();
        writer.ThrowIfFaulted();
        _pending[(sample.Task, sample.Id)] = sample;
        writer.Enqueue(sample);
    }

    /// <summary>Queues a score of a sample under a named score set (insert or replace).</summary>
    public void EnqueueScore(ScoreRow score) => Writer().Enqueue(score);

    private SqliteWriter Writer() => _writer ?? throw new InvalidOperationException("This run store was opened read-only.");

    /// <summary>A logged sample, seeing queued writes (pooled prepared reads: a run checks every sample before generating it).</summary>
    public bool TryGetSample(string task, string id, out SampleRow sample)
    {
        _writer?.ThrowIfFaulted();
        if (_pending.TryGetValue((task, id), out sample!)) return true;
        var reader = _readers.Rent();
        var st = reader.Statement(SelectSample);
        try
        {
            raw.sqlite3_bind_text(st, 1, task);
            raw.sqlite3_bind_text(st, 2, id);
            if (!StepRow(reader.Db, st)) { sample = null!; return false; }
            sample = new SampleRow(task, id, raw.sqlite3_column_int64(st, 0), ColumnText(st, 1)!, RecordCodec.Column(st, 2));
            return true;
        }
        finally
        {
            raw.sqlite3_reset(st);
            _readers.Return(reader);
        }
    }

    /// <summary>Every logged sample of a task in dataset order, streamed (flush the store first).</summary>
    public IEnumerable<SampleRow> ReadSamples(string task)
    {
        using var c = _readers.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, seq, status, record FROM samples WHERE task=$t ORDER BY seq, id";
        cmd.Parameters.AddWithValue("$t", task);
        using var r = cmd.ExecuteReader();
        while (r.Read()) yield return new SampleRow(task, r.GetString(0), r.GetInt64(1), r.GetString(2), RecordCodec.Read(r, 3));
    }

    /// <summary>Every score of a task (all score sets), streamed in sample then score-set order.</summary>
    public IEnumerable<ScoreRow> ReadScores(string task, string? scoreSet = null)
    {
        using var c = _readers.Open();
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
        using var c = _readers.Open();
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
        using var c = _readers.Open();
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
        using var c = _readers.Open();
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

    internal static long QueuedSize(object item) => item switch
    {
        SampleRow sr => 2L * (sr.Id.Length + sr.Json.Length),
        ScoreRow sc => 2L * (sc.SampleId.Length + sc.Json.Length),
        _ => 0,
    };

    /// <summary>The log's statements on the writer's connection.</summary>
    internal SqliteWritePart Part(SqliteConnection c) => new WritePart(this, c.Handle!);

    private sealed class WritePart(SampleLog log, sqlite3 db) : SqliteWritePart
    {
        private readonly sqlite3_stmt _sample = Prepare(db, "INSERT OR REPLACE INTO samples(task,id,seq,status,record) VALUES(?,?,?,?,?)");
        private readonly sqlite3_stmt _score = Prepare(db, "INSERT OR REPLACE INTO scores(task,sample_id,score_set,record) VALUES(?,?,?,?)");

        public override bool TryApply(object item)
        {
            switch (item)
            {
                case SampleRow sr:
                    Text(_sample, 1, sr.Task); Text(_sample, 2, sr.Id); Int(_sample, 3, sr.Seq); Text(_sample, 4, sr.Status); RecordCodec.Bind(_sample, 5, sr.Json);
                    Step(db, _sample);
                    return true;
                case ScoreRow sc:
                    Text(_score, 1, sc.Task); Text(_score, 2, sc.SampleId); Text(_score, 3, sc.ScoreSet); Text(_score, 4, sc.Json);
                    Step(db, _score);
                    return true;
                default:
                    return false;
            }
        }

        public override void Committed(object item)
        {
            if (item is SampleRow sr) log._pending.TryRemove(new KeyValuePair<(string, string), SampleRow>((sr.Task, sr.Id), sr));
        }

        public override void Dispose()
        {
            _sample.Dispose();
            _score.Dispose();
            base.Dispose();
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
