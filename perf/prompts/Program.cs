// Prompts curated per second: the bundled PRISM prompts through the whole curation stage with an
// instant fake classifier (so the numbers are the pipeline's own cost) and the real MiniLM
// embedder, timing each stage. Writes perf/results/prompts-curation.json.
//   dotnet run -c Release --project perf/prompts [-- --k-grid 8,10,...,40] [--seed 1]
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Embeddings;
using Persona.Prompts;

var seed = ArgValue("--seed") is { } s ? int.Parse(s) : 1;
var grid = ArgValue("--k-grid") is { } g ? g.Split(',').Select(int.Parse).ToArray() : new PromptCurationOptions().KCandidates.ToArray();
var resultsDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../results"));

var total = Stopwatch.StartNew();
var prompts = PromptLoader.LoadBundledPrism();
var loadMs = total.Elapsed.TotalMilliseconds;

var sw = Stopwatch.StartNew();
using var embedder = new MiniLmEmbedder();
var modelLoadMs = sw.Elapsed.TotalMilliseconds;

var marks = new List<(string Stage, double Ms)>();
var progress = new StageClock(marks, Stopwatch.StartNew());
var options = new PromptCurationOptions { Seed = seed, KCandidates = grid };
sw.Restart();
var result = await new PromptCurator(new InstantYes(), embedder, options).CurateAsync(prompts, "bundled:prism", progress);
var curateMs = sw.Elapsed.TotalMilliseconds;

sw.Restart();
var outDir = Path.Combine(Path.GetTempPath(), "persona-perf-prompts");
await PromptCurationWriter.WriteAsync(outDir, result);
var writeMs = sw.Elapsed.TotalMilliseconds;

// Stage durations: from a stage's first progress event to the next stage's first event.
var firsts = marks.GroupBy(m => m.Stage).Select(gr => (Stage: gr.Key, Start: gr.Min(m => m.Ms))).OrderBy(x => x.Start).ToList();
var stages = new Dictionary<string, double> { ["filters"] = firsts.Count > 0 ? firsts[0].Start : curateMs };
for (int i = 0; i < firsts.Count; i++)
    stages[firsts[i].Stage] = (i + 1 < firsts.Count ? firsts[i + 1].Start : curateMs) - firsts[i].Start;

var rep = result.Report;
var summary = new
{
    machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
    source_prompts = prompts.Count,
    kept = rep.Classifier.Controversial,
    seed,
    k_grid = grid,
    chosen_k = rep.Topics.K,
    candidates = rep.Topics.Candidates,
    filters = rep.Filters,
    ms = new { load = loadMs, model_load = modelLoadMs, curate = curateMs, write = writeMs, stages },
    source_prompts_per_second = prompts.Count / (curateMs / 1000),
    kept_prompts_per_second = rep.Classifier.Controversial / (curateMs / 1000),
    embeddings_per_second = rep.Classifier.Controversial / (stages.GetValueOrDefault("embed") / 1000),
    cluster_sizes = rep.Topics.Clusters.Select(c => c.Total),
};
var json = JsonSerializer.Serialize(summary, new JsonSerializerOptions(PromptCurationWriter.ReportJsonOptions));
Console.WriteLine(json);
Directory.CreateDirectory(resultsDir);
File.WriteAllText(Path.Combine(resultsDir, "prompts-curation.json"), json + "\n");

string? ArgValue(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }

sealed class InstantYes : IChatClient
{
    private static readonly ChatResponse Yes = new(new ChatMessage(ChatRole.Assistant, """{"controversial": true, "reason": "bench"}"""));
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) => Task.FromResult(Yes);
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    public object? GetService(Type serviceType, object? serviceKey = null) => null;
    public void Dispose() { }
}

sealed class StageClock(List<(string, double)> marks, Stopwatch clock) : IProgress<CurationProgress>
{
    public void Report(CurationProgress value) { lock (marks) marks.Add((value.Stage, clock.Elapsed.TotalMilliseconds)); }
}
