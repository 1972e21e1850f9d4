using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Preferences;
using Persona.Prompts;
using Persona.Store;

namespace Persona.Run;

/// <summary>
/// One shard's share of a testbed run: the personas it owns (a contiguous slice of the population,
/// as `pairs build --shard` takes) and the filter its stages put on their items.
/// </summary>
public sealed record TestbedShard(Shard Shard, IReadOnlySet<string> Personas)
{
    /// <summary>The shard's personas: [i*N/n, (i+1)*N/n) of the population file's order, the slice `pairs build --shard i/n` builds.</summary>
    public static async Task<TestbedShard> ForAsync(Shard shard, string populationDir, CancellationToken ct)
    {
        var all = await PersonaInputs.LoadAsync(populationDir, ct).ConfigureAwait(false);
        var (start, end) = shard.Range(all.Count);
        return new TestbedShard(shard, all.Skip(start).Take(end - start).Select(p => p.Id).ToHashSet(StringComparer.Ordinal));
    }

    public bool Owns(string personaId) => Personas.Contains(personaId);

    /// <summary>
    /// Whether this shard makes an item: the owner of its persona does; an item of no persona (the
    /// survey's unsteered questions) is made by shard 0, so it is paid once, not once per shard.
    /// </summary>
    public bool Makes(IReadOnlyDictionary<string, string> inputs) =>
        inputs.TryGetValue("persona_id", out var id) && id.Length > 0 ? Owns(id) : Shard.Index == 0;

    /// <summary>The task with only this shard's items; each item is unchanged, so its sample id and calls are the unsharded run's.</summary>
    public EvalTask<T> Filter<T>(EvalTask<T> task) => task with { Dataset = Where(task.Dataset, i => Makes(task.Inputs(i))) };

    private static async IAsyncEnumerable<T> Where<T>(IAsyncEnumerable<T> source, Func<T, bool> keep)
    {
        await foreach (var x in source.ConfigureAwait(false))
            if (keep(x)) yield return x;
    }
}

/// <summary>How a stage is split over the shards of a run.</summary>
public enum StageSharding
{
    /// <summary>Made once, before the shards (`persona run --shared-only`): its calls cannot be split (the population's draws replace rejected personas in order; the prompts are every persona's).</summary>
    Shared,
    /// <summary>Each shard makes the items of its own personas; the merge makes the stage's files from all of them.</summary>
    PerPersona,
    /// <summary>No model call: made once, by the merge, from the other stages' outputs.</summary>
    Aggregate,
}

/// <summary>
/// `persona run` across machines: a first step makes the stages every shard shares (population,
/// prompts) once; each shard (`--shard i/n`, or Slurm's / Kubernetes' index) makes the per-persona
/// stages' calls for its slice of the personas into its own store; `persona run merge` puts every
/// answer into one store and runs the whole testbed on it with no call allowed, so the run folder
/// it writes is, file for file, what one unsharded run of the same options writes (the same code
/// on the same answers), and a shard missing, repeated, of other options or changed is refused.
/// </summary>
public static class TestbedShards
{
    public const string SharedFile = "shared.json", ShardFile = "shard.json";
    public const string SharedFormat = "persona-run-shared/1", ShardFormat = "persona-run-shard/1";

    /// <summary>How each stage of the registry is split; a stage missing here is refused by <see cref="Sharding"/> (and a test), so a new stage must say.</summary>
    private static readonly IReadOnlyDictionary<string, StageSharding> Kinds = new Dictionary<string, StageSharding>(StringComparer.Ordinal)
    {
        [TestbedStages.Population] = StageSharding.Shared,
        [TestbedStages.Prompts] = StageSharding.Shared,
        [TestbedStages.Survey] = StageSharding.PerPersona,
        [TestbedStages.Pairs] = StageSharding.PerPersona,
        [TestbedStages.Bench] = StageSharding.PerPersona,
        [TestbedStages.Loo] = StageSharding.PerPersona,
        [TestbedStages.PassK] = StageSharding.PerPersona,
        [TestbedStages.Summaries] = StageSharding.PerPersona,
        [TestbedStages.Rm] = StageSharding.PerPersona, // a shard makes its personas' judge calls; the merge fits the reward models on every shard's pairs
        [TestbedStages.Study] = StageSharding.Aggregate,
        [TestbedStages.Dataset] = StageSharding.Aggregate,
        [TestbedStages.Report] = StageSharding.Aggregate,
    };

