using Persona.Census;
using Persona.Personas;

namespace Persona.Core.Tests.Personas;

public class ConsistencyRulesTests
{
    private static PersonaRecord Adult(string job = "Drafts building plans for an engineering firm.") => new()
    {
        Id = "",
        Age = 45,
        Sex = "Female",
        Education = "Regular high school diploma",
        EmploymentStatus = "Civilian employed, at work",
        OccupationCategory = "ENG-Other Drafters",
        Income = 50000,
        MaritalStatus = "Married",
        VeteranStatus = "Never served in the military",
        DetailedJobDescription = job,
        DefiningQuirks = "Hums while working.",
        Mannerisms = "Speaks softly.",
        PersonalTime = "Gardens on weekends.",
        Lifestyle = "Lives in a small town and cooks at home.",
        Census = new PersonaCensus("2024-1yr", "S", 1, "56", null, 1.0, []),
        Traits = new PersonaTraits("conditional", 1),
    };

    private static PersonaRecord Child(int age = 9) => Adult("Goes to elementary school and plays soccer.") with
    {
        Age = age, Income = null, EmploymentStatus = null, OccupationCategory = null, Education = "Grade 3",
        MaritalStatus = "Never married or under 15 years old", VeteranStatus = null,
    };

    private static string Only(PersonaRecord p) => Assert.Single(ConsistencyRules.Check(p)).Rule;

    [Fact]
    public void A_plain_consistent_adult_and_child_pass() 
    {
        Assert.Empty(ConsistencyRules.Check(Adult()));
        Assert.Empty(ConsistencyRules.Check(Child()));
    }

    [Theory]
    [InlineData("R01", "Saves her paycheck from the corner store.")]
    [InlineData("R02", "Works as a cashier at the mall after school.")]
    [InlineData("R09", "Walks her kids to school every morning.")]
    [InlineData("R07", "Is a 30-year-old who loves video games.")]
    public void Child_text_rules(string rule, string text) =>
        Assert.Equal(rule, Only(Child() with { DetailedJobDescription = text }));

    [Fact]
    public void R01_also_catches_census_income_under_15() => Assert.Equal("R01", Only(Child(12) with { Income = 300 }));

    [Fact]
    public void R03_young_retiree_but_not_retired_parents()
    {
        Assert.Equal("R03", Only(Adult() with { Age = 25, Lifestyle = "Enjoys retirement on a fixed budget." }));
        Assert.Equal("R03", Only(Adult() with { Age = 25, PersonalTime = "As a retiree, fishes daily." }));
        Assert.Empty(ConsistencyRules.Check(Adult() with { Age = 25, PersonalTime = "Visits her retired parents on Sundays." }));
        Assert.Empty(ConsistencyRules.Check(Adult() with { Age = 70, PersonalTime = "Retired and fishing daily." }));
    }

    [Theory]
    [InlineData("Not in labor force", "Works as a bookkeeper for a dental office.", "R04")]
    [InlineData("Unemployed", "Currently works full shifts at the plant.", "R04")]
    [InlineData("Not in labor force", "Works as a volunteer at the library.", null)]
    [InlineData("Not in labor force", "Formerly a bookkeeper; now keeps the family accounts.", null)]
    [InlineData("Civilian employed, at work", "Has been out of work since spring.", "R05")]
    public void Employment_status_against_the_job_description(string status, string job, string? rule)
    {
        var p = Adult(job) with { EmploymentStatus = status, OccupationCategory = status.StartsWith("Civilian") ? "ENG-Other Drafters" : null };
        Assert.Equal(rule, ConsistencyRules.Check(p).SingleOrDefault()?.Rule);
    }

    [Fact]
    public void R06_occupation_family_against_the_first_sentence()
    {
        Assert.Equal("R06", Only(Adult("Works night shifts as a registered nurse. Loves drafting at home.")));
        Assert.Empty(ConsistencyRules.Check(Adult("Drafts plans. Her sister is a nurse.")));           // not the first sentence
        Assert.Empty(ConsistencyRules.Check(Adult("A nurse turned drafter, she draws plans.") with { OccupationCategory = "MED-Registered Nurses" }));
        Assert.Equal("ENG", ConsistencyRules.OccupationFamily("ENG-Other Drafters"));
        Assert.Null(ConsistencyRules.OccupationFamily("Unemployed, With No Work Experience"));
    }

    [Fact]
    public void R07_stated_age_far_from_census_age()
    {
        Assert.Equal("R07", Only(Adult() with { Mannerisms = "She is 62 years old and acts it." }));
        Assert.Empty(ConsistencyRules.Check(Adult() with { Mannerisms = "She is 46 years old and acts it." })); // within a year
        Assert.Empty(ConsistencyRules.Check(Adult() with { Lifestyle = "Raises a 5-year-old son." }));     // not about herself
    }

    [Fact]
    public void R08_never_married_with_a_husband() =>
        Assert.Equal("R08", Only(Adult() with { MaritalStatus = "Never married or under 15 years old", Lifestyle = "Cooks with her husband." }));

    [Fact]
    public void R10_veteran_claim_without_service() =>
        Assert.Equal("R10", Only(Adult() with { DefiningQuirks = "Still makes her bed the way she did when she served in the Army." }));

