using Persona.Llm;
using Persona.Preferences;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Preferences;

/// <summary>
/// Pair verification and the pairs report read the population's typed persona, never the text the
/// pair logs. The texts here lie (the other ideology, still 'key: value') or cannot be parsed at
/// all, so a stage that parsed the text back would verify and group these pairs wrongly, or fail.
/// </summary>
public sealed class PairTypedPersonaTests
{
    [Fact]
    public async Task Verification_and_the_report_groups_follow_the_typed_persona_whatever_its_text_says()
    {
        var dir = PairFixtures.Dir();
        var world = Path.Combine(dir, "world.json");
        // The planted world: conservatives always prefer the personalised answer, moderates the generic one; the judge is faithful.
        File.WriteAllText(world, """
            {"format":"persona-world/1","seed":5,"preference":{"intercept":0,"weights":{"ideology":{"Conservative":30,"Moderate":-30}}},
             "fidelity":{"default":1}}
            """);
        var o = new PairBuildOptions
        {
            PersonasPath = PairFixtures.PersonaTextFile(dir, 10), // PairFixtures: personas 0 and 5 are Conservative, the others Moderate
            PromptsPath = PairFixtures.Prompts(dir, 12, 4),
            OutputDirectory = Path.Combine(dir, "out"),
            Schedule = new ScheduleOptions { TrainPrompts = 6, HeldOutPrompts = 2, TrainPairs = 4, Seed = 3 },
            Verify = VerifySpec.Parse("all"),
        };
        await using var rt = LlmRuntime.Open(Options(o.OutputDirectory, "offline") with { WorldPath = world });
        var plan = await PairBuilder.PlanAsync(o, new[] { "model", "critic", "judge" }.Select(r => $"{r}={rt.Role(r).Identity.Identity}"));
        var ideology = plan.Personas.ToDictionary(p => p.Id, p => p.Attributes["ideology"]);
        Assert.Equal(2, ideology.Values.Count(v => v == "Conservative"));
        // Even personas: a text naming the other ideology. Odd ones: prose with no 'key: value' lines after the first.
        var lying = plan.Personas.Select((p, i) => p with
        {
            Text = i % 2 == 0
                ? p.Text.Replace("ideology: " + ideology[p.Id], "ideology: " + (ideology[p.Id] == "Conservative" ? "Moderate" : "Conservative"), StringComparison.Ordinal)
                : "A profile in prose, not in key: value lines\nit goes on without a colon\n",
        }).ToList();
        Assert.NotEqual(plan.Personas.Select(p => p.Text), lying.Select(p => p.Text));

        var result = await PairBuilder.RunAsync(o, plan with { Personas = lying }, rt);

        var rows = PairFileWriter.Read(Path.Combine(o.OutputDirectory, PairFileWriter.JsonlFile)).Where(r => r.Ok).ToList();
        Assert.Equal(80, rows.Count);
        Assert.All(rows, r => Assert.Null(r.VerifyFailure));
        Assert.All(rows, r => Assert.Equal(ideology[r.PersonaId] == "Conservative" ? "agree" : "disagree", r.Verification));
        // The rows carry the text they were given (what the models saw), and the report groups by the typed attribute.
        Assert.Contains(rows, r => r.Persona.StartsWith("A profile in prose", StringComparison.Ordinal));
        var groups = result.Report.ByGroup.Where(g => g.Dimension == "ideology").ToDictionary(g => g.Group, g => g);
        Assert.Equal(["Conservative", "Moderate"], groups.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((16, 64), (groups["Conservative"].Pairs, groups["Moderate"].Pairs));
        Assert.Equal(1.0, groups["Conservative"].Figures.Agreement.Value);
        Assert.Equal(0.0, groups["Moderate"].Figures.Agreement.Value);
        Assert.DoesNotContain(result.Report.ByGroup, g => g.Dimension.StartsWith("a profile", StringComparison.Ordinal));
    }
}
