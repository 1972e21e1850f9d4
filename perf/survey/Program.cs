// Survey benchmark, two parts (see README.md):
//   panel PERSONAS.jsonl WORKDIR [--questions N] [--modes persona] [--elicitation verbalized] [--concurrency 16]
//     The survey stage's own steps on the offline simulator, as TestbedStageRunner.SurveyAsync runs them: the panel from a
//     built population, every panelist x question through the LM runtime (cache misses into a fresh SQLite store), the
//     sample log export, scoring, the results, heat map and Every Eval Ever files. Times each step, and measures the real
//     tokens of the prompts and answers (o200k tokenizer on the exported samples) beside the dry run's estimate.
//   score SURVEY.jsonl PREDICTIONS.jsonl [--resamples 1000] [--repeat 3]
//     SurveyScoring.Score alone (reading the files timed apart), the same work as perf/survey/numpy_baseline.py.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Persona;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Survey;

var inv = CultureInfo.InvariantCulture;
string Opt(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var json = new JsonSerializerOptions { WriteIndented = true };

if (args.Length >= 3 && args[0] == "score")
{
    var resamples = int.Parse(Opt("--resamples", "1000"), inv);
    var repeat = int.Parse(Opt("--repeat", "3"), inv);
    var sw = Stopwatch.StartNew();
    var survey = SurveySetFile.Read(args[1]);
    var rows = SurveyPredictionsFile.Read(args[2], survey);
    var read = sw.Elapsed.TotalSeconds;
    var times = new List<double>();
    SurveyResults? r = null;
    for (var k = 0; k < repeat; k++)
    {
        sw.Restart();
        r = SurveyScoring.Score(survey, rows, resamples: resamples, seed: 1);
        times.Add(sw.Elapsed.TotalSeconds);
    }
    times.Sort();
    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["part"] = "score", ["rows"] = rows.Count, ["questions"] = survey.Questions.Count, ["groups"] = survey.Groups.Count, ["resamples"] = resamples,
        ["read_s"] = Math.Round(read, 3), ["score_s"] = times.Select(t => Math.Round(t, 3)).ToList(), ["score_median_s"] = Math.Round(times[times.Count / 2], 3),
        ["overall_mean_distance"] = r!.Overall.MeanDistance, ["uniform"] = r.OverallBaselines.Uniform, ["prior"] = r.OverallBaselines.PopulationPrior,
        ["groups_mean_distance"] = r.Groups.ToDictionary(g => g.Group.ToString(), g => g.Score.MeanDistance),
    }, json));
    return 0;
}

