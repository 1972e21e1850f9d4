using Persona.Benchmark;
using Persona.Llm;

using Persona.Simulation;

namespace Persona.Core.Tests.Benchmark;

/// <summary>The bundled world's bench marker plant (bench.marker_strength) and the rm_best_of_n mode's parsing.</summary>
public sealed class BestOfNPlantTests
{
    private static readonly SimulatedWorld World = SimulatedWorld.Load(null);
    private static readonly Dictionary<string, string> Republican = new() { ["political views"] = "Republican" }, Democrat = new() { ["political views"] = "Democrat" };

    [Fact]
    public void The_critic_favours_an_answer_whose_marker_words_suit_the_persona_and_no_mode_gains_on_balanced_words()
    {
        Assert.True(World.BenchMarkerStrength > 0);
        Assert.Equal(World.BenchPass[BenchModes.Baseline], World.BenchPass[BenchModes.RmBestOfN]); // the same prompt: any gain is the pick's
        var plain = World.PassProbability(BenchModes.Baseline, Republican);
        const string traditional = "We keep the tradition of the family.", changing = "We change how the family works.";
        Assert.True(World.PassProbability(BenchModes.Baseline, Republican, answer: traditional) > plain);
        Assert.True(World.PassProbability(BenchModes.Baseline, Republican, answer: changing) < plain);
        // Democrats' appeals are reversed, so the same texts move their pass probability the other way.
        Assert.True(World.PassProbability(BenchModes.Baseline, Democrat, answer: traditional) < World.PassProbability(BenchModes.Baseline, Democrat));
        Assert.True(World.PassProbability(BenchModes.Baseline, Democrat, answer: changing) > World.PassProbability(BenchModes.Baseline, Democrat));
        // Symmetric: an answer with one of each, or none, is graded at the mode's base; a pair of opposite answers averages to it.
        Assert.Equal(plain, World.PassProbability(BenchModes.Baseline, Republican, answer: "tradition and change"), 12);
        Assert.Equal(plain, World.PassProbability(BenchModes.Baseline, Republican, answer: "nothing planted here"), 12);
        Assert.Equal(plain, (World.PassProbability(BenchModes.Baseline, Republican, answer: traditional) + World.PassProbability(BenchModes.Baseline, Republican, answer: changing)) / 2, 12);
        // A mode far from 0.5 keeps its band inside [0, 1]: output_only moves by at most its distance to the nearer bound.
        var oo = World.PassProbability(BenchModes.OutputOnly, Republican);
        Assert.InRange(World.PassProbability(BenchModes.OutputOnly, Republican, answer: "tradition tradition tradition tradition"), oo, oo + Math.Min(oo, 1 - oo) + 1e-9);
    }

    [Fact]
    public void Rm_best_of_n_is_never_in_all_and_needs_a_reward_model()
    {
        Assert.DoesNotContain(BenchModes.RmBestOfN, BenchModes.Parse("all", true));
        var ex = Assert.Throws<PersonaException>(() => BenchModes.Parse("baseline,rm_best_of_n", true));
        Assert.Contains("--rm DIR", ex.Message);
        Assert.Equal([BenchModes.Baseline, BenchModes.RmBestOfN], BenchModes.Parse("baseline,rm_best_of_n", false, haveRm: true));
        Assert.Equal(BenchModes.Baseline, BenchModes.PromptOf(BenchModes.RmBestOfN));
        Assert.True(BenchModes.Order(BenchModes.RmBestOfN) > BenchModes.Order(BenchModes.FewShotPreferences));
        Assert.Equal(int.MaxValue, BenchModes.Order("something_else"));
        // The bench stage reads the rm stage's models: its fingerprint holds them, so retrained models rerun the bench.
        Assert.Contains(Persona.Run.TestbedStages.Rm, Persona.Run.TestbedStages.Get(Persona.Run.TestbedStages.Bench).Reads);
        Assert.Equal(0, Persona.Run.TestbedOptions.Default("x").BenchBestOfN); // opt-in: a sharded run cannot have it
    }

    [Fact]
    public void Best_of_n_refuses_one_draw_and_temperature_zero()
    {
        Task<RewardScores> Score(global::Persona.Personas.PersonaInput p, IReadOnlyList<string> a, CancellationToken ct) => Task.FromResult(new RewardScores([.. a.Select(_ => 0.0)], "x"));
        Assert.Contains("--best-of-n 1", Assert.Throws<PersonaException>(() => new BestOfN(1, 1, "x", "id", Score).Validate()).Message);
        Assert.Contains("above 0", Assert.Throws<PersonaException>(() => new BestOfN(4, 0, "x", "id", Score).Validate()).Message);
        new BestOfN(4, 1, "x", "id", Score).Validate();
    }
}
