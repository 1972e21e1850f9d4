using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Prompts;

namespace Persona.Preferences;

/// <summary>Which pairs the judge verifies: none, a seeded sample of N pairs, or all.</summary>
public sealed record VerifySpec(string Mode, int SampleSize)
{
    public static readonly VerifySpec All = new("all", 0), None = new("none", 0);

    public static VerifySpec Parse(string? text)
    {
        var t = (text ?? "all").Trim().ToLowerInvariant();
        if (t is "all") return All;
        if (t is "none") return None;
        if (t.StartsWith("sample:", StringComparison.Ordinal) && int.TryParse(t[7..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0)
            return new VerifySpec("sample", n);
        throw new PersonaException($"--verify '{text}': expected none, all or sample:N (N a positive number of pairs).");
    }

    public override string ToString() => Mode == "sample" ? $"sample:{SampleSize}" : Mode;
}

/// <summary>Shard i of n (0-based): personas [i*N/n, (i+1)*N/n) of the persona list.</summary>
public sealed record Shard(int Index, int Count)
{
    public static readonly Shard Whole = new(0, 1);

    /// <summary>--shard i/n, else SLURM_ARRAY_TASK_ID/COUNT (ids may start anywhere and step: --array=1-7:2), else JOB_COMPLETION_INDEX with <paramref name="countOption"/>.</summary>
    public static Shard Resolve(string? option, int? countOption, Func<string, string?> env)
    {
        if (option is { Length: > 0 })
        {
            var parts = option.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], out var i) || !int.TryParse(parts[1], out var n) || n < 1 || i < 0 || i >= n)
                throw new PersonaException($"--shard '{option}': expected i/n with 0 <= i < n, e.g. 0/4.");
            return new Shard(i, n);
        }
        if (env("SLURM_ARRAY_TASK_ID") is { Length: > 0 } sid && env("SLURM_ARRAY_TASK_COUNT") is { Length: > 0 } scount)
        {
            if (!int.TryParse(sid, out var id) || !int.TryParse(scount, out var count) || count < 1)
                throw new PersonaException($"SLURM_ARRAY_TASK_ID '{sid}' / SLURM_ARRAY_TASK_COUNT '{scount}' are not numbers.");
            var min = int.TryParse(env("SLURM_ARRAY_TASK_MIN"), out var m) ? m : 0;
            var step = int.TryParse(env("SLURM_ARRAY_TASK_STEP"), out var st) && st > 0 ? st : 1;
            var index = (id - min) / step;
            if (index < 0 || index >= count || (id - min) % step != 0)
                throw new PersonaException($"SLURM_ARRAY_TASK_ID {id} is not one of the {count} tasks starting at {min} in steps of {step}.");
            return new Shard(index, count);
        }
        if (env("JOB_COMPLETION_INDEX") is { Length: > 0 } jid)
        {
            if (countOption is not { } c || c < 1)
                throw new PersonaException("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but no variable holds the job's completions: pass --shard-count N.");
            if (!int.TryParse(jid, out var index) || index < 0 || index >= c)
                throw new PersonaException($"JOB_COMPLETION_INDEX '{jid}' is not in 0..{c - 1}.");
            return new Shard(index, c);
        }
        return Whole;
    }

    public (int Start, int End) Range(int personas) => ((int)((long)Index * personas / Count), (int)((long)(Index + 1) * personas / Count));

    public override string ToString() => $"{Index}/{Count}";
}

public sealed record PairBuildOptions
{
    public required string PersonasPath { get; init; }
    public required string PromptsPath { get; init; }
    public required string OutputDirectory { get; init; }
    public ScheduleOptions Schedule { get; init; } = new();
    public PairChainOptions Chain { get; init; } = new();
    public VerifySpec Verify { get; init; } = VerifySpec.All;
    public Shard Shard { get; init; } = Shard.Whole;
    public string? TemplatesPath { get; init; }
}

/// <summary>shard.json: what a shard is part of, so a merge can refuse shards of different runs or settings.</summary>
public sealed record ShardInfo(string Format, string Fingerprint, int Index, int Count, int Personas, long Pairs, string Verify, string TemplateVersion);

