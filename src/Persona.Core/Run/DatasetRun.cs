using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Persona.Store;

namespace Persona.Run;

/// <summary>
/// The run given with --dataset: its dataset side (the stages that call a model but neither call the
/// model under test nor read what it wrote: population, prompts, pairs with their verification,
/// leave-one-out) is copied into the new run byte for byte, so a second model under test is benched
/// on exactly the same personas, questions and pairs, and no dataset call is paid. The stages that
/// call no model (study kit, dataset folder) are rebuilt from the copies; the bench family runs.
/// </summary>
public sealed class DatasetRun
{
    private readonly string _dir, _target, _manifestSha;
    private readonly IReadOnlyDictionary<string, StageRecord> _stages;
    private readonly JsonNode? _roles;

    private DatasetRun(string dir, string target, string manifestSha, IReadOnlyDictionary<string, StageRecord> stages, JsonNode? roles)
    {
        _dir = dir;
        _target = target;
        _manifestSha = manifestSha;
        _stages = stages;
        _roles = roles;
    }

    /// <summary>The stages a run with --dataset takes from that run.</summary>
    public static IReadOnlyList<string> Taken { get; } =
        [.. TestbedStages.Registry.Where(s => s.Roles.Count > 0 && TestbedStages.IsDatasetSide(s.Name)).Select(s => s.Name)];

    /// <summary>What the model-side stages read: a dataset run without them finished cannot serve.</summary>
    private static readonly IReadOnlyList<string> Required = [TestbedStages.Population, TestbedStages.Prompts, TestbedStages.Pairs];

    private IReadOnlyList<string> _taken = [];

    /// <summary>The stages this run takes: every one of <see cref="Taken"/> the dataset run finished (one it lacks, say a stage added since, runs here).</summary>
    public bool Takes(string stage) => _taken.Contains(stage);

    /// <summary>The SHA-256 of the dataset run's manifest as read when this run started.</summary>
    public string ManifestSha256 => _manifestSha;

    /// <summary>Checks the given run before anything is written: a finished testbed run whose dataset stages are intact.</summary>
    public static async Task<DatasetRun> OpenAsync(string run, string target, CancellationToken ct)
    {
        var dir = Path.GetFullPath(run);
        if (!Directory.Exists(dir)) throw new PersonaException($"--dataset '{run}' does not exist; give the --out folder of a finished `persona run`.");
        if (OutputPaths.Same(dir, target)) throw new PersonaException($"--dataset '{run}' is the --out folder itself; give the run whose dataset to reuse and a new --out for this model.");
        var manifest = Path.Combine(dir, TestbedRun.ManifestFile);
        if (!File.Exists(manifest)) throw new PersonaException($"--dataset '{run}' has no {TestbedRun.ManifestFile}: it is not a `persona run` folder.");
        var bytes = await File.ReadAllBytesAsync(manifest, ct).ConfigureAwait(false);
        JsonNode? node;
        try { node = JsonNode.Parse(bytes); }
        catch (System.Text.Json.JsonException) { node = null; }
        if (node?["format"] is not JsonValue format || !format.TryGetValue<string>(out var f) || f != TestbedRun.Format)
            throw new PersonaException($"--dataset '{run}': {TestbedRun.ManifestFile} is not a `persona run` manifest ({TestbedRun.Format}).");
        var stages = TestbedRun.ReadStages(dir);
        var taken = new List<string>();
        foreach (var stage in Taken)
        {
            if ((!stages.TryGetValue(stage, out var rec) || rec.Status != "completed" || rec.Outputs.Count == 0) && !Required.Contains(stage)) continue;
            taken.Add(stage);
            if (rec is null || rec.Status != "completed" || rec.Outputs.Count == 0)
                throw new PersonaException($"--dataset '{run}': its {stage} stage did not complete ({(rec is null ? "not run" : rec.Status)}). Finish that run first (run the same `persona run --out {run}` again).");
            foreach (var (rel, sha) in rec.Outputs)
            {
                var file = Path.Combine(dir, rel);
                if (!File.Exists(file) || await RunHashes.FileAsync(file, ct).ConfigureAwait(false) != sha)
                    throw new PersonaException($"--dataset '{run}': {rel} is missing or changed since that run wrote it; `persona verify {run}` shows what differs.");
            }
        }
        return new DatasetRun(dir, target, Convert.ToHexStringLower(SHA256.HashData(bytes)), stages, node["roles"]?.DeepClone()) { _taken = taken };
    }

    /// <summary>Copies a dataset stage's files into the new run (atomically, skipping files already identical) and returns its record, marked as taken from the dataset.</summary>
    public async Task<StageRecord> ImportAsync(string stage, CancellationToken ct)
    {
        var rec = _stages[stage];
        foreach (var (rel, sha) in rec.Outputs)
        {
            var src = Path.Combine(_dir, rel);
            var dst = Path.Combine(_target, rel);
            if (File.Exists(dst) && await RunHashes.FileAsync(dst, ct).ConfigureAwait(false) == sha) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
            // Hashed while copied: a dataset run rewritten since it was checked is refused, never recorded with its old hash.
            await AtomicFile.WriteAsync(dst, async (s, t) =>
            {
                using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
                await using var f = File.OpenRead(src);
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await f.ReadAsync(buffer, t).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    await s.WriteAsync(buffer.AsMemory(0, n), t).ConfigureAwait(false);
                }
                if (Convert.ToHexStringLower(hash.GetHashAndReset()) != sha)
                    throw new PersonaException($"--dataset '{_dir}': {rel} changed while it was being copied; let that run finish, then run this again.");
            }, ct).ConfigureAwait(false);
        }
        return rec with { Reused = true, From = _dir, Spend = new Dictionary<string, RoleSpend>(), Seconds = 0 };
    }

    /// <summary>What the manifest says about the dataset: which run, its manifest's hash, the stages taken and the roles that made them.</summary>
    public Dictionary<string, object?> ManifestEntry() => new()
    {
        ["run"] = _dir,
        ["manifest_sha256"] = _manifestSha,
        ["stages"] = _taken,
        ["roles"] = _roles?.DeepClone(),
    };
}
