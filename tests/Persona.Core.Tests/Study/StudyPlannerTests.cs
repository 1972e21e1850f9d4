using Persona.Study;

namespace Persona.Core.Tests.Study;

public sealed class StudyPlannerTests
{
    [Fact]
    public void The_same_seed_draws_the_same_study_and_another_seed_a_different_one()
    {
        var pairs = StudyFixtures.Pairs(30, 15);
        var options = new StudyOptions { Personas = 20, ItemsPerPersona = 10, Seed = 7 };
        string Fingerprint(StudyPlan p) => string.Join("|", p.Personas.Select(x => x.PersonaId + ":" + string.Join(",", x.Items.Select(i => i.PairId + i.Flip))));
        var a = StudyPlanner.Plan(pairs, null, options);
        var b = StudyPlanner.Plan(pairs.AsEnumerable().Reverse().ToList(), null, options); // input order does not matter
        var c = StudyPlanner.Plan(pairs, null, options with { Seed = 8 });
        Assert.Equal(Fingerprint(a), Fingerprint(b));
        Assert.NotEqual(Fingerprint(a), Fingerprint(c));
        Assert.Equal(20, a.Personas.Count);
        Assert.Equal(20, a.Personas.Select(p => p.PersonaId).Distinct().Count());
        Assert.All(a.Personas, p =>
        {
            Assert.Equal(10, p.Items.Count);
            Assert.Equal(10, p.Items.Select(i => i.PromptId).Distinct().Count());
            Assert.All(p.Items, i => Assert.StartsWith(p.PersonaId + "-", i.PairId));
        });
    }

    [Fact]
    public void Each_answer_is_on_the_left_for_half_of_a_personas_raters()
    {
        var plan = StudyPlanner.Plan(StudyFixtures.Pairs(3, 12), null, new StudyOptions { Personas = 3, ItemsPerPersona = 12, RatersPerPersona = 4 });
        foreach (var item in plan.Personas.SelectMany(p => p.Items))
            Assert.Equal(2, Enumerable.Range(0, 4).Count(r => StudyPlan.PersonalisedLeft(item.Flip, r)));
        // and which side comes first for rater 0 varies across items rather than being fixed
        var sides = plan.Personas.SelectMany(p => p.Items).Select(i => StudyPlan.PersonalisedLeft(i.Flip, 0)).ToList();
        Assert.Contains(true, sides);
        Assert.Contains(false, sides);
    }

    [Fact]
    public void Attention_checks_are_added_at_seeded_positions_and_keep_every_pair()
    {
        var plan = StudyPlanner.Plan(StudyFixtures.Pairs(4, 10), null, new StudyOptions { Personas = 4, ItemsPerPersona = 6, AttentionChecks = 2 });
        Assert.All(plan.Personas, p =>
        {
            Assert.Equal(Enumerable.Range(1, 8), p.Items.Select(i => i.Position));
            Assert.Equal(2, p.Items.Count(i => i.Kind == ItemKind.Attention));
            Assert.Equal(6, p.Items.Count(i => i.Kind == ItemKind.Pair));
            Assert.All(p.Items.Where(i => i.Kind == ItemKind.Attention), i => Assert.Equal(StudyPlanner.AttentionTarget, i.Personalised));
        });
    }

    [Fact]
    public void Too_few_personas_or_questions_is_an_actionable_error()
    {
        var ex = Assert.Throws<PersonaException>(() => StudyPlanner.Plan(StudyFixtures.Pairs(5, 12), null, new StudyOptions()));
        Assert.Contains("needs 20 personas with at least 10 distinct questions", ex.Message);
        Assert.Contains("only 5", ex.Message);
        var split = Assert.Throws<PersonaException>(() => StudyPlanner.Plan(StudyFixtures.Pairs(25, 12), null, new StudyOptions { Splits = ["test-heldout"] }));
        Assert.Contains("test-heldout", split.Message);
        Assert.Throws<PersonaException>(() => StudyPlanner.Plan(StudyFixtures.Pairs(25, 12), null, new StudyOptions { ProlificRedirect = true }));
    }

    [Fact]
    public void A_persona_file_text_replaces_the_text_carried_by_the_pairs_and_pairs_without_text_need_one()
    {
        var pairs = StudyFixtures.Pairs(2, 3).Select(p => p with { PersonaText = null }).ToList();
        var options = new StudyOptions { Personas = 2, ItemsPerPersona = 3 };
        Assert.Contains("without a persona text", Assert.Throws<PersonaException>(() => StudyPlanner.Plan(pairs, null, options)).Message);
        var plan = StudyPlanner.Plan(pairs, new Dictionary<string, StudyPersona> { ["p01"] = new("age: 1\n", null), ["p02"] = new("age: 2\n", null) }, options);
        Assert.Equal(["age: 1\n", "age: 2\n"], plan.Personas.OrderBy(p => p.PersonaId).Select(p => p.Text));
    }
}
