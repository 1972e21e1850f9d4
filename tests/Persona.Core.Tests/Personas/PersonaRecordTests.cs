using System.Text.Json;
using Persona.Census;
using Persona.Core.Tests.Census;
using Persona.Personas;

namespace Persona.Core.Tests.Personas;

public class PersonaRecordTests
{
    private static PersonaRecord Sample() => PersonaJson.WithId(new PersonaRecord
    {
        Id = "",
        Age = 34,
        Sex = "Female",
        Race = "White alone",
        HouseholdLanguage = "Spanish",
        Education = "Bachelor's degree",
        Income = 52000,
        MaritalStatus = "Married",
        BigFiveScores = new BigFive("High", "Average", "Low", "Extremely High", "Extremely Low"),
        Religion = "Catholic",
        Census = new PersonaCensus("2024-1yr", "2024HU0000001", 2, "06", "03701", 123.0,
            [new PumsCode("AGEP", 34, null), new PumsCode("STATE", null, "06"), PumsCode.Blank("OCCP")]),
        Traits = new PersonaTraits("conditional", 7),
    });

    [Fact]
    public void Json_has_the_contract_keys_in_order_and_nulls_for_absent_values()
    {
        var json = PersonaJson.Serialize(Sample());
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(PersonaRecord.Keys, doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("occupation_category").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("lifestyle").ValueKind);
        Assert.Contains("\"weight\":123.0,", json);
        Assert.Contains("\"codes\":{\"AGEP\":34,\"STATE\":\"06\",\"OCCP\":null}", json);
        Assert.Contains("\"big_five_scores\":{\"openness\":\"High\",\"conscientiousness\":\"Average\"", json);
        Assert.Contains("\"education\":\"Bachelor's degree\"", json); // no HTML escaping of quotes
        Assert.DoesNotContain("\n", json);
    }

    [Fact]
    public void Id_is_a_hash_of_the_content_without_the_id()
    {
        var a = Sample();
        Assert.Matches("^p_[0-9a-f]{16}$", a.Id);
        Assert.Equal(a.Id, PersonaJson.ComputeId(a with { Id = "anything" }));
        Assert.NotEqual(a.Id, PersonaJson.ComputeId(a with { Religion = "None" }));
        Assert.NotEqual(a.Id, PersonaJson.ComputeId(a with { Traits = new PersonaTraits("conditional", 8) }));
    }

    [Fact]
    public void Renders_key_value_lines_without_nulls_or_bookkeeping()
    {
        var text = PersonaRenderer.Render(Sample());
        Assert.Equal(
            "age: 34\nsex: Female\nrace: White alone\nhousehold language: Spanish\neducation: Bachelor's degree\n" +
            "income: 52000\nmarital status: Married\n" +
            "big five scores: openness High, conscientiousness Average, extraversion Low, agreeableness Extremely High, neuroticism Extremely Low\n" +
            "religion: Catholic\n",
            text);
        Assert.DoesNotContain("census", text);
        Assert.DoesNotContain("p_", text);
    }

    [Fact]
    public void Multi_line_text_stays_on_its_line()
    {
        var text = PersonaRenderer.Render(Sample() with { Lifestyle = "Walks daily.\nCooks on Sundays." });
        Assert.EndsWith("lifestyle: Walks daily. Cooks on Sundays.\n", text);
    }

    [Fact]
    public async Task Jsonl_and_parquet_round_trip_real_personas()
    {
        using var tmp = new CensusFixtures.TempDir();
        var result = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 400, Seed = 3, Sources = [CensusFixtures.Wyoming2018Zip] }, null);
        var jsonl = tmp.File("p.jsonl");
        var parquet = tmp.File("p.parquet");
        await PersonaFiles.WriteAsync(jsonl, result.Personas);
        await PersonaFiles.WriteAsync(parquet, result.Personas);
        var fromJsonl = await PersonaFiles.ReadAsync(jsonl);
        var fromParquet = await PersonaFiles.ReadAsync(parquet);
        Assert.Equal(result.Personas, fromJsonl);
        Assert.Equal(result.Personas, fromParquet);
        // Re-serialising what was read gives the same bytes: the format is canonical.
        var again = tmp.File("again.jsonl");
        await PersonaFiles.WriteAsync(again, fromParquet);
        Assert.Equal(File.ReadAllBytes(jsonl), File.ReadAllBytes(again));
        Assert.All(fromJsonl, p => Assert.Equal(p.Id, PersonaJson.ComputeId(p)));
    }

    [Fact]
    public async Task Reader_reports_the_line_of_a_bad_persona()
    {
        using var tmp = new CensusFixtures.TempDir();
        var path = tmp.File("bad.jsonl");
        File.WriteAllText(path, PersonaJson.Serialize(Sample()) + "\n{\"id\":\"p_1\",\"age\":\"old\"}\n");
        var ex = await Assert.ThrowsAsync<PersonaException>(() => PersonaFiles.ReadAsync(path));
        Assert.Contains("line 2", ex.Message);
        Assert.Contains("age", ex.Message);
    }
}
