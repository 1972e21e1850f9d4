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
    public void The_tally_keeps_each_samples_observation_as_read_alone_and_one_copy_of_each_personas_metadata()
    {
        var tally = new BenchTally(BenchTask.DefaultScoreSet);
        foreach (var s in run.Samples) tally.Add(s with { Output = null });
        var alone = run.Samples.Select(s => BenchObservation.From(s, BenchTask.DefaultScoreSet)).ToList();
        Assert.Equal(alone.Count, tally.Observations.Count);
        for (var i = 0; i < alone.Count; i++)
        {
            var (a, t) = (alone[i], tally.Observations[i]);
            Assert.Equal((a.PersonaId, a.PromptId, a.Mode, a.Sample, a.Weight, a.Generated, a.CriticFailed, a.Score),
                (t.PersonaId, t.PromptId, t.Mode, t.Sample, t.Weight, t.Generated, t.CriticFailed, t.Score));
            Assert.Equal(a.Attributes, t.Attributes);
            Assert.Equal(a.Attributes.Keys, t.Attributes.Keys);
        }
        // One attribute map and one id string a persona, however many samples it has: the same objects, not equal ones.
        Assert.Equal(run.Personas.Count, tally.Observations.Select(o => o.Attributes).Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.Equal(run.Personas.Count, tally.Observations.Select(o => o.PersonaId).Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.Equal(tally.Observations.Select(o => o.Mode).Distinct().Count(), tally.Observations.Select(o => o.Mode).Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.True(tally.Simulated);
        Assert.Equal(run.Samples[0].Turns.Single(t => t.Role == "model").Model, tally.Model);
        Assert.Equal(run.Results.CriticModel, tally.Critic);
        Assert.Equal(0, tally.BestOfNDraws);
        Assert.Empty(tally.RewardModels);
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
