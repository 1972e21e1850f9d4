using Persona.Census;
using Persona.Personas;
using Persona.Core.Tests.Census;

namespace Persona.Core.Tests.Personas;

/// <summary>
/// A loaded persona holds its words once: the text is rebuilt from the attributes when it is exactly their lines, short
/// values and key layouts are shared across the population. What stages read must be what they read before.
/// </summary>
public class PersonaInputMemoryTests
{
    [Fact]
    public async Task Loaded_personas_read_as_the_renderer_wrote_them_and_share_their_short_values()
    {
        using var tmp = new CensusFixtures.TempDir();
        var result = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 300, Seed = 5, Sources = [CensusFixtures.Wyoming2018Zip] }, null);
        // One persona with padding the text keeps and the attributes trim: its text is not its attributes' lines.
        // Long free text is held as UTF-8 where that is smaller: accented text must come back exactly, and text that UTF-8 would grow (CJK) too.
        var records = result.Personas.Select((p, i) => i switch
        {
            7 => PersonaJson.WithId(p with { Lifestyle = "Walks daily.  " }),
            8 => PersonaJson.WithId(p with { Lifestyle = "Bakes crème brûlée on Sundays, reads Dostoyevsky (Достоевский) and keeps a café journal." }),
            9 => PersonaJson.WithId(p with { Lifestyle = string.Concat(Enumerable.Repeat("每天早上在公园里打太极拳，然后和朋友们一起喝茶聊天。", 3)) }),
            _ => p,
        }).ToList();
        foreach (var file in new[] { tmp.File("p.jsonl"), tmp.File("p.parquet") })
        {
            await PersonaFiles.WriteAsync(file, records);
            var loaded = await PersonaInputs.LoadAsync(file);
            Assert.Equal(records.Count, loaded.Count);
            for (var i = 0; i < records.Count; i++)
            {
                Assert.Equal(PersonaRenderer.Render(records[i]), loaded[i].Text);
                Assert.Equal(PersonaRenderer.Attributes(records[i]).ToList(), loaded[i].Attributes.ToList());
                Assert.Equal(records[i].Sex, loaded[i].Attributes["SEX"]); // keys look up as before: case-insensitively
            }
            Assert.EndsWith("lifestyle: Walks daily.  \n", loaded[7].Text);
            Assert.Equal("Walks daily.", loaded[7].Attributes["lifestyle"]);
            Assert.Equal(records[8].Lifestyle, loaded[8].Attributes["lifestyle"]);
            Assert.Equal(records[9].Lifestyle, loaded[9].Attribute("lifestyle"));
            var women = loaded.Where(p => p.Attribute("sex") == "Female").ToList();
            Assert.True(women.Count > 10);
            Assert.All(women, p => Assert.Same(women[0].Attributes["sex"], p.Attributes["sex"]));
        }
    }

    [Fact]
    public void With_keeps_the_text_it_was_given_or_had()
    {
        var attributes = PersonaInputs.ParseText("age: 40\nsex: Female\nreligion: Catholic\n", "test");
        var p = new PersonaInput("p1", "age: 40\nsex: Female\nreligion: Catholic\n", attributes, 2, null, "test");
        var fewer = PersonaInputs.ParseText("age: 40\n", "test");
        // Attributes alone: the text stays what it was (as a positional record's did), not the new attributes' lines.
        Assert.Equal("age: 40\nsex: Female\nreligion: Catholic\n", (p with { Attributes = fewer }).Text);
        Assert.Equal("age: 40\n", (p with { Text = "age: 40\n", Attributes = fewer }).Text);
        Assert.Equal("age: 40\n", (p with { Attributes = fewer, Text = "age: 40\n" }).Text);
        var custom = new PersonaInput("p2", "Forty, a Catholic woman.", attributes, 1, null, "test");
        Assert.Equal("Forty, a Catholic woman.", custom.Text);
        Assert.Equal("Catholic", custom.Attribute("religion"));
    }
}