/// <summary>A finished build, or (with <see cref="Deferred"/> &gt; 0) a batch export whose pairs wait for imported results: then no pair file is written.</summary>
public sealed record PairBuildResult(PairReportData Report, ShardInfo Shard, string OutputDirectory, long Deferred = 0);

/// <summary>Progress for bars.</summary>
public sealed record PairBuildProgress(long Done, long Total, long Failed);

/// <summary>
/// `persona pairs build`: loads personas and prompts, schedules the pairs (seeded, attribute-blind),
/// runs the DPF chain and the verification through the task engine, and streams pairs.jsonl and
/// pairs.parquet (atomic per shard), then pairs-report.json and shard.json. A rerun reuses the
/// sample log and the cache: nothing completed is paid twice, and the files come out byte-identical.
/// </summary>
public static class PairBuilder
{
    public const string ReportFile = "pairs-report.json", ShardFile = "shard.json";
    public const string ShardFormat = "persona-pairs-shard/1";

    public sealed record Plan(IReadOnlyList<PersonaInput> Personas, IReadOnlyList<QuestionInput> Train, IReadOnlyList<QuestionInput> HeldOut,
        PairTemplates Templates, Func<string, bool>? Verify, string Fingerprint, int ShardStart, int ShardEnd)
    {
        public long ShardPairs(ScheduleOptions o) => (long)(ShardEnd - ShardStart) * o.PairsPerPersona;

        public IEnumerable<ScheduledPair> Schedule(ScheduleOptions o)
        {
            for (var i = ShardStart; i < ShardEnd; i++)
                foreach (var p in PairSchedule.ForPersona(i, Personas[i], Train, HeldOut, o)) yield return p;
        }
    }

