using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Persona.Web.Tests;

// perf/study: simulated raters against a running `persona study serve`, over 127.0.0.1 only.
//   pairs --personas N --items K --out DIR          made-up pairs for a study of that size
//   load --base URL --entry PATH --raters R          one untimed warm-up rater, then R raters at once, each completing its place;
//        [--baseline-requests M]                     then M requests per rater to "/" (no database) as the floor
//        [--from 127.0.1.] [--pin SHA1] [--admin-base URL] [--pid-prefix P] [--think-ms T]
//                                                    raters connect from 127.0.1.1, .2, ... (one address each, as separate
//                                                    machines); pin the server's certificate over https; read the export
//                                                    from --admin-base (default --base); Prolific ids P0000..., so several
//                                                    runs can share one study; each rater pauses T ms on average
//                                                    (0.5-1.5 T) before each answer, 0: back to back (saturation)
// Prints one JSON line: throughput, latency percentiles by request kind, lost/duplicated answers.
var inv = CultureInfo.InvariantCulture;
string Arg(string name, string? fallback = null)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback ?? throw new ArgumentException($"missing {name}");
}

switch (args.FirstOrDefault())
{
    case "pairs":
    {
        int personas = int.Parse(Arg("--personas"), inv), items = int.Parse(Arg("--items"), inv);
        var dir = Arg("--out");
        Directory.CreateDirectory(dir);
        using var w = new StreamWriter(Path.Combine(dir, "pairs.jsonl"));
        for (var p = 1; p <= personas; p++)
            for (var q = 1; q <= items; q++)
                w.WriteLine(JsonSerializer.Serialize(new Dictionary<string, string>
                {
                    ["pair_id"] = $"p{p:000}-q{q:00}", ["persona_id"] = $"p{p:000}", ["prompt_id"] = $"q{q:00}",
                    ["persona"] = $"age: {20 + p % 60}\nsex: {(p % 2 == 0 ? "Female" : "Male")}\nlifestyle: simulated persona {p} for the benchmark\n",
                    ["instruction"] = $"Simulated question {q}: what would you advise someone deciding between two options?",
                    ["original"] = string.Concat(Enumerable.Repeat($"A generic answer to question {q} that weighs both sides. ", 8)),
                    ["data"] = string.Concat(Enumerable.Repeat($"A personalised answer to question {q} for persona {p}. ", 6)),
                    ["critique"] = "simulated", ["question type"] = "test", ["split"] = "test-seen",
                }));
        return 0;
    }
    case "load":
    {
        var baseUrl = Arg("--base");
        var entry = Arg("--entry");
        var raters = int.Parse(Arg("--raters"), inv);
        var baselineRequests = int.Parse(Arg("--baseline-requests", "20"), inv);
        var fromPrefix = args.Contains("--from") ? Arg("--from") : null;
        var pin = args.Contains("--pin") ? Arg("--pin") : null;
        var adminBase = Arg("--admin-base", baseUrl);
        var pidPrefix = Arg("--pid-prefix", "bench");
        var thinkMs = int.Parse(Arg("--think-ms", "0"), inv);
        // Rater i connects from prefix + (i % 250 + 1): up to 250 distinct addresses per prefix.
        string? From(int i) => fromPrefix is null ? null : fromPrefix + (i % 250 + 1).ToString(inv);
        var token = Environment.GetEnvironmentVariable("PERSONA_STUDY_ADMIN_TOKEN") ?? throw new ArgumentException("PERSONA_STUDY_ADMIN_TOKEN must be set");
        // One rater completes the flow first, untimed: the server's first requests compile its code
        // paths (the CLI is built without quick JIT), which a study running for days pays once.
        using var warm = new RaterClient(baseUrl, From(raters), pin);
        if (await warm.ClaimAsync(entry, pidPrefix + "warmup") is null) throw new InvalidOperationException("no place for the warm-up rater");
        await warm.CompleteAsync(pos => pos % 2);
        var clients = Enumerable.Range(0, raters).Select(i => new RaterClient(baseUrl, From(i), pin)).ToList();
        // A gate, not a Barrier: fifty blocked pool threads would starve the clients' own continuations.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sw = Stopwatch.StartNew();
        var failures = 0;
        var runs = clients.Select((c, i) => Task.Run(async () =>
        {
            await start.Task;
            try
            {
                if (await c.ClaimAsync(entry, $"{pidPrefix}{i:0000}") is null) throw new InvalidOperationException("no place: " + c.LastBody?[..Math.Min(200, c.LastBody.Length)]);
                await c.CompleteAsync(pos => (pos + i) % 2, resubmit: i % 2 == 0, thinkMs: thinkMs);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref failures);
                Console.Error.WriteLine($"rater {i}: {ex.Message}");
            }
        })).ToArray();
        sw.Restart();
        start.SetResult();
        await Task.WhenAll(runs);
        var studySeconds = sw.Elapsed.TotalSeconds;
        var study = clients.SelectMany(c => c.Timings).ToList();

        // Baseline in the same run: the same clients on "/", a page that touches no database.
        var baseline = new List<double>();
        sw.Restart();
        var baseRuns = clients.Select(c => Task.Run(async () =>
        {
            var local = new List<double>();
            for (var k = 0; k < baselineRequests; k++)
            {
                var t = Stopwatch.StartNew();
                await c.GetAsync("/", "baseline");
                local.Add(t.Elapsed.TotalMilliseconds);
            }
            lock (baseline) baseline.AddRange(local);
        })).ToArray();
        await Task.WhenAll(baseRuns);
        var baselineSeconds = sw.Elapsed.TotalSeconds;
        // The baseline only means something if it made every request it was asked for and each was served.
        var baselineServed = clients.Sum(c => c.Timings.Count(t => t.Kind == "baseline" && t.Status < 400));

        // Every acknowledged answer must be in the export exactly once.
        using var http = new HttpClient { BaseAddress = new Uri(adminBase) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var rows = (await http.GetStringAsync("/admin/export/answers.jsonl")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).Select(e => (Pid: e.GetProperty("prolific_pid").GetString(), Pos: e.GetProperty("position").GetInt32()))
            .Where(r => r.Pid is not null && r.Pid.StartsWith(pidPrefix, StringComparison.Ordinal)).ToList(); // this run's raters only
        var acknowledged = clients.Append(warm).Sum(c => c.Timings.Count(t => t.Kind == "submit" && t.Status == 303));
        var distinct = rows.Distinct().Count();

        object Stats(IEnumerable<double> xs)
        {
            var s = xs.Order().ToArray();
            double P(double q) => s.Length == 0 ? double.NaN : s[Math.Min(s.Length - 1, (int)Math.Ceiling(q * s.Length) - 1)];
            return new { n = s.Length, p50_ms = Math.Round(P(0.50), 2), p90_ms = Math.Round(P(0.90), 2), p99_ms = Math.Round(P(0.99), 2), max_ms = Math.Round(s.LastOrDefault(), 2) };
        }
        var result = new
        {
            raters, failures, seconds = Math.Round(studySeconds, 3), think_ms = thinkMs, base_url = baseUrl, distinct_client_addresses = fromPrefix is null ? 1 : Math.Min(raters, 250),
            requests = study.Count, requests_per_s = Math.Round(study.Count / studySeconds, 1),
            submit = Stats(study.Where(t => t.Kind == "submit").Select(t => t.Ms)),
            resubmit = Stats(study.Where(t => t.Kind == "resubmit").Select(t => t.Ms)),
            page = Stats(study.Where(t => t.Kind is "page" or "entry").Select(t => t.Ms)),
            claim = Stats(study.Where(t => t.Kind == "claim").Select(t => t.Ms)),
            non_2xx_3xx = study.Count(t => t.Status >= 400),
            baseline = new { requests = baseline.Count, served = baselineServed, requests_per_s = Math.Round(baseline.Count / baselineSeconds, 1), latency = Stats(baseline) },
            answers_acknowledged = acknowledged, answers_stored = rows.Count, answers_distinct = distinct,
            lost = acknowledged - distinct, duplicated = rows.Count - distinct,
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        foreach (var c in clients) c.Dispose();
        if (baseline.Count != raters * baselineRequests || baselineServed != baseline.Count)
        {
            Console.Error.WriteLine($"baseline did not do its work: {baseline.Count} requests to \"/\" made and {baselineServed} served, " +
                $"expected {raters * baselineRequests} ({raters} raters x {baselineRequests}); its latencies are no baseline");
            return 3;
        }
        return failures == 0 && result.lost == 0 && result.duplicated == 0 ? 0 : 2;
    }
    default:
        Console.Error.WriteLine("usage: pairs --personas N --items K --out DIR | load --base URL --entry PATH --raters R [--baseline-requests M]");
        return 1;
}
