using System.Text;
using Persona.Census;

namespace Persona.Core.Tests.Census;

public class PumsDictionaryTests
{
    [Fact]
    public void Parses_the_official_2018_dictionary()
    {
        var d = CensusFixtures.D2018;
        Assert.Equal([2018], d.SurveyYears);
        var schl = d.Find("SCHL")!;
        Assert.Equal('C', schl.Type);
        Assert.Equal(2, schl.Length);
        Assert.Equal("Regular high school diploma", schl.Label(16));
        Assert.Equal("N/A (less than 3 years old)", schl.BlankLabel);
        Assert.Null(schl.Label(25));
        Assert.Equal("PRT-Firefighters", d.Find("OCCP")!.Label(3740));
        Assert.Equal("Montana/MT", d.Find("POBP")!.Label(30));
        Assert.Null(d.Find("STATE"));
        Assert.NotNull(d.Find(["STATE", "ST"]));
    }

    [Fact]
    public void Ranges_cover_every_code_between_min_and_max()
    {
        // VAL,PUMA,C,5,"00100","70301","Public use microdata area codes"
        var puma = CensusFixtures.D2018.Find("PUMA")!;
        Assert.Equal("Public use microdata area codes", puma.Label(100));
        Assert.Equal("Public use microdata area codes", puma.Label(500));
        Assert.Equal("Public use microdata area codes", puma.Label(70301));
        Assert.Null(puma.Label(99));
        // Signed numeric ranges (PINCP losses) are kept as ranges.
        Assert.Equal("Loss $1 to $19997 (Rounded components)", CensusFixtures.D2018.Find("PINCP")!.Label(-500));
    }

    [Fact]
    public void Character_codes_are_padded_to_the_dictionary_length()
    {
        var occp = CensusFixtures.D2023.Find("OCCP")!;
        Assert.Equal("0010", occp.FormatCode(10));
        Assert.Equal("MGR-Chief Executives And Legislators", occp.Label(10));
        Assert.Equal("01", CensusFixtures.D2023.Find("HISP")!.FormatCode(1));
        Assert.Equal("25", CensusFixtures.D2023.Find("AGEP")!.FormatCode(25)); // numeric: no padding
    }

    [Fact]
    public void The_2023_dictionary_names_the_state_STATE()
    {
        var d = CensusFixtures.D2023;
        Assert.Equal([2023], d.SurveyYears);
        Assert.Equal("Wyoming/WY", d.Find("STATE")!.Label(56));
        Assert.Null(d.Find("ST"));
    }

    [Fact]
    public void Malformed_rows_name_the_line()
    {
        var text = "NAME,SERIALNO,C,13,\"Serial\"\nVAL,SERIALNO,C,13,\"2018GQ0000001\",\"2018GQ9999999\",\"GQ\"\nVAL,SEX,C,1,\"1\",\"1\",\"Male\"\n";
        var ex = Assert.Throws<PersonaException>(() => PumsDictionary.Parse(new MemoryStream(Encoding.UTF8.GetBytes(text)), "bad.csv"));
        Assert.Contains("bad.csv", ex.Message);
        Assert.Contains("line 3", ex.Message);
        Assert.Contains("SEX", ex.Message);
    }

    [Fact]
    public void A_file_without_serial_rows_is_rejected()
    {
        var text = "NAME,SEX,C,1,\"Sex\"\nVAL,SEX,C,1,\"1\",\"1\",\"Male\"\n";
        var ex = Assert.Throws<PersonaException>(() => PumsDictionary.Parse(new MemoryStream(Encoding.UTF8.GetBytes(text)), "nos.csv"));
        Assert.Contains("SERIALNO", ex.Message);
    }
}
