using System.Text.Json;
using Persona.Personas;

namespace Persona.Preferences;

/// <summary>
/// `persona pairs merge`: n shard folders of one run into one folder whose files are byte-identical
/// to an unsharded run's (rows concatenated in shard order, the Parquet file and the report rebuilt
/// from them the same way). Shards of different runs or settings, a missing or repeated shard, or
/// an unreadable one are errors, and nothing is written.
/// </summary>
public static class PairMerge
{
    public static async Task<PairReportData> MergeAsync(IReadOnlyList<string> shardDirs, string outDir, CancellationToken ct = default)
    {
        if (shardDirs.Count == 0) throw new PersonaException("pairs merge needs at least one shard folder.");
        var infos = new List<(string Dir, ShardInfo Info)>();
        foreach (var dir in shardDirs)
        {
            var file = Path.Combine(dir, PairBuilder.ShardFile);
            if (!File.Exists(file)) throw new PersonaException($"'{dir}' has no {PairBuilder.ShardFile}: it is not the output of a finished `persona pairs build`.");
            ShardInfo? info;
            try { info = JsonSerializer.Deserialize<ShardInfo>(File.ReadAllText(file), PairReport.Json); }
            catch (JsonException ex) { throw new PersonaException($"{file}: unreadable ({JsonErrorText.Describe(ex)})."); }
            if (info is null || info.Format != PairBuilder.ShardFormat) throw new PersonaException($"{file}: not a pairs shard description (format {PairBuilder.ShardFormat}).");
            if (!File.Exists(Path.Combine(dir, PairFileWriter.JsonlFile))) throw new PersonaException($"'{dir}' has no {PairFileWriter.JsonlFile}.");
            infos.Add((dir, info));
        }
        var first = infos[0].Info;
        foreach (var (dir, info) in infos)
        {
            if (info.Fingerprint != first.Fingerprint)
                throw new PersonaException($"'{dir}' is a shard of a different run or settings (fingerprint {info.Fingerprint}, expected {first.Fingerprint} as in '{infos[0].Dir}'): same personas, prompts, schedule, templates, models and --verify are required.");
            if (info.Count != first.Count) throw new PersonaException($"'{dir}' is shard {info.Index}/{info.Count}, but '{infos[0].Dir}' is one of {first.Count}.");
        }
        var indices = infos.Select(x => x.Info.Index).ToList();
        var dup = indices.GroupBy(i => i).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new PersonaException($"Shard {dup.Key}/{first.Count} is given twice.");
        var missing = Enumerable.Range(0, first.Count).Except(indices).ToList();
        if (missing.Count > 0) throw new PersonaException($"Missing shard(s) {string.Join(", ", missing.Select(m => $"{m}/{first.Count}"))}: a merge needs all {first.Count}.");
        foreach (var (dir, _) in infos)
            if (Path.GetFullPath(dir).TrimEnd('/') == Path.GetFullPath(outDir).TrimEnd('/'))
                throw new PersonaException($"--out '{outDir}' is one of the shards: merging would replace an input. Choose another folder.");

        var report = new PairReport();
        long rows = 0;
        await using (var writer = await PairFileWriter.CreateAsync(outDir, ct).ConfigureAwait(false))
        {
            foreach (var (dir, info) in infos.OrderBy(x => x.Info.Index))
            {
                long n = 0;
                foreach (var r in PairFileWriter.Read(Path.Combine(dir, PairFileWriter.JsonlFile)))
                {
                    await writer.WriteAsync(r, ct).ConfigureAwait(false);
                    report.Add(r);
                    n++;
                }
                if (n != info.Pairs) throw new PersonaException($"'{dir}': {PairFileWriter.JsonlFile} has {n} rows but {PairBuilder.ShardFile} says {info.Pairs}: the shard is incomplete or was changed.");
                rows += n;
            }
            await writer.CommitAsync(ct).ConfigureAwait(false);
        }
        var data = report.Build();
        await AtomicFile.WriteAsync(Path.Combine(outDir, PairBuilder.ReportFile), (s, t) => JsonSerializer.SerializeAsync(s, data, PairReport.Json, t), ct).ConfigureAwait(false);
        var merged = first with { Index = 0, Count = 1, Personas = infos.Sum(x => x.Info.Personas), Pairs = rows };
        await AtomicFile.WriteAsync(Path.Combine(outDir, PairBuilder.ShardFile), (s, t) => JsonSerializer.SerializeAsync(s, merged, PairReport.Json, t), ct).ConfigureAwait(false);
        return data;
    }
}
