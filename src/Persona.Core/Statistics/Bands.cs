using System.Globalization;

namespace Persona.Statistics;

/// <summary>
/// Binning of the numeric persona fields so they can be compared as categories. Band labels sort
/// correctly as strings only within the lists below, so use <see cref="AgeBands"/> and
/// <see cref="IncomeBands"/> for display order.
/// </summary>
public static class Bands
{
    /// <summary>The category used for a missing or not-in-universe value, on both sides of a comparison.</summary>
    public const string NotInUniverse = "(not in universe)";

    public static readonly IReadOnlyList<string> AgeBands =
        ["0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"];

    /// <summary>Personal income (PINCP) bands in dollars; zero and losses get their own band.</summary>
    public static readonly IReadOnlyList<string> IncomeBands =
        ["No income or loss", "$1-$9,999", "$10,000-$24,999", "$25,000-$49,999", "$50,000-$74,999",
         "$75,000-$99,999", "$100,000-$149,999", "$150,000-$199,999", "$200,000+"];

    public static string Age(int age)
    {
        if (age < 0) throw new PersonaException($"Age {age} is negative.");
        return age switch
        {
            < 18 => AgeBands[0], < 25 => AgeBands[1], < 35 => AgeBands[2], < 45 => AgeBands[3],
            < 55 => AgeBands[4], < 65 => AgeBands[5], < 75 => AgeBands[6], _ => AgeBands[7],
        };
    }

    public static string Income(double dollars) => dollars switch
    {
        <= 0 => IncomeBands[0], < 10_000 => IncomeBands[1], < 25_000 => IncomeBands[2],
        < 50_000 => IncomeBands[3], < 75_000 => IncomeBands[4], < 100_000 => IncomeBands[5],
        < 150_000 => IncomeBands[6], < 200_000 => IncomeBands[7], _ => IncomeBands[8],
    };

    /// <summary>Age band of a value as written in a persona file or decoded census row ("34", "34.0"); null or blank is not in universe.</summary>
    public static string AgeLabel(string? value) =>
        string.IsNullOrWhiteSpace(value) ? NotInUniverse : Age((int)ParseNumber(value, "age"));

    /// <summary>Income band of a value as written in a persona file or decoded census row; null or blank is not in universe.</summary>
    public static string IncomeLabel(string? value) =>
        string.IsNullOrWhiteSpace(value) ? NotInUniverse : Income(ParseNumber(value, "income"));

    static double ParseNumber(string value, string field)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x)) return x;
        throw new PersonaException($"Field '{field}' has value '{value}'; expected a number (invariant culture, e.g. 34 or 52000).");
    }
}
