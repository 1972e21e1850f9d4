using System.Globalization;

namespace Persona.Census;

/// <summary>State FIPS codes and USPS abbreviations (50 states, DC and Puerto Rico).</summary>
public static class StateCodes
{
    private static readonly Dictionary<string, int> ByPostal = new(StringComparer.OrdinalIgnoreCase)
    {
        ["AL"] = 1, ["AK"] = 2, ["AZ"] = 4, ["AR"] = 5, ["CA"] = 6, ["CO"] = 8, ["CT"] = 9, ["DE"] = 10,
        ["DC"] = 11, ["FL"] = 12, ["GA"] = 13, ["HI"] = 15, ["ID"] = 16, ["IL"] = 17, ["IN"] = 18, ["IA"] = 19,
        ["KS"] = 20, ["KY"] = 21, ["LA"] = 22, ["ME"] = 23, ["MD"] = 24, ["MA"] = 25, ["MI"] = 26, ["MN"] = 27,
        ["MS"] = 28, ["MO"] = 29, ["MT"] = 30, ["NE"] = 31, ["NV"] = 32, ["NH"] = 33, ["NJ"] = 34, ["NM"] = 35,
        ["NY"] = 36, ["NC"] = 37, ["ND"] = 38, ["OH"] = 39, ["OK"] = 40, ["OR"] = 41, ["PA"] = 42, ["RI"] = 44,
        ["SC"] = 45, ["SD"] = 46, ["TN"] = 47, ["TX"] = 48, ["UT"] = 49, ["VT"] = 50, ["VA"] = 51, ["WA"] = 53,
        ["WV"] = 54, ["WI"] = 55, ["WY"] = 56, ["PR"] = 72,
    };

    private static readonly HashSet<int> Fips = ByPostal.Values.ToHashSet();

    /// <summary>Parses "CA,TX,06" (postal codes or FIPS numbers, any mix) into sorted distinct FIPS codes.</summary>
    public static IReadOnlyList<int> Parse(string list)
    {
        var result = new SortedSet<int>();
        foreach (var raw in list.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (ByPostal.TryGetValue(raw, out var f)) result.Add(f);
            else if (int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out f) && Fips.Contains(f)) result.Add(f);
            else
                throw new PersonaException(
                    $"--states: '{raw}' is neither a state postal code (e.g. CA) nor a state FIPS code (e.g. 06).");
        }
        if (result.Count == 0)
            throw new PersonaException("--states: the list is empty; give postal or FIPS codes such as \"CA,TX,06\".");
        return result.ToArray();
    }

    public static string Postal(int fips) =>
        ByPostal.FirstOrDefault(kv => kv.Value == fips).Key ?? fips.ToString("D2", CultureInfo.InvariantCulture);
}
