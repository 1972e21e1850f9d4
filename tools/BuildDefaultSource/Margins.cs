namespace Persona.Tools.BuildDefaultSource;

/// <summary>A calibration margin: a categorisation of persons and its population totals from all 51 files.</summary>
internal sealed record Margin(string Name, Func<Person, int> CategoryOf, double[] Targets);

internal static class Margins
{
    public static readonly string[] AgeBands =
        ["0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
         "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85+"];

    public static int AgeBandIndex(int age) => Math.Min(age / 5, AgeBands.Length - 1);
    public static string AgeBand(int age) => AgeBands[AgeBandIndex(age)];

    /// <summary>HISP collapsed to 8 groups: not Hispanic, Mexican, Puerto Rican, Cuban, Dominican,
    /// Central American (6-12), South American (13-22), other Spanish/Hispanic (23-24).</summary>
    public static int HispGroup(int hisp) => hisp switch
    {
        1 => 0, 2 => 1, 3 => 2, 4 => 3, 5 => 4,
        >= 6 and <= 12 => 5,
        >= 13 and <= 22 => 6,
        _ => 7,
    };

    /// <summary>SCHL in 9 groups: not in universe (under 3), no schooling, nursery to grade 8,
    /// grades 9-12 without diploma, high school or GED, some college, associate's, bachelor's, graduate.</summary>
    public static int SchlGroup(int schl) => schl switch
    {
        0 => 0, 1 => 1,
        >= 2 and <= 11 => 2,
        >= 12 and <= 15 => 3,
        16 or 17 => 4,
        18 or 19 => 5,
        20 => 6,
        21 => 7,
        _ => 8,
    };

    public static List<Margin> Build(List<Person> people)
    {
        var states = people.Select(p => p.State).Distinct().Order(StringComparer.Ordinal).ToList();
        var stateIndex = states.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i, StringComparer.Ordinal);
        var margins = new List<Margin>
        {
            Make("state (STATE)", states.Count, p => stateIndex[p.State], people),
            Make("age band x sex (AGEP 5-year bands x SEX)", AgeBands.Length * 2, p => AgeBandIndex(p.Age) * 2 + (p.Sex - 1), people),
            Make("race (RAC1P)", 9, p => p.Race - 1, people),
            Make("Hispanic origin (HISP, 8 groups)", 8, p => HispGroup(p.Hisp), people),
            Make("education (SCHL, 9 groups)", 9, p => SchlGroup(p.Schl), people),
        };
        return margins;
    }

    static Margin Make(string name, int k, Func<Person, int> f, List<Person> people)
    {
        var t = new double[k];
        foreach (var p in people) t[f(p)] += p.Weight;
        return new Margin(name, f, t);
    }
}
