using System.Text.Json;

namespace Persona.Cli.Tests;

/// <summary>
/// The reward-model track recovers the simulated world's planted marker words (data/llm/world.json,
/// "markers": most personas like "tradition" and dislike "change", Democrats the reverse, equally
/// strongly): on an offline run of 40 personas x 100 pairs, the one global model is at chance on
/// Democrats, a personalised model beats it there (the paired difference's interval above 0), and a new
/// person's accuracy rises with the pairs they give.
/// </summary>
public sealed class RmPlantedTruthTests
{
    private static JsonElement Group(JsonElement model, string attribute, string group) =>
        model.GetProperty("groups").EnumerateArray().Single(g => g.GetProperty("attribute").GetString() == attribute && g.GetProperty("group").GetString() == group);

    private static (double Acc, double Lo, double Hi) Acc(JsonElement e) =>
        (e.GetProperty("accuracy").GetDouble(), e.GetProperty("interval").GetProperty("lower").GetDouble(), e.GetProperty("interval").GetProperty("upper").GetDouble());

    [Fact]
    public async Task Personalised_models_beat_the_global_one_on_the_group_whose_planted_preference_is_reversed()
    {
        var dir = Cli.TempDir("rm-planted");
        string R(string x) => Path.Combine(dir, x);
        Assert.Equal(0, (await Cli.Run("personas", "build", "--n", "40", "--model", "offline", "--out", R("population"))).Code);
        Assert.Equal(0, (await Cli.Run("prompts", "curate", "--model", "offline", "--limit", "300", "--k", "8", "--out", R("prompts"))).Code);
        Assert.Equal(0, (await Cli.Run("pairs", "build", "--personas", R("population/personas.jsonl"), "--prompts", R("prompts/prompts.jsonl"), "--model", "offline",
            "--out", R("pairs"), "--train-prompts", "80", "--heldout-prompts", "20", "--train-pairs", "60")).Code);
        var (code, output) = await Cli.Run("rm", "train", "--pairs", R("pairs"), "--out", R("rm"), "--dim", "4096", "--resamples", "400", "--max-iterations", "80",
            "--models", "per_persona,pal_mixture,conditioned");
        Assert.True(code == 0, output);
        using var doc = JsonDocument.Parse(File.ReadAllText(R("rm/rm-results.json")));
        var models = doc.RootElement.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);

        // The global model learns the majority's taste, which is the Democrats' reversed: at chance (or worse) for them.
        var global = Acc(Group(models["global"], "political views", "Democrat"));
        Assert.True(global.Lo < 0.5 && global.Hi < 0.62, $"global on Democrats {global}");
        // The PAL-style mixture gives Democrats their own mixture of prototypes: clearly better, intervals apart.
        // Paired on the same pairs (persona-clustered bootstrap of the difference), not two separate intervals.
        static (double Diff, double Lo) VsGlobal(JsonElement g) { var d = g.GetProperty("vs_global"); return (d.GetProperty("difference").GetDouble(), d.GetProperty("interval").GetProperty("lower").GetDouble()); }
        var pal = VsGlobal(Group(models["pal_mixture"], "political views", "Democrat"));
        Assert.True(pal.Lo > 0.03, $"pal_mixture minus global on Democrats {pal}");
        // The persona-conditioned model learns from who a person is (political views among their features) which way the
        // planted taste turns: clearly better than the global model for Democrats, intervals apart.
        var conditioned = VsGlobal(Group(models["conditioned"], "political views", "Democrat"));
        Assert.True(conditioned.Lo > 0.03, $"conditioned minus global on Democrats {conditioned}");
        // Per-persona models shrunk toward the global one do better for Democrats too (point estimate: 60 pairs a persona pull only part of the way back).
        Assert.True(Acc(Group(models["per_persona"], "political views", "Democrat")).Acc > global.Acc + 0.05);
        // The majority tax is largest where the planted preference is reversed.
        var tax = doc.RootElement.GetProperty("majority_tax").EnumerateArray()
            .Where(t => t.GetProperty("attribute").GetString() == "political views").MaxBy(t => t.GetProperty("tax").GetDouble());
        Assert.Equal("Democrat", tax.GetProperty("group").GetString());
        Assert.True(tax.GetProperty("interval").GetProperty("lower").GetDouble() > 0, "the tax on Democrats is paid with an interval above 0");
        Assert.False(models["global"].GetProperty("groups")[0].TryGetProperty("vs_global", out _), "the global model is not compared with itself");

        // A new person's accuracy rises with the pairs they give (k = 0 is the population's mixture); the global model's does not move.
        var curve = models["pal_mixture"].GetProperty("unseen_curve").EnumerateArray().Select(c => (K: c.GetProperty("k").GetInt32(), Acc: c.GetProperty("accuracy").GetDouble())).ToList();
        Assert.True(curve[^1].K >= 10, "the pools allow k up to 10 at least");
        Assert.True(curve[^1].Acc > curve[0].Acc + 0.03, string.Join(", ", curve));
        Assert.Single(models["global"].GetProperty("unseen_curve").EnumerateArray().Select(c => c.GetProperty("accuracy").GetDouble()).Distinct());
    }
}
