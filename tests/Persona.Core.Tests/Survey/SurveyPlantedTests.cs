using Persona.Llm;
using Persona.Engine;
using Persona.Survey;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Survey;

/// <summary>
/// The survey task on the offline simulator, whose answers come from a world with planted group
/// shifts (never from the survey file): the panel's aggregation and the dispersion statistics find them.
/// </summary>
public sealed class SurveyPlantedTests
{
    private static readonly Lazy<SurveySet> Gss = new(() => SurveySetFile.Read(SurveySet.BundledPath));

    private static string World(string json)
    {
        var path = Path.Combine(TempDir(), "world.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>30 Republicans, 30 Democrats, 30 independents; every one also Male or Female (alternating).</summary>
    private static IReadOnlyList<SurveyPanelist> Panel()
    {
        var list = new List<SurveyPanelist>();
        string[] parties = ["Republican", "Democrat", "Independent"];
        for (var i = 0; i < 90; i++)
        {
            var party = parties[i % 3];
            var sex = i / 3 % 2 == 0 ? "Male" : "Female";
            var attrs = new Dictionary<string, string> { ["sex"] = sex, ["political views"] = party };
            List<SurveyGroup> groups = [new("SEX", sex)];
            if (party != "Independent") groups.Add(new("POLPARTY", party));
            list.Add(new SurveyPanelist($"p{i}", $"sex: {sex}\npolitical views: {party}\n", attrs, 1 + i % 4, groups));
        }
        return list;
    }

    private static Task<List<SampleRecord>> AskAsync(string world, IReadOnlyList<SurveyPanelist> panel, IReadOnlyList<string> questions) =>
        AskAsync(world, panel, questions, [SurveyModes.Persona, SurveyModes.None]);

    private static async Task<List<SampleRecord>> AskAsync(string world, IReadOnlyList<SurveyPanelist> panel, IReadOnlyList<string> questions, IReadOnlyList<string> modes,
        string elicitation = SurveyElicitation.Verbalized)
    {
        await using var rt = LlmRuntime.Open(Options(TempDir(), "offline") with { WorldPath = world });
        var samples = new List<SampleRecord>();
        await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(SurveyTask.Create(SurveyStage.Items(panel, Gss.Value, questions, modes, elicitation), "judge"), rt), SurveyTask.TaskName, samples.Add);
        return samples;
    }

    /// <summary>The stage scores samples cut to what it reads; every result must be what the whole samples give, byte for byte.</summary>
    private static void CutSamplesScoreTheSame(IReadOnlyList<SampleRecord> samples, IReadOnlyList<SurveyPanelist> panel, IReadOnlyList<string> questions, int minPersonas)
    {
        var cut = samples.Select(SurveyStage.ForStatistics()).ToList();
        Assert.All(cut, s => Assert.Null(s.Output));
        Assert.InRange(cut.Select(s => s.Turns).Distinct().Count(), 1, 2); // one list of turns for every sample of one judge
        static string Json(SurveyStageResult r) => string.Join("\n", new[] { r.Panel, r.Unsteered }.Concat(r.Steered.Values).Select(x =>
        {
            if (x is null) return "none";
            using var m = new MemoryStream();
            SurveyResultsJson.Write(m, x);
            return System.Text.Encoding.UTF8.GetString(m.ToArray());
        }));
        var whole = SurveyStage.Score(samples, panel, Gss.Value, questions, minPersonas, resamples: 200, seed: 1);
        var fromCut = SurveyStage.Score(cut, panel, Gss.Value, questions, minPersonas, resamples: 200, seed: 1);
        Assert.Equal(Json(whole), Json(fromCut));
        Assert.Equal(whole.Failed, fromCut.Failed);
    }

    [Fact]
    public async Task The_planted_most_shifted_group_is_the_one_farthest_from_the_panel_mean()
    {
        var world = World("""{"format":"persona-world/1","seed":5,"survey":{"spread":1.0,"shifts":{"political views":{"Republican":1.6,"Democrat":-0.8}}}}""");
        var questions = SurveyStage.Questions(Gss.Value, 20, 3);
        var samples = await AskAsync(world, Panel(), questions);
        Assert.Equal(20 * 91, samples.Count);
        Assert.All(samples, s => Assert.Equal(SampleRecord.StatusOk, s.Status));
        Assert.All(samples, s => Assert.True(s.Simulated));

        CutSamplesScoreTheSame(samples, Panel(), questions, 10);
        var r = SurveyStage.Score(samples, Panel(), Gss.Value, questions, minPersonas: 10, resamples: 200, seed: 1);
        // Groups in the panel: Male, Female, Democrat, Republican; the other 18 are withheld with a count of 0.
        Assert.Equal(4, r.Panel!.Groups.Count);
        Assert.Equal(18, r.Panel!.Withheld.Count);
        Assert.All(r.Panel!.Withheld, w => Assert.Equal(0, w.Personas));
        var spread = r.Panel!.Dispersion.Predicted;
        var republican = spread[new SurveyGroup("POLPARTY", "Republican")];
        var democrat = spread[new SurveyGroup("POLPARTY", "Democrat")];
        var male = spread[new SurveyGroup("SEX", "Male")];
        var female = spread[new SurveyGroup("SEX", "Female")];
        // Planted sizes 1.6 > 0.8 > 0 (the sexes are even mixtures of the three parties).
        Assert.Equal(new SurveyGroup("POLPARTY", "Republican"), spread.MaxBy(kv => kv.Value).Key);
        Assert.True(republican > democrat && democrat > Math.Max(male, female), $"R {republican:0.000}, D {democrat:0.000}, M {male:0.000}, F {female:0.000}");
        Assert.True(Math.Max(male, female) < 0.5 * democrat, $"the sexes share every party: M {male:0.000}, F {female:0.000} vs D {democrat:0.000}");
    }

    [Fact]
    public async Task Without_shifts_every_group_answers_the_base_distribution_which_is_the_unsteered_answer()
    {
        var world = World("""{"format":"persona-world/1","seed":5,"survey":{"spread":1.0}}""");
        var questions = SurveyStage.Questions(Gss.Value, 5, 3);
        var samples = await AskAsync(world, Panel(), questions);
        var r = SurveyStage.Score(samples, Panel(), Gss.Value, questions, minPersonas: 10, resamples: 200, seed: 1);
        Assert.All(r.Panel!.Dispersion.Predicted.Values, v => Assert.Equal(0, v, 5));
        // Each group's distance is then exactly the unsteered model's for that group.
        foreach (var g in r.Panel!.Groups)
            Assert.Equal(r.Unsteered!.Groups.Single(u => u.Group == g.Group).Score.MeanDistance, g.Score.MeanDistance, 5);
    }

    [Fact]
    public async Task A_group_below_the_threshold_is_withheld_with_its_count()
    {
        var world = World("""{"format":"persona-world/1","seed":5}""");
        var questions = SurveyStage.Questions(Gss.Value, 3, 3);
        var samples = await AskAsync(world, Panel(), questions);
        var r = SurveyStage.Score(samples, Panel(), Gss.Value, questions, minPersonas: 31, resamples: 200, seed: 1);
        // 45 of each sex, 30 of each party: the parties fall below 31.
        Assert.Equal(["Male", "Female"], r.Panel!.Groups.Select(g => g.Group.Group));
        Assert.Equal(30, r.Panel!.Withheld.Single(w => w.Group.Group == "Democrat").Personas);
        Assert.Contains("fewer than 31", r.Panel!.Withheld.Single(w => w.Group.Group == "Republican").Reason);
    }

    [Fact]
    public async Task Steering_moves_only_the_groups_with_a_planted_shift()
    {
        var world = World("""{"format":"persona-world/1","seed":5,"survey":{"spread":1.0,"shifts":{"political views":{"Republican":1.6,"Democrat":-0.8}}}}""");
        var questions = SurveyStage.Questions(Gss.Value, 10, 3);
        var modes = new[] { SurveyModes.None, SurveyModes.SteerQa, SurveyModes.SteerBio, SurveyModes.SteerPortray };
        var samples = await AskAsync(world, [], questions, modes);
        Assert.Equal(SurveyStage.Count(0, Gss.Value, questions, modes), samples.Count);
        Assert.Equal(10 * (1 + 3 * 22), samples.Count);
        CutSamplesScoreTheSame(samples, [], questions, 10);
        var r = SurveyStage.Score(samples, [], Gss.Value, questions, minPersonas: 10, resamples: 200, seed: 1);
        Assert.Null(r.Panel);
        Assert.Equal(3, r.Steerability.Count);
        foreach (var s in r.Steerability)
        {
            // No planted shift for sex or region: steering changes nothing there; it does for the parties.
            Assert.Equal(0, s.Gain[new SurveyGroup("SEX", "Male")], 9);
            Assert.Equal(0, s.Gain[new SurveyGroup("CREGION", "South")], 9);
            Assert.NotEqual(0, s.Gain[new SurveyGroup("POLPARTY", "Republican")], 3);
            Assert.NotEqual(0, s.Gain[new SurveyGroup("POLPARTY", "Democrat")], 3);
            Assert.True(s.SdGain > 0);
        }
        // The steered Republican answers sit farther from the unsteered ones than the Democrats' (planted 1.6 vs 0.8).
        var none = samples.Where(x => x.Input("mode") == SurveyModes.None).ToDictionary(x => x.Input("qkey")!, x => SurveyTask.DistributionOf(x)!);
        double Shift(string group) => samples.Where(x => x.Input("mode") == SurveyModes.SteerQa && x.Input("steer") == "POLPARTY=" + group)
            .Average(x => SurveyDistance.Distance(Gss.Value.RowsOf(x.Input("qkey")!).First().Ordinal, SurveyTask.DistributionOf(x)!, none[x.Input("qkey")!])!.Value);
        Assert.True(Shift("Republican") > Shift("Democrat") && Shift("Democrat") > 0, $"R {Shift("Republican"):0.000}, D {Shift("Democrat"):0.000}");
    }

    [Fact]
    public async Task Sampled_answers_estimate_the_same_planted_distribution_the_verbalized_one_states()
    {
        var world = World("""{"format":"persona-world/1","seed":5,"survey":{"spread":1.0,"shifts":{"political views":{"Republican":1.6}}}}""");
        var questions = SurveyStage.Questions(Gss.Value, 2, 3);
        string[] modes = [SurveyModes.None, SurveyModes.SteerPortray];
        var stated = await AskAsync(world, [], questions, modes);
        var sampled = await AskAsync(world, [], questions, modes, "sample:400");
        Assert.Equal(400 * stated.Count, sampled.Count);
        Assert.All(sampled, s => Assert.Equal("sample:400", s.Input("elicitation")));
        CutSamplesScoreTheSame(sampled, [], questions, 10);
        var collapsed = SurveyStage.Collapse(sampled);
        Assert.Equal(stated.Count, collapsed.Count);
        var distances = new List<double>();
        foreach (var s in stated)
        {
            var c = collapsed.Single(x => x.Input("mode") == s.Input("mode") && x.Input("steer") == s.Input("steer") && x.Input("qkey") == s.Input("qkey"));
            var ordinal = Gss.Value.RowsOf(s.Input("qkey")!).First().Ordinal;
            var d = SurveyDistance.Distance(ordinal, SurveyTask.DistributionOf(c)!, SurveyTask.DistributionOf(s)!)!.Value;
            // 400 draws: a cumulative share's standard error is at most 0.025, so each distance stays below 4 of them.
            Assert.True(d < 0.1, $"{s.Input("mode")} {s.Input("steer")} {s.Input("qkey")}: sampled vs stated {d:0.000}");
            distances.Add(d);
        }
        // And on average about one standard error (a sampler drawing from another distribution, e.g. uniform, lands near 0.2).
        Assert.True(distances.Average() < 0.03, $"mean sampled vs stated {distances.Average():0.000}");
    }

    [Theory]
    [InlineData("verbalized", "verbalized")]
    [InlineData(" Sample:20 ", "sample:20")]
    public void Elicitation_is_parsed(string text, string expected) => Assert.Equal(expected, SurveyElicitation.Parse(text));

    [Theory]
    [InlineData("sample:0", "sample:N with N from 1 to 1000")]
    [InlineData("sample:x", "sample:N")]
    [InlineData("logprob", "expected verbalized, logprobs or sample:N")]
    public void Bad_elicitation_is_refused(string text, string expected) =>
        Assert.Contains(expected, Assert.Throws<PersonaException>(() => SurveyElicitation.Parse(text)).Message);

    [Fact]
    public void A_subset_of_questions_is_seeded_and_in_file_order()
    {
        var a = SurveyStage.Questions(Gss.Value, 12, 1);
        Assert.Equal(12, a.Count);
        Assert.Equal(a, SurveyStage.Questions(Gss.Value, 12, 1));
        Assert.NotEqual(a, SurveyStage.Questions(Gss.Value, 12, 2));
        Assert.Equal(a.OrderBy(q => Gss.Value.Questions.ToList().IndexOf(q)), a);
        Assert.Equal(133, SurveyStage.Questions(Gss.Value, null, 1).Count);
    }
}
