using Persona.Statistics;

namespace Persona.Core.Tests.Statistics;

public class BandsTests
{
    [Theory]
    [InlineData(0, "0-17")]
    [InlineData(17, "0-17")]
    [InlineData(18, "18-24")]
    [InlineData(24, "18-24")]
    [InlineData(25, "25-34")]
    [InlineData(64, "55-64")]
    [InlineData(65, "65-74")]
    [InlineData(99, "75+")]
    public void Age_bands_have_the_documented_edges(int age, string band) => Assert.Equal(band, Bands.Age(age));

    [Theory]
    [InlineData(-5000, "No income or loss")]
    [InlineData(0, "No income or loss")]
    [InlineData(1, "$1-$9,999")]
    [InlineData(9999, "$1-$9,999")]
    [InlineData(10000, "$10,000-$24,999")]
    [InlineData(49999, "$25,000-$49,999")]
    [InlineData(199999, "$150,000-$199,999")]
    [InlineData(200000, "$200,000+")]
    public void Income_bands_have_the_documented_edges(double dollars, string band) => Assert.Equal(band, Bands.Income(dollars));

    [Fact]
    public void Missing_values_are_not_in_universe()
    {
        Assert.Equal(Bands.NotInUniverse, Bands.AgeLabel(null));
        Assert.Equal(Bands.NotInUniverse, Bands.IncomeLabel(" "));
        Assert.Equal("35-44", Bands.AgeLabel("40"));
        Assert.Equal("$50,000-$74,999", Bands.IncomeLabel("52000.0"));
    }

    [Fact]
    public void Non_numeric_values_are_reported_with_field_and_value()
    {
        var e = Assert.Throws<PersonaException>(() => Bands.IncomeLabel("lots"));
        Assert.Contains("income", e.Message);
        Assert.Contains("lots", e.Message);
        Assert.Throws<PersonaException>(() => Bands.Age(-1));
    }

    [Fact]
    public void Every_band_is_reachable()
    {
        var ages = Enumerable.Range(0, 100).Select(Bands.Age).Distinct();
        Assert.Equal(Bands.AgeBands, ages);
        var incomes = new[] { 0, 5e3, 2e4, 3e4, 6e4, 8e4, 1.2e5, 1.7e5, 5e5 }.Select(Bands.Income);
        Assert.Equal(Bands.IncomeBands, incomes);
    }
}
