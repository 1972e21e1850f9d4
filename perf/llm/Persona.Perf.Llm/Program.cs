// LM runtime benchmark (issue 3 item 6). One program, four modes, driven by perf/llm/run.sh:
//   serve    --latency-ms N                     fake OpenAI-compatible server (own process, so the
//                                               client's CPU time is the client's alone); prints its URL
//   requests --calls N --out FILE               a requests.jsonl as `persona llm batch --in` reads it
//   seed     --in FILE --run-dir DIR            fills DIR/store.sqlite with one completed, cached call per
//                                               request, through the runtime's own cache layer (what an
//                                               earlier run would have left), without a server
//   client   --url URL --in FILE --run-dir DIR --out FILE [--concurrency N] [--expect-cached]
//                                               the real path: LlmRuntime (openai provider, SQLite cache,
//                                               accounting, retry, endpoint pool) driven by BatchRunner,
//                                               as `persona llm batch` does; prints one JSON line
using Persona.Engine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Store;
using Persona.Testing.FakeLlm;

const string ModelSpecText = "openai:fake-model";

var mode = args.Length > 0 ? args[0] : "";
switch (mode)
{
    case "serve": return await Serve();
    case "requests": return WriteRequests();
    case "seed": return await Seed();
    case "client": return await Client();
    case "profile": return await Profile();
    default:
        Console.Error.WriteLine("usage: Persona.Perf.Llm serve|requests|seed|client [options] (see the header of Program.cs)");
        return 2;
}

async Task<int> Serve()
{
    await using var server = await FakeLlmServer.StartAsync();
    server.RecordRequests = false;
    server.Latency = TimeSpan.FromMilliseconds(double.Parse(Arg("--latency-ms") ?? "0", System.Globalization.CultureInfo.InvariantCulture));
    var stop = new TaskCompletionSource();
    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
    using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
    Console.WriteLine(server.BaseUrl);
    Console.Out.Flush();
    await stop.Task;
    var p = Process.GetCurrentProcess();
    Console.Error.WriteLine(JsonSerializer.Serialize(new { server_received = server.TotalReceived, server_cpu_s = p.TotalProcessorTime.TotalSeconds, server_peak_rss_mb = PeakRssMb() }));
    return 0;
}

int WriteRequests()
{
    var n = long.Parse(Arg("--calls") ?? throw new ArgumentException("--calls"));
    var path = Arg("--out") ?? throw new ArgumentException("--out");
    var prefix = Arg("--prefix") ?? "request";
    using var w = new StreamWriter(path, false, new System.Text.UTF8Encoding(false), 1 << 16);
    for (long i = 0; i < n; i++)
        w.Write($"{{\"id\":\"r{i}\",\"messages\":[{{\"role\":\"user\",\"content\":\"{prefix} {i}\"}}]}}\n");
    return 0;
}

async Task<int> Seed()
{
    var requests = BatchRequestReader.Read(Arg("--in") ?? throw new ArgumentException("--in"));
    var dir = Arg("--run-dir") ?? throw new ArgumentException("--run-dir");
    Directory.CreateDirectory(dir);
    var sw = Stopwatch.StartNew();
    await using (var store = RunStore.Open(Path.Combine(dir, "store.sqlite")))
    {
        // The cache layer and the accounting layer exactly as LlmRuntime stacks them, over an
        // instant echo model: rows identical (keys included) to what a paid run leaves behind.
        var model = ModelSpec.Parse(ModelSpecText);
        using IChatClient client = new ChatClientBuilder(new IdentifiedChatClient(new InstantEcho(), new ModelIdentity(LlmRuntime.DefaultRole, model, model.Identity, false, ["echo"])))
            .UsePersistentCache(store)
            .UseAccounting(new Budget(), PriceTable.LoadDefault())
            .Build();
        var next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests.Count)
                await client.GetResponseAsync(requests[i].Messages, requests[i].ToOptions());
        }
        await Task.WhenAll(Enumerable.Range(0, Environment.ProcessorCount).Select(_ => Task.Run(Worker)));
        await store.FlushAsync();
    }
    Console.Error.WriteLine($"seeded {requests.Count} cached calls in {sw.Elapsed.TotalSeconds:0.0} s");
    return 0;
}

