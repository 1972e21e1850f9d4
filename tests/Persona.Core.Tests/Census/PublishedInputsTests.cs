using Persona.Personas;
using Persona.Census;
using Persona.Prompts;

namespace Persona.Core.Tests.Census;

/// <summary>Issue #8, defects 3, 7, 9 and the AGEP range of 12: what the Bureau publishes is read; what is broken is refused.</summary>
public class PublishedInputsTests
{
    [Theory]
    [InlineData("acs/PUMS_Data_Dictionary_2017.csv", 2017)]
    [InlineData("acs/PUMS_Data_Dictionary_2013-2017.csv", 2013)]
    public void The_Bureaus_own_dictionaries_with_reversed_loss_ranges_load(string file, int firstYear)
    {
        // As published: VAL,PINCP,N,7,-000001,-019997,"Loss $1 to $19997 (Rounded components)" (min above max).
        var d = PumsDictionary.Load(BundledData.Path(file));
        Assert.Contains(firstYear, d.SurveyYears);
        Assert.Equal("Loss $1 to $19997 (Rounded components)", d.Find("PINCP")!.Label(-500));
        Assert.Equal("Loss $1 to $19997 (Rounded components)", d.Find("PINCP")!.Label(-19997));
        Assert.Contains(d.Notes, n => n.Contains("PINCP") && n.Contains("reversed"));
    }

    [Fact]
    public async Task Data_of_2017_is_decoded_with_the_bundled_2017_dictionary_and_its_notes_are_reported()
    {
        using var tmp = new CensusFixtures.TempDir();
        // The 2018 Wyoming records relabelled as 2017 (no 2017 person file is bundled); codes that changed are kept raw.
        var csv = CensusFixtures.WriteEditedCsv(tmp.File("psam_p56.csv"), 200, (ix, f, _) => f[ix["SERIALNO"]] = "2017" + f[ix["SERIALNO"]][4..]);
        var r = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 10, Sources = [csv], KeepUnknownCodes = true }, null);
        Assert.EndsWith("PUMS_Data_Dictionary_2017.csv", r.Draw.DictionaryPath);
        Assert.Contains(r.Draw.DictionaryNotes, n => n.Contains("PINCP"));
    }

    [Fact]
    public async Task The_same_person_twice_is_refused_instead_of_counting_its_weight_twice()
    {
        using var tmp = new CensusFixtures.TempDir();
        var a = CensusFixtures.WriteEditedCsv(tmp.File("psam_p56.csv"), 20);
        var ex = await Assert.ThrowsAsync<PersonaException>(() => PumsLoader.LoadAsync([a, CensusFixtures.Wyoming2018Zip], null, default));
        Assert.Contains("appears twice", ex.Message);
        Assert.Contains("SPORDER", ex.Message);
        // A duplicated row inside one file too.
        var dup = CensusFixtures.WriteEditedCsv(tmp.File("psam_p57.csv"), 20, (ix, f, r) =>
        {
            if (r == 9) { f[ix["SERIALNO"]] = "2018GQ0000049"; f[ix["SPORDER"]] = "1"; }
        });
        var first = CensusFixtures.WriteEditedCsv(tmp.File("x.csv"), 20);
        var lines = File.ReadAllLines(first);
        File.WriteAllLines(dup, [.. lines, lines[3]]);
        ex = await Assert.ThrowsAsync<PersonaException>(() => PumsLoader.LoadAsync([dup], null, default));
        Assert.Contains("appears twice", ex.Message);
    }

    [Fact]
    public async Task An_age_beyond_the_dictionary_range_is_an_error_like_an_unknown_code()
    {
        using var tmp = new CensusFixtures.TempDir();
        var csv = CensusFixtures.WriteEditedCsv(tmp.File("psam_p56.csv"), 20, (ix, f, r) => { if (r == 5) f[ix["AGEP"]] = "150"; });
        var ex = await Assert.ThrowsAsync<PersonaException>(() => CensusSampler.SampleAsync(new CensusSampleOptions { N = 20, Sources = [csv] }, null));
        Assert.Contains("AGEP", ex.Message);
        Assert.Contains("150", ex.Message);
    }

    [Fact]
    public void A_prompts_csv_with_an_unterminated_quote_is_refused_not_merged()
    {
        using var tmp = new CensusFixtures.TempDir();
        var rows = new List<string> { "id,text", "1,\"Is it fair to tax inherited wealth?" };
        rows.AddRange(Enumerable.Range(2, 25).Select(i => $"{i},Should question number {i} be asked?"));
        rows.Add("27,\"Is a quoted prompt, with a comma, fine?\"");
        var path = tmp.File("prompts.csv");
        File.WriteAllLines(path, rows);
        var ex = Assert.Throws<PersonaException>(() => PromptLoader.Load(path));
        Assert.Contains("prompts.csv:2", ex.Message);
        Assert.Contains("quote", ex.Message);
        Assert.True(ex.Message.Length < 400, ex.Message);

        // Quoted fields that are closed, even across lines, still load.
        File.WriteAllLines(path, ["id,text", "1,\"Is it fair\nto ask this, twice?\"", "2,\"He said \"\"why?\"\"\""]);
        var ok = PromptLoader.Load(path);
        Assert.Equal(["Is it fair\nto ask this, twice?", "He said \"why?\""], ok.Select(p => p.Text.Replace("\r", "")));
    }
}
