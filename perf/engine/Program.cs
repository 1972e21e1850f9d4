// The task engine end to end on the offline provider: a two-role task (the model answers, a judge
// grades the answer with a JSON verdict) through the full middleware stack of each role (cache
// with SQLite writes, structured output, accounting against one shared budget), the shared
// fan-out and the sample log. One size per process, so peak memory is that size's own.
//   --config engine  the task engine (cold run directory: every call a cache miss, stored)
//   --config raw     the same calls straight to the simulator, no middleware, no store: the baseline
//   dotnet run -c Release --project perf/engine -- --items 100000 --config engine
// Prints one JSON line: items, calls, seconds, calls/s, peak RSS (VmHWM), GC heap.
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Engine;

var items = ArgValue("--items") is { } s ? int.Parse(s) : 100_000;
var config = ArgValue("--config") ?? "engine";
var concurrency = ArgValue("--concurrency") is { } c ? int.Parse(c) : 16;
var judgeSchema = JsonDocument.Parse("""
    {"type":"object","properties":{"preferred":{"type":"string","enum":["A","B"]},"reason":{"type":"string","maxLength":40}},"required":["preferred","reason"]}
    """).RootElement.Clone();

static List<ChatMessage> Answer(int i) => [new(ChatRole.User, $"Question {i}: what should a city do about parking near schools?")];
static List<ChatMessage> Judge(int i, string answer) =>
    [new(ChatRole.System, "You grade answers."), new(ChatRole.User, $"Question {i}. Answer: {answer}\nIs it good? Reply A (yes) or B (no).")];
var answerOptions = new ChatOptions { Temperature = 0, MaxOutputTokens = 24 };
var judgeOptions = new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(judgeSchema, "verdict") };

var work = Path.Combine(Path.GetTempPath(), $"persona-perf-engine-{Environment.ProcessId}");
Directory.CreateDirectory(work);
var sw = Stopwatch.StartNew();
long calls = 0;
try
{
    if (config == "raw")
    {
        var sim = new OfflineSimulator();
        await Parallel.ForEachAsync(Enumerable.Range(0, items), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
        {
            var a = await sim.GetResponseAsync(Answer(i), answerOptions, ct);
            var j = await sim.GetResponseAsync(Judge(i, a.Text), judgeOptions, ct);
            JsonDocument.Parse(j.Text).Dispose();
            Interlocked.Add(ref calls, 2);
        });
    }
    else
    {
        await using var rt = LlmRuntime.Open(new LlmRuntimeOptions
        {
            Model = "offline",
            RunDirectory = Path.Combine(work, "run"),
            Resilience = new ResilienceOptions { Concurrency = concurrency },
            Roles = new Dictionary<string, RoleOptions> { ["judge"] = new() { Concurrency = concurrency } },
        });
        async IAsyncEnumerable<int> Data()
        {
            for (var i = 0; i < items; i++) yield return i;
            await Task.CompletedTask;
        }
        var task = new EvalTask<int>
        {
            Name = "perf",
            Version = "perf/1",
            Dataset = Data(),
            Inputs = i => new Dictionary<string, string> { ["item"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            Solver = async (i, ctx, ct) =>
            {
                var a = await ctx.CallAsync(LlmRuntime.DefaultRole, Answer(i), answerOptions, ct, "answer");
                return new SolverResult(a.Text);
            },
            Scorers =
            [
                new Scorer("judge", async (sample, ctx, ct) =>
                {
                    var i = int.Parse(sample.Inputs["item"], System.Globalization.CultureInfo.InvariantCulture);
                    var j = await ctx.CallAsync("judge", Judge(i, sample.Output!), judgeOptions, ct, "judge");
                    using var doc = JsonDocument.Parse(j.Text);
                    var good = doc.RootElement.GetProperty("preferred").GetString() == "A";
                    return new Score(good ? 1 : 0, null, null, "judge", null, null, null);
                }),
            ],
        };
        var summary = await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(task, rt, new TaskRunOptions { FanOut = rt.FanOutOptions() }), "perf");
        calls = rt.Budget.Snapshot().Completed;
        if (summary.Succeeded != items || calls != 2L * items) throw new InvalidOperationException($"expected {items} samples and {2L * items} calls, got {summary.Succeeded} and {calls}");
    }
}
finally
{
    try { Directory.Delete(work, true); } catch (IOException) { }
}
sw.Stop();
Console.WriteLine(JsonSerializer.Serialize(new
{
    config,
    items,
    calls,
    concurrency,
    seconds = Math.Round(sw.Elapsed.TotalSeconds, 3),
    calls_per_s = Math.Round(calls / sw.Elapsed.TotalSeconds, 1),
    peak_rss_mb = Math.Round(PeakRssKb() / 1024.0, 1),
    gc_heap_mb = Math.Round(GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0, 1),
    loadavg = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
}));

static long PeakRssKb()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    return 0;
}

static string? ArgValue(string name)
{
    var args = Environment.GetCommandLineArgs();
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
