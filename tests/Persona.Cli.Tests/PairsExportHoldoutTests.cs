using System.Text.Json;

namespace Persona.Cli.Tests;

/// <summary>`pairs export` carries the canonical persona holdout: configs seen/unseen (hf) and reward-model rows (trl).</summary>
public sealed class PairsExportHoldoutTests
{
    [Fact]
    public async Task The_export_holds_out_whole_personas_and_writes_reward_model_rows_with_the_preferred_answer_chosen()
    {
        var dir = Cli.TempDir("export-holdout");
        string R(string x) => Path.Combine(dir, x);
        Assert.Equal(0, (await Cli.Run("personas", "build", "--n", "20", "--model", "offline", "--out", R("population"))).Code);
        Assert.Equal(0, (await Cli.Run("prompts", "curate", "--model", "offline", "--limit", "100", "--k", "4", "--out", R("prompts"))).Code);
        Assert.Equal(0, (await Cli.Run("pairs", "build", "--personas", R("population/personas.jsonl"), "--prompts", R("prompts/prompts.jsonl"), "--model", "offline",
            "--out", R("pairs"), "--train-prompts", "10", "--heldout-prompts", "5", "--train-pairs", "8")).Code);
        var (code, output) = await Cli.Run("pairs", "export", R("pairs"), "--format", "hf", "--out", R("hf"));
        Assert.True(code == 0, output);
        var card = File.ReadAllText(R("hf/README.md"));
        Assert.Contains("config_name: seen", card);
        Assert.Contains("config_name: unseen", card);
        Assert.Contains("## Seen and unseen personas", card);
        foreach (var f in new[] { "seen/train-00000-of-00001.parquet", "seen/test-00000-of-00001.parquet", "unseen/adapt-00000-of-00001.parquet", "unseen/eval-00000-of-00001.parquet" })
        {
            Assert.True(File.Exists(R("hf/" + f)), f);
            Assert.Contains(f, File.ReadAllText(R("hf/SHA256SUMS")));
        }
        // The default config is still every pair.
        Assert.True(File.Exists(R("hf/data/train-00000-of-00001.parquet")));

        (code, output) = await Cli.Run("pairs", "export", R("pairs"), "--format", "trl", "--out", R("trl"));
        Assert.True(code == 0, output);
        var pairs = File.ReadAllLines(R("pairs/pairs.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(e => e.GetProperty("pair_id").GetString()!);
        var byHoldout = new Dictionary<string, HashSet<string>>();
        var rows = 0;
        foreach (var name in new[] { "rm-seen-train", "rm-seen-test", "rm-unseen-adapt", "rm-unseen-eval" })
        {
            var personas = byHoldout[name] = [];
            foreach (var line in File.ReadAllLines(R($"trl/{name}.jsonl")))
            {
                rows++;
                var row = JsonDocument.Parse(line).RootElement;
                var pair = pairs[row.GetProperty("pair_id").GetString()!];
                var verdict = pair.GetProperty("verification").GetString();
                Assert.Contains(verdict, new[] { "agree", "disagree" }); // unlabelled pairs teach a reward model nothing
                var chosen = row.GetProperty("chosen")[0].GetProperty("content").GetString();
                Assert.Equal(verdict == "agree" ? pair.GetProperty("data").GetString() : pair.GetProperty("original").GetString(), chosen);
                Assert.Equal(verdict == "agree", row.GetProperty("chosen_is_personalised").GetBoolean());
                personas.Add(row.GetProperty("persona_id").GetString()!);
                Assert.Equal(name == "rm-unseen-adapt", row.GetProperty("adapt_order").ValueKind == JsonValueKind.Number);
            }
        }
        Assert.True(rows > 0);
        Assert.NotEmpty(byHoldout["rm-unseen-eval"]);
        // No unseen persona has a pair among the seen ones.
        Assert.Empty(byHoldout["rm-unseen-eval"].Intersect(byHoldout["rm-seen-train"].Union(byHoldout["rm-seen-test"])));
        Assert.Empty(byHoldout["rm-unseen-adapt"].Intersect(byHoldout["rm-seen-train"].Union(byHoldout["rm-seen-test"])));
        // The existing files are as before: train.jsonl's chosen is always the personalised answer.
        var first = JsonDocument.Parse(File.ReadLines(R("trl/train.jsonl")).First()).RootElement;
        Assert.Equal(pairs[first.GetProperty("pair_id").GetString()!].GetProperty("data").GetString(), first.GetProperty("chosen")[0].GetProperty("content").GetString());
        Assert.False(first.TryGetProperty("holdout", out _));

        // With the population beside it (as `persona run` exports), the holdout reads each persona's typed attributes, never the
        // pairs' text: with the persona column turned to prose it still strata and splits the personas exactly as before.
        Directory.CreateDirectory(R("prose"));
        File.Copy(R("pairs/" + Persona.Preferences.PairBuilder.ReportFile), R("prose/" + Persona.Preferences.PairBuilder.ReportFile));
        File.WriteAllText(R("prose/pairs.jsonl"), string.Concat(File.ReadAllLines(R("pairs/pairs.jsonl")).Select(l =>
        {
            var row = System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject();
            row["persona"] = "A person described in prose, with no attribute lines";
            return row.ToJsonString() + "\n";
        })));
        await Persona.Preferences.PairExport.ExportAsync(R("prose"), R("hf-typed"),
            new Persona.Preferences.PairExportOptions { Format = "hf", PersonasParquet = R("population/" + Persona.Personas.PersonaBuilder.PersonasParquet) });
        static string Holdout(string card) => card[card.IndexOf("## Seen and unseen personas", StringComparison.Ordinal)..];
        Assert.Equal(Holdout(File.ReadAllText(R("hf/README.md"))), Holdout(File.ReadAllText(R("hf-typed/README.md"))));
        // Without the population the prose is all there is, and it is refused as the release's format.
        await Assert.ThrowsAsync<PersonaException>(() => Persona.Preferences.PairExport.ExportAsync(R("prose"), R("hf-text"), new Persona.Preferences.PairExportOptions { Format = "hf" }));
    }
}
