using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Persona.Llm;
using Persona.Prompts;
using Persona.Simulation;

namespace Persona.Run;

/// <summary>Where the whole run is: stage i of n, and that stage's own step and items.</summary>
public sealed record TestbedProgress(int Index, int Count, string Stage, string Step, long Done, long Total, bool Reused = false);

/// <summary>
/// One stage's record: what it was run on (fingerprint), what it cost and what it wrote. manifest.json keeps its status,
/// fingerprint, counts and outputs; <see cref="Seconds"/>, <see cref="Reused"/> and <see cref="Spend"/> say what one invocation
/// did and go to that invocation's line of invocations.jsonl (<see cref="RunInvocations"/>), as do the hashes of fresh outputs.
/// </summary>
public sealed record StageRecord
{
    public required string Status { get; init; }
    public required string Fingerprint { get; init; }
    public double Seconds { get; init; }
    public bool Reused { get; init; }
    /// <summary>The run a --dataset stage was taken from (null: made here).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? From { get; init; }
    public IReadOnlyDictionary<string, RoleSpend> Spend { get; init; } = new Dictionary<string, RoleSpend>();
    /// <summary>The stage's <see cref="StageResult"/> as recorded; read it back with <see cref="TestbedStage.ReadResult"/>.</summary>
    public JsonElement? Counts { get; init; }
    public IReadOnlyDictionary<string, string> Outputs { get; init; } = new Dictionary<string, string>();
}

/// <summary>Calls and tokens a role spent in one stage (cache hits are free and counted apart).</summary>
public sealed record RoleSpend(long PaidCalls, long CacheHits, long FailedCalls, long PromptTokens, long CompletionTokens, double EstimatedCostUsd);

public sealed record TestbedResult(string RunDirectory, IReadOnlyDictionary<string, StageRecord> Stages, bool Simulated)
{
    /// <summary>The digest of the manifest the run wrote last (<see cref="ManifestDigest"/>), for the user to keep.</summary>
    public string? ManifestSha256 { get; init; }
}

/// <summary>
/// The whole testbed as one resumable run: population -> prompts -> pairs (with verification) ->
/// bench -> leave-one-out -> pass@k -> summaries -> study kit -> dataset -> report, on ONE
/// runtime (one store, one budget, one set of roles), so the cost cap covers every stage and a
/// rerun pays nothing twice. A stage whose inputs (options, roles, the outputs of the stages
/// before it) are those recorded in the manifest and whose outputs are intact is not rerun;
/// <see cref="TestbedOptions.From"/> forces a stage and the later ones. The manifest is rewritten
/// after every stage, so a kill loses at most the stage in flight (and its answers are cached).
/// </summary>
public static class TestbedRun
{
    public const string ManifestFile = "manifest.json", Format = "persona-testbed-run/1";