if (args.Length < 3 || args[0] != "panel")
{
    Console.Error.WriteLine("usage: panel PERSONAS.jsonl WORKDIR [--questions N] [--modes persona] [--elicitation verbalized] [--concurrency 16] | score SURVEY.jsonl PREDICTIONS.jsonl [--resamples N] [--repeat N]");
    return 2;
}
{
    var work = args[2];
    Directory.CreateDirectory(work);
    var modes = SurveyModes.Parse(Opt("--modes", "persona"));
    var elicitation = SurveyElicitation.Parse(Opt("--elicitation", "verbalized"));
    var concurrency = int.Parse(Opt("--concurrency", "16"), inv);
    var phases = new Dictionary<string, double>();
    var total = Stopwatch.StartNew();
    var sw = Stopwatch.StartNew();
    var survey = SurveySetFile.Read(SurveySet.BundledPath);
    var records = new List<PersonaRecord>();
    await foreach (var rec in PersonaJsonl.ReadAsync(args[1])) records.Add(rec);
    var panel = SurveyStage.Panel(records);
    var questions = SurveyStage.Questions(survey, Opt("--questions", "") is { Length: > 0 } q ? int.Parse(q, inv) : null, 1);
    phases["load_s"] = sw.Elapsed.TotalSeconds;

    sw.Restart();
    var samples = new List<SampleRecord>();
    var expected = SurveyStage.Count(panel.Count, survey, questions, modes, elicitation);
    await using (var rt = LlmRuntime.Open(new LlmRuntimeOptions { Model = "offline", RunDirectory = work, Resilience = new ResilienceOptions { Concurrency = concurrency } }))
    {
        var task = SurveyTask.Create(SurveyStage.Items(panel, survey, questions, modes, elicitation), "judge");
        await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(task, rt), task.Name, s => samples.Add(s.WithoutTranscripts()));
        phases["ask_s"] = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var dir = Path.Combine(work, "survey");
        Directory.CreateDirectory(dir);
        await SampleLogExport.WriteJsonlAsync(rt.Store, task.Name, Path.Combine(dir, SurveyStage.SamplesFile));
        phases["export_s"] = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var result = SurveyStage.Score(samples, panel, survey, questions, 30, 1000, 1);
        phases["score_s"] = sw.Elapsed.TotalSeconds;
        sw.Restart();
        await AtomicFile.WriteAsync(Path.Combine(dir, SurveyStage.ResultsFile), (st, _) => { SurveyResultsJson.Write(st, result.Panel!, simulated: true); return Task.CompletedTask; }, default);
        await SurveyStage.WriteExtrasAsync(dir, survey, result, rt.ModelIdentity, elicitation, true, DateTimeOffset.UtcNow, default);
        phases["write_s"] = sw.Elapsed.TotalSeconds;
        phases["total_s"] = total.Elapsed.TotalSeconds;

        // Real tokens of what was asked and answered (every 10th persona-mode sample of the export), beside the dry run's estimate.
        long n = 0, prompt = 0, completion = 0, seen = 0;
        foreach (var line in File.ReadLines(Path.Combine(dir, SurveyStage.SamplesFile)))
        {
            if (seen++ % 10 != 0) continue;
            using var doc = JsonDocument.Parse(line);
            var turn = doc.RootElement.GetProperty("turns")[0];
            var msgs = turn.GetProperty("messages").EnumerateArray()
                .Select(m => new Microsoft.Extensions.AI.ChatMessage(new Microsoft.Extensions.AI.ChatRole(m.GetProperty("role").GetString()!), m.GetProperty("content").GetString())).ToList();
            prompt += TokenCounter.CountPrompt(msgs);
            completion += TokenCounter.Count(turn.TryGetProperty("output", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null);
            n++;
        }
        var estimate = SurveyStage.Cost(panel.Count, survey, questions, modes, elicitation, 420).Single(l => l.Mode == SurveyModes.Persona);
        var prices = PriceTable.LoadDefault();
        var model = ModelSpec.Parse("openai:gpt-4o-mini");
        double PerPersona(double p, double c) => prices.Estimate(model, (long)Math.Round(p * questions.Count), (long)Math.Round(c * questions.Count)).Cost;
        var measuredPrompt = (double)prompt / n;
        var measuredCompletion = (double)completion / n;
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["part"] = "panel", ["personas_built"] = records.Count, ["panelists"] = panel.Count, ["questions"] = questions.Count, ["modes"] = modes, ["elicitation"] = elicitation,
            ["samples"] = samples.Count, ["expected_samples"] = expected, ["failed"] = result.Failed, ["groups_scored"] = result.Panel?.Groups.Count, ["withheld"] = result.Panel?.Withheld.Count,
            ["overall_mean_distance"] = result.Panel?.Overall.MeanDistance, ["phases"] = phases.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 2)),
            ["calls_per_s"] = Math.Round(samples.Count / phases["ask_s"], 1),
            ["tokens_sampled_calls"] = n,
            ["prompt_tokens_per_call"] = new { measured = Math.Round(measuredPrompt, 1), dry_run = Math.Round(estimate.PromptTokens, 1) },
            ["completion_tokens_per_call"] = new { measured = Math.Round(measuredCompletion, 1), dry_run = Math.Round(estimate.CompletionTokens, 1) },
            ["usd_per_persona_at_gpt_4o_mini"] = new { measured_tokens = Math.Round(PerPersona(measuredPrompt, measuredCompletion), 5), dry_run = Math.Round(PerPersona(estimate.PromptTokens, estimate.CompletionTokens), 5) },
        }, json));
    }
    return 0;
}