    public static StageSharding Sharding(string stage) =>
        Kinds.TryGetValue(stage, out var k) ? k : throw new InvalidOperationException($"Stage '{stage}' does not say how it is sharded (TestbedShards.Kinds).");

    /// <summary>The stages of a kind, in registry order.</summary>
    public static IReadOnlyList<string> Stages(StageSharding kind) => [.. TestbedStages.All.Where(s => Sharding(s) == kind)];

    /// <summary>Everything the shards and the merge must agree on, as recorded by the first step.</summary>
    public sealed record Spec(JsonObject Testbed, JsonObject Runtime, IReadOnlyDictionary<string, string> Roles, IReadOnlyList<RunInput> Inputs);

    public sealed record SharedRecord(string Format, string Fingerprint, Spec Spec, IReadOnlyDictionary<string, string> Outputs, bool Simulated);

    public sealed record ShardRecord(string Format, string Fingerprint, int Index, int Count, int Personas, string Status,
        long Answers, string AnswersSha256, IReadOnlyDictionary<string, JsonElement> Stages, bool Simulated);

    /// <summary>The shared step and the shards run no report stage (the merge does).</summary>
    private static readonly RunReportWriter NoReport = (_, _) => throw new InvalidOperationException("a shard or the shared step writes no report; the merge does");

    /// <summary>What the first step, each shard and the merge print.</summary>
    public sealed record Outcome(string Directory, bool Simulated, IReadOnlyDictionary<string, RoleSpend> Spend);

