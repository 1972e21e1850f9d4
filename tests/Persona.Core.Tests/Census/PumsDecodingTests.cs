using Persona.Census;
using Persona.Personas;

namespace Persona.Core.Tests.Census;

public class PumsDecodingTests
{
    [Fact]
    public async Task Decodes_a_known_2018_person_from_the_release_zip()
    {
        var table = await CensusFixtures.Load2018Async();
        Assert.Equal(5740, table.Count);
        Assert.Equal("2018-1yr", table.Vintage);
        // psam_p56.csv: 2018GQ0001565,SPORDER 01: SCHL 16, OCCP 3740, COW 5, INDP 9680, ESR 4, MIL 1, POBP 030, PINCP 19000.
        var p = CensusFixtures.Decode(table, CensusFixtures.D2018, "2018GQ0001565", 1);
        Assert.Equal(20, p.Age);
        Assert.Equal("Male", p.Sex);
        Assert.Equal("Regular high school diploma", p.Education);
        Assert.Equal("PRT-Firefighters", p.OccupationCategory);
        Assert.Equal("Federal government employee", p.ClassOfWorker);
        Assert.Equal("MIL-U.S. Air Force", p.IndustryCategory);
        Assert.Equal("Armed forces, at work", p.EmploymentStatus);
        Assert.Equal("Now on active duty", p.VeteranStatus);
        Assert.Equal("Montana/MT", p.PlaceOfBirth);
        Assert.Equal(19000, p.Income);
        Assert.Null(p.Fertility); // FER is blank for men: not in universe, never "0"
        // Group quarters: no household, so the household fields stay null.
        Assert.Null(p.HouseholdType);
        Assert.Null(p.HouseholdLanguage);
        Assert.Null(p.FamilyPresenceAndAge);
        Assert.Equal("2018GQ0001565", p.Census.SerialNo);
        Assert.Equal("56", p.Census.State);
        Assert.Equal("00300", p.Census.Puma);
        Assert.Equal(51.0, p.Census.Weight);
        // Character codes keep their zero padding as in the CSV; numeric ones are numbers.
        Assert.Contains(new PumsCode("SCHL", null, "16"), p.Census.Codes);
        Assert.Contains(new PumsCode("POBP", null, "030"), p.Census.Codes);
        Assert.Contains(new PumsCode("ST", null, "56"), p.Census.Codes);
        Assert.Contains(new PumsCode("AGEP", 20, null), p.Census.Codes);
        Assert.Contains(PumsCode.Blank("FER"), p.Census.Codes);
        // As a persona it gets the content-hash id; the census person has none.
        Assert.Matches("^p_[0-9a-f]{16}$", Persona.Personas.PersonaJson.WithId(Persona.Personas.PersonaRecord.FromCensus(p, new(null, 0), null)).Id);
    }

    [Fact]
    public async Task Decodes_2024_parquet_rows_with_the_2023_dictionary_padding_unpadded_codes()
    {
        var table = await PumsLoader.LoadAsync([CensusFixtures.Wyoming2024Parquet], null, default);
        Assert.Equal(2000, table.Count);
        Assert.Equal("2024-1yr", table.Vintage);
        var d = CensusFixtures.D2023;
        // OCCP is stored as the integer 440; the dictionary code is "0440".
        var manager = CensusFixtures.Decode(table, d, "2024GQ0095044", 1);
        Assert.Equal("MGR-Other Managers", manager.OccupationCategory);
        Assert.Contains(new PumsCode("OCCP", 440, null), manager.Census.Codes); // as in the source: a number

        var vet = CensusFixtures.Decode(table, d, "2024GQ0000643", 1);
        Assert.Equal("HLS-Veterinary Assistants And Laboratory Animal Caretakers", vet.OccupationCategory);
        Assert.Equal("PRF-Veterinary Services", vet.IndustryCategory);
        Assert.Equal("Employee of a private for-profit company or business, or of an individual, for wages, salary, or commissions", vet.ClassOfWorker);
        Assert.Equal("No", vet.Fertility);
        Assert.Equal("Never served in the military", vet.VeteranStatus);
        // No ANC1P in 2024 extracts: non-Hispanic persons have no ancestry; no POBP: nativity.
        Assert.Null(vet.Ancestry);
        Assert.Equal("Native", vet.PlaceOfBirth);
        Assert.Contains(new PumsCode("STATE", null, "56"), vet.Census.Codes);

        // Blank (null) OCCP of a retiree stays null, never code 0.
        var retiree = CensusFixtures.Decode(table, d, "2024GQ0005776", 1);
        Assert.Null(retiree.OccupationCategory);
        Assert.Null(retiree.ClassOfWorker);
        Assert.Contains(PumsCode.Blank("OCCP"), retiree.Census.Codes);
        Assert.Equal("Mexican", retiree.Ancestry); // HISP 2 stands in for ancestry
        // No RELP in the 2024 extracts: household fields cannot be derived.
        Assert.Null(retiree.HouseholdType);
    }

    [Fact]
    public async Task A_dictionary_of_another_year_is_refused()
    {
        var table = await CensusFixtures.Load2018Async();
        var ex = Assert.Throws<PersonaException>(() => new PumsDecoder(table, CensusFixtures.D2023, false));
        Assert.Contains("2023", ex.Message);
        Assert.Contains("2018-1yr", ex.Message);
        var t2024 = await PumsLoader.LoadAsync([CensusFixtures.Wyoming2024Parquet], null, default);
        Assert.Throws<PersonaException>(() => new PumsDecoder(t2024, CensusFixtures.D2018, false));
    }

    [Fact]
    public async Task Unknown_codes_are_listed_with_counts_unless_kept()
    {
        using var tmp = new CensusFixtures.TempDir();
        // Two persons with OCCP 0001, which no dictionary has.
        var csv = CensusFixtures.WriteEditedCsv(tmp.File("psam_p56.csv"), 50, (ix, f, r) =>
        {
            if (r is 3 or 7) f[ix["OCCP"]] = "0001";
        });
        var table = await PumsLoader.LoadAsync([csv], null, default);
        var rows = Enumerable.Range(0, table.Count).ToArray();
        var ex = Assert.Throws<PersonaException>(() => new PumsDecoder(table, CensusFixtures.D2018, false).CheckCodes(rows));
        Assert.Contains("OCCP", ex.Message);
        Assert.Contains("0001 (2 persons, weight", ex.Message);
        Assert.Contains("--keep-unknown-codes", ex.Message);

        var keep = new PumsDecoder(table, CensusFixtures.D2018, true);
        keep.CheckCodes(rows);
        var p = keep.Decode(2);
        Assert.Equal("0001", p.OccupationCategory);
    }
}
