using System.Text.Json;
using System.Text.Json.Nodes;

namespace Persona.Run;

/// <summary>
/// RUN/invocations.jsonl: one line per `persona run` (or `persona run merge`) that worked on the run
/// folder, oldest first — what that invocation did rather than what the run is: when it started and
/// ended, on which host, each stage's wall time, whether it reused the stage, what each role paid and
/// took from the cache, the endpoints and limits it ran with, and (for a merge) which shards it merged.
/// manifest.json keeps only what defines the run (options, roles, stage keys, status, outputs and
/// hashes), so two runs of the same options (one of them sharded and merged) write the same manifest
/// byte for byte, and a resumed run's history is kept instead of overwritten by each resume.
/// The file is bookkeeping, not an output: it is excluded from the run's hashes (like the store).
/// </summary>
public static class RunInvocations
{
    public const string FileName = "invocations.jsonl", Format = "persona-run-invocation/1";

    /// <summary>
    /// Outputs every run makes afresh, whatever its options: the study database (fresh secret rater
    /// keys, by design) and the survey's Every Eval Ever aggregate (it records when it was written).
    /// The manifest names them (<c>"outputs_fresh"</c>) without a hash; their hashes are this file's
    /// (<c>"fresh_outputs"</c>), and `persona verify` checks them against the newest.
    /// </summary>
    public static bool IsFresh(string rel) =>
        rel == "study/study.sqlite"
        || (rel.StartsWith("survey/every-eval-ever/", StringComparison.Ordinal) && rel.EndsWith(".json", StringComparison.Ordinal) && rel.IndexOf('/', "survey/every-eval-ever/".Length) < 0);

    /// <summary>Top-level keys of the runtime's manifest data that say what one invocation did (moved out of manifest.json).</summary>
    private static readonly string[] TopKeys = ["endpoints", "this_invocation", "store_totals"];

    /// <summary>Per-role keys that say where and how much one invocation called (the role's model and identity stay in the manifest).</summary>
    private static readonly string[] RoleKeys = ["endpoints", "concurrency", "paid_calls", "cache_hits", "failed_calls", "prompt_tokens", "completion_tokens", "estimated_cost_usd"];

    /// <summary>The runtime parameters that define the answers (the rest are this invocation's limits and speeds).</summary>
    private static readonly string[] DefiningParameters = ["offline_seed"];

    /// <summary>Stage keys that say what one invocation did with the stage.</summary>
    private static readonly string[] StageKeys = ["seconds", "reused", "spend"];