    /// <summary>Everything a run needs before any call: inputs, pools, templates, the verification sample and the run's fingerprint. Bad input fails here.</summary>
    public static async Task<Plan> PlanAsync(PairBuildOptions o, IEnumerable<string> roleIdentities, CancellationToken ct = default)
    {
        o.Schedule.Validate();
        o.Chain.Validate();
        var personas = await PersonaInputs.LoadAsync(o.PersonasPath, ct).ConfigureAwait(false);
        var prompts = QuestionInputs.Load(o.PromptsPath);
        var (train, held) = PairSchedule.Pools(prompts, o.Schedule, o.PromptsPath);
        var templates = PairTemplates.Load(o.TemplatesPath);
        Func<string, bool>? verify = o.Verify.Mode switch
        {
            "none" => null,
            "all" => _ => true,
            _ => SampleSelector(personas, train, held, o.Schedule, o.Verify.SampleSize),
        };
        var fp = new StringBuilder();
        fp.Append("pairs/1\n");
        foreach (var p in personas) fp.Append(p.Id).Append('\n');
        foreach (var q in prompts) fp.Append(q.Id).Append('\u0001').Append(q.Split).Append('\u0001').Append(q.Text).Append('\n');
        fp.Append(JsonSerializer.Serialize(o.Schedule)).Append(JsonSerializer.Serialize(o.Chain)).Append(o.Verify).Append('\n');
        fp.Append(templates.Version).Append(templates.Sha256).Append('\n');
        foreach (var r in roleIdentities) fp.Append(r).Append('\n');
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fp.ToString())))[..32];
        var (start, end) = o.Shard.Range(personas.Count);
        return new Plan(personas, train, held, templates, verify, fingerprint, start, end);
    }

    /// <summary>The N pairs of the whole schedule with the smallest seeded hash: the same pairs whatever the sharding.</summary>
    private static Func<string, bool> SampleSelector(IReadOnlyList<PersonaInput> personas, IReadOnlyList<QuestionInput> train, IReadOnlyList<QuestionInput> held, ScheduleOptions o, int n)
    {
        var heap = new PriorityQueue<string, ulong>(Comparer<ulong>.Create((a, b) => b.CompareTo(a)));
        for (var i = 0; i < personas.Count; i++)
            foreach (var p in PairSchedule.ForPersona(i, personas[i], train, held, o))
            {
                var h = Hash(o.Seed, p.PairId);
                if (heap.Count < n) heap.Enqueue(p.PairId, h);
                else if (heap.TryPeek(out _, out var top) && h < top) { heap.Dequeue(); heap.Enqueue(p.PairId, h); }
            }
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        while (heap.TryDequeue(out var id, out _)) chosen.Add(id);
        return chosen.Contains;
    }

    private static ulong Hash(long seed, string id)
    {
        Span<byte> h = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"verify\u0001{seed}\u0001{id}"), h);
        return BitConverter.ToUInt64(h[..8]);
    }

    public static async Task<PairBuildResult> RunAsync(PairBuildOptions o, Plan plan, LlmRuntime runtime, IProgress<PairBuildProgress>? progress = null,
        CancellationToken ct = default, CancellationToken abort = default)
    {
        var total = plan.ShardPairs(o.Schedule);
        async IAsyncEnumerable<ScheduledPair> Data()
        {
            foreach (var p in plan.Schedule(o.Schedule)) yield return p;
            await Task.CompletedTask.ConfigureAwait(false);
        }
        var task = PairTask.Create(Data(), plan.Templates, o.Chain, plan.Verify, plan.Personas.ToDictionary(p => p.Id, StringComparer.Ordinal));
        var report = new PairReport();
        long done = 0, failed = 0, deferred = 0;
        await using (var writer = await PairFileWriter.CreateAsync(o.OutputDirectory, ct).ConfigureAwait(false))
        {
            // 317,200 pairs x 5 turns: the log keeps each turn's cache key, not its texts (the chain's
            // messages are rebuilt from the versioned templates; answers stay in the cache and in the pair data).
            var run = TaskRunner.RunAsync(task, runtime, new TaskRunOptions { FanOut = runtime.FanOutOptions(runtime.Role(o.Chain.AnswerRole), abort), LogTexts = false }, ct);
            var schedule = plan.Schedule(o.Schedule).GetEnumerator();
            await foreach (var s in run.ConfigureAwait(false))
            {
                if (s.Status == SampleRecord.StatusDeferred)
                {
                    deferred++;
                    if ((++done & 255) == 0) progress?.Report(new PairBuildProgress(done, total, failed));
                    continue;
                }
                // The stream is in schedule order with no gaps until a stop, so the schedule walks beside it.
                ScheduledPair? entry = null;
                while (schedule.MoveNext())
                {
                    if (schedule.Current.PairId == PairSchedule.PairIdOf(s.Inputs["persona_id"], s.Inputs["prompt_id"])) { entry = schedule.Current; break; }
                }
                var row = PairRecord.From(s, entry, plan.Templates.Version);
                await writer.WriteAsync(row, ct).ConfigureAwait(false);
                report.Add(row, entry?.Persona.Attributes);
                done++;
                if (!row.Ok) failed++;
                if ((done & 255) == 0 || done == total) progress?.Report(new PairBuildProgress(done, total, failed));
            }
            if (deferred > 0)
            {
                // A stage went to batch files: the pairs are not finished, so nothing is written (the writer's temps are removed).
                progress?.Report(new PairBuildProgress(done, total, failed));
                return new PairBuildResult(report.Build(), new ShardInfo(ShardFormat, plan.Fingerprint, o.Shard.Index, o.Shard.Count, plan.ShardEnd - plan.ShardStart, 0, o.Verify.ToString(), plan.Templates.Version),
                    Path.GetFullPath(o.OutputDirectory), deferred);
            }
            await writer.CommitAsync(ct).ConfigureAwait(false);
        }
        progress?.Report(new PairBuildProgress(done, total, failed));
        var data = report.Build();
        await AtomicFile.WriteAsync(Path.Combine(o.OutputDirectory, ReportFile),
            (s, t) => JsonSerializer.SerializeAsync(s, data, PairReport.Json, t), ct).ConfigureAwait(false);
        var shard = new ShardInfo(ShardFormat, plan.Fingerprint, o.Shard.Index, o.Shard.Count, plan.ShardEnd - plan.ShardStart, done, o.Verify.ToString(), plan.Templates.Version);
        await AtomicFile.WriteAsync(Path.Combine(o.OutputDirectory, ShardFile),
            (s, t) => JsonSerializer.SerializeAsync(s, shard, PairReport.Json, t), ct).ConfigureAwait(false);
        return new PairBuildResult(data, shard, Path.GetFullPath(o.OutputDirectory));
    }
}