async Task<int> Client()
{
    var url = Arg("--url") ?? throw new ArgumentException("--url");
    var inPath = Arg("--in") ?? throw new ArgumentException("--in");
    var dir = Arg("--run-dir") ?? throw new ArgumentException("--run-dir");
    var outPath = Arg("--out") ?? Path.Combine(dir, "results.jsonl");
    var concurrency = int.Parse(Arg("--concurrency") ?? "256");
    var expectCached = args.Contains("--expect-cached");
    var proc = Process.GetCurrentProcess();

    var sw = Stopwatch.StartNew();
    var requests = BatchRequestReader.Read(inPath);
    var readS = sw.Elapsed.TotalSeconds;

    var options = new LlmRuntimeOptions
    {
        Model = ModelSpecText,
        BaseUrls = [url],
        RunDirectory = dir,
        Resilience = new ResilienceOptions { Concurrency = concurrency, Timeout = TimeSpan.FromSeconds(60) },
        Environment = name => name == "OPENAI_API_KEY" ? null : Environment.GetEnvironmentVariable(name),
    };
    BatchOutcome outcome;
    double wallS, cpuS, callsS;
    long allocated;
    int gen0, gen1, gen2;
    await using (var runtime = LlmRuntime.Open(options))
    {
        await runtime.EnsureReachableAsync(CancellationToken.None); // as the CLI does before the first paid call
        proc.Refresh();
        var cpu0 = proc.TotalProcessorTime;
        var alloc0 = GC.GetTotalAllocatedBytes(precise: false);
        (gen0, gen1, gen2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        sw.Restart();
        // When the last call returned, as opposed to when the output file was written and the store flushed.
        var counters = new BatchCounters();
        var run = BatchRunner.RunAsync(runtime, requests, outPath, counters);
        while (!run.IsCompleted && counters.Done < requests.Count) await Task.WhenAny(run, Task.Delay(5));
        callsS = sw.Elapsed.TotalSeconds;
        outcome = await run;
        wallS = sw.Elapsed.TotalSeconds;
        proc.Refresh();
        cpuS = (proc.TotalProcessorTime - cpu0).TotalSeconds;
        allocated = GC.GetTotalAllocatedBytes(precise: false) - alloc0;
        (gen0, gen1, gen2) = (GC.CollectionCount(0) - gen0, GC.CollectionCount(1) - gen1, GC.CollectionCount(2) - gen2);
    }
    var ok = outcome.Completed;
    var result = new
    {
        tool = "persona-runtime",
        status = outcome.Status,
        calls = ok,
        cached = outcome.Cached,
        failed = outcome.Failed,
        not_run = outcome.NotRun,
        read_input_s = Math.Round(readS, 3),
        wall_s = Math.Round(wallS, 3),
        calls_phase_s = Math.Round(callsS, 3),
        calls_per_s = Math.Round(ok / wallS, 1),
        cpu_s = Math.Round(cpuS, 3),
        cpu_ms_per_call = Math.Round(1000 * cpuS / Math.Max(ok, 1), 4),
        alloc_bytes_per_call = allocated / Math.Max(ok, 1),
        gc = new { gen0, gen1, gen2 },
        peak_rss_mb = PeakRssMb(),
    };
    Console.WriteLine(JsonSerializer.Serialize(result));
    if (outcome.Status != BatchRunner.StatusCompleted || outcome.Failed != 0 || (expectCached && outcome.Cached != requests.Count))
    {
        Console.Error.WriteLine($"benchmark run not clean: {outcome}");
        return 1;
    }
    return 0;
}

// Where a cache hit's time goes: each component of the replay path timed alone, single-threaded,
// over a copy of a seeded store (--run-dir). For finding costs, not for reporting.
async Task<int> Profile()
{
    var requests = BatchRequestReader.Read(Arg("--in") ?? throw new ArgumentException("--in"));
    var dir = Arg("--run-dir") ?? throw new ArgumentException("--run-dir");
    var n = requests.Count;
    var identity = ModelSpec.Parse(ModelSpecText).Identity;
    var keys = new string[n];
    var sw = Stopwatch.StartNew();
    var opts = new ChatOptions[n];
    for (var i = 0; i < n; i++) opts[i] = requests[i].ToOptions();
    Report("ToOptions", sw, n);
    sw.Restart();
    for (var i = 0; i < n; i++) keys[i] = CacheKey.Compute(identity, requests[i].Messages, opts[i]).Key;
    Report("cache key only", sw, n);
    sw.Restart();
    for (var i = 0; i < n; i++) keys[i] = CacheKey.Compute(identity, requests[i].Messages, requests[i].ToOptions()).Key;
    Report("cache key", sw, n);
    await using (var store = RunStore.Open(Path.Combine(dir, "store.sqlite")))
    {
        sw.Restart();
        var hits = 0;
        for (var i = 0; i < n; i++) if (store.Cache.TryGetResponse(keys[i], out _)) hits++;
        Report($"store lookup ({hits} hits)", sw, n);
        sw.Restart();
        for (var i = 0; i < n; i++) store.Cache.TryGetResponse(keys[0], out _);
        Report("store lookup, one key", sw, n);
        sw.Restart();
        for (var i = 0; i < n; i++)
            store.Cache.EnqueueCall(new CallRecord(keys[i], "openai", "fake-model", null, "{\"sample\":0}", DateTimeOffset.UtcNow, 0.01, 5, 3, false, 0, true, 0, "ok", null, null, "stop", false));
        Report("enqueue call", sw, n);
        await store.FlushAsync();
        Report("enqueue call + flush", sw, n);
    }
    var options = new LlmRuntimeOptions { Model = ModelSpecText, BaseUrls = ["http://127.0.0.1:9/v1"], RunDirectory = dir };
    await using (var runtime = LlmRuntime.Open(options))
    {
        sw.Restart();
        for (var i = 0; i < n; i++) await runtime.ChatClient.GetResponseAsync(requests[i].Messages, requests[i].ToOptions());
        Report("pipeline hit (1 thread, no flush)", sw, n);
        await runtime.Store.FlushAsync();
        Report("pipeline hit (1 thread) + flush", sw, n);
    }
    return 0;

    static void Report(string what, Stopwatch sw, int n)
        => Console.WriteLine($"{what,-40} {sw.Elapsed.TotalSeconds,8:0.000} s {1e6 * sw.Elapsed.TotalSeconds / n,8:0.00} us/call  alloc {GC.GetTotalAllocatedBytes() / 1048576,8} MB");
}

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static double PeakRssMb()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            return Math.Round(long.Parse(line[6..].Trim().Split(' ')[0]) / 1024.0, 1);
    return double.NaN;
}

/// <summary>Answers at once with the fake server's echo and a usage block: the model behind a seeded cache.</summary>
sealed class InstantEcho : IChatClient
{
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = "echo: " + messages.Last(m => m.Role == ChatRole.User).Text;
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = "fake-model",
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = 5, OutputTokenCount = 3, TotalTokenCount = 8 },
            AdditionalProperties = new() { [LlmMetadata.Attempts] = 1 },
        });
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() { }
}
