using System.Text.Json;
using Persona.Testing.FakeLlm;

namespace Persona.Cli.Tests;

public sealed class BenchCommandsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-bench-cli-" + Guid.NewGuid().ToString("N"));
    private readonly string _personas, _questions;

    public BenchCommandsTests()
    {
        Directory.CreateDirectory(_dir);
        string[] races = ["White alone", "Black or African American alone", "Asian alone"];
        _personas = Path.Combine(_dir, "personas.jsonl");
        File.WriteAllLines(_personas, Enumerable.Range(0, 120).Select(i => JsonSerializer.Serialize(new
        {
            persona = $"age: {20 + i % 7 * 10}\nsex: {(i % 2 == 0 ? "Female" : "Male")}\nrace: {races[i / 2 % 3]}\nideology: {(i / 6 % 2 == 0 ? "Liberal" : "Conservative")}\nlifestyle: walks dogs {i}\n",
        })));
        _questions = Path.Combine(_dir, "questions.jsonl");
        File.WriteAllLines(_questions, Enumerable.Range(0, 10).Select(i => JsonSerializer.Serialize(new { id = $"q{i}", question = $"How should I plan for thing {i}?", split = i < 6 ? "held_out" : "train" })));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string[] Offline(params string[] args) =>
        [.. args, "--personas", _personas, "--prompts", _questions, "--model", "offline", "--world", Cli.Fixture("bench-world.json"), "--resamples", "200"];

    private static JsonElement Json(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;

    [Fact]
    public async Task Bench_run_writes_samples_results_and_figures_and_recovers_the_planted_mode_order()
    {
        var outDir = Path.Combine(_dir, "run");
        var (code, text) = await Cli.Run(Offline("bench", "run", "--critic-model", "offline", "--per-persona", "3", "--out", outDir));
        Assert.True(code == 0, text);
        Assert.Contains("simulated", text);
        Assert.Contains("the critic is the model under test", text); // offline answers and grades: said, not silent
        Assert.Equal(120 * 3 * 4, File.ReadLines(Path.Combine(outDir, "samples.jsonl")).Count());
        var results = Json(Path.Combine(outDir, "results.json"));
        Assert.True(results.GetProperty("critic_is_model_under_test").GetBoolean());
        var acc = results.GetProperty("modes").EnumerateArray().ToDictionary(m => m.GetProperty("mode").GetString()!, m => m.GetProperty("accuracy").GetProperty("accuracy").GetDouble());
        Assert.Equal(["baseline", "chain_of_thought", "output_only", "demographic_summary"], acc.OrderBy(kv => kv.Value).Select(kv => kv.Key));
        foreach (var f in new[] { "accuracy-by-mode", "accuracy-by-group" })
            foreach (var ext in new[] { ".png", ".svg" })
                Assert.True(new FileInfo(Path.Combine(outDir, "figures", f + ext)).Length > 1000, f + ext);
        Assert.False(File.Exists(Path.Combine(outDir, "samples.parquet"))); // only with --parquet
        Assert.Equal("completed", Json(Path.Combine(outDir, "manifest.json")).GetProperty("status").GetString());

        // Same command again: the log is reused, the results are byte-identical.
        var before = File.ReadAllText(Path.Combine(outDir, "results.json"));
        Assert.Equal(0, (await Cli.Run(Offline("bench", "run", "--critic-model", "offline", "--per-persona", "3", "--out", outDir, "--no-figures"))).Code);
        Assert.Equal(before, File.ReadAllText(Path.Combine(outDir, "results.json")));

        var (sc, st) = await Cli.Run("bench", "summaries", outDir, "--judge-model", "offline", "--world", Cli.Fixture("bench-world.json"));
        Assert.True(sc == 0, st);
        var summaries = Json(Path.Combine(outDir, "summaries", "summaries.json"));
        Assert.Equal("age", summaries.GetProperty("attributes")[0].GetProperty("attribute").GetString());
        Assert.True(File.Exists(Path.Combine(outDir, "summaries", "samples.jsonl")));
        Assert.True(File.Exists(Path.Combine(outDir, "summaries", "figures", "summaries-dropped.svg")));

        var intersections = Path.Combine(_dir, "x.json");
        File.WriteAllText(intersections, """[{"attributes": [{"attribute": "race", "values": ["Black or African American alone"]}]}]""");
        var (ic, it) = await Cli.Run(Offline("bench", "intersect", "--critic-model", "offline", "--per-persona", "3", "--out", outDir, "--intersections", intersections, "--no-figures"));
        Assert.True(ic == 0, it);
        var rows = Json(Path.Combine(outDir, "intersections.json")).GetProperty("rows");
        Assert.Equal(4, rows.GetArrayLength());
        Assert.All(rows.EnumerateArray(), r => Assert.Equal(40, r.GetProperty("personas").GetInt32()));
    }

    [Fact]
    public async Task Passk_and_loo_write_their_logs_and_results()
    {
        var pk = Path.Combine(_dir, "pk");
        var (code, text) = await Cli.Run(Offline("bench", "passk", "--critic-model", "offline", "--k", "4", "--samples", "20", "--out", pk, "--parquet"));
        Assert.True(code == 0, text);
        var mode = Json(Path.Combine(pk, "passk.json")).GetProperty("modes")[0];
        var pass = mode.GetProperty("pass_at");
        Assert.Equal(["pass@1", "pass@2", "pass@3", "pass@4"], pass.EnumerateObject().Select(p => p.Name));
        Assert.True(pass.GetProperty("pass@4").GetDouble() >= pass.GetProperty("pass@1").GetDouble());
        Assert.Equal(20 * 4, File.ReadLines(Path.Combine(pk, "samples.jsonl")).Count());
        Assert.True(File.Exists(Path.Combine(pk, "figures", "pass-at-k.png")));
        Assert.True(File.Exists(Path.Combine(pk, "samples.parquet")));
        var (bad, badText) = await Cli.Run(Offline("bench", "passk", "--critic-model", "offline", "--k", "4", "--n", "3", "--out", pk));
        Assert.Equal(1, bad);
        Assert.Contains("--n 3 is below --k 4", badText);

        var loo = Path.Combine(_dir, "loo");
        (code, text) = await Cli.Run("bench", "loo", "--personas", _personas, "--prompts", _questions, "--model", "offline", "--judge-model", "offline",
            "--world", Cli.Fixture("bench-world.json"), "--attributes", "ideology,sex", "--loo-personas", "20", "--loo-questions", "5", "--out", loo,
            "--drop-mode", "output_only", "--critic-model", "offline");
        Assert.True(code == 0, text);
        var ranking = Json(Path.Combine(loo, "loo.json")).GetProperty("ranking");
        Assert.Equal(["ideology", "sex"], ranking.EnumerateArray().Select(a => a.GetProperty("attribute").GetString()));
        Assert.Equal(20 * 5 * 2 * 2 * 2, File.ReadLines(Path.Combine(loo, "samples.jsonl")).Count()); // attributes x personas x questions x conditions x orders
        var drop = Json(Path.Combine(loo, "drop", "drop.json"));
        Assert.Equal(["ideology", "sex"], drop.GetProperty("ranking").EnumerateArray().Select(a => a.GetProperty("attribute").GetString()).Order());
        Assert.All(drop.GetProperty("ranking").EnumerateArray(), a => Assert.Equal(100, a.GetProperty("pairs").GetInt32()));
        Assert.True(File.Exists(Path.Combine(loo, "drop", "samples.jsonl")));
    }

    [Fact]
    public async Task With_pairs_all_means_five_modes_and_few_shot_shows_train_pairs_matched_by_persona_text()
    {
        // Pairs name personas by an id of their own builder: they are matched by the persona text.
        var pairs = Path.Combine(_dir, "pairs.jsonl");
        var texts = File.ReadAllLines(_personas).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("persona").GetString()!).ToList();
        File.WriteAllLines(pairs, texts.SelectMany((t, i) => new[] { 6, 7 }.Select(q => JsonSerializer.Serialize(new
        {
            pair_id = $"p{i}-{q}", persona_id = $"other-id-{i}", prompt_id = $"q{q}", persona = t, instruction = $"How should I plan for thing {q}?",
            original = "a generic answer", data = $"the answer persona {i} chose", split = "train",
        }))));
        var outDir = Path.Combine(_dir, "fewshot");
        var (code, text) = await Cli.Run(Offline("bench", "run", "--critic-model", "offline", "--samples", "12", "--pairs", pairs, "--out", outDir, "--no-figures"));
        Assert.True(code == 0, text);
        var modes = Json(Path.Combine(outDir, "results.json")).GetProperty("modes").EnumerateArray().Select(m => m.GetProperty("mode").GetString()!).ToArray();
        Assert.Equal(["baseline", "output_only", "chain_of_thought", "demographic_summary", "few_shot_preferences"], modes);
        var fewShot = File.ReadLines(Path.Combine(outDir, "samples.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(s => s.GetProperty("inputs").GetProperty("mode").GetString() == "few_shot_preferences").ToList();
        Assert.Equal(12, fewShot.Count);
        Assert.All(fewShot, s => Assert.Contains("the answer persona", s.GetProperty("turns")[0].GetProperty("messages")[1].GetProperty("content").GetString()));
    }

    [Fact]
    public async Task A_run_stopped_by_the_call_cap_resumes_and_pays_nothing_twice()
    {
        await using var model = await FakeLlmServer.StartAsync();
        await using var critic = await FakeLlmServer.StartAsync();
        model.Responder = r => JsonSerializer.Serialize(new { answer_to_question = "answer " + r.LastUserContent.Length });
        critic.Responder = _ => Verdict;
        var run = Path.Combine(_dir, "capped");
        string[] args = ["bench", "run", "--personas", _personas, "--prompts", _questions, "--split", "all", "--pairing", "zip", "--samples", "20",
            "--mode", "output_only", "--model", "openai:under-test", "--base-url", model.BaseUrl, "--critic-model", "openai:critic", "--critic-base-url", critic.BaseUrl,
            "--out", run, "--resamples", "100", "--no-figures", "--concurrency", "2"];
        var (code, text) = await Cli.Run([.. args, "--max-calls", "15"]);
        Assert.True(code == 3, text);
        Assert.Equal(15, model.TotalPaid + critic.TotalPaid);
        Assert.Equal("stopped", Json(Path.Combine(run, "manifest.json")).GetProperty("status").GetString());
        (code, text) = await Cli.Run(args);
        Assert.True(code == 0, text);
        Assert.Equal((20, 20), (model.TotalPaid, critic.TotalPaid)); // what finished before the stop was not paid again
        Assert.Equal(20, File.ReadLines(Path.Combine(run, "samples.jsonl")).Count());
    }

    [Fact]
    public async Task Bad_input_gets_a_short_error_and_exit_1()
    {
        var (code, text) = await Cli.Run(Offline("bench", "run", "--critic-model", "offline", "--mode", "chain", "--out", Path.Combine(_dir, "x")));
        Assert.Equal(1, code);
        Assert.Contains("unknown mode 'chain'", text);
        (code, text) = await Cli.Run("bench", "run", "--personas", Path.Combine(_dir, "nope.jsonl"), "--prompts", _questions, "--model", "offline", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(1, code);
        Assert.Contains("does not exist", text);
        (code, text) = await Cli.Run(Offline("bench", "run", "--split", "test", "--out", Path.Combine(_dir, "x")));
        Assert.Equal(1, code);
        Assert.Contains("--split 'test'", text);
        (code, text) = await Cli.Run("bench", "score", _dir, "--critic-model", "offline");
        Assert.Equal(1, code);
        Assert.Contains("not a bench run folder", text);
        Assert.DoesNotContain("   at ", text);
    }

    private const string Verdict = """{"chain_of_thought":"c","personalization_critic":"p","helpfulness_critic":"h","conclusion":"fine","needs_revision":false}""";

    [Fact]
    public async Task Score_pays_only_the_new_critics_calls_and_compare_pairs_the_score_sets()
    {
        await using var model = await FakeLlmServer.StartAsync();
        await using var criticA = await FakeLlmServer.StartAsync();
        await using var criticB = await FakeLlmServer.StartAsync();
        model.Responder = r => JsonSerializer.Serialize(new { answer_to_question = "answer " + r.LastUserContent.Length });
        criticA.Responder = _ => Verdict;
        criticB.Responder = r => r.Messages.Any(m => m.Content.Contains("thing 1?")) ? Verdict.Replace("false", "true") : Verdict;
        var run = Path.Combine(_dir, "fake-run");
        var (code, text) = await Cli.Run("bench", "run", "--personas", _personas, "--prompts", _questions, "--split", "all", "--pairing", "zip", "--samples", "30",
            "--mode", "output_only", "--model", "openai:under-test", "--base-url", model.BaseUrl, "--critic-model", "openai:critic-a", "--critic-base-url", criticA.BaseUrl,
            "--out", run, "--resamples", "100", "--no-figures", "--max-attempts", "1");
        Assert.True(code == 0, text);
        Assert.DoesNotContain("the critic is the model under test", text);
        Assert.Equal((30, 30), (model.TotalPaid, criticA.TotalPaid));

        (code, text) = await Cli.Run("bench", "score", run, "--critic-model", "openai:critic-b", "--critic-base-url", criticB.BaseUrl, "--name", "b", "--resamples", "100", "--no-figures");
        Assert.True(code == 0, text);
        Assert.Equal((30, 30, 30), (model.TotalPaid, criticA.TotalPaid, criticB.TotalPaid)); // nothing regenerated, the first critic never asked again
        var b = Json(Path.Combine(run, "scores", "b", "results.json"));
        var thing1 = File.ReadLines(Path.Combine(run, "samples.jsonl")).Count(l => l.Contains("thing 1?"));
        Assert.Equal(1 - thing1 / 30.0, b.GetProperty("modes")[0].GetProperty("accuracy").GetProperty("accuracy").GetDouble(), 9);

        var cmp = Path.Combine(_dir, "compare.json");
        (code, text) = await Cli.Run("bench", "compare", run, "--out", cmp, "--resamples", "100");
        Assert.True(code == 0, text);
        var c = Json(cmp).GetProperty("comparisons")[0];
        Assert.Equal(30, c.GetProperty("n").GetInt32());
        var sign = c.GetProperty("a").GetString()!.StartsWith("fake-run:critic ") ? 1 : -1; // columns in score-set order
        Assert.Equal(sign * thing1 / 30.0, c.GetProperty("difference").GetDouble(), 9);
    }
}
