using Persona.Personas;
using Persona.Preferences;
using Persona.Prompts;

namespace Persona.Core.Tests.Preferences;

public sealed class PairScheduleTests
{
    private static readonly IReadOnlyList<QuestionInput> Pool = Enumerable.Range(0, 400)
        .Select(i => new QuestionInput($"q{i}", $"question {i}", i < 300 ? PromptSplit.Train : PromptSplit.HeldOut, i % 5)).ToArray();

    private static PersonaInput P(string id, string age = "30") =>
        new(id, $"age: {age}\n", new Dictionary<string, string> { ["age"] = age }, 1, null, "test");

    [Fact]
    public void Each_persona_gets_the_originals_counts_from_the_right_pools_without_repeats()
    {
        var o = new ScheduleOptions();
        var (train, held) = PairSchedule.Pools(Pool, o, "test");
        var pairs = PairSchedule.ForPersona(0, P("a"), train, held, o).ToList();
        Assert.Equal(200, pairs.Count);
        Assert.Equal(100, pairs.Count(p => p.Split == PairSplit.Train));
        Assert.Equal(50, pairs.Count(p => p.Split == PairSplit.TestSeen));
        Assert.Equal(50, pairs.Count(p => p.Split == PairSplit.TestHeldOut));
        Assert.All(pairs.Where(p => p.Split != PairSplit.TestHeldOut), p => Assert.Equal(PromptSplit.Train, p.Prompt.Split));
        Assert.All(pairs.Where(p => p.Split == PairSplit.TestHeldOut), p => Assert.Equal(PromptSplit.HeldOut, p.Prompt.Split));
        Assert.Equal(200, pairs.Select(p => p.Prompt.Id).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 200), pairs.Select(p => p.Slot));
    }

    [Fact]
    public void The_schedule_depends_on_the_seed_and_the_persona_id_only_never_on_attributes_or_other_personas()
    {
        var o = new ScheduleOptions { TrainPrompts = 30, HeldOutPrompts = 10, TrainPairs = 20 };
        var (train, held) = PairSchedule.Pools(Pool, o, "test");
        var young = PairSchedule.ForPersona(0, P("x", "20"), train, held, o).Select(p => p.Prompt.Id).ToList();
        var old = PairSchedule.ForPersona(7, P("x", "80"), train, held, o).Select(p => p.Prompt.Id).ToList();
        Assert.Equal(young, old);
        var other = PairSchedule.ForPersona(0, P("y"), train, held, o).Select(p => p.Prompt.Id).ToList();
        Assert.NotEqual(young, other);
        var reseeded = PairSchedule.ForPersona(0, P("x"), train, held, o with { Seed = 2 }).Select(p => p.Prompt.Id).ToList();
        Assert.NotEqual(young, reseeded);
        // Over many personas every train prompt is used about equally: the draw is uniform.
        var uses = Enumerable.Range(0, 600).SelectMany(i => PairSchedule.ForPersona(i, P($"p{i}"), train, held, o))
            .Where(p => p.Split != PairSplit.TestHeldOut).GroupBy(p => p.Prompt.Id).Select(g => g.Count()).ToList();
        Assert.Equal(300, uses.Count);
        Assert.InRange(uses.Average(), 59.9, 60.1);
        Assert.True(uses.Min() > 30 && uses.Max() < 95, $"uses range {uses.Min()}..{uses.Max()}");
    }

    [Fact]
    public void A_pool_too_small_or_a_prompt_set_without_splits_is_a_clear_error()
    {
        var small = Pool.Take(320).ToList(); // 300 train, 20 held out
        var ex = Assert.Throws<PersonaException>(() => PairSchedule.Pools(small, new ScheduleOptions(), "small.jsonl"));
        Assert.Contains("300 train and 20 held-out", ex.Message);
        Assert.Contains("needs 150 and 50", ex.Message);
        var noSplit = Pool.Select(q => q with { Split = null }).ToList();
        Assert.Contains("no split", Assert.Throws<PersonaException>(() => PairSchedule.Pools(noSplit, new ScheduleOptions(), "x.csv")).Message);
        Assert.Contains("--train-pairs", Assert.Throws<PersonaException>(() => new ScheduleOptions { TrainPairs = 200 }.Validate()).Message);
    }

    [Theory]
    [InlineData("As a 53-year-old, you may prefer...", "age")]
    [InlineData("At 53 years old the choice is yours.", "age")]
    [InlineData("Many registered nurses find this useful.", "occupation category")]
    [InlineData("People with a Bachelor's degree often...", "education")]
    [InlineData("A Catholic view and a male view differ.", null)]
    [InlineData("Some 530-year-old trees remain.", null)]
    public void The_quote_check_finds_attributes_named_outright_not_ordinary_words(string text, string? expected)
    {
        var persona = new Dictionary<string, string>
        {
            ["age"] = "53", ["sex"] = "Male", ["religion"] = "Catholic", ["occupation category"] = "Registered nurses", ["education"] = "Bachelor's degree",
        };
        Assert.Equal(expected, PairTask.QuotedAttribute(text, persona));
    }

    [Fact]
    public void A_revision_that_is_not_shorter_or_is_cut_off_is_flagged()
    {
        var persona = new Dictionary<string, string> { ["age"] = "40" };
        Assert.True(PairTask.Check("a b c", 10, "a b", 6, false, persona).Passed);
        Assert.True(PairTask.Check("a b c", 10, "a b c d", 10, false, persona).NotShorter);
        Assert.True(PairTask.Check("a b c", 10, "a", 2, true, persona).Truncated);
        Assert.True(PairTask.Check("a b c", 10, " ", 0, false, persona).Empty);
    }
}
