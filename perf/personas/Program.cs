// Personas per second through the whole build (census sampling -> psychodemographics -> enrichment
// -> rules -> LM verdict -> resampling -> writing) with the offline simulator, so the numbers are
// the pipeline's own overhead, not a model's. Three configurations:
//   bare:  the simulator as a plain IChatClient (no cache, no accounting): the stages alone;
//   cold:  the LM runtime over a fresh run directory (every call a cache miss, stored in SQLite);
//   warm:  the same run directory again (every call a cache hit): the cost of a resume.
// Writes perf/results/personas-build.json.
//   dotnet run -c Release --project perf/personas [-- --n 1586 --seed 1 --concurrency 16]
using System.Diagnostics;
using System.Text.Json;
using Persona.Llm;
using Persona.Personas;

var n = ArgValue("--n") is { } ns ? int.Parse(ns) : 1586;
var seed = ArgValue("--seed") is { } ss ? long.Parse(ss) : 1;
var concurrency = ArgValue("--concurrency") is { } cs ? int.Parse(cs) : 16;
var resultsDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../results"));
var work = Path.Combine(Path.GetTempPath(), "persona-perf-personas-" + Environment.ProcessId);
Directory.CreateDirectory(work);

var runs = new List<object>();
try
{
    // The simulator behind the runtime's structured-output layer only: that layer adds the schema
    // instruction to every request, and the simulator's answers depend on the messages, so without it
    // the bare build drew other answers, rejected other personas and made other calls (188 evaluated
    // and 403 calls where the runtime made 201 and 430 at n = 100). No cache, store or accounting.
    var sim = new OfflineSimulator();
    using var bare = new Microsoft.Extensions.AI.ChatClientBuilder(sim).UseStructuredOutput(nativeSchema: true).Build();
    runs.Add(await Measure("bare", bare, sim.Identity, Path.Combine(work, "out-bare")));
    var runDir = Path.Combine(work, "run");
    foreach (var label in new[] { "cold", "warm" })
    {
        await using var rt = LlmRuntime.Open(new LlmRuntimeOptions { Model = "offline", RunDirectory = runDir, Resilience = new ResilienceOptions { Concurrency = concurrency } });
        runs.Add(await Measure(label, rt.ChatClient, rt.ModelIdentity, Path.Combine(work, "out-" + label)));
    }
}
finally
{
    try { Directory.Delete(work, true); } catch (IOException) { }
}

// Per-second figures compare only if every configuration built the same population: n personas, the
// same number evaluated (drawn, checked, possibly rejected and redrawn) and the same model calls.
var did = runs.Cast<Dictionary<string, object?>>().Select(r => (Config: (string)r["config"]!, Personas: (int)r["personas"]!, Evaluated: (int)r["evaluated"]!, Calls: (int)r["calls"]!)).ToList();
if (did.Any(w => w.Personas != n) || did.Select(w => (w.Evaluated, w.Calls)).Distinct().Count() > 1)
{
    Console.Error.WriteLine($"perf/personas: the configurations did not do the same work, so nothing is written (expected {n} personas each, and equal evaluated and calls):");
    foreach (var w in did) Console.Error.WriteLine($"  {w.Config}: {w.Personas} personas, {w.Evaluated} evaluated, {w.Calls} calls");
    return 3;
}

var doc = new Dictionary<string, object?>
{
    ["benchmark"] = "personas build, offline simulator",
    ["n"] = n,
    ["seed"] = seed,
    ["concurrency"] = concurrency,
    ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}",
    ["measured_utc"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm"),
    ["runs"] = runs,
};
Directory.CreateDirectory(resultsDir);
var json = JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true });
await File.WriteAllTextAsync(Path.Combine(resultsDir, "personas-build.json"), json + "\n");
Console.WriteLine(json);
return 0;

async Task<object> Measure(string label, Microsoft.Extensions.AI.IChatClient chat, string model, string outDir)
{
    var options = new PersonaBuildOptions { N = n, Seed = seed, Concurrency = concurrency, ModelLabel = model, OutputDirectory = outDir };
    var gcBefore = GC.CollectionCount(0);
    var sw = Stopwatch.StartNew();
    var r = await PersonaBuilder.BuildAsync(options, chat);
    var wall = sw.Elapsed.TotalSeconds;
    var t = r.Timings;
    var row = new Dictionary<string, object?>
    {
        ["config"] = label,
        ["personas"] = r.Personas.Count,
        ["evaluated"] = r.Report.Evaluated,
        ["rejection_rate"] = r.Report.RejectionRate,
        ["wall_s"] = Math.Round(wall, 3),
        ["personas_per_s"] = Math.Round(r.Personas.Count / wall, 1),
        ["evaluated_per_s"] = Math.Round(r.Report.Evaluated / wall, 1),
        ["calls"] = t.EnrichmentCalls + t.CheckCalls,
        // Wall-clock stages; enrichment/rules/check are summed over concurrent personas (so they can exceed the wall time).
        ["stage_s"] = new Dictionary<string, double>
        {
            ["census_load_and_draw"] = Math.Round(t.Census.TotalSeconds, 3),
            ["enrichment_calls_summed"] = Math.Round(t.Enrichment.TotalSeconds, 3),
            ["rules_summed"] = Math.Round(t.Rules.TotalSeconds, 4),
            ["lm_check_calls_summed"] = Math.Round(t.LmCheck.TotalSeconds, 3),
            ["write_outputs"] = Math.Round(t.Write.TotalSeconds, 3),
            ["personas_stage_wall"] = Math.Round(t.Total.TotalSeconds - t.Census.TotalSeconds - t.Write.TotalSeconds, 3),
        },
        ["gen0_collections"] = GC.CollectionCount(0) - gcBefore,
        ["peak_working_set_mb"] = Environment.WorkingSet / (1 << 20),
    };
    Console.Error.WriteLine($"{label}: {r.Personas.Count} personas in {wall:0.00} s ({r.Personas.Count / wall:0.0}/s), evaluated {r.Report.Evaluated}");
    return row;
}

static string? ArgValue(string name)
{
    var args = Environment.GetCommandLineArgs();
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
