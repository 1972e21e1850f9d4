using Persona.Personas;

namespace Persona.Core.Tests.Personas;

/// <summary>Malformed tables must fail on load with the file, line and field in the message.</summary>
public sealed class PsychodemographicTableLoaderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-psycho-" + Guid.NewGuid().ToString("N"));

    public PsychodemographicTableLoaderTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var file in Directory.GetFiles(BundledData.Path("psychodemographics"), "*.csv"))
            File.Copy(file, Path.Combine(_dir, Path.GetFileName(file)));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string FileOf(string name) => Path.Combine(_dir, name);

    private void Replace(string name, string from, string to)
    {
        var text = File.ReadAllText(FileOf(name));
        Assert.Contains(from, text);
        File.WriteAllText(FileOf(name), text.Replace(from, to));
    }

    private PersonaException LoadFails() => Assert.Throws<PersonaException>(() => PsychodemographicSampler.Load(_dir));

    private int LineOf(string name, string content) =>
        Array.FindIndex(File.ReadAllLines(FileOf(name)), l => l == content) + 1;

    [Fact]
    public void A_copy_of_the_bundled_tables_loads() =>
        Assert.Equal("conditional", PsychodemographicSampler.Load(_dir).Source);

    [Fact]
    public void Missing_directory_is_reported() =>
        Assert.Contains("not found", Assert.Throws<PersonaException>(() => PsychodemographicSampler.Load(Path.Combine(_dir, "nope"))).Message);

    [Fact]
    public void Missing_column_names_file_line_and_column()
    {
        Replace("religion-national.csv", "dimension,group,category,percent", "dimension,group,category,share");
        var line = LineOf("religion-national.csv", "dimension,group,category,share");
        var ex = LoadFails();
        Assert.Contains($"religion-national.csv:{line}", ex.Message);
        Assert.Contains("missing column 'percent'", ex.Message);
    }

    [Fact]
    public void Shares_not_summing_to_100_are_rejected()
    {
        Replace("ideology-by-group.csv", "sex,male,Moderate,37", "sex,male,Moderate,57");
        var ex = LoadFails();
        Assert.Contains("ideology-by-group.csv:", ex.Message);
        Assert.Contains("field 'percent'", ex.Message);
        Assert.Contains("sex/male sums to 121", ex.Message);
    }

    [Fact]
    public void Unknown_category_names_the_line_and_field()
    {
        Replace("religion-by-region.csv", "region,west,Mormon,6", "region,west,Latter-day Saint,6");
        var line = LineOf("religion-by-region.csv", "region,west,Latter-day Saint,6");
        var ex = LoadFails();
        Assert.Contains($"religion-by-region.csv:{line}: field 'category'", ex.Message);
        Assert.Contains("Latter-day Saint", ex.Message);
    }

    [Fact]
    public void Unknown_group_and_dimension_are_rejected()
    {
        Replace("party-by-race.csv", "race,asian,Democrat,37", "race,pacific,Democrat,37");
        Assert.Contains("field 'group'", LoadFails().Message);
        Replace("party-by-race.csv", "race,pacific,Democrat,37", "colour,asian,Democrat,37");
        Assert.Contains("field 'dimension'", LoadFails().Message);
    }

    [Fact]
    public void Incomplete_group_without_rest_row_is_rejected()
    {
        Replace("religion-by-age.csv", "age,70+,(rest),92", "age,70+,Catholic,92");
        var ex = LoadFails();
        Assert.Contains("religion-by-age.csv:", ex.Message);
        Assert.Contains("does not list", ex.Message);
    }

    [Fact]
    public void Party_by_group_errors_name_the_file_and_line()
    {
        Replace("party-by-group.csv", "sex,male,Independent,13", "sex,male,Independent,30");
        var error = LoadFails();
        Assert.Contains($"party-by-group.csv:{LineOf("party-by-group.csv", "sex,male,Independent,30")}", error.Message);
        Assert.Contains("sex/male sums to 117", error.Message);
    }

    [Fact]
    public void Party_by_group_rejects_an_unknown_education_group()
    {
        Replace("party-by-group.csv", "education,postgrad,Democrat|Lean Democrat,57", "education,phd,Democrat|Lean Democrat,57");
        var error = LoadFails();
        Assert.Contains("party-by-group.csv", error.Message);
        Assert.Contains("field 'group'", error.Message);
    }

    [Fact]
    public void Non_numeric_percent_is_rejected()
    {
        Replace("party-national.csv", "national,all,Republican,23", "national,all,Republican,twenty");
        var line = LineOf("party-national.csv", "national,all,Republican,twenty");
        Assert.Contains($"party-national.csv:{line}: field 'percent': expected a number", LoadFails().Message);
    }

    [Fact]
    public void Big_five_norm_errors_are_reported()
    {
        Replace("bfi2-domain-norms.csv", "openness,female,3.910,0.657", "openness,female,3.910,-1");
        Assert.Contains("bfi2-domain-norms.csv:", LoadFails().Message);
        Replace("bfi2-domain-norms.csv", "openness,female,3.910,-1\n", "");
        Assert.Contains("missing the row for trait 'openness', sex 'female'", LoadFails().Message);
    }

    [Fact]
    public void Age_offsets_must_cover_every_age()
    {
        Replace("big-five-age-offsets.csv", "agreeableness,40,49,0.061\n", "");
        Assert.Contains("trait 'agreeableness' has no offset for age 40", LoadFails().Message);
    }

    [Fact]
    public void Extra_fields_on_a_row_are_rejected()
    {
        Replace("ideology-national.csv", "national,all,Liberal,15", "national,all,Liberal,15,extra");
        Assert.Contains("expected 4 fields", LoadFails().Message);
    }
}