    [Fact]
    public void R11_degree_claim_below_an_associate_degree()
    {
        Assert.Equal("R11", Only(Adult() with { Lifestyle = "Proud of her bachelor's degree in history." }));
        Assert.Empty(ConsistencyRules.Check(Adult() with { Education = "Bachelor's degree", Lifestyle = "Proud of her bachelor's degree in history." }));
    }

    [Fact]
    public void Census_impossibilities()
    {
        Assert.Equal("R12", Only(Adult() with { Sex = "Male", Fertility = "Yes" }));
        Assert.Equal("R13", Only(Child(12) with { MaritalStatus = "Married" }));
    }

    [Fact]
    public void Every_rule_has_a_unique_id_name_and_description()
    {
        Assert.Equal(13, ConsistencyRules.All.Count);
        Assert.Equal(ConsistencyRules.All.Count, ConsistencyRules.All.Select(r => r.Id).Distinct().Count());
        Assert.All(ConsistencyRules.All, r => Assert.False(string.IsNullOrWhiteSpace(r.Description)));
    }
}

public class EnrichmentAndSplitTests
{
    [Theory]
    [InlineData("not json at all", "E1")]
    [InlineData("{\"age\":99,\"detailed_job_description\":\"a\",\"defining_quirks\":\"b\",\"mannerisms\":\"c\",\"personal_time\":\"d\",\"lifestyle\":\"e\"}", "E2")]
    [InlineData("{\"mood\":\"x\",\"detailed_job_description\":\"a\",\"defining_quirks\":\"b\",\"mannerisms\":\"c\",\"personal_time\":\"d\",\"lifestyle\":\"e\"}", "E2")]
    [InlineData("{\"detailed_job_description\":\"a\",\"defining_quirks\":\"b\",\"mannerisms\":\"c\",\"personal_time\":\"d\"}", "E3")]
    [InlineData("{\"detailed_job_description\":\"a\",\"defining_quirks\":\" \",\"mannerisms\":\"c\",\"personal_time\":\"d\",\"lifestyle\":\"e\"}", "E4")]
    [InlineData("{\"detailed_job_description\":\"a\",\"defining_quirks\":3,\"mannerisms\":\"c\",\"personal_time\":\"d\",\"lifestyle\":\"e\"}", "E4")]
    public void Enrichment_answers_touching_anything_else_are_refused(string answer, string rule)
    {
        var failure = PersonaEnricher.Parse(answer, 0, out var fields);
        Assert.Equal(rule, failure?.Rule);
        Assert.Null(fields);
    }

    [Fact]
    public void Enrichment_schema_allows_exactly_the_five_fields()
    {
        var s = PersonaEnricher.Schema;
        Assert.False(s.GetProperty("additionalProperties").GetBoolean());
        Assert.Equal(PersonaEnricher.FieldKeys, s.GetProperty("required").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(PersonaEnricher.FieldKeys, s.GetProperty("properties").EnumerateObject().Select(x => x.Name));
        Assert.Null(PersonaEnricher.Parse("```json\n{\"detailed_job_description\":\"a\",\"defining_quirks\":\"b\",\"mannerisms\":\"c\",\"personal_time\":\"d\",\"lifestyle\":\"e\"}\n```", 0, out var f));
        Assert.Equal("e", f!.Lifestyle);
    }

    [Fact]
    public void Split_is_1000_to_586_for_the_original_size_deterministic_and_seed_dependent()
    {
        var ids = Enumerable.Range(0, 1586).Select(i => $"p_{i:x16}").ToArray();
        var a = PersonaSplit.Create(ids, 7);
        Assert.Equal((1000, 586), (a.TrainCount, a.TestCount));
        Assert.Equal(ids.Order(), a.Train.Concat(a.Test).Order());
        Assert.Empty(a.Train.Intersect(a.Test));
        Assert.Equal(a.ToJson(), PersonaSplit.Create(ids, 7).ToJson());
        Assert.NotEqual(a.Train, PersonaSplit.Create(ids, 8).Train);
        Assert.Equal(ids.Where(a.Train.Contains), a.Train); // listed in population order
        var half = PersonaSplit.Create(ids[..10], 1, 0.5);
        Assert.Equal(5, half.TrainCount);
        Assert.Throws<PersonaException>(() => PersonaSplit.Create(ids, 1, 1.5));
    }

    [Fact]
    public void Categories_are_distinct_per_persona_and_fixed_by_seed_and_draw_index()
    {
        var cats = EnrichmentCategories.Load();
        Assert.True(cats.All.Count >= 20);
        var a = cats.Draw(3, 17, 3);
        Assert.Equal(3, a.Select(c => c.Name).Distinct().Count());
        Assert.Equal(a, cats.Draw(3, 17, 3));
        var spread = Enumerable.Range(0, 200).SelectMany(i => cats.Draw(3, i, 3)).Select(c => c.Name).Distinct().Count();
        Assert.Equal(cats.All.Count, spread);
        Assert.Throws<PersonaException>(() => cats.Draw(3, 0, cats.All.Count + 1));
    }
}
