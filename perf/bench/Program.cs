// PERSONA Bench at the original's size on the offline world: 1,586 personas x 3 questions x the four
// modes = 19,032 samples (generation + critic = 38,064 calls), then the statistics and figures.
// Configurations, in one process and one run:
//   bare:  the same 38,064 calls straight to the offline simulator (no engine, no store): the floor;
//   cold:  the bench task on the engine over a fresh run directory (every call a cache miss, every
//          sample and score logged to SQLite);
//   warm:  the same command again (every sample reused from the log: the cost of a resume);
//   stats: results (bootstrap SE, clustered intervals, per group, paired comparisons) + figures +
//          samples.jsonl/.parquet export, timed apart.
// Writes perf/results/bench-<date>.json.   bash perf/bench/run.sh  [-- --personas 1586 --per-persona 3]
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Benchmark;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;

var nPersonas = ArgValue("--personas") is { } np ? int.Parse(np) : 1586;
var perPersona = ArgValue("--per-persona") is { } pp ? int.Parse(pp) : 3;
var concurrency = ArgValue("--concurrency") is { } cc ? int.Parse(cc) : 16;
var resamples = ArgValue("--resamples") is { } rs ? int.Parse(rs) : 1000;
var resultsDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../results"));
var work = Path.Combine(Path.GetTempPath(), "persona-perf-bench-" + Environment.ProcessId);
Directory.CreateDirectory(work);
var runs = new List<Dictionary<string, object?>>();
// What each configuration did, checked before anything is written: a configuration that did less
// work than the others would show as a speed-up.
var checks = new List<(string What, long Got, long Expected)>();
try
{
    // Inputs (not timed): an offline persona build of the original size, and PRISM opening prompts that are questions.
    var personaDir = Path.Combine(work, "personas");
    await PersonaBuilder.BuildAsync(new PersonaBuildOptions { N = nPersonas, Seed = 1, Concurrency = concurrency, ModelLabel = "offline", OutputDirectory = personaDir }, new OfflineSimulator());
    var personas = await PersonaInputs.LoadAsync(personaDir);
    var qfile = Path.Combine(work, "questions.jsonl");
    using (var doc = JsonDocument.Parse(File.ReadAllBytes(Persona.BundledData.Path("prism/prism_opening_prompts.json"))))
    {
        var texts = doc.RootElement.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.TryGetProperty("text", out var t) ? t.GetString()! : e.GetRawText())
            .Where(t => t.TrimEnd().EndsWith('?') && t.Split(' ').Length >= 5).Distinct().Take(600).ToList();
        File.WriteAllLines(qfile, texts.Select((t, i) => JsonSerializer.Serialize(new { id = $"q{i}", question = t })));
    }
    var questions = Persona.Prompts.QuestionInputs.Load(qfile);
    var pairs = BenchTask.Pair(personas, questions, new BenchSampling { Pairing = "random", PerPersona = perPersona, QuestionSplit = "all", Seed = 1 });
    var prompts = BenchPrompts.Load();
    var modes = BenchModes.Original;
    long samplesTotal = (long)pairs.Count * modes.Count;
    Console.WriteLine($"{personas.Count} personas, {questions.Count} questions, {pairs.Count} pairs, {samplesTotal} samples");

    // bare: the simulator alone, the same messages and options, the same concurrency.
    {
        var sim = new OfflineSimulator();
        var items = new List<BenchItem>();
        await foreach (var i in BenchTask.Items(pairs, modes)) items.Add(i);
        var alloc0 = GC.GetTotalAllocatedBytes();
        var sw = Stopwatch.StartNew();
        long calls = 0;
        await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
        {
            var mp = prompts.Modes[i.Mode];
            var a = await sim.GetResponseAsync(BenchTask.SolverMessages(i, prompts),
                new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(BenchPrompts.AnswerSchema(mp), "a") }.WithRunMetadata(prompts.Version, 0), ct);
            using var d = JsonDocument.Parse(a.Text);
            var answer = d.RootElement.GetProperty("answer_to_question").GetString()!;
            var c = await sim.GetResponseAsync(BenchTask.CriticMessages(prompts, i.Question.Text, answer, i.Persona.Text),
                BenchTask.CriticOptions(prompts, i.Persona.Text, i.Persona.Id, i.Question.Id, i.Mode, "0"), ct);
            BenchTask.ParseVerdict(c.Text);
            Interlocked.Add(ref calls, 2);
        });
        runs.Add(Row("bare (simulator only, no engine/store)", sw.Elapsed.TotalSeconds, calls, samplesTotal, alloc0));
        checks.Add(("bare: calls made (a generation and a critic call per sample)", calls, 2 * samplesTotal));
    }

    var runDir = Path.Combine(work, "run");
    List<SampleRecord> samples = [];
    foreach (var label in new[] { "cold (engine + store, cache misses)", "warm (rerun: samples reused from the log)" })
    {
        await using var rt = LlmRuntime.Open(new LlmRuntimeOptions
        {
            Model = "offline", RunDirectory = runDir, Resilience = new ResilienceOptions { Concurrency = concurrency },
            Roles = new Dictionary<string, RoleOptions> { [BenchTask.CriticRole] = new() { Model = "offline" } },
        });
        var task = BenchTask.Create(BenchTask.Items(pairs, modes), prompts, [BenchTask.Critic(prompts)]);
        var alloc0 = GC.GetTotalAllocatedBytes();
        var sw = Stopwatch.StartNew();
        samples = [];
        var summary = await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(task, rt, new TaskRunOptions { FanOut = rt.FanOutOptions(rt.Default) }), task.Name, samples.Add);
        var wall = sw.Elapsed.TotalSeconds;
        var usage = rt.Roles.Select(r => r.Usage.Snapshot()).ToList();
        var paid = usage.Sum(u => u.PaidCalls);
        // Calls the task made through the runtime: paid (here simulated) or answered by the cache (identical requests).
        var made = paid + usage.Sum(u => u.CacheHits) + usage.Sum(u => u.FailedCalls);
        var row = Row(label, wall, made, samplesTotal, alloc0);
        row["paid_calls"] = paid;
        row["cache_hits"] = usage.Sum(u => u.CacheHits);
        row["succeeded"] = summary.Succeeded;
        runs.Add(row);
        var which = label.Split(' ')[0];
        checks.Add(($"{which}: samples succeeded", summary.Succeeded, samplesTotal));
        checks.Add(($"{which}: failed calls", usage.Sum(u => u.FailedCalls), 0));
        if (which == "cold") checks.Add(("cold: calls made (paid or from the cache)", made, 2 * samplesTotal));

        if (label.StartsWith("warm"))
        {
            // stats + figures + export: what `bench run` does after generation.
            var a0 = GC.GetTotalAllocatedBytes();
            var sw2 = Stopwatch.StartNew();
            var results = BenchReport.Compute(samples, BenchTask.DefaultScoreSet, resamples, 1, 30);
            var tStats = sw2.Elapsed.TotalSeconds;
            var outDir = Path.Combine(work, "out");
            Directory.CreateDirectory(outDir);
            BenchReport.Write(Path.Combine(outDir, "results.json"), results);
            BenchPlots.AccuracyByMode(results, Path.Combine(outDir, "figures"));
            BenchPlots.GroupHeatmap(results, Path.Combine(outDir, "figures"));
            var tFigures = sw2.Elapsed.TotalSeconds - tStats;
            await SampleLogExport.WriteJsonlAsync(rt.Store, task.Name, Path.Combine(outDir, "samples.jsonl"));
            var tJsonl = sw2.Elapsed.TotalSeconds - tStats - tFigures;
            await SampleLogExport.WriteParquetAsync(rt.Store, task.Name, Path.Combine(outDir, "samples.parquet"));
            var tParquet = sw2.Elapsed.TotalSeconds - tStats - tFigures - tJsonl;
            // The reader alone (what the statistics of `bench score`/`compare` start from).
            var sw3 = Stopwatch.StartNew();
            var readBack = SampleLogExport.Read(rt.Store, task.Name).Count();
            var tRead = sw3.Elapsed.TotalSeconds;
            checks.Add(("statistics: samples read back from the log", readBack, samplesTotal));
            runs.Add(new Dictionary<string, object?>
            {
                ["config"] = "statistics + figures (+ export)",
                ["statistics_s"] = Math.Round(tStats, 3),
                ["figures_s"] = Math.Round(tFigures, 3),
                ["statistics_and_figures_s"] = Math.Round(tStats + tFigures, 3),
                ["export_jsonl_s"] = Math.Round(tJsonl, 3),
                ["export_parquet_s"] = Math.Round(tParquet, 3),
                ["read_log_s"] = Math.Round(tRead, 3),
                ["read_log_samples"] = readBack,
                ["resamples"] = resamples,
                ["allocated_mb"] = (GC.GetTotalAllocatedBytes() - a0) >> 20,
                ["accuracy_by_mode"] = results.Modes.ToDictionary(m => m.Mode, m => m.Accuracy.Accuracy),
                ["samples_jsonl_mb"] = Math.Round(new FileInfo(Path.Combine(outDir, "samples.jsonl")).Length / 1048576.0, 1),
                ["store_mb"] = Math.Round(new FileInfo(Path.Combine(runDir, "store.sqlite")).Length / 1048576.0, 1),
            });
        }
    }
}
finally
{
    try { Directory.Delete(work, true); } catch (IOException) { }
}

