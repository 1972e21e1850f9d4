using Persona.Census;
using Persona.Llm;
using Persona.Personas;

namespace Persona.Core.Tests.Personas;

public class DriftAuditTests
{
    private static PersonaRecord P(string id, int age, long? income, string lifestyle) => new()
    {
        Id = id,
        Age = age,
        Sex = "Female",
        Income = income,
        Education = "Bachelor's degree",
        EmploymentStatus = "Not in labor force",
        DetailedJobDescription = "Keeps the household running.",
        Lifestyle = lifestyle,
        Census = new PersonaCensus("2024-1yr", id, 1, "56", null, 1.0, []),
        Traits = new PersonaTraits("conditional", 1),
    };

    [Fact]
    public async Task Theme_shares_by_group_and_rule_contradictions_without_an_lm()
    {
        PersonaRecord[] personas =
        [
            P("a", 70, 12_000, "Struggles to pay the bills; prays at church each Sunday."),
            P("b", 72, 15_000, "Lives on a tight budget and goes to Mass."),
            P("c", 40, 150_000, "Spends weekends at the country club."),
            P("d", 30, 90_000, "Retired early and travels."),   // R03 young retiree
            P("e", 30, 90_000, "Enjoys hiking.") with { DetailedJobDescription = null, Lifestyle = null }, // no LM text: not audited
        ];
        var r = await DriftAudit.RunAsync(personas, null, new DriftAuditOptions { LmCheck = false });
        Assert.Equal((5, 4), (r.Personas, r.Enriched));
        Assert.Equal(1, r.RuleFlagged);
        Assert.Equal(1, r.RuleFlaggedByRule["R03"]);
        Assert.Equal(0, r.LmChecked);
        var hardship = r.Themes.Single(t => t.Theme == "hardship");
        Assert.Equal(2, hardship.Mentions);
        Assert.Equal(0.5, hardship.Share);
        Assert.Equal(1.0, hardship.Groups.Single(g => g.Dimension == "income band" && g.Group == "under $25k").Share);
        Assert.Equal(0.0, hardship.Groups.Single(g => g.Dimension == "income band" && g.Group == "$75k+").Share);
        Assert.Equal(1.0, r.Themes.Single(t => t.Theme == "religion").Groups.Single(g => g.Dimension == "age band" && g.Group == "65+").Share);
        Assert.Equal(1, r.Themes.Single(t => t.Theme == "affluence").Mentions);
    }

    [Fact]
    public async Task Lm_check_counts_contradictions_by_field_and_refuses_census_only_personas()
    {
        var personas = new[] { P("a", 50, 1000, "Gardens."), P("b", 51, 1000, "Reads."), P("c", 52, 1000, "Sails.") };
        // A planted verdict: the LM finds persona a's text contradicting its age and income, c's its age, b's nothing.
        var lm = new Prompts.FakeChatClient(q => q.Contains("Gardens.", StringComparison.Ordinal)
            ? """{"contradiction": true, "fields": ["age", "income"], "reasons": ["says 30", "rich"]}"""
            : q.Contains("Sails.", StringComparison.Ordinal)
                ? """{"contradiction": true, "fields": ["age"], "reasons": ["says 80"]}"""
                : """{"contradiction": false, "fields": [], "reasons": []}""");
        var r = await DriftAudit.RunAsync(personas, lm, new DriftAuditOptions { ModelLabel = "planted" });
        Assert.Equal(3, r.LmChecked);
        Assert.Equal(2, r.LmContradictions);
        Assert.Equal(new Dictionary<string, int> { ["age"] = 2, ["income"] = 1 }, r.LmContradictionsByField.ToDictionary(kv => kv.Key, kv => kv.Value));
        Assert.Equal([true, false, true], r.PerPersona.OrderBy(p => p.Id).Select(p => p.LmContradiction));
        await Assert.ThrowsAsync<PersonaException>(() => DriftAudit.RunAsync(
            [P("c", 40, 1, "x") with { DetailedJobDescription = null, Lifestyle = null }], null, new DriftAuditOptions { LmCheck = false }));
    }
}
