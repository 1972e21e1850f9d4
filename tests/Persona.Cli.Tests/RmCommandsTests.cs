using System.Text.Json;
using Persona.Testing.FakeLlm;

namespace Persona.Cli.Tests;

/// <summary>`persona rm train` and `rm score` on a small offline run: the results contract, reloadable models, short errors.</summary>
public sealed class RmCommandsTests
{
    [Fact]
    public async Task Train_writes_the_results_contract_and_saved_models_score_pairs()
    {
        var dir = Cli.TempDir("rm");
        string R(string x) => Path.Combine(dir, x);
        Assert.Equal(0, (await Cli.Run("personas", "build", "--n", "30", "--model", "offline", "--out", R("population"))).Code);
        Assert.Equal(0, (await Cli.Run("prompts", "curate", "--model", "offline", "--limit", "120", "--k", "4", "--out", R("prompts"))).Code);
        Assert.Equal(0, (await Cli.Run("pairs", "build", "--personas", R("population/personas.jsonl"), "--prompts", R("prompts/prompts.jsonl"), "--model", "offline",
            "--out", R("pairs"), "--train-prompts", "20", "--heldout-prompts", "10", "--train-pairs", "20")).Code);
        var (code, output) = await Cli.Run("rm", "train", "--pairs", R("pairs"), "--out", R("rm"), "--dim", "1024", "--resamples", "100", "--max-iterations", "30");
        Assert.True(code == 0, output);
        Assert.Contains("simulated", output);
        using var doc = JsonDocument.Parse(File.ReadAllText(R("rm/rm-results.json")));
        var models = doc.RootElement.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(["global", "per_persona", "conditioned", "pal_mixture"], models.Select(m => m.GetProperty("name").GetString()));
        foreach (var m in models)
        {
            var seen = m.GetProperty("seen");
            Assert.InRange(seen.GetProperty("accuracy").GetDouble(), 0, 1);
            Assert.True(seen.GetProperty("interval").GetProperty("lower").GetDouble() <= seen.GetProperty("accuracy").GetDouble());
            var ks = m.GetProperty("unseen_curve").EnumerateArray().Select(c => c.GetProperty("k").GetInt32()).ToList();
            Assert.Equal(0, ks[0]);
            Assert.All(ks, k => Assert.Contains(k, new[] { 0, 1, 2, 5, 10, 20, 50, 100 }));
            var groups = m.GetProperty("groups").EnumerateArray().ToList();
            Assert.Contains(groups, g => g.GetProperty("attribute").GetString() == "political views");
            Assert.All(groups, g => Assert.True(g.GetProperty("n").GetInt32() > 0));
        }
        // The global model's curve is flat (it never uses a new person's pairs).
        Assert.Single(models[0].GetProperty("unseen_curve").EnumerateArray().Select(c => c.GetProperty("accuracy").GetDouble()).Distinct());
        Assert.True(doc.RootElement.GetProperty("majority_tax").GetArrayLength() > 0);
        foreach (var f in new[] { "rm-unseen-curve.svg", "rm-unseen-curve.png", "rm-groups.svg", "rm-groups.png" })
            Assert.True(new FileInfo(R("rm/figures/" + f)).Length > 1000, f);

        // A rerun over the same texts featurises nothing.
        var (code2, output2) = await Cli.Run("rm", "train", "--pairs", R("pairs"), "--out", R("rm"), "--dim", "1024", "--resamples", "100", "--max-iterations", "30");
        Assert.True(code2 == 0, output2);
        Assert.Contains("texts featurised 0", output2);

        // Saved models reload and score: the seen accuracy of a model is reproduced on the same pairs' labels by `rm score`.
        var (scode, sout) = await Cli.Run("rm", "score", "--model", R("rm/models/global"), "--pairs", R("pairs"), "--out", R("scores.jsonl"));
        Assert.True(scode == 0, sout);
        var lines = File.ReadAllLines(R("scores.jsonl"));
        Assert.Equal(File.ReadAllLines(R("pairs/pairs.jsonl")).Length, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.InRange(first.RootElement.GetProperty("p_personalised").GetDouble(), 0, 1);

        // `rm score` reads each persona's attributes from the population beside the pairs, never from their text:
        // with the persona column turned to prose it still scores; only a pairs file alone has its text read (and here refused).
        var prose = string.Concat(File.ReadAllLines(R("pairs/pairs.jsonl")).Select(l =>
        {
            var row = System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject();
            row["persona"] = "A person described in prose, with no attribute lines";
            return row.ToJsonString() + "\n";
        }));
        foreach (var d in new[] { "prose/pairs", "prose/population", "alone/pairs" }) Directory.CreateDirectory(R(d));
        File.WriteAllText(R("prose/pairs/pairs.jsonl"), prose);
        File.WriteAllText(R("alone/pairs/pairs.jsonl"), prose);
        foreach (var f in Directory.GetFiles(R("population"))) File.Copy(f, Path.Combine(R("prose/population"), Path.GetFileName(f)));
        var (pcode, pout) = await Cli.Run("rm", "score", "--model", R("rm/models/conditioned"), "--pairs", R("prose/pairs"));
        Assert.True(pcode == 0, pout);
        Assert.Contains($"scored {lines.Length} pairs", pout);
        var (acode, _, aerr) = await Cli.RunSplit("rm", "score", "--model", R("rm/models/conditioned"), "--pairs", R("alone/pairs"));
        Assert.NotEqual(0, acode);
        Assert.Contains("is not 'key: value'", aerr);
        Assert.DoesNotContain("   at ", aerr);
    }

    [Fact]
    public async Task The_judge_is_a_reference_model_scored_from_its_verdicts_in_both_orders_and_paid_once()
    {
        var dir = Cli.TempDir("rm-judge");
        string R(string x) => Path.Combine(dir, x);
        Assert.Equal(0, (await Cli.Run("personas", "build", "--n", "24", "--model", "offline", "--out", R("population"))).Code);
        Assert.Equal(0, (await Cli.Run("prompts", "curate", "--model", "offline", "--limit", "120", "--k", "4", "--out", R("prompts"))).Code);
        Assert.Equal(0, (await Cli.Run("pairs", "build", "--personas", R("population/personas.jsonl"), "--prompts", R("prompts/prompts.jsonl"), "--model", "offline",
            "--out", R("pairs"), "--train-prompts", "16", "--heldout-prompts", "8", "--train-pairs", "16")).Code);
        string[] common = ["rm", "train", "--pairs", R("pairs"), "--dim", "1024", "--resamples", "100", "--max-iterations", "20", "--models", "global"];

        // A judge that always answers "A" names the pair's A in one order and its B in the other: every pair is a tie, so its
        // accuracy is 0.5 exactly, on seen and unseen personas alike, whatever the labels.
        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = _ => """{"reasoning":"first is fine","preferred":"A"}""";
        string[] args = [.. common, "--out", R("rm-fake"), "--judge-model", "openai:always-a", "--judge-base-url", server.BaseUrl, "--judge-pairs-per-persona", "2"];
        var (code, output) = await Cli.Run(args);
        Assert.True(code == 0, output);
        var judge = Model(R("rm-fake"), "judge");
        Assert.Equal(0.5, judge.GetProperty("seen").GetProperty("accuracy").GetDouble(), 12);
        Assert.All(judge.GetProperty("unseen_curve").EnumerateArray(), c => Assert.Equal(0.5, c.GetProperty("accuracy").GetDouble(), 12));
        Assert.All(judge.GetProperty("groups").EnumerateArray(), g => Assert.Equal(0.5, g.GetProperty("accuracy").GetDouble(), 12));
        Assert.NotEmpty(judge.GetProperty("unseen_groups").EnumerateArray());
        Assert.All(judge.GetProperty("unseen_groups").EnumerateArray(), g => Assert.Equal(0.5, g.GetProperty("accuracy").GetDouble(), 12));
        var stats = judge.GetProperty("judge");
        var judged = stats.GetProperty("pairs").GetInt32();
        Assert.Equal(judged, stats.GetProperty("inconsistent").GetInt32());
        Assert.InRange(judged, 24, 48); // at most 2 a persona, and every persona here has labelled test pairs
        Assert.Equal(2 * judged, server.TotalPaid);
        Assert.All(server.Requests, r => Assert.Contains("Answer A:", r.LastUserContent));

        // A second run pays no judge call twice (its answers are in OUT's store) and writes the same results.
        var before = File.ReadAllText(R("rm-fake/rm-results.json"));
        (code, output) = await Cli.Run(args);
        Assert.True(code == 0, output);
        Assert.Equal(2 * judged, server.TotalPaid);
        Assert.Equal(before, File.ReadAllText(R("rm-fake/rm-results.json")));

        // Offline, the simulated judge role-plays the planted preferences afresh (its own order labels): it is right on most
        // pairs but not all (the labels came from another draw of a judge with fidelity below 1), and some pairs are ties.
        (code, output) = await Cli.Run([.. common, "--out", R("rm-offline"), "--judge-model", "offline", "--judge-pairs-per-persona", "4"]);
        Assert.True(code == 0, output);
        var offline = Model(R("rm-offline"), "judge");
        var acc = offline.GetProperty("seen").GetProperty("accuracy").GetDouble();
        Assert.InRange(acc, 0.6, 0.99);
        Assert.True(offline.GetProperty("judge").GetProperty("inconsistent").GetInt32() > 0);
        // Without --judge-model the track calls no model and has no judge row.
        (code, output) = await Cli.Run([.. common, "--out", R("rm-none")]);
        Assert.True(code == 0, output);
        using var none = JsonDocument.Parse(File.ReadAllText(R("rm-none/rm-results.json")));
        Assert.DoesNotContain(none.RootElement.GetProperty("models").EnumerateArray(), m => m.GetProperty("name").GetString() == "judge");
    }

    private static JsonElement Model(string dir, string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "rm-results.json")));
        return doc.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == name).Clone();
    }

    [Fact]
    public async Task Bad_inputs_are_short_errors()
    {
        var dir = Cli.TempDir("rm-bad");
        var (code, _, err) = await Cli.RunSplit("rm", "train", "--pairs", Path.Combine(dir, "nowhere"), "--out", Path.Combine(dir, "out"));
        Assert.NotEqual(0, code);
        Assert.Contains("pairs.jsonl", err);
        Assert.DoesNotContain("   at ", err);
        Directory.CreateDirectory(Path.Combine(dir, "m"));
        File.WriteAllText(Path.Combine(dir, "m", "model.json"), """{"format":"something-else"}""");
        (code, _, err) = await Cli.RunSplit("rm", "score", "--model", Path.Combine(dir, "m"), "--pairs", Path.Combine(dir, "nowhere"));
        Assert.NotEqual(0, code);
        Assert.Contains("persona-rm-model/1", err);
        Assert.DoesNotContain("   at ", err);

        // A damaged model file names the field to look at, by its path, not a .NET exception's text.
        const string settings = "\"settings\":{\"seed\":1,\"lambda\":1,\"shrink\":1,\"prototypes\":4,\"max_iterations\":50}";
        const string featuriser = "\"featuriser\":{\"kind\":\"lexical\",\"dimensions\":4,\"ngrams\":1}";
        foreach (var (body, field) in new[]
        {
            ($"{{\"format\":\"persona-rm-model/1\",\"name\":\"global\",{settings},{featuriser},\"dim\":4,\"parameters\":{{\"w\":[0,0,0,0]}}}}", "settings.rank"),
            ($"{{\"format\":\"persona-rm-model/1\",\"name\":\"global\",{settings.Replace("\"seed\":1", "\"seed\":1,\"rank\":2")},{featuriser},\"dim\":4,\"parameters\":{{\"w\":[0,\"x\",0,0]}}}}", "parameters.w[1]"),
        })
        {
            File.WriteAllText(Path.Combine(dir, "m", "model.json"), body);
            (code, _, err) = await Cli.RunSplit("rm", "score", "--model", Path.Combine(dir, "m"), "--pairs", Path.Combine(dir, "nowhere"));
            Assert.NotEqual(0, code);
            Assert.Contains($"field \"{field}\"", err);
            Assert.DoesNotContain("   at ", err);
        }
    }
}
