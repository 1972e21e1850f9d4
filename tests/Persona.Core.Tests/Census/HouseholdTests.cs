using Persona.Census;

namespace Persona.Core.Tests.Census;

public class HouseholdTests
{
    // Households of psam_p56.csv (2018 Wyoming), checked by hand against their RELP/AGEP/SEX/LANX/LANP.
    [Theory]
    // Female householder 39, daughters 19 and 13, a nonrelative 35; all English only.
    [InlineData("2018HU0000563", "Other family household: Female householder, no spouse present", "With children 6 to 17 years only", "English only")]
    // Householder speaks English only, the spouse French (LANP 1170), a son of 19.
    [InlineData("2018HU0073457", "Married couple household", "No children", "Other Indo-European languages")]
    // Spouse speaks Spanish (1200), a daughter of 6.
    [InlineData("2018HU0091430", "Married couple household", "With children 6 to 17 years only", "Spanish")]
    // Grandchildren 12 and 2; only the son-in-law speaks another language (Navajo, 6933).
    [InlineData("2018HU0097772", "Married couple household", "With children under 6 years and 6 to 17 years", "Other language")]
    // Female householder and a male roommate.
    [InlineData("2018HU0016946", "Nonfamily household: Female householder: Not living alone", "No children", "English only")]
    public async Task Derives_household_fields_from_the_members(string serial, string type, string children, string language)
    {
        var table = await CensusFixtures.Load2018Async();
        for (var sp = 1; table.FindRow(serial, sp) >= 0; sp++)
        {
            var p = CensusFixtures.Decode(table, CensusFixtures.D2018, serial, sp);
            Assert.Equal(type, p.HouseholdType);
            Assert.Equal(children, p.FamilyPresenceAndAge);
            Assert.Equal(language, p.HouseholdLanguage);
        }
    }

    [Fact]
    public async Task A_person_living_alone_is_a_nonfamily_household_alone()
    {
        var table = await CensusFixtures.Load2018Async();
        var sizes = Enumerable.Range(0, table.Count).GroupBy(r => table.GetSerial(r)).Where(g => g.Count() == 1 && g.Key.Contains("HU"));
        var alone = sizes.First().Single();
        var p = new PumsDecoder(table, CensusFixtures.D2018, false).Decode(alone, new(null, 0), null);
        Assert.StartsWith("Nonfamily household: ", p.HouseholdType);
        Assert.EndsWith(": Living alone", p.HouseholdType);
        Assert.Equal(p.Sex == "Male" ? "Nonfamily household: Male householder: Living alone" : "Nonfamily household: Female householder: Living alone", p.HouseholdType);
    }

    [Theory]
    [InlineData(1200, 2)] // Spanish
    [InlineData(1170, 3)] // French
    [InlineData(1000, 3)] // Jamaican Creole English
    [InlineData(1564, 3)] // Other Indo-European languages
    [InlineData(1582, 5)] // Hungarian
    [InlineData(1675, 4)] // Turkish
    [InlineData(1970, 4)] // Chinese
    [InlineData(3600, 4)] // Other Eastern Malayo-Polynesian languages
    [InlineData(4500, 5)] // Arabic
    [InlineData(6933, 5)] // Navajo
    [InlineData(9999, 5)] // Other and unspecified
    public void Maps_languages_to_household_language_groups(int lanp, int hhl) =>
        Assert.Equal(hhl, Households.LanguageGroup(lanp));

    [Fact]
    public async Task A_household_file_takes_precedence_and_must_cover_every_household()
    {
        using var tmp = new CensusFixtures.TempDir();
        var table = await PumsLoader.LoadAsync([CensusFixtures.Wyoming2018Zip], null, default);
        // A household file in the Census layout for every HU serial, with HHT 6 everywhere.
        var serials = Enumerable.Range(0, table.Count).Select(table.GetSerial).Where(s => s.Contains("HU")).Distinct().ToList();
        var path = tmp.File("psam_h56.csv");
        File.WriteAllLines(path, new[] { "RT,SERIALNO,HHL,HHT,HUPAC" }.Concat(serials.Select(s => $"H,{s},2,6,4")));
        Households.Apply(table, [path], default);
        var row = table.FindRow("2018HU0091430", 1);
        var p = new PumsDecoder(table, CensusFixtures.D2018, false).Decode(row, new(null, 0), null);
        Assert.Equal("Nonfamily household: Female householder: Living alone", p.HouseholdType);
        Assert.Equal("Spanish", p.HouseholdLanguage);
        Assert.Equal("No children", p.FamilyPresenceAndAge);
        var gq = new PumsDecoder(table, CensusFixtures.D2018, false).Decode(table.FindRow("2018GQ0001565", 1), new(null, 0), null);
        Assert.Null(gq.HouseholdType);

        File.WriteAllLines(path, new[] { "RT,SERIALNO,HHL,HHT,HUPAC" }.Concat(serials.Skip(1).Select(s => $"H,{s},2,6,4")));
        var again = await PumsLoader.LoadAsync([CensusFixtures.Wyoming2018Zip], null, default);
        var ex = Assert.Throws<PersonaException>(() => Households.Apply(again, [path], default));
        Assert.Contains(serials[0], ex.Message);
    }
}