    /// <summary>
    /// Takes the per-invocation parts out of a whole-run manifest about to be written and returns them:
    /// endpoints, this invocation's and the store's totals, each role's usage, endpoints and concurrency,
    /// the limits, and each stage's time, reuse and spend; fresh outputs' hashes move too.
    /// </summary>
    public static JsonObject Split(JsonObject manifest)
    {
        var inv = new JsonObject();
        foreach (var k in TopKeys)
            if (manifest.Remove(k, out var v)) inv[k] = v;
        if (manifest["roles"] is JsonObject roles)
        {
            var moved = new JsonObject();
            foreach (var (name, role) in roles)
            {
                if (role is not JsonObject r) continue;
                var part = new JsonObject();
                foreach (var k in RoleKeys)
                    if (r.Remove(k, out var v)) part[k] = v;
                moved[name] = part;
            }
            inv["roles"] = moved;
        }
        if (manifest["parameters"] is JsonObject p)
        {
            var limits = new JsonObject();
            foreach (var (k, v) in p.ToList())
                if (!DefiningParameters.Contains(k)) { p.Remove(k); limits[k] = v; }
            inv["parameters"] = limits;
        }
        var fresh = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (manifest["stages"] is JsonObject stages)
        {
            var moved = new JsonObject();
            foreach (var (name, stage) in stages)
            {
                if (stage is not JsonObject s) continue;
                var part = new JsonObject { ["status"] = s["status"]?.DeepClone() };
                foreach (var k in StageKeys)
                    if (s.Remove(k, out var v)) part[k] = v;
                if (s["outputs"] is JsonObject outs)
                {
                    var names = new JsonArray();
                    foreach (var (rel, sha) in outs.ToList())
                        if (IsFresh(rel)) { outs.Remove(rel); names.Add(rel); fresh[rel] = sha!.GetValue<string>(); }
                    if (names.Count > 0) s["fresh_outputs"] = names;
                }
                moved[name] = part;
            }
            inv["stages"] = moved;
        }
        inv["fresh_outputs"] = new JsonObject(fresh.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        return inv;
    }

    /// <summary>Splits fresh outputs off a hash map (the manifest's "outputs"): the rest, and the fresh names.</summary>
    public static (SortedDictionary<string, string> Stable, IReadOnlyList<string> Fresh) SplitOutputs(IReadOnlyDictionary<string, string> outputs)
    {
        var stable = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var fresh = new List<string>();
        foreach (var (k, v) in outputs)
            if (IsFresh(k)) fresh.Add(k);
            else stable[k] = v;
        fresh.Sort(StringComparer.Ordinal);
        return (stable, fresh);
    }

    /// <summary>
    /// Writes this invocation's line: replaces the line of the same invocation id (the record is rewritten
    /// after every stage) or appends it, keeping every earlier line. Atomic: a kill leaves the old file or the new.
    /// </summary>
    public static async Task WriteAsync(string dir, JsonObject record, CancellationToken ct = default)
    {
        var path = Path.Combine(dir, FileName);
        var id = record["invocation"]?.GetValue<string>();
        var lines = File.Exists(path) ? (await File.ReadAllLinesAsync(path, ct).ConfigureAwait(false)).Where(l => l.Length > 0).ToList() : [];
        var own = record.ToJsonString(Line);
        var replaced = false;
        for (var i = 0; i < lines.Count; i++)
        {
            if (IdOf(lines[i]) != id) continue;
            lines[i] = own;
            replaced = true;
        }
        if (!replaced) lines.Add(own);
        var text = string.Join("\n", lines) + "\n";
        await AtomicFile.WriteAsync(path, (s, t) => s.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), t).AsTask(), CancellationToken.None).ConfigureAwait(false);
    }

    private static string? IdOf(string line)
    {
        try { return JsonNode.Parse(line)?["invocation"]?.GetValue<string>(); }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException) { return null; }
    }

    /// <summary>Every readable invocation record of a run folder, oldest first (none when the file is absent; a damaged line is skipped).</summary>
    public static IReadOnlyList<JsonObject> Read(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return [];
        var list = new List<JsonObject>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            try { if (JsonNode.Parse(line) is JsonObject o && o["format"]?.GetValue<string>() == Format) list.Add(o); }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException) { } // a torn or hand-edited line: the others still tell
        }
        return list;
    }

    /// <summary>The hashes of the fresh outputs as the newest invocation that recorded each wrote them.</summary>
    public static IReadOnlyDictionary<string, string> FreshHashes(string dir)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var rec in Read(dir))
            if (rec["fresh_outputs"] is JsonObject f)
                foreach (var (rel, sha) in f)
                    if (sha is JsonValue v && v.TryGetValue<string>(out var s)) map[rel] = s;
        return map;
    }

    /// <summary>The newest invocation's record (null when the folder has none).</summary>
    public static JsonObject? Last(string dir) => Read(dir) is { Count: > 0 } all ? all[^1] : null;

    /// <summary>
    /// Each stage's record in the newest invocation that made it (did not reuse it): its wall time and
    /// what each role paid there. A rerun that reuses every stage leaves these as they were.
    /// </summary>
    public static IReadOnlyDictionary<string, JsonObject> StageWork(string dir) => StageWork(Read(dir));

    /// <summary>As <see cref="StageWork(string)"/>, over records already read (the entries returned are theirs).</summary>
    public static IReadOnlyDictionary<string, JsonObject> StageWork(IReadOnlyList<JsonObject> records)
    {
        var map = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var rec in records)
            if (rec["stages"] is JsonObject stages)
                foreach (var (name, st) in stages)
                    if (st is JsonObject o && o["reused"] is JsonValue r && r.TryGetValue<bool>(out var reused) && !reused) map[name] = o;
        return map;
    }

    private static readonly JsonSerializerOptions Line = new(TestbedRun.Json) { WriteIndented = false };
}