    /// <param name="embedder">The sentence embedder the prompts stage clusters with (made only when that stage runs).</param>
    /// <param name="report">Writes the run's report (the report room reads the run's own types, so the caller composes the two).</param>
    /// <param name="invocation">What this invocation's line of invocations.jsonl says besides its timings and spend (a merge: its shards); null for a plain run.</param>
    public static async Task<TestbedResult> RunAsync(TestbedOptions options, LlmRuntime rt, Func<ITextEmbedder> embedder, RunReportWriter report,
        IProgress<TestbedProgress>? progress = null, CancellationToken ct = default, CancellationToken abort = default, JsonObject? invocation = null)
    {
        options.Validate();
        var dir = Path.GetFullPath(options.OutputDirectory);
        Directory.CreateDirectory(dir);
        var previous = ReadStages(dir);
        // This invocation's line of invocations.jsonl, rewritten with the manifest after every stage.
        invocation = invocation?.DeepClone().AsObject() ?? new JsonObject { ["kind"] = "run" };
        invocation["invocation"] = Guid.NewGuid().ToString("N");
        var records = new SortedDictionary<string, StageRecord>(StringComparer.Ordinal);
        var fromIndex = options.From is { } f ? TestbedStages.All.ToList().IndexOf(TestbedStages.Parse(f)) : int.MaxValue;
        var inputs = await InputsAsync(options, rt, dir, ct).ConfigureAwait(false);
        var common = new StringBuilder();
        common.Append(Format).Append('\n');
        foreach (var i in inputs) common.Append(i.Name).Append('=').Append(i.Sha256).Append('\n');
        var dataset = options.Dataset is { } ds ? await DatasetRun.OpenAsync(ds, dir, ct).ConfigureAwait(false) : null;
        var stages = TestbedStages.All;
        string? digest = null;
        // The manifest as it stands while stage k is under way (or has just ended): the records made so far, the stage in flight,
        // and the earlier manifest's records of the stages not reached yet. A kill -9 then loses only the stage in flight; without
        // them a kill during a rerun would drop every later stage's record, and the next run would redo them all.
        (IReadOnlyDictionary<string, StageRecord> Records, IReadOnlyCollection<string> Carried) AsOf(int k, StageRecord? inFlight = null)
        {
            var all = new SortedDictionary<string, StageRecord>(records, StringComparer.Ordinal);
            if (inFlight is not null) all[stages[k]] = inFlight;
            var carried = new List<string>();
            foreach (var later in stages.Skip(k + 1))
                if (!all.ContainsKey(later) && previous.TryGetValue(later, out var p)) { all[later] = p; carried.Add(later); }
            return (all, carried);
        }
        // Stages waiting for batch results (--batch-export), with why; a stage that reads one waits too, the others still export this round.
        var pending = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var k = 0; k < stages.Count; k++)
        {
            var stage = stages[k];
            StageRecord record;
            if (pending.Count > 0 && TestbedStages.Get(stage).Reads.Any(pending.ContainsKey))
            {
                if (previous.TryGetValue(stage, out var kept)) records[stage] = kept;
                pending[stage] = null;
                continue;
            }
            if (dataset?.Takes(stage) == true)
            {
                // The dataset side comes from the given run, byte for byte: no call, and the same personas and pairs for every model under test.
                progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, "from dataset", 0, 1));
                record = await dataset.ImportAsync(stage, ct).ConfigureAwait(false);
                records[stage] = record;
                progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, "reused", 1, 1, Reused: true));
                var (now, carried) = AsOf(k);
                await WriteManifestAsync(dir, rt, invocation, options, inputs, now, "running", answers: false, dataset: dataset, carried: carried).ConfigureAwait(false);
                continue;
            }
            // The report of a --dataset run also shows the dataset run's bench: its manifest is an input of the report.
            var fingerprint = Fingerprint(TestbedStages.Get(stage), options, rt,
                common + (stage == TestbedStages.Report && dataset is not null ? $"dataset={dataset.ManifestSha256}\n" : ""), records);
            if (k < fromIndex && previous.TryGetValue(stage, out var prior) && prior.Status == "completed" && prior.Fingerprint == fingerprint
                && await IntactAsync(dir, prior.Outputs, ct).ConfigureAwait(false))
            {
                record = prior with { Reused = true };
                progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, "reused", 1, 1, Reused: true));
            }
            else
            {
                var before = Spend(rt);
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var ctx = new StageContext(options, dir, rt, embedder, report, (step, done, total) => progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, step, done, total)), ct, abort);
                try
                {
                    if (stage == TestbedStages.Report)
                    {
                        // The report reads the manifest, so the manifest must hold every other stage first.
                        await WriteManifestAsync(dir, rt, invocation, options, inputs, records, "running", dataset: dataset).ConfigureAwait(false);
                    }
                    else
                    {
                        // The stage is named as running while it runs: a kill leaves it unfinished in the manifest, not its earlier record.
                        var (now, carried) = AsOf(k, new StageRecord { Status = RunCompletion.Running, Fingerprint = fingerprint });
                        await WriteManifestAsync(dir, rt, invocation, options, inputs, now, "running", answers: false, dataset: dataset, carried: carried).ConfigureAwait(false);
                    }
                    var exported = rt.Options.BatchExport?.Requests ?? 0;
                    var counts = await TestbedStageRunner.RunAsync(stage, ctx).ConfigureAwait(false);
                    // A stage whose calls went to batch files is not done, whatever it wrote: it runs again after the import.
                    BatchPendingException.ThrowIf((rt.Options.BatchExport?.Requests ?? 0) - exported, "requests of stage " + stage);
                    record = new StageRecord
                    {
                        Status = "completed", Fingerprint = fingerprint, Seconds = Math.Round(sw.Elapsed.TotalSeconds, 3),
                        Spend = Diff(before, Spend(rt)), Counts = counts.ToJson(), Outputs = await StageOutputsAsync(dir, stage, CancellationToken.None).ConfigureAwait(false),
                    };
                }
                catch (BatchPendingException ex) when (rt.Options.BatchExport is not null)
                {
                    records[stage] = new StageRecord
                    {
                        Status = "stopped", Fingerprint = fingerprint, Seconds = Math.Round(sw.Elapsed.TotalSeconds, 3), Spend = Diff(before, Spend(rt)),
                    };
                    pending[stage] = ex.Message;
                    continue;
                }
                catch (Exception ex) when (ex is OperationCanceledException or RunStoppedException)
                {
                    records[stage] = new StageRecord
                    {
                        Status = ex is RunStoppedException ? "stopped" : abort.IsCancellationRequested ? "aborted" : "cancelled",
                        Fingerprint = fingerprint, Seconds = Math.Round(sw.Elapsed.TotalSeconds, 3), Spend = Diff(before, Spend(rt)),
                    };
                    var (now, carried) = AsOf(k);
                    await WriteManifestAsync(dir, rt, invocation, options, inputs, now, records[stage].Status, ex is RunStoppedException s ? s.Message : null, dataset: dataset, carried: carried).ConfigureAwait(false);
                    throw;
                }
                catch (Exception ex)
                {
                    // A stage that ended with an error says so, instead of the "running" a kill leaves: `persona verify`
                    // and the report then name the stage and the reason. Best effort: the error itself is what the user must see.
                    records[stage] = new StageRecord
                    {
                        Status = RunCompletion.Failed, Fingerprint = fingerprint, Seconds = Math.Round(sw.Elapsed.TotalSeconds, 3), Spend = Diff(before, Spend(rt)),
                    };
                    var (now, carried) = AsOf(k);
                    try { await WriteManifestAsync(dir, rt, invocation, options, inputs, now, RunCompletion.Failed, SecretScrubber.Scrub(ex.Message), dataset: dataset, carried: carried).ConfigureAwait(false); }
                    catch (Exception) { } // the stage's own error is the one to report, not this one
                    throw;
                }
                progress?.Report(new TestbedProgress(k + 1, stages.Count, stage, "done", 1, 1));
            }
            records[stage] = record;
            // Between stages the answer totals are left out: they scan the whole store (seconds at paper scale, each time).
            var (after, later) = AsOf(k);
            digest = await WriteManifestAsync(dir, rt, invocation, options, inputs, after, k == stages.Count - 1 ? "completed" : "running", answers: k == stages.Count - 1, dataset: dataset, carried: later).ConfigureAwait(false);
        }
        if (pending.Count > 0)
        {
            var message = string.Join(" ", pending.Where(kv => kv.Value is not null).Select(kv => $"{kv.Key}: {kv.Value}"))
                + $" Waiting: {string.Join(", ", pending.Keys)}.";
            await WriteManifestAsync(dir, rt, invocation, options, inputs, records, "stopped", message, answers: false, dataset: dataset).ConfigureAwait(false);
            throw new BatchPendingException(message);
        }
        return new TestbedResult(dir, records, rt.Simulated) { ManifestSha256 = digest };
    }

    /// <summary>
    /// The stage's key: what it declares and nothing else: the files every stage reads (bundled data,
    /// given prompts, world), its own options, the models of the roles it calls, and the outputs of the
    /// stages it reads. Changing the critic changes only the keys of the stages that call the critic
    /// (and of those that read their outputs).
    /// </summary>
    private static string Fingerprint(TestbedStage stage, TestbedOptions o, LlmRuntime rt, string common, IReadOnlyDictionary<string, StageRecord> records)
    {
        var sb = new StringBuilder(common);
        sb.Append("stage=").Append(stage.Name).Append('\n');
        sb.Append(JsonSerializer.Serialize(stage.Options(o), Json)).Append('\n');
        foreach (var r in stage.Roles) sb.Append(r).Append('=').Append(rt.Role(r).Identity.Identity).Append('\n');
        if (stage.Roles.Any(r => rt.Role(r).Identity.Simulated)) sb.Append("world=").Append(rt.World().Sha256).Append('\n');
        foreach (var read in stage.Reads)
            foreach (var (path, sha) in records.TryGetValue(read, out var rec) ? rec.Outputs : new Dictionary<string, string>())
                // A fresh output's bytes differ in any two runs of the same options (RunInvocations.IsFresh): no key may depend on them.
                if (!RunInvocations.IsFresh(path)) sb.Append(path).Append('=').Append(sha).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..32];
    }

    private static async Task<bool> IntactAsync(string dir, IReadOnlyDictionary<string, string> outputs, CancellationToken ct)
    {
        if (outputs.Count == 0) return false;
        foreach (var (rel, sha) in outputs)
            if (!File.Exists(Path.Combine(dir, rel)) || await RunHashes.FileAsync(Path.Combine(dir, rel), ct).ConfigureAwait(false) != sha) return false;
        return true;
    }

    /// <summary>The files a stage wrote: its folder, without other stages' folders inside it and without bookkeeping.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> StageOutputsAsync(string dir, string stage, CancellationToken ct = default)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (stage == TestbedStages.Report)
        {
            var report = Path.Combine(dir, TestbedStages.ReportFile);
            if (File.Exists(report)) result[TestbedStages.ReportFile] = await RunHashes.FileAsync(report, ct).ConfigureAwait(false);
            return result;
        }
        var folder = TestbedStages.Folder(stage);
        if (!Directory.Exists(Path.Combine(dir, folder))) return result;
        var nested = TestbedStages.All.Select(TestbedStages.Folder).Where(f => f != folder && f.StartsWith(folder + "/", StringComparison.Ordinal)).ToArray();
        foreach (var rel in RunHashes.OutputFiles(dir, RunHashes.DefaultExclusions))
        {
            if (!rel.StartsWith(folder + "/", StringComparison.Ordinal) || nested.Any(n => rel.StartsWith(n + "/", StringComparison.Ordinal))) continue;
            result[rel] = await RunHashes.FileAsync(Path.Combine(dir, rel), ct).ConfigureAwait(false);
        }
        return result;
    }

    /// <summary>Every file the stages read besides the models' answers: the bundled data (census extract, dictionaries, tables, prompts, templates, world, prices) and any file given.</summary>
    public static async Task<IReadOnlyList<RunInput>> InputsAsync(TestbedOptions o, LlmRuntime rt, string dir, CancellationToken ct = default)
    {
        var list = new List<RunInput>();
        if (Directory.Exists(BundledData.Root))
            foreach (var f in Directory.EnumerateFiles(BundledData.Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var rel = Path.GetRelativePath(BundledData.Root, f).Replace('\\', '/');
                if (rel.EndsWith(".md", StringComparison.Ordinal)) continue; // documentation, not read by any stage
                list.Add(await RunInput.OfFileAsync("bundled " + rel, f, dir, ct).ConfigureAwait(false));
            }
        if (o.PromptSource is { } p && o.Dataset is null) list.Add(await RunInput.OfFileAsync("prompt source", p, dir, ct).ConfigureAwait(false));
        // The survey file's bytes, not only its path, key the survey stage: an edited file reruns it.
        if (o.SurveySource is { } sv) list.Add(await RunInput.OfFileAsync("survey", sv, dir, ct).ConfigureAwait(false));
        if (rt.Options.WorldPath is { } w) list.Add(await RunInput.OfFileAsync("world", w, dir, ct).ConfigureAwait(false));
        return list;
    }

    private static Dictionary<string, RoleSpend> Spend(LlmRuntime rt) => rt.Roles.ToDictionary(r => r.Name, r =>
    {
        var u = r.Usage.Snapshot();
        return new RoleSpend(u.PaidCalls, u.CacheHits, u.FailedCalls, u.PromptTokens, u.CompletionTokens, u.CostUsd);
    }, StringComparer.Ordinal);

    private static IReadOnlyDictionary<string, RoleSpend> Diff(Dictionary<string, RoleSpend> a, Dictionary<string, RoleSpend> b)
    {
        var result = new SortedDictionary<string, RoleSpend>(StringComparer.Ordinal);
        foreach (var (name, after) in b)
        {
            var before = a.GetValueOrDefault(name) ?? new RoleSpend(0, 0, 0, 0, 0, 0);
            var d = new RoleSpend(after.PaidCalls - before.PaidCalls, after.CacheHits - before.CacheHits, after.FailedCalls - before.FailedCalls,
                after.PromptTokens - before.PromptTokens, after.CompletionTokens - before.CompletionTokens, Math.Round(after.EstimatedCostUsd - before.EstimatedCostUsd, 6));
            if (d.PaidCalls != 0 || d.CacheHits != 0 || d.FailedCalls != 0) result[name] = d;
        }
        return result;
    }

    /// <summary>The stage records of an earlier run of this folder (none when it is new or not a testbed run).</summary>
    public static IReadOnlyDictionary<string, StageRecord> ReadStages(string dir)
    {
        var path = Path.Combine(dir, ManifestFile);
        if (!File.Exists(path)) return new Dictionary<string, StageRecord>();
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            if (node?["format"]?.GetValue<string>() != Format || node["stages"] is not JsonObject stages) return new Dictionary<string, StageRecord>();
            // A hand-edited null record is no record (the stage reruns), not a null to trip over later.
            var fresh = RunInvocations.FreshHashes(dir);
            return stages.Where(kv => kv.Value is JsonObject).ToDictionary(kv => kv.Key, kv => WithFresh(kv.Value!.Deserialize<StageRecord>(Json)!, kv.Value!["fresh_outputs"], fresh), StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return new Dictionary<string, StageRecord>(); // unreadable: every stage reruns (its answers are cached)
        }
    }

    /// <summary>A stage record read back with the hashes of its fresh outputs, which invocations.jsonl holds (an output whose hash is lost is left out: its stage is not rerun for it).</summary>
    private static StageRecord WithFresh(StageRecord record, JsonNode? names, IReadOnlyDictionary<string, string> hashes)
    {
        if (names is not JsonArray list || list.Count == 0) return record;
        var outputs = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in record.Outputs) outputs[k] = v;
        foreach (var n in list)
            if (n is JsonValue v && v.TryGetValue<string>(out var rel) && hashes.TryGetValue(rel, out var sha)) outputs[rel] = sha;
        return record with { Outputs = outputs };
    }

    public static string CodeVersion =>
        typeof(TestbedRun).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(TestbedRun).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Writes manifest.json and then manifest.sha256 beside it (each atomically); returns the manifest's digest.</summary>
    private static async Task<string> WriteManifestAsync(string dir, LlmRuntime rt, JsonObject invocation, TestbedOptions o, IReadOnlyList<RunInput> inputs,
        IReadOnlyDictionary<string, StageRecord> stages, string status, string? stopReason = null, bool answers = true, DatasetRun? dataset = null,
        IReadOnlyCollection<string>? carried = null)
    {
        var manifest = await rt.ManifestDataAsync(status, null, stopReason).ConfigureAwait(false);
        if (dataset is not null) manifest["dataset"] = dataset.ManifestEntry();
        manifest["format"] = Format;
        manifest["code_version"] = CodeVersion;
        manifest["scale"] = o.Scale;
        manifest["seed"] = o.Seed;
        manifest["testbed"] = JsonSerializer.SerializeToNode(o with { OutputDirectory = "", From = null }, Json);
        manifest["template_versions"] = TemplateVersions();
        // What the report shows as costs: a function of the answers, not of this invocation's cache.
        if (answers) manifest["answers"] = rt.Store.Cache.GetAnswerTotals().ToDictionary(a => a.Role, a => (object?)new Dictionary<string, object?>
        {
            ["model_identity"] = rt.Role(a.Role).Identity.Identity, ["simulated"] = rt.Role(a.Role).Identity.Simulated,
            ["answers"] = a.Answers, ["prompt_tokens"] = a.PromptTokens, ["completion_tokens"] = a.CompletionTokens,
            ["estimated_cost_usd"] = a.CostUsd, ["unpriced_answers"] = a.Unpriced,
        }, StringComparer.Ordinal);
        manifest["stages"] = JsonSerializer.SerializeToNode(stages, Json);
        // The union of the stages' outputs (each hashed once, when its stage finished): what `persona verify` checks.
        var outputs = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in stages.Values) foreach (var (k, v) in s.Outputs) outputs[k] = v;
        // Outputs any run makes afresh (the study's rater keys, the Every Eval Ever record's time) are named, their hashes kept in invocations.jsonl.
        var (stable, fresh) = RunInvocations.SplitOutputs(outputs);
        new RunFingerprint(stable, RunHashes.DefaultExclusions, inputs).AddTo(manifest);
        manifest["outputs_fresh"] = fresh;
        // What this invocation did (times, spend, reuse, endpoints, limits) goes to invocations.jsonl, so the manifest is a function of the run alone.
        var node = JsonSerializer.SerializeToNode(manifest, ManifestJson)!.AsObject();
        var mine = RunInvocations.Split(node);
        var line = new JsonObject { ["format"] = RunInvocations.Format };
        foreach (var (k, v) in invocation) line[k] = v?.DeepClone();
        line["host"] = Environment.MachineName;
        line["process_id"] = Environment.ProcessId;
        line["status"] = status;
        foreach (var (k, v) in mine.ToList()) { mine.Remove(k); line[k] = v; }
        // A record carried from the earlier manifest is not this invocation's work: its time and spend stay on the line that made it.
        if (carried is { Count: > 0 } && line["stages"] is JsonObject mineStages)
            foreach (var c in carried) mineStages.Remove(c);
        // Serialised once: the digest must be of the very bytes written.
        var bytes = JsonSerializer.SerializeToUtf8Bytes(node, ManifestJson);
        var digest = ManifestDigest.Of(bytes);
        await AtomicFile.WriteAsync(Path.Combine(dir, ManifestFile), (s, t) => s.WriteAsync(bytes, t).AsTask(), CancellationToken.None).ConfigureAwait(false);
        // Beside the manifest for `sha256sum -c` and for a quick check by `persona verify`; a kill between the two
        // writes leaves the previous digest, which verify then reports as a difference of an unfinished run.
        await AtomicFile.WriteAsync(Path.Combine(dir, ManifestDigest.FileName),
            (s, t) => s.WriteAsync(System.Text.Encoding.ASCII.GetBytes(ManifestDigest.Line(digest)), t).AsTask(), CancellationToken.None).ConfigureAwait(false);
        await RunInvocations.WriteAsync(dir, line).ConfigureAwait(false);
        return digest;
    }

    private static Dictionary<string, string> TemplateVersions()
    {
        var v = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["pairs"] = Preferences.PairTemplates.Load(null).Version,
            ["bench"] = Benchmark.BenchPrompts.Load(null).Version,
            ["persona_enrichment"] = Personas.PersonaEnricher.DefaultTemplateVersion,
            ["consistency_check"] = Personas.ConsistencyChecker.DefaultTemplateVersion,
            ["controversy_classifier"] = ControversyClassifier.DefaultTemplateVersion,
        };
        return new Dictionary<string, string>(v, StringComparer.Ordinal);
    }

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonSerializerOptions ManifestJson = new(Json) { WriteIndented = true };
}

/// <summary>What a stage gets: the options, the run folder, the runtime (roles), an embedder factory, progress and the two stop tokens.</summary>
/// <summary>What the report stage reports back: the stages whose outputs came from the simulator, and the stage files the report could not read.</summary>
public sealed record ReportOutcome(IReadOnlyList<string> SimulatedStages, IReadOnlyList<string> Problems);

/// <summary>Writes RUN/report.html from the run folder.</summary>
public delegate Task<ReportOutcome> RunReportWriter(string runDirectory, CancellationToken ct);

public sealed record StageContext(TestbedOptions Options, string RunDirectory, LlmRuntime Runtime, Func<ITextEmbedder> Embedder, RunReportWriter WriteReport,
    Action<string, long, long> Progress, CancellationToken Stop, CancellationToken Abort)
{
    public string Folder(string stage) => Path.Combine(RunDirectory, TestbedStages.Folder(stage));

    /// <summary>Set in a shard of a sharded run: the stage makes only its personas' items and writes no aggregate (<see cref="TestbedShards"/>).</summary>
    public TestbedShard? Shard { get; init; }
}