    private static Spec MakeSpec(TestbedOptions o, LlmRuntimeOptions ro, LlmRuntime rt, IReadOnlyList<RunInput> inputs)
    {
        var testbed = JsonSerializer.SerializeToNode(o with { OutputDirectory = "", From = null }, TestbedRun.Json)!.AsObject();
        var roles = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var r in TestbedRoles.All) roles[r] = rt.Role(r).Identity.Identity;
        // What the merge opens its runtime with: the models and the settings the manifest records. A
        // shard's own base URLs and concurrency may differ (one server per node): they change no answer.
        var runtime = new JsonObject
        {
            ["model"] = ro.Model,
            ["base_urls"] = new JsonArray([.. (ro.BaseUrls ?? []).Select(u => (JsonNode?)SecretScrubber.Scrub(u))]),
            ["roles"] = new JsonObject(ro.Roles.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonObject
            {
                ["model"] = kv.Value.Model,
                ["base_urls"] = kv.Value.BaseUrls is null ? null : new JsonArray([.. kv.Value.BaseUrls.Select(u => (JsonNode?)SecretScrubber.Scrub(u))]),
                ["concurrency"] = kv.Value.Concurrency,
            }))),
            ["offline_seed"] = ro.OfflineSeed,
            ["world"] = ro.WorldPath,
            ["max_failure_rate"] = ro.MaxFailureRate,
            ["concurrency"] = ro.Resilience.Concurrency,
            ["timeout_s"] = ro.Resilience.Timeout.TotalSeconds,
            ["max_attempts"] = ro.Resilience.MaxAttempts,
        };
        // Inputs are keyed by content: the run folder each was copied beside does not matter.
        return new Spec(testbed, runtime, roles, inputs);
    }

    /// <summary>The key shards must share: options, role identities, world and input files (not base URLs, concurrency or folders).</summary>
    private static string FingerprintOf(Spec s, IReadOnlyDictionary<string, string>? sharedOutputs)
    {
        var sb = new StringBuilder(SharedFormat).Append('\n');
        sb.Append(s.Testbed.ToJsonString()).Append('\n');
        foreach (var (k, v) in s.Roles) sb.Append(k).Append('=').Append(v).Append('\n');
        sb.Append("offline_seed=").Append(s.Runtime["offline_seed"]?.ToJsonString()).Append('\n');
        foreach (var i in s.Inputs) sb.Append(i.Name).Append('=').Append(i.Sha256).Append('\n');
        foreach (var (k, v) in sharedOutputs ?? new Dictionary<string, string>()) sb.Append(k).Append('=').Append(v).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..32];
    }

    private static void Refuse(TestbedOptions o)
    {
        if (o.Dataset is not null) throw new PersonaException("A sharded run cannot take --dataset: run the sharded run without it, or run --dataset unsharded (it makes no dataset-side call).");
        if (o.From is not null) throw new PersonaException("--from has no meaning in a sharded run: a rerun of a shard pays nothing twice and remakes only what is missing.");
    }

    /// <summary>`persona run --shared-only --out DIR`: the shared stages, once, and shared.json for the shards.</summary>
    public static async Task<Outcome> PrepareAsync(TestbedOptions o, LlmRuntimeOptions ro, LlmRuntime rt, Func<ITextEmbedder> embedder,
        IProgress<TestbedProgress>? progress = null, CancellationToken ct = default, CancellationToken abort = default)
    {
        Refuse(o);
        o.Validate();
        var dir = Path.GetFullPath(o.OutputDirectory);
        Directory.CreateDirectory(dir);
        var inputs = await TestbedRun.InputsAsync(o, rt, dir, ct).ConfigureAwait(false);
        var before = Usage(rt);
        var stages = Stages(StageSharding.Shared);
        var outputs = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var k = 0; k < stages.Count; k++)
        {
            var stage = stages[k];
            var ctx = new StageContext(o with { OutputDirectory = dir }, dir, rt, embedder, NoReport, (step, done, total) => progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, step, done, total)), ct, abort);
            // Rerun after a kill: every answer made before is in the store, so this pays nothing twice.
            await TestbedStageRunner.RunAsync(stage, ctx).ConfigureAwait(false);
            foreach (var (rel, sha) in await TestbedRun.StageOutputsAsync(dir, stage, ct).ConfigureAwait(false)) outputs[rel] = sha;
            progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, "done", 1, 1));
        }
        // The per-persona stages' persona-free calls, paid here once instead of once by every shard that meets the prompt.
        var last = stages[^1];
        var shared = await TestbedSharedCalls.RequestsAsync(new StageContext(o with { OutputDirectory = dir }, dir, rt, embedder, NoReport, (_, _, _) => { }, ct, abort)).ConfigureAwait(false);
        progress?.Report(new TestbedProgress(stages.Count, stages.Count, last, "persona-free calls", 0, shared.Count));
        await LlmRequest.SendAsync(shared, rt, rt.Role(TestbedRoles.Writer).Concurrency, ct).ConfigureAwait(false);
        progress?.Report(new TestbedProgress(stages.Count, stages.Count, last, "persona-free calls", shared.Count, shared.Count));
        var spec = MakeSpec(o, ro, rt, inputs);
        var record = new SharedRecord(SharedFormat, FingerprintOf(spec, outputs), spec, outputs, rt.Simulated);
        await rt.Store.FlushAsync().ConfigureAwait(false);
        AtomicFile.WriteAllText(Path.Combine(dir, SharedFile), JsonSerializer.Serialize(record, Indented) + "\n");
        return new Outcome(dir, rt.Simulated, Diff(before, Usage(rt)));
    }

    /// <summary>
    /// Reads and checks the first step's folder: its record, and every output it lists unchanged
    /// (a shard on changed personas would make answers no merge can use).
    /// </summary>
    public static async Task<SharedRecord> ReadSharedAsync(string sharedDir, CancellationToken ct = default)
    {
        var file = Path.Combine(sharedDir, SharedFile);
        if (!File.Exists(file))
            throw new PersonaException($"--shared '{sharedDir}' has no {SharedFile}: it is not the folder of a finished `persona run --shared-only` (run that first, once, with the same options).");
        var record = ReadJson<SharedRecord>(file, SharedFormat, "a shared-stages record");
        foreach (var (rel, sha) in record.Outputs)
        {
            var path = Path.Combine(sharedDir, rel);
            if (!File.Exists(path) || await RunHashes.FileAsync(path, ct).ConfigureAwait(false) != sha)
                throw new PersonaException($"--shared '{sharedDir}': {rel} is missing or changed since `persona run --shared-only` wrote it; rerun that step.");
        }
        return record;
    }

    /// <summary>
    /// A shard's folder before its runtime opens: the shared stages' files and answers copied in
    /// (the stages read them from the run folder; the merge then needs the shards only).
    /// </summary>
    public static async Task<SharedRecord> StartShardAsync(TestbedOptions o, Shard shard, string sharedDir, CancellationToken ct = default)
    {
        Refuse(o);
        o.Validate();
        var dir = Path.GetFullPath(o.OutputDirectory);
        var shared = await ReadSharedAsync(sharedDir, ct).ConfigureAwait(false);
        if (Path.GetFullPath(sharedDir).TrimEnd('/') == dir.TrimEnd('/'))
            throw new PersonaException($"--out '{o.OutputDirectory}' is the --shared folder: a shard writes a folder of its own (e.g. shard-$SLURM_ARRAY_TASK_ID).");
        Directory.CreateDirectory(dir);
        var prior = File.Exists(Path.Combine(dir, ShardFile)) ? ReadJson<ShardRecord>(Path.Combine(dir, ShardFile), ShardFormat, "a shard record") : null;
        if (prior is not null && (prior.Index != shard.Index || prior.Count != shard.Count))
            throw new PersonaException($"'{dir}' holds shard {prior.Index}/{prior.Count}, not {shard.Index}/{shard.Count}: give each shard its own --out.");
        foreach (var rel in shared.Outputs.Keys)
        {
            var to = Path.Combine(dir, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            if (!File.Exists(to) || await RunHashes.FileAsync(to, ct).ConfigureAwait(false) != shared.Outputs[rel])
                await AtomicFile.WriteAsync(to, async (s, t) => { await using var from = File.OpenRead(Path.Combine(sharedDir, rel)); await from.CopyToAsync(s, t).ConfigureAwait(false); }, ct).ConfigureAwait(false);
        }
        AtomicFile.WriteAllText(Path.Combine(dir, SharedFile), File.ReadAllText(Path.Combine(sharedDir, SharedFile)));
        var storePath = Path.Combine(dir, "store.sqlite");
        await using (RunStore.Open(storePath)) { }
        ImportAnswers(storePath, Path.Combine(sharedDir, "store.sqlite"));
        return shared;
    }

    /// <summary>`persona run --shard i/n --shared DIR --out SHARD_DIR`: the per-persona stages' calls for this shard's personas (after <see cref="StartShardAsync"/>, on a runtime over SHARD_DIR).</summary>
    public static async Task<Outcome> RunShardAsync(TestbedOptions o, LlmRuntimeOptions ro, Shard shard, SharedRecord shared, string sharedDir, LlmRuntime rt,
        Func<ITextEmbedder> embedder, IProgress<TestbedProgress>? progress = null, CancellationToken ct = default, CancellationToken abort = default)
    {
        var dir = Path.GetFullPath(o.OutputDirectory);
        var storePath = Path.Combine(dir, "store.sqlite");
        var inputs = await TestbedRun.InputsAsync(o, rt, dir, ct).ConfigureAwait(false);
        var spec = MakeSpec(o, ro, rt, inputs);
        var fingerprint = FingerprintOf(spec, shared.Outputs);
        if (fingerprint != shared.Fingerprint)
            throw new PersonaException($"--shared '{sharedDir}' was made with other options, models, world or input files than this shard ({Differences(shared.Spec, spec)}): " +
                "give every shard the options the shared step was run with.");
        var part = await TestbedShard.ForAsync(shard, Path.Combine(dir, TestbedStages.Folder(TestbedStages.Population)), ct).ConfigureAwait(false);
        var before = Usage(rt);
        var stages = Stages(StageSharding.PerPersona);
        var counts = new SortedDictionary<string, JsonElement>(StringComparer.Ordinal);
        async Task Write(string status)
        {
            await rt.Store.FlushAsync().ConfigureAwait(false);
            var (answers, sha) = status == "completed" ? AnswersDigest(storePath) : (0, "");
            var record = new ShardRecord(ShardFormat, fingerprint, shard.Index, shard.Count, part.Personas.Count, status, answers, sha, counts, rt.Simulated);
            AtomicFile.WriteAllText(Path.Combine(dir, ShardFile), JsonSerializer.Serialize(record, Indented) + "\n");
        }
        await Write("running").ConfigureAwait(false);
        for (var k = 0; k < stages.Count; k++)
        {
            var stage = stages[k];
            var ctx = new StageContext(o with { OutputDirectory = dir }, dir, rt, embedder, NoReport,
                (step, done, total) => progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, step, done, total)), ct, abort) { Shard = part };
            counts[stage] = (await TestbedStageRunner.RunAsync(stage, ctx).ConfigureAwait(false)).ToJson();
            // The record says which stages are done (their answers flushed), for whoever watches a long shard.
            await Write("running").ConfigureAwait(false);
            progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, "done", 1, 1));
        }
        await Write("completed").ConfigureAwait(false);
        return new Outcome(dir, rt.Simulated, Diff(before, Usage(rt)));
    }

    /// <summary>
    /// `persona run merge SHARD... --out RUN`: checks the shards (all there, once each, one run's,
    /// unchanged), puts their answers into RUN's store and runs the whole testbed on it with no call
    /// allowed: the run's files are the unsharded run's.
    /// </summary>
    /// <returns>The run's options and runtime, and what the merge's line of invocations.jsonl says it merged.</returns>
    public static async Task<(TestbedOptions Options, LlmRuntimeOptions Runtime, JsonObject Invocation)> StartMergeAsync(IReadOnlyList<string> shardDirs, string outDir, CancellationToken ct = default)
    {
        if (shardDirs.Count == 0) throw new PersonaException("persona run merge needs the folders of every shard.");
        var infos = new List<(string Dir, ShardRecord Record)>();
        foreach (var dir in shardDirs)
        {
            var file = Path.Combine(dir, ShardFile);
            if (!File.Exists(file)) throw new PersonaException($"'{dir}' has no {ShardFile}: it is not the folder of a `persona run --shard`.");
            var r = ReadJson<ShardRecord>(file, ShardFormat, "a run shard record");
            if (r.Status != "completed") throw new PersonaException($"'{dir}' is shard {r.Index}/{r.Count}, which has not finished (status {r.Status}): rerun it with the same command (it pays nothing twice), then merge.");
            infos.Add((dir, r));
        }
        var first = infos[0];
        foreach (var (dir, r) in infos)
        {
            if (r.Fingerprint != first.Record.Fingerprint)
                throw new PersonaException($"'{dir}' is a shard of another run (options, models, seed, world or shared step; fingerprint {r.Fingerprint}, not {first.Record.Fingerprint} as '{first.Dir}'): every shard must come from one --shared folder and one set of options.");
            if (r.Count != first.Record.Count) throw new PersonaException($"'{dir}' is shard {r.Index}/{r.Count}, but '{first.Dir}' is one of {first.Record.Count}.");
        }
        var dup = infos.GroupBy(x => x.Record.Index).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new PersonaException($"Shard {dup.Key}/{first.Record.Count} is given twice: {string.Join(", ", dup.Select(x => $"'{x.Dir}'"))}.");
        var missing = Enumerable.Range(0, first.Record.Count).Except(infos.Select(x => x.Record.Index)).ToList();
        if (missing.Count > 0) throw new PersonaException($"Missing shard(s) {string.Join(", ", missing.Select(m => $"{m}/{first.Record.Count}"))}: a merge needs all {first.Record.Count}.");
        var full = Path.GetFullPath(outDir).TrimEnd('/');
        foreach (var (dir, r) in infos)
        {
            var d = Path.GetFullPath(dir).TrimEnd('/');
            if (d == full || full.StartsWith(d + "/", StringComparison.Ordinal) || d.StartsWith(full + "/", StringComparison.Ordinal))
                throw new PersonaException($"--out '{outDir}' and shard '{dir}' lie inside one another: the merge would write into an input. Choose another folder.");
            var (n, sha) = AnswersDigest(Path.Combine(dir, "store.sqlite"));
            if (n != r.Answers || sha != r.AnswersSha256)
                throw new PersonaException($"'{dir}' (shard {r.Index}/{r.Count}) changed after it finished: its store holds {n:N0} answers (digest {sha[..Math.Min(12, sha.Length)]}), its {ShardFile} says {r.Answers:N0} ({r.AnswersSha256[..Math.Min(12, r.AnswersSha256.Length)]}). Rerun the shard.");
        }
        // The options and runtime every shard was made with, from the shared step's record each shard copied.
        var shared = ReadJson<SharedRecord>(Path.Combine(first.Dir, SharedFile), SharedFormat, "a shared-stages record");
        if (shared.Fingerprint is null) throw new PersonaException($"'{first.Dir}/{SharedFile}' is damaged.");
        var options = shared.Spec.Testbed.Deserialize<TestbedOptions>(TestbedRun.Json) ?? throw new PersonaException($"'{first.Dir}/{SharedFile}': no options.");
        options = options with { OutputDirectory = full };
        if (JsonSerializer.SerializeToNode(options with { OutputDirectory = "" }, TestbedRun.Json)!.ToJsonString() != shared.Spec.Testbed.ToJsonString())
            throw new PersonaException($"'{first.Dir}/{SharedFile}': its options do not read back as written (made by another version of persona?).");

        OutputPaths.EnsureFolderTarget(full, "--out");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            // Only a merge of this very run may be resumed in place; any other folder's files would be mixed with the run's.
            JsonNode? recorded = null;
            try { recorded = File.Exists(Path.Combine(full, TestbedRun.ManifestFile)) ? JsonNode.Parse(File.ReadAllText(Path.Combine(full, TestbedRun.ManifestFile)))?["testbed"] : null; }
            catch (JsonException) { }
            if (recorded?.ToJsonString() != shared.Spec.Testbed.ToJsonString())
                throw new PersonaException($"--out '{outDir}' is a folder with other files (not an earlier merge of these shards): the merge writes a whole run folder; give a new or empty folder.");
        }
        Directory.CreateDirectory(full);
        var store = Path.Combine(full, "store.sqlite");
        await using (RunStore.Open(store)) { }
        foreach (var (dir, _) in infos.OrderBy(x => x.Record.Index))
        {
            ct.ThrowIfCancellationRequested();
            ImportAnswers(store, Path.Combine(dir, "store.sqlite"));
        }
        // The merged manifest is the unsharded run's, byte for byte; that this folder was merged, and from which shards, is said here.
        var invocation = new JsonObject
        {
            ["kind"] = "merge",
            ["shards"] = new JsonArray([.. infos.OrderBy(x => x.Record.Index).Select(x => (JsonNode?)new JsonObject
            {
                ["index"] = x.Record.Index, ["count"] = x.Record.Count, ["dir"] = Path.GetFullPath(x.Dir), ["personas"] = x.Record.Personas,
                ["answers"] = x.Record.Answers, ["answers_sha256"] = x.Record.AnswersSha256, ["fingerprint"] = x.Record.Fingerprint,
            })]),
        };
        // No call may be made (--max-calls 0): every answer is one a shard (or the shared step) paid for.
        return (options, RuntimeOf(shared.Spec.Runtime, full), invocation);
    }

    /// <summary>The merge's run: the whole testbed on the shards' answers; a call it would have to make stops it (nothing is sent) and is an error.</summary>
    public static async Task<TestbedResult> MergeAsync(TestbedOptions options, LlmRuntime rt, Func<ITextEmbedder> embedder, RunReportWriter report,
        IProgress<TestbedProgress>? progress = null, CancellationToken ct = default, CancellationToken abort = default, JsonObject? invocation = null)
    {
        try
        {
            return await TestbedRun.RunAsync(options, rt, embedder, report, progress, ct, abort, invocation ?? new JsonObject { ["kind"] = "merge" }).ConfigureAwait(false);
        }
        catch (RunStoppedException)
        {
            throw new PersonaException("The shards do not hold every answer the run needs (a call was about to be made; nothing was sent). " +
                "Were they all made by this version of persona, from one --shared folder? Rerun the shards, then merge again.");
        }
    }

    private static LlmRuntimeOptions RuntimeOf(JsonObject r, string dir)
    {
        IReadOnlyList<string>? Urls(JsonNode? n) => n is JsonArray a && a.Count > 0 ? [.. a.Select(x => x!.GetValue<string>())] : null;
        var roles = new Dictionary<string, RoleOptions>(StringComparer.Ordinal);
        if (r["roles"] is JsonObject ro)
            foreach (var (name, v) in ro)
                roles[name] = new RoleOptions { Model = v?["model"]?.GetValue<string>(), BaseUrls = Urls(v?["base_urls"]), Concurrency = v?["concurrency"]?.GetValue<int?>() };
        return new LlmRuntimeOptions
        {
            Model = r["model"]!.GetValue<string>(),
            BaseUrls = Urls(r["base_urls"]),
            RunDirectory = dir,
            OfflineSeed = r["offline_seed"]!.GetValue<int>(),
            WorldPath = r["world"]?.GetValue<string>(),
            MaxFailureRate = r["max_failure_rate"]!.GetValue<double>(),
            MaxCalls = 0,
            Roles = roles,
            Resilience = new ResilienceOptions
            {
                Concurrency = r["concurrency"]!.GetValue<int>(),
                Timeout = TimeSpan.FromSeconds(r["timeout_s"]!.GetValue<double>()),
                MaxAttempts = r["max_attempts"]!.GetValue<int>(),
            },
            // The merge sends nothing (--max-calls 0): a hosted API's key is not needed and not read.
            Environment = name => name == "OPENAI_API_KEY" ? "unused-by-a-merge" : Environment.GetEnvironmentVariable(name),
        };
    }

    private static string Differences(Spec a, Spec b)
    {
        var diffs = new List<string>();
        foreach (var (k, v) in a.Testbed)
            if (b.Testbed[k]?.ToJsonString() != v?.ToJsonString()) diffs.Add($"{k} {v?.ToJsonString() ?? "null"} vs {b.Testbed[k]?.ToJsonString() ?? "null"}");
        foreach (var (k, v) in a.Roles)
            if (b.Roles.GetValueOrDefault(k) != v) diffs.Add($"{k} {v} vs {b.Roles.GetValueOrDefault(k)}");
        foreach (var i in a.Inputs)
            if (b.Inputs.FirstOrDefault(x => x.Name == i.Name)?.Sha256 != i.Sha256) diffs.Add($"{i.Name} differs");
        return diffs.Count == 0 ? "offline seed or inputs" : string.Join("; ", diffs.Take(6));
    }

    /// <summary>Copies the answers of <paramref name="from"/> into the store at <paramref name="to"/> (closed), keeping those it has.</summary>
    internal static void ImportAnswers(string to, string from)
    {
        if (!File.Exists(from)) throw new PersonaException($"'{from}' does not exist: the folder holds no answers.");
        using var c = new SqliteConnection($"Data Source={to};Pooling=False");
        c.Open();
        c.CreateFunction<string, long>("persona_khash", ResponseCache.KeyHash, isDeterministic: true);
        using (var attach = c.CreateCommand())
        {
            attach.CommandText = "ATTACH DATABASE $p AS src";
            attach.Parameters.AddWithValue("$p", new SqliteConnectionStringBuilder { DataSource = from, Mode = SqliteOpenMode.ReadOnly }.DataSource);
            attach.ExecuteNonQuery();
        }
        using var tx = c.BeginTransaction();
        using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            const string fields = "key,provider,model,response_model,content,finish_reason,prompt_tokens,completion_tokens,tokens_estimated,cost_usd,price_known,simulated,created_utc";
            cmd.CommandText = $"""
                INSERT INTO main.responses(khash,{fields})
                SELECT persona_khash(s.key),{string.Join(',', fields.Split(',').Select(f => "s." + f))} FROM src.responses s
                WHERE NOT EXISTS (SELECT 1 FROM main.responses m WHERE m.khash = persona_khash(s.key) AND m.key = s.key)
                ORDER BY s.id
                """;
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
        using (var detach = c.CreateCommand()) { detach.CommandText = "DETACH DATABASE src"; detach.ExecuteNonQuery(); }
        // A merged store opens with no write-ahead log left beside it.
        using (var ck = c.CreateCommand()) { ck.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)"; ck.ExecuteNonQuery(); }
    }

    /// <summary>How many answers a store holds and a digest of them (keys and texts, in key order): what a merge checks a shard by.</summary>
    public static (long Count, string Sha256) AnswersDigest(string store)
    {
        if (!File.Exists(store)) return (0, "");
        using var c = new SqliteConnection($"Data Source={store};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT key, content FROM responses ORDER BY key";
        using var r = cmd.ExecuteReader();
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long n = 0;
        while (r.Read())
        {
            h.AppendData(Encoding.UTF8.GetBytes(r.GetString(0)));
            h.AppendData("\n"u8);
            h.AppendData(Encoding.UTF8.GetBytes(r.GetString(1)));
            h.AppendData("\n\u001e\n"u8);
            n++;
        }
        return (n, Convert.ToHexStringLower(h.GetHashAndReset()));
    }

    private static T ReadJson<T>(string file, string format, string what) where T : class
    {
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(file));
            if (node?["format"]?.GetValue<string>() != format) throw new PersonaException($"{file}: not {what} (format {format}).");
            return node.Deserialize<T>(TestbedRun.Json) ?? throw new PersonaException($"{file}: empty.");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            throw new PersonaException($"{file}: unreadable as {what} ({ex.Message.Split('\n')[0]}).");
        }
    }

    private static Dictionary<string, RoleUsageSnapshot> Usage(LlmRuntime rt) => rt.Roles.ToDictionary(r => r.Name, r => r.Usage.Snapshot(), StringComparer.Ordinal);

    private static IReadOnlyDictionary<string, RoleSpend> Diff(Dictionary<string, RoleUsageSnapshot> a, Dictionary<string, RoleUsageSnapshot> b)
    {
        var result = new SortedDictionary<string, RoleSpend>(StringComparer.Ordinal);
        foreach (var (name, after) in b)
        {
            var before = a.GetValueOrDefault(name) ?? new RoleUsageSnapshot(0, 0, 0, 0, 0, 0);
            result[name] = new RoleSpend(after.PaidCalls - before.PaidCalls, after.CacheHits - before.CacheHits, after.FailedCalls - before.FailedCalls,
                after.PromptTokens - before.PromptTokens, after.CompletionTokens - before.CompletionTokens, Math.Round(after.CostUsd - before.CostUsd, 6));
        }
        return result;
    }

    private static readonly JsonSerializerOptions Indented = new(TestbedRun.Json) { WriteIndented = true };
}
