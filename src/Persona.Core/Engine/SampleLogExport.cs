using System.Text.Json;
using Parquet;
using Parquet.Schema;
using Persona.Personas;
using Persona.Store;

namespace Persona.Engine;

/// <summary>
/// Exports a task's sample log (samples with every score set) as JSONL and Parquet, streamed from
/// the run store: memory stays flat whatever the number of samples. Both files are atomic.
/// </summary>
public static class SampleLogExport
{
    private const int RowGroup = 50_000;

    /// <summary>One JSON object per sample, in dataset order, scores attached.</summary>
    public static async Task<long> WriteJsonlAsync(RunStore store, string task, string path, CancellationToken ct = default)
    {
        await store.FlushAsync().ConfigureAwait(false);
        long n = 0;
        await AtomicFile.WriteAsync(path, async (stream, token) =>
        {
            await using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
            foreach (var record in Read(store, task))
            {
                if ((++n & 1023) == 0) token.ThrowIfCancellationRequested();
                await w.WriteAsync(record.ToJson()).ConfigureAwait(false);
                await w.WriteAsync('\n').ConfigureAwait(false);
            }
        }, ct).ConfigureAwait(false);
        return n;
    }

    /// <summary>
    /// Flat columns for analysis (id, seq, status, each input id, output, simulated, one
    /// <c>score:NAME</c> column per score set) plus the nested parts as JSON text (data, turns, failure, scores).
    /// </summary>
    public static async Task<long> WriteParquetAsync(RunStore store, string task, string path, CancellationToken ct = default)
    {
        await store.FlushAsync().ConfigureAwait(false);
        var tasks = store.Samples.ListTasks().FirstOrDefault(t => t.Task == task);
        var scoreSets = tasks.ScoreSets ?? [];
        var inputKeys = Read(store, task).Take(1).SelectMany(r => r.Inputs.Keys).ToArray();
        var fields = new List<DataField>
        {
            new DataField<string>("id"), new DataField<long>("seq"), new DataField<string>("status"),
        };
        fields.AddRange(inputKeys.Select(k => new DataField<string>("input:" + k, true)));
        fields.Add(new DataField<string>("output", true));
        fields.Add(new DataField<bool>("simulated"));
        fields.AddRange(scoreSets.Select(s => new DataField<double?>("score:" + s)));
        fields.Add(new DataField<string>("data", true));
        fields.Add(new DataField<string>("turns"));
        fields.Add(new DataField<string>("failure", true));
        fields.Add(new DataField<string>("scores"));
        var schema = new ParquetSchema(fields.ToArray<Field>());
        long n = 0;
        await AtomicFile.WriteAsync(path, async (stream, token) =>
        {
            await using var writer = await ParquetWriter.CreateAsync(schema, stream, ParquetDefaults.Options(), cancellationToken: token);
            var batch = new List<SampleRecord>(RowGroup);
            async Task Flush()
            {
                using var rg = writer.CreateRowGroup();
                var f = 0;
                await rg.WriteAsync(fields[f++], batch.Select(r => r.Id).ToArray());
                await rg.WriteAsync<long>(fields[f++], batch.Select(r => r.Seq).ToArray(), null, null, token);
                await rg.WriteAsync(fields[f++], batch.Select(r => r.Status).ToArray());
                foreach (var k in inputKeys) await rg.WriteAsync(fields[f++], batch.Select(r => r.Input(k)).ToArray());
                await rg.WriteAsync(fields[f++], batch.Select(r => r.Output).ToArray());
                await rg.WriteAsync<bool>(fields[f++], batch.Select(r => r.Simulated).ToArray(), null, null, token);
                foreach (var s in scoreSets)
                    await rg.WriteAsync<double>(fields[f++], batch.Select(r => r.Scores is { } sc && sc.TryGetValue(s, out var v) ? v.Value : null).ToArray(), null, null, token);
                await rg.WriteAsync(fields[f++], batch.Select(r => r.Data is { } d ? d.GetRawText() : null).ToArray());
                await rg.WriteAsync(fields[f++], batch.Select(r => JsonSerializer.Serialize(r.Turns, SampleRecord.Json)).ToArray());
                await rg.WriteAsync(fields[f++], batch.Select(r => r.Failure is null ? null : JsonSerializer.Serialize(r.Failure, SampleRecord.Json)).ToArray());
                await rg.WriteAsync(fields[f++], batch.Select(r => JsonSerializer.Serialize(r.Scores ?? new Dictionary<string, Score>(), SampleRecord.Json)).ToArray());
                batch.Clear();
            }
            foreach (var record in Read(store, task))
            {
                batch.Add(record);
                n++;
                if (batch.Count == RowGroup) { token.ThrowIfCancellationRequested(); await Flush(); }
            }
            if (batch.Count > 0 || n == 0) await Flush();
        }, ct).ConfigureAwait(false);
        return n;
    }

    /// <summary>The logged samples of a task with their score sets, in dataset order.</summary>
    public static IEnumerable<SampleRecord> Read(RunStore store, string task)
    {
        foreach (var (row, scores) in store.Samples.ReadSamplesWithScores(task))
        {
            var record = SampleRecord.FromJson(row.Json);
            yield return record with
            {
                Scores = scores.ToDictionary(s => s.ScoreSet, s => JsonSerializer.Deserialize<Score>(s.Json, SampleRecord.Json)!, StringComparer.Ordinal),
            };
        }
    }
}
