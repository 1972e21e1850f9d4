// What the fidelity report's chance levels cost: FidelityReport.Compute on the bundled 2024 extract
// (100,000 weighted census rows, all 24 attributes, the 7 default pairs) for synthetic populations
// of 200, 2,000 and 20,000 persons drawn from it, with the default 200 simulated samples beside a
// baseline of 1 (the report as it was, plus one replicate), alternating, in the same run.
// Writes perf/results/fidelity-chance.json.
//   dotnet run -c Release --project perf/fidelity [-- --repeats 3]
using System.Diagnostics;
using System.Text.Json;
using Persona.Census;
using Persona.Personas;
using Persona.Fidelity;

var repeats = args.Length == 2 && args[0] == "--repeats" ? int.Parse(args[1]) : 3;
var resultsDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../results"));

var table = await PumsLoader.LoadAsync([Persona.BundledData.Path(CensusDraw.BundledSource)], null, default);
var decoder = new PumsDecoder(table, PumsDictionary.Load(CensusDraw.BundledDictionary(table)), keepUnknownCodes: false);
var census = Enumerable.Range(0, table.Count)
    .Select(r => ((IReadOnlyDictionary<string, string?>)PopulationFidelity.CensusAttributes(PersonaRecord.FromCensus(decoder.Decode(r), new PersonaTraits(null, 0), null)), table.GetWeight(r)))
    .ToList();
var cumulative = new double[census.Count];
double sum = 0;
for (var i = 0; i < census.Count; i++) cumulative[i] = sum += census[i].Item2;

var runs = new List<Dictionary<string, object>>();
foreach (var n in new[] { 200, 2_000, 20_000 })
{
    var rng = new Random(n);
    var synthetic = Enumerable.Range(0, n).Select(_ =>
    {
        var i = Array.BinarySearch(cumulative, rng.NextDouble() * sum);
        return census[i < 0 ? ~i : i].Item1;
    }).ToList();
    var times = new Dictionary<int, List<double>> { [1] = [], [200] = [] };
    var work = new Dictionary<int, (int Synthetic, int Census, int Attributes, int Pairs)>();
    for (var rep = 0; rep < repeats + 1; rep++) // the first round warms up the JIT and is not kept
        foreach (var replicates in new[] { 1, 200 })
        {
            var sw = Stopwatch.StartNew();
            var report = FidelityReport.Compute(synthetic, census, options: new FidelityOptions { ChanceReplicates = replicates });
            if (rep > 0) times[replicates].Add(sw.Elapsed.TotalSeconds);
            work[replicates] = (report.SyntheticCount, report.CensusCount, report.Attributes.Count, report.Pairs.Count);
        }
    // The ratio is the cost of the replicates only if both configurations compared the same populations
    // over the same attributes and pairs.
    if (work[1] != work[200] || work[1].Synthetic != n || work[1].Census != census.Count)
    {
        Console.Error.WriteLine($"perf/fidelity: at synthetic n = {n} the baseline (1 replicate) and the measured run (200) did not do the same work, so no ratio is written: " +
            $"1 replicate: {work[1].Synthetic} synthetic, {work[1].Census} census rows, {work[1].Attributes} attributes, {work[1].Pairs} pairs; " +
            $"200: {work[200].Synthetic}, {work[200].Census}, {work[200].Attributes}, {work[200].Pairs} (expected {n} synthetic and {census.Count} census rows)");
        Environment.Exit(3);
    }
    double Median(List<double> xs) { var s = xs.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
    var run = new Dictionary<string, object>
    {
        ["synthetic_n"] = n,
        ["attributes"] = work[1].Attributes,
        ["pairs"] = work[1].Pairs,
        ["median_s_baseline_1_replicate"] = Math.Round(Median(times[1]), 3),
        ["median_s_200_replicates"] = Math.Round(Median(times[200]), 3),
        ["ratio"] = Math.Round(Median(times[200]) / Median(times[1]), 2),
        ["load_average"] = File.ReadAllText("/proc/loadavg").Trim(),
    };
    runs.Add(run);
    Console.WriteLine(JsonSerializer.Serialize(run));
}

var doc = new Dictionary<string, object?>
{
    ["benchmark"] = "fidelity report with simulated chance levels, bundled 2024 extract as census",
    ["census_rows"] = census.Count,
    ["repeats"] = repeats,
    ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}",
    ["measured_utc"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm"),
    ["runs"] = runs,
};
Directory.CreateDirectory(resultsDir);
await File.WriteAllTextAsync(Path.Combine(resultsDir, "fidelity-chance.json"), JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n");
