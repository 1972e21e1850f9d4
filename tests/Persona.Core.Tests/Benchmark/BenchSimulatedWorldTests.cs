using System.Text.Json;
using Persona.Benchmark;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using static Persona.Core.Tests.Benchmark.BenchKit;
using static Persona.Core.Tests.Llm.LlmTestKit;

using Persona.Simulation;

namespace Persona.Core.Tests.Benchmark;

/// <summary>One offline bench run over the test world, shared by the recovery tests.</summary>
public sealed class BenchRunFixture : IAsyncLifetime
{
    public List<SampleRecord> Samples { get; private set; } = [];
    public BenchResults Results { get; private set; } = null!;
    public SimulatedWorld World { get; private set; } = null!;
    public IReadOnlyList<PersonaInput> Personas { get; private set; } = [];

    public async Task InitializeAsync()
    {
        var dir = TempDir();
        Personas = await BenchKit.Personas(dir, 216);
        var questions = BenchKit.Questions(dir, 12);
        var pairs = BenchTask.Pair(Personas, questions, new BenchSampling { Pairing = "random", PerPersona = 3, Seed = 5 });
        var prompts = BenchPrompts.Load();
        await using var rt = LlmRuntime.Open(Offline(dir));
        World = rt.World();
        Samples = await RunAsync(BenchTask.Create(BenchTask.Items(pairs, BenchModes.Original), prompts, [BenchTask.Critic(prompts)]), rt);
        Results = BenchReport.Compute(Samples, BenchTask.DefaultScoreSet, resamples: 400, seed: 3);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

public sealed class BenchSimulatedWorldTests(BenchRunFixture run) : IClassFixture<BenchRunFixture>
{
    /// <summary>The planted accuracy of the samples a mode scored: mean of P(pass | mode, persona).</summary>
    private double Truth(string mode, Func<BenchObservation, bool>? where = null) =>
        run.Samples.Select(s => BenchObservation.From(s, BenchTask.DefaultScoreSet)).Where(o => o.Mode == mode && o.Score is not null && (where?.Invoke(o) ?? true))
            .Average(o => run.World.PassProbability(mode, o.Attributes));

    private static string CriticPrompt(SampleRecord s) => BenchKit.CriticTurn(s).GetProperty("messages")[1].GetProperty("content").GetString()!;

    [Fact]
    public void Samples_cut_for_the_statistics_give_the_same_results_without_their_answers_and_share_each_personas_metadata()
    {
        var cut = run.Samples.Select(BenchReport.ForStatistics()).ToList();
        var dir = TempDir();
        BenchReport.Write(Path.Combine(dir, "whole.json"), run.Results);
        BenchReport.Write(Path.Combine(dir, "cut.json"), BenchReport.Compute(cut, BenchTask.DefaultScoreSet, resamples: 400, seed: 3));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "whole.json")), File.ReadAllBytes(Path.Combine(dir, "cut.json")));
        var cells = new[] { new Intersection("women, democrats", [("sex", ["Female"]), ("political_views", ["Democrat"])]) };
        BenchReport.Write(Path.Combine(dir, "whole-x.json"), Intersections.Compute(run.Samples, BenchTask.DefaultScoreSet, cells, 100));
        BenchReport.Write(Path.Combine(dir, "cut-x.json"), Intersections.Compute(cut, BenchTask.DefaultScoreSet, cells, 100));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "whole-x.json")), File.ReadAllBytes(Path.Combine(dir, "cut-x.json")));

        Assert.All(cut, s => Assert.Null(s.Output));
        Assert.All(cut, s => Assert.Null(s.Field("persona")));
        Assert.All(cut, s => Assert.Null(s.Field("answer_to_question")));
        Assert.All(cut.SelectMany(s => s.Scores!.Values), sc => Assert.Null(sc.Explanation));
        // Samples whose turns had the same roles, models and steps share one list of them, without cache keys: the
        // statistics read who answered, and a million samples would otherwise hold two turns each.
        Assert.InRange(cut.Select(s => s.Turns).Distinct().Count(), 1, 8);
        Assert.All(cut.SelectMany(s => s.Turns), t => Assert.Null(t.CacheKey));
        Assert.Equal(run.Samples.Select(s => string.Join(",", s.Turns.Select(t => t.Model))), cut.Select(s => string.Join(",", s.Turns.Select(t => t.Model))));
        Assert.All(cut, s => Assert.NotNull(s.Field(PersonaMetadata.Field)));
        // One copy of a persona's metadata for all of its samples: the same backing document, not an equal one.
        var first = cut.GroupBy(s => s.Input("persona_id")).First().ToList();
        Assert.True(first.Count > 1);
        Assert.All(first, s => Assert.True(JsonElement.DeepEquals(first[0].Data!.Value, s.Data!.Value)));
        Assert.Equal(run.Personas.Count, cut.Select(s => s.Data!.Value).Distinct().Count());
        // And the statistics read it once a persona: its observations share one attribute map.
        var cache = new PersonaMetadataCache();
        var observed = first.Select(s => BenchObservation.From(s, BenchTask.DefaultScoreSet, cache)).ToList();
        Assert.All(observed, o => Assert.Same(observed[0].Attributes, o.Attributes));
        Assert.Equal(observed[0].Attributes, BenchObservation.From(first[0], BenchTask.DefaultScoreSet).Attributes);
    }

    [Fact]
    public void Every_sample_is_generated_and_critiqued_by_the_critic_role()
    {
        Assert.Equal(216 * 3 * 4, run.Samples.Count);
        Assert.All(run.Samples, s => Assert.Equal(SampleRecord.StatusOk, s.Status));
        Assert.All(run.Samples, s => Assert.Equal(["model"], s.Turns.Select(t => t.Role)));
        Assert.All(run.Samples, s => Assert.Equal("critic", BenchKit.CriticTurn(s).GetProperty("role").GetString()));
        Assert.All(run.Results.Modes, m => Assert.Equal((648, 0, 0, 648), (m.Accuracy.Samples, m.Accuracy.GenerationFailures, m.Accuracy.CriticFailures, m.Accuracy.Scored)));
        // Only answer_to_question is judged: the critic's prompt holds the answer, never the reasoning or the summary.
        var cot = run.Samples.First(s => s.Input("mode") == BenchModes.ChainOfThought);
        var judged = CriticPrompt(cot).Split("<answer>\n")[1].Split("\n</answer>")[0];
        Assert.Equal(cot.Field("answer_to_question")!.Value.GetString(), judged);
        Assert.Equal(cot.Output, judged);
        // Baseline never shows the persona; the other modes do, in a data block.
        var baseline = run.Samples.First(s => s.Input("mode") == BenchModes.Baseline);
        Assert.DoesNotContain("<persona>", baseline.Turns[0].Messages[1].Content);
        Assert.Contains("<persona>", cot.Turns[0].Messages[1].Content);
        Assert.Contains("<persona>", CriticPrompt(baseline)); // the critic sees it for every mode
    }

    [Fact]
    public void Planted_mode_ordering_and_accuracies_are_recovered_within_their_intervals()
    {
        var byMode = run.Results.Modes.ToDictionary(m => m.Mode);
        foreach (var mode in BenchModes.Original)
        {
            var a = byMode[mode].Accuracy;
            Assert.True(Contains(a.Clustered, Truth(mode)), $"{mode}: planted {Truth(mode):F3} outside {a.Clustered}");
            Assert.True(Contains(a.Wilson, Truth(mode)), $"{mode}: planted {Truth(mode):F3} outside Wilson {a.Wilson}");
            Assert.InRange(a.BootstrapStandardError!.Value, 0.005, 0.03);
        }
        var planted = BenchModes.Original.OrderBy(m => run.World.BenchPass[m]).ToArray();
        Assert.Equal(planted, run.Results.Modes.OrderBy(m => m.Accuracy.Accuracy).Select(m => m.Mode).ToArray());
        // Paired: summary first beats output only, which beats chain of thought (Holm-adjusted), each difference's interval holding the planted one.
        foreach (var (better, worse) in new[] { (BenchModes.DemographicSummary, BenchModes.OutputOnly), (BenchModes.OutputOnly, BenchModes.ChainOfThought) })
        {
            var c = run.Results.Comparisons.Single(x => (x.A, x.B) == (better, worse) || (x.A, x.B) == (worse, better));
            var sign = c.A == better ? 1 : -1;
            Assert.True(sign * c.Difference > 0);
            Assert.True(c.PValueHolm < 0.05, $"{better} vs {worse}: Holm p {c.PValueHolm}");
            Assert.True(Contains(c.Interval, sign * (Truth(better) - Truth(worse))), $"{c.A}-{c.B}: {c.Interval} vs planted {Truth(better) - Truth(worse)}");
            Assert.Equal(648, c.N);
        }
        Assert.Equal(6, run.Results.Comparisons.Count);
    }

    [Fact]
    public void The_planted_worst_group_is_found_with_its_planted_accuracy_in_its_interval()
    {
        foreach (var mode in new[] { BenchModes.OutputOnly, BenchModes.DemographicSummary })
        {
            var m = run.Results.Modes.Single(x => x.Mode == mode);
            Assert.Equal(("race", "Black or African American alone"), (m.WorstGroup!.Attribute, m.WorstGroup.Group));
            var truth = Truth(mode, o => o.Attributes["race"] == "Black or African American alone");
            Assert.True(Contains(m.WorstGroup.Interval, truth), $"{mode}: {m.WorstGroup.Interval} vs {truth}");
            var race = m.Groups.Single(g => g.Attribute == "race");
            Assert.Equal(3, race.Rows.Count);
            Assert.Equal("race", m.LargestGapAttribute);
            Assert.True(race.Disparity!.MaxMinGap > 0.1);
        }
        // Free-text attributes are not grouped; age is grouped in census bands.
        Assert.Contains("lifestyle", run.Results.GroupAttributesSkipped);
        var age = run.Results.Modes[0].Groups.Single(g => g.Attribute == "age");
        Assert.Contains(age.Rows, r => r.Group == "75+");
    }

    [Fact]
    public void Intersections_report_accuracy_and_cell_size_per_intersection()
    {
        var path = Path.Combine(TempDir(), "intersections.json");
        File.WriteAllText(path, """
            [{"attributes": [{"attribute": "race", "values": ["Black or African American alone"]}, {"attribute": "age", "values": ["65+"]}]},
             {"attributes": [{"attribute": "sex", "values": ["Female"]}]},
             {"attributes": [{"attribute": "religion", "values": ["Zoroastrian"]}]}]
            """);
        var r = Intersections.Compute(run.Samples, BenchTask.DefaultScoreSet, Intersections.Read(path), resamples: 300);
        var cell = r.Rows.Single(x => x.Mode == BenchModes.DemographicSummary && x.Intersection.StartsWith("race"));
        var truth = Truth(BenchModes.DemographicSummary, o => o.Attributes["race"].StartsWith("Black") && int.Parse(o.Attributes["age"]) >= 65);
        Assert.Equal(216 / 3 / 3, cell.Personas); // ages 70 and 81: two of six
        Assert.True(Contains(cell.Accuracy.Wilson, truth));
        Assert.True(cell.Accuracy.Accuracy < run.Results.Modes.Single(m => m.Mode == BenchModes.DemographicSummary).Accuracy.Accuracy);
        var empty = r.Rows.Single(x => x.Mode == BenchModes.Baseline && x.Intersection.StartsWith("religion"));
        Assert.Equal((0, 0, null), (empty.Personas, empty.Accuracy.Samples, empty.Accuracy.Accuracy));
    }

    [Fact]
    public async Task Summaries_recover_the_planted_drop_rates()
    {
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(Offline(dir));
        var samples = await RunAsync(SummaryAudit.Create(run.Samples, BenchPrompts.Load()), rt);
        Assert.Equal(648, samples.Count);
        var r = SummaryAudit.Compute(samples);
        Assert.Equal(("age", "lifestyle"), (r.Attributes[0].Attribute, r.Attributes[1].Attribute));
        // Seven attributes at once: Bonferroni-adjusted Wilson intervals, so the check holds jointly at 95%.
        foreach (var a in r.Attributes)
        {
            var joint = Persona.Statistics.Proportion.Wilson(a.Dropped, a.Summaries, 1 - 0.05 / r.Attributes.Count);
            Assert.True(Contains(joint, rt.World().SummaryDropProbability(a.Attribute)), $"{a.Attribute}: {joint} vs {rt.World().SummaryDropProbability(a.Attribute)}");
        }
        Assert.True(Contains(r.Attributes[0].Interval, 0.6));
        Assert.All(samples, s => Assert.Equal("judge", s.Turns.Single().Role));
    }
}
