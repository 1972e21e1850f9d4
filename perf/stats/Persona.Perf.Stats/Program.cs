// Statistics benchmark driver (see perf/stats/run.sh). All data are simulated and labelled so.
//
//   gen DIR                           write DIR/scores.csv (1,586 personas x 200 prompts, binary) and
//                                     DIR/ratings.csv (250,000 items x 4 raters = 10^6 ratings, labels 1..5)
//   twoway SCORES RESAMPLES SEED      two-way clustered bootstrap of accuracy; one JSON line
//   alpha RATINGS LEVEL               Krippendorff's alpha; one JSON line
//   kappa RATINGS                     Cohen's kappa of raters r0 and r1, Fleiss' kappa of all four; one JSON line
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Persona.Statistics;

var inv = CultureInfo.InvariantCulture;
switch (args.ElementAtOrDefault(0))
{
    case "gen": Gen(args[1]); break;
    case "twoway": TwoWay(args[1], int.Parse(args[2], inv), ulong.Parse(args[3], inv)); break;
    case "alpha": Alpha(args[1], Enum.Parse<MeasurementLevel>(args[2], true)); break;
    case "kappa": Kappa(args[1]); break;
    default: Console.Error.WriteLine("usage: gen DIR | twoway SCORES RESAMPLES SEED | alpha RATINGS LEVEL | kappa RATINGS"); return 2;
}
return 0;

static void Gen(string dir)
{
    Directory.CreateDirectory(dir);
    var rng = new Random(20261201);
    double Gauss() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
    // Simulated accuracy: logit = 0.4 + persona effect + prompt effect.
    var pe = Enumerable.Range(0, 1586).Select(_ => 0.8 * Gauss()).ToArray();
    var qe = Enumerable.Range(0, 200).Select(_ => 0.6 * Gauss()).ToArray();
    var sb = new StringBuilder("persona,prompt,score\n");
    for (var p = 0; p < pe.Length; p++)
        for (var q = 0; q < qe.Length; q++)
        {
            var prob = 1 / (1 + Math.Exp(-(0.4 + pe[p] + qe[q])));
            sb.Append("p").Append(p).Append(",q").Append(q).Append(',').Append(rng.NextDouble() < prob ? '1' : '0').Append('\n');
        }
    File.WriteAllText(Path.Combine(dir, "scores.csv"), sb.ToString());
    // Simulated ratings: each rater copies a latent 1..5 value with probability 0.6, else guesses.
    sb.Clear().Append("item,rater,label\n");
    for (var i = 0; i < 250_000; i++)
    {
        var truth = rng.Next(1, 6);
        for (var r = 0; r < 4; r++)
            sb.Append('i').Append(i).Append(",r").Append(r).Append(',').Append(rng.NextDouble() < 0.6 ? truth : rng.Next(1, 6)).Append('\n');
    }
    File.WriteAllText(Path.Combine(dir, "ratings.csv"), sb.ToString());
}

static List<string[]> ReadCsv(string path) =>
    File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList();

void TwoWay(string path, int resamples, ulong seed)
{
    var sw = Stopwatch.StartNew();
    var rows = ReadCsv(path);
    var scores = rows.Select(r => double.Parse(r[2], inv)).ToArray();
    var persona = rows.Select(r => r[0]).ToArray();
    var prompt = rows.Select(r => r[1]).ToArray();
    var load = sw.Elapsed.TotalSeconds;
    sw.Restart();
    var b = Bootstrap.TwoWayClustered(scores, persona, prompt, resamples, seed);
    var compute = sw.Elapsed.TotalSeconds;
    Console.WriteLine(string.Create(inv, $"{{\"scores\":{scores.Length},\"resamples\":{resamples},\"load_s\":{load:F3},\"compute_s\":{compute:F3},\"estimate\":{b.Estimate:R},\"se\":{b.StandardError:R},\"lo\":{b.Interval.Lower:R},\"hi\":{b.Interval.Upper:R},\"threads\":{Environment.ProcessorCount}}}"));
}

List<IReadOnlyList<string>> Units(List<string[]> rows) =>
    rows.GroupBy(r => r[0]).Select(g => (IReadOnlyList<string>)g.Select(r => r[2]).ToList()).ToList();

void Alpha(string path, MeasurementLevel level)
{
    var sw = Stopwatch.StartNew();
    var rows = ReadCsv(path);
    var load = sw.Elapsed.TotalSeconds;
    sw.Restart();
    var units = Units(rows);
    var prep = sw.Elapsed.TotalSeconds;
    // Timed from labels grouped by unit (what a caller holds) to alpha: encoding + coincidences + alpha.
    sw.Restart();
    var data = ReliabilityData.FromLabels(units, level);
    var build = sw.Elapsed.TotalSeconds;
    var a = Krippendorff.Alpha(data);
    var compute = sw.Elapsed.TotalSeconds;
    Console.WriteLine(string.Create(inv, $"{{\"ratings\":{data.Ratings},\"level\":\"{level.ToString().ToLowerInvariant()}\",\"load_s\":{load:F3},\"prep_s\":{prep:F3},\"encode_s\":{build:F3},\"compute_s\":{compute:F3},\"alpha\":{a.Alpha:R}}}"));
}

void Kappa(string path)
{
    var sw = Stopwatch.StartNew();
    var rows = ReadCsv(path);
    var load = sw.Elapsed.TotalSeconds;
    sw.Restart();
    var byItem = rows.GroupBy(r => r[0]).Select(g => g.ToDictionary(r => r[1], r => r[2])).ToList();
    var a = byItem.Select(d => d["r0"]).ToList();
    var b = byItem.Select(d => d["r1"]).ToList();
    var prep = sw.Elapsed.TotalSeconds;
    sw.Restart();
    var k = Agreement.CohensKappa(a, b);
    var kq = Agreement.CohensKappa(a, b, KappaWeights.Quadratic);
    var f = Agreement.Fleiss(byItem.Select(d => (IReadOnlyList<string>)d.Values.ToList()).ToList());
    var compute = sw.Elapsed.TotalSeconds;
    Console.WriteLine(string.Create(inv, $"{{\"items\":{byItem.Count},\"load_s\":{load:F3},\"prep_s\":{prep:F3},\"compute_s\":{compute:F3},\"cohen\":{k.Kappa:R},\"cohen_se\":{k.StandardError:R},\"cohen_quadratic\":{kq.Kappa:R},\"fleiss\":{f.Kappa:R}}}"));
}
