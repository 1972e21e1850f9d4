using System.Text.Json;
using System.Text.Json.Nodes;

namespace Persona.Cli.Tests;

/// <summary>
/// The bench's rm_best_of_n against the simulated world's planted marker words: most personas like
/// "tradition" and dislike "change", Democrats the reverse. The test world is the bundled one with the
/// marker plant made the pairs' only preference (so a reward model can learn it from 60 pairs a persona)
/// and baseline's base rate at 0.5 (so a pick's gain is not squeezed against 0); the critic rewards an
/// answer whose marker words suit the persona (bench.marker_strength), symmetrically, so an unpicked
/// answer is graded at the base. Planted answers: the personalised reward model's pick beats baseline in
/// every political group, Democrats included; the global model's pick (the majority's taste) loses to
/// it for Democrats; with the critic's marker plant off, no pick can gain.
/// </summary>
public sealed class RmBestOfNTests
{
    private static (double Diff, double Lo, double Hi) Group(string benchDir, string attribute, string group)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(benchDir, "best-of-n.json")));
        var g = doc.RootElement.GetProperty("groups").EnumerateArray().Single(x => x.GetProperty("attribute").GetString() == attribute && x.GetProperty("group").GetString() == group);
        var i = g.GetProperty("interval");
        return (g.GetProperty("difference").GetDouble(), i.GetProperty("lower").GetDouble(), i.GetProperty("upper").GetDouble());
    }

    private static string World(string dir, double markerStrength)
    {
        var w = JsonNode.Parse(File.ReadAllText(BundledData.Path("llm/world.json")))!.AsObject();
        w["preference"]!["intercept"] = 0;
        w["preference"]!["weights"] = new JsonObject();
        w["fidelity"] = new JsonObject { ["default"] = 1.0 };
        w["markers"]!["words"] = JsonNode.Parse("""
            {"tradition": {"appeal": 3.0, "offsets": {"political views": {"Democrat": -6.0}}},
             "change": {"appeal": -3.0, "offsets": {"political views": {"Democrat": 6.0}}}}
            """);
        w["bench"]!["pass"]!["baseline"] = 0.5;
        w["bench"]!["pass"]!["rm_best_of_n"] = 0.5;
        w["bench"]!["marker_strength"] = markerStrength;
        var path = Path.Combine(dir, $"world-{markerStrength.ToString(System.Globalization.CultureInfo.InvariantCulture)}.json");
        File.WriteAllText(path, w.ToJsonString());
        return path;
    }

    [Fact]
    public async Task A_personalised_reward_models_pick_beats_baseline_where_the_plant_says_and_the_global_ones_does_not_for_the_reversed_group()
    {
        var dir = Cli.TempDir("rm-best-of-n");
        string R(string x) => Path.Combine(dir, x);
        var world = World(dir, 1.0);
        Assert.Equal(0, (await Cli.Run("personas", "build", "--n", "60", "--model", "offline", "--world", world, "--out", R("population"))).Code);
        Assert.Equal(0, (await Cli.Run("prompts", "curate", "--model", "offline", "--world", world, "--limit", "400", "--k", "8", "--out", R("prompts"))).Code);
        Assert.Equal(0, (await Cli.Run("pairs", "build", "--personas", R("population/personas.jsonl"), "--prompts", R("prompts/prompts.jsonl"), "--model", "offline", "--world", world,
            "--out", R("pairs"), "--train-prompts", "60", "--heldout-prompts", "40", "--train-pairs", "60")).Code);
        var (code, output) = await Cli.Run("rm", "train", "--pairs", R("pairs"), "--out", R("rm"), "--dim", "4096", "--resamples", "200", "--max-iterations", "80", "--models", "pal_mixture");
        Assert.True(code == 0, output);

        async Task<string> Bench(string name, string rm, string w)
        {
            var (c, text) = await Cli.Run("bench", "run", "--personas", R("population"), "--prompts", R("prompts"), "--split", "held_out", "--per-persona", "30",
                "--model", "offline", "--world", w, "--mode", "baseline,rm_best_of_n", "--rm", R("rm"), "--bench-rm", rm, "--best-of-n", "8", "--pairs", R("pairs"),
                "--out", R(name), "--resamples", "400", "--no-figures");
            Assert.True(c == 0, text);
            return R(name);
        }

        // The personalised model (auto: the PAL-style mixture, adapted on their pairs for the unseen personas) beats baseline in every group, Democrats included.
        var auto = await Bench("bench-auto", "auto", world);
        foreach (var g in new[] { "Democrat", "Republican", "Lean Democrat", "Lean Republican" })
        {
            var d = Group(auto, "political views", g);
            Assert.True(d.Lo > 0, $"auto on {g}: {d}");
        }
        var samples = File.ReadLines(Path.Combine(auto, "samples.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).Where(s => s.GetProperty("inputs").GetProperty("mode").GetString() == "rm_best_of_n").ToList();
        Assert.Equal(60 * 30, samples.Count);
        var first = samples[0].GetProperty("data").GetProperty("best_of_n");
        Assert.Equal(8, first.GetProperty("answers").GetArrayLength());
        Assert.True(samples.Select(s => s.GetProperty("data").GetProperty("best_of_n").GetProperty("answers")).All(a => a.EnumerateArray().Select(x => x.GetString()).Distinct().Count() > 1),
            "each draw is its own call: the 8 answers differ");
        Assert.StartsWith("pal_mixture", first.GetProperty("reward_model").GetString());
        Assert.Contains(samples, s => s.GetProperty("data").GetProperty("best_of_n").GetProperty("reward_model").GetString()!.Contains("adapted on"));
        // It sits in the bench's own table beside baseline, and in its paired comparisons.
        using (var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(auto, "results.json"))))
        {
            Assert.Equal(["baseline", "rm_best_of_n"], results.RootElement.GetProperty("modes").EnumerateArray().Select(m => m.GetProperty("mode").GetString()));
            Assert.Single(results.RootElement.GetProperty("comparisons").EnumerateArray());
        }

        // The global model picks the majority's words for everyone: for Democrats, whose planted taste is reversed, its pick loses to
        // baseline, and the personalised pick beats it with the intervals apart.
        var global = await Bench("bench-global", "global", world);
        var dem = Group(global, "political views", "Democrat");
        Assert.True(dem.Hi < 0, $"global on Democrats: {dem}");
        Assert.True(Group(auto, "political views", "Democrat").Lo > dem.Hi, $"auto {Group(auto, "political views", "Democrat")} vs global {dem} on Democrats");

        // With the critic's marker plant off, the personalised pick has nothing to gain: no group's interval lies above 0.
        var off = await Bench("bench-off", "auto", World(dir, 0));
        foreach (var g in new[] { "Democrat", "Republican" })
        {
            var d = Group(off, "political views", g);
            Assert.True(d.Lo <= 0, $"no plant, {g}: {d}");
        }
    }

    [Fact]
    public async Task Persona_run_with_best_of_n_benches_the_mode_with_the_rm_stages_models_and_a_sharded_run_refuses_it()
    {
        var dir = Cli.TempDir("rm-best-of-n-run");
        var run = Path.Combine(dir, "run");
        var (code, text) = await Cli.Run("run", "--personas", "30", "--best-of-n", "3", "--out", run);
        Assert.True(code == 0, text);
        using (var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "bench", "results.json"))))
        {
            var modes = results.RootElement.GetProperty("modes").EnumerateArray().Select(m => m.GetProperty("mode").GetString()).ToList();
            Assert.Equal(["baseline", "output_only", "chain_of_thought", "demographic_summary", "few_shot_preferences", "rm_best_of_n"], modes);
            // Paired with every other mode in the same table of comparisons.
            Assert.Equal(5, results.RootElement.GetProperty("comparisons").EnumerateArray().Count(c => c.GetProperty("a").GetString() == "rm_best_of_n" || c.GetProperty("b").GetString() == "rm_best_of_n"));
        }
        using (var best = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "bench", "best-of-n.json"))))
        {
            Assert.Equal(3, best.RootElement.GetProperty("n").GetInt32());
            Assert.True(best.RootElement.GetProperty("simulated").GetBoolean());
            Assert.Equal(["pal_mixture"], best.RootElement.GetProperty("reward_models").EnumerateArray().Select(x => x.GetString()));
        }
        Assert.Contains("rm_best_of_n</code>: best of 3", File.ReadAllText(Path.Combine(run, "report.html")));

        var (c2, _, err) = await Cli.RunSplit("run", "--personas", "30", "--best-of-n", "3", "--shared-only", "--out", Path.Combine(dir, "shared"));
        Assert.NotEqual(0, c2);
        Assert.Contains("--best-of-n cannot go with a sharded run", err);
    }

    [Fact]
    public async Task Rm_best_of_n_without_a_reward_model_is_a_short_usage_error()
    {
        var dir = Cli.TempDir("rm-best-of-n-bad");
        var personas = Path.Combine(dir, "personas.jsonl");
        File.WriteAllLines(personas, Enumerable.Range(0, 4).Select(i => JsonSerializer.Serialize(new { persona = $"age: {30 + i}\nsex: Female\n" })));
        var questions = Path.Combine(dir, "questions.jsonl");
        File.WriteAllLines(questions, Enumerable.Range(0, 3).Select(i => JsonSerializer.Serialize(new { id = $"q{i}", question = $"How do I plan for thing {i}?" })));
        string[] Args(params string[] more) => ["bench", "run", "--personas", personas, "--prompts", questions, "--split", "all", "--model", "offline", "--out", Path.Combine(dir, "out"), .. more];

        var (code, _, err) = await Cli.RunSplit(Args("--mode", "baseline,rm_best_of_n"));
        Assert.NotEqual(0, code);
        Assert.Contains("rm_best_of_n needs a reward model", err);
        Assert.Contains("--rm DIR", err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(File.Exists(Path.Combine(dir, "out", "store.sqlite"))); // refused before anything was opened or paid

        var empty = Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName;
        (code, _, err) = await Cli.RunSplit(Args("--mode", "rm_best_of_n", "--rm", empty));
        Assert.NotEqual(0, code);
        Assert.Contains("no reward model there", err);
        Assert.DoesNotContain("   at ", err);

        (code, _, err) = await Cli.RunSplit(Args("--mode", "rm_best_of_n", "--rm", empty, "--best-of-n", "1"));
        Assert.NotEqual(0, code);
        Assert.Contains("--best-of-n", err);
    }
}
