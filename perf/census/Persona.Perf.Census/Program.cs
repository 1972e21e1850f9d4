// Census benchmark driver (see perf/census/run.sh).
//
//   sample  --n N --seed S [--dictionary D] [--psycho] FILE...   load, then draw+decode N personas; one JSON line of phase timings
//   to-csv  OUT.csv FILE.parquet...                               the same rows as CSV, for the pandas baseline
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DuckDB.NET.Data;
using Persona;
using Persona.Census;
using Persona.Personas;

var mode = args.Length > 0 ? args[0] : "";
if (mode == "to-csv")
{
    var outCsv = args[1];
    var files = string.Join(", ", args.Skip(2).Select(f => $"'{f.Replace("'", "''")}'"));
    using var db = new DuckDBConnection("DataSource=:memory:");
    db.Open();
    using var cmd = db.CreateCommand();
    cmd.CommandText = $"COPY (SELECT * FROM read_parquet([{files}])) TO '{outCsv.Replace("'", "''")}' (HEADER, DELIMITER ',')";
    cmd.ExecuteNonQuery();
    return 0;
}
if (mode != "sample")
{
    Console.Error.WriteLine("usage: sample --n N --seed S [--dictionary D] [--psycho] FILE... | to-csv OUT.csv FILE.parquet...");
    return 2;
}

int n = 100_000; long seed = 1; string? dictionary = null; bool psycho = false;
var sources = new List<string>();
for (var i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--n": n = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--seed": seed = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--dictionary": dictionary = args[++i]; break;
        case "--psycho": psycho = true; break;
        default: sources.Add(args[i]); break;
    }
}

// Stage boundaries come from the sampler's own progress reports, so the timed path is exactly
// what `persona census sample` runs.
var total = Stopwatch.StartNew();
var marks = new Dictionary<string, (double First, double Last)>();
// The decode reports from several threads; the lock keeps the marks consistent.
var progress = new SyncProgress<CensusProgress>(p =>
{
    lock (marks)
    {
        var t = total.Elapsed.TotalSeconds;
        marks[p.Stage] = marks.TryGetValue(p.Stage, out var m) ? (m.First, t) : (t, t);
    }
});
var options = new CensusSampleOptions { N = n, Seed = seed, Sources = sources, DictionaryPath = dictionary };
var sampler = psycho ? PsychodemographicSampler.LoadBundled() : null;
var result = await CensusSampler.SampleAsync(options, sampler, progress);
var wall = total.Elapsed.TotalSeconds;

var loadEnd = marks.TryGetValue("households", out var h) ? h.First : marks["sample"].First;
var sample = marks["sample"];
var drawDecode = sample.Last - sample.First;
var idWatch = Stopwatch.StartNew();
foreach (var p in result.Personas) PersonaJson.ComputeId(p);
var idSeconds = idWatch.Elapsed.TotalSeconds;
var aliasWatch = Stopwatch.StartNew();
WeightedSampler.WithReplacement(Enumerable.Range(0, result.Draw.PersonsLoaded).Select(i => 1.0 + i % 7).ToArray(), n, new DeterministicRng(1), false);
var aliasSeconds = aliasWatch.Elapsed.TotalSeconds;
if (Environment.GetEnvironmentVariable("PERF_DIAG") == "1")
{
    var table = await PumsLoader.LoadAsync(PumsSources.ResolvePersons(sources), null, default);
    var dict = PumsDictionary.Load(dictionary ?? CensusDraw.BundledDictionary(table));
    var dec = new PumsDecoder(table, dict, false);
    var tr = new PersonaTraits(null, 0);
    var sw0 = Stopwatch.StartNew();
    var w = table.Weight.ToArray();
    var picks = WeightedSampler.WithReplacement(w, n, new DeterministicRng(5), false);
    Console.Error.WriteLine($"picks: {sw0.Elapsed.TotalSeconds:0.000}s");
    sw0.Restart();
    var kept = new PersonaRecord[n];
    for (var i = 0; i < n; i++) kept[i] = PersonaJson.WithId(PersonaRecord.FromCensus(dec.Decode(picks[i]), tr, null));
    Console.Error.WriteLine($"decode picks retained: {sw0.Elapsed.TotalSeconds:0.000}s");
    for (var round = 0; round < 3; round++)
    {
        var gc0 = GC.CollectionCount(0); var al0 = GC.GetTotalAllocatedBytes(true);
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++) PersonaJson.WithId(PersonaRecord.FromCensus(dec.Decode((int)((long)i * 7919 % table.Count)), tr, null));
        Console.Error.WriteLine($"decode round {round}: {sw.Elapsed.TotalSeconds:0.000}s gc0={GC.CollectionCount(0) - gc0} alloc={(GC.GetTotalAllocatedBytes(true) - al0) / n} B/persona");
    }
}
using var self = Process.GetCurrentProcess();
Console.WriteLine(JsonSerializer.Serialize(new
{
    tool = "persona",
    rows = result.Draw.PersonsLoaded,
    drawn = result.Personas.Count,
    psychodemographics = psycho,
    load_s = Math.Round(loadEnd, 3),
    prepare_s = Math.Round(sample.First - loadEnd, 3), // households, dictionary, universe, code check
    draw_decode_s = Math.Round(drawDecode, 3),
    personas_per_s = Math.Round(result.Personas.Count / drawDecode),
    wall_s = Math.Round(wall, 3),
    alias_s = Math.Round(aliasSeconds, 3),
    id_hash_s = Math.Round(idSeconds, 3), // diagnostic: re-hashing every drawn persona once more
    peak_working_set_mb = Math.Round(self.PeakWorkingSet64 / 1048576.0, 1),
}));
return 0;