if (checks.Where(w => w.Got != w.Expected).ToList() is { Count: > 0 } differ)
{
    Console.Error.WriteLine("perf/bench: the configurations did not do the same work, so nothing is written:");
    foreach (var (what, got, expected) in differ) Console.Error.WriteLine($"perf/bench:   {what}: {got:N0}, expected {expected:N0}");
    return 3;
}

var result = new Dictionary<string, object?>
{
    ["benchmark"] = "PERSONA Bench, four modes, offline world (SIMULATED)",
    ["personas"] = nPersonas,
    ["questions_per_persona"] = perPersona,
    ["concurrency"] = concurrency,
    ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}",
    ["loadavg_end"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
    ["peak_working_set_mb_process"] = Process.GetCurrentProcess().PeakWorkingSet64 >> 20,
    ["measured_utc"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm"),
    ["runs"] = runs,
};
Directory.CreateDirectory(resultsDir);
var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
var path = Path.Combine(resultsDir, $"bench-{DateTime.UtcNow:yyyy-MM-dd}.json");
await File.WriteAllTextAsync(path, json + "\n");
Console.WriteLine(json);
return 0;

Dictionary<string, object?> Row(string label, double wall, long calls, long samples, long alloc0) => new()
{
    ["config"] = label,
    ["wall_s"] = Math.Round(wall, 3),
    ["samples"] = samples,
    ["samples_per_s"] = Math.Round(samples / wall, 1),
    ["calls"] = calls,
    ["calls_per_s"] = calls == 0 ? null : Math.Round(calls / wall, 1),
    ["allocated_mb"] = (GC.GetTotalAllocatedBytes() - alloc0) >> 20,
    ["peak_working_set_mb_so_far"] = Process.GetCurrentProcess().PeakWorkingSet64 >> 20,
    ["loadavg"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
};

static string? ArgValue(string name)
{
    var args = Environment.GetCommandLineArgs();
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
