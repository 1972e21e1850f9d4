using System.Globalization;
using Persona.Personas;

namespace Persona.Survey;

/// <summary>
/// Which survey groups (SubPOP's 22 GSS groups) a persona belongs to. Each mapping and its
/// approximation is documented in data/survey/README.md; a persona may belong to no group of an
/// attribute (a Midwesterner has no CREGION group here, a high-school graduate no EDUCATION group).
/// The GSS interviews adults, so minors belong to no group.
/// </summary>
public static class SurveyGroupMap
{
    // Census regions (Census Bureau): the GSS's REGION collapsed to the four regions.
    private static readonly HashSet<int> Northeast = [9, 23, 25, 33, 44, 50, 34, 36, 42];
    private static readonly HashSet<int> South = [10, 11, 12, 13, 24, 37, 45, 51, 54, 1, 21, 28, 47, 5, 22, 40, 48];

    private static readonly HashSet<string> College = new(StringComparer.Ordinal)
    {
        "Bachelor's degree", "Master's degree", "Professional degree beyond a bachelor's degree", "Doctorate degree",
    };

    // Below a regular high school diploma or GED (SCHL 1-15).
    private static readonly HashSet<string> NoHighSchool = new(StringComparer.Ordinal)
    {
        "No schooling completed", "Nursery school, preschool", "Kindergarten", "Grade 1", "Grade 2", "Grade 3", "Grade 4", "Grade 5",
        "Grade 6", "Grade 7", "Grade 8", "Grade 9", "Grade 10", "Grade 11", "12th grade - no diploma",
    };

    /// <summary>The survey groups of a persona, in attribute order (CREGION, EDUCATION, SEX, POLIDEOLOGY, INCOME, POLPARTY, RACE, RELIG).</summary>
    public static IReadOnlyList<SurveyGroup> GroupsOf(PersonaRecord p)
    {
        var groups = new List<SurveyGroup>(8);
        if (p.Age < 18) return groups;
        if (int.TryParse(p.Census.State, NumberStyles.None, CultureInfo.InvariantCulture, out var fips))
        {
            if (Northeast.Contains(fips)) groups.Add(new("CREGION", "Northeast"));
            else if (South.Contains(fips)) groups.Add(new("CREGION", "South"));
        }
        if (p.Education is { } e)
        {
            if (College.Contains(e)) groups.Add(new("EDUCATION", "College graduate/some postgrad"));
            else if (NoHighSchool.Contains(e)) groups.Add(new("EDUCATION", "Less than high school"));
        }
        if (p.Sex is "Male" or "Female") groups.Add(new("SEX", p.Sex));
        switch (p.Ideology)
        {
            case "Liberal" or "Very liberal": groups.Add(new("POLIDEOLOGY", "Liberal")); break;
            case "Conservative" or "Very conservative": groups.Add(new("POLIDEOLOGY", "Conservative")); break;
            case "Moderate": groups.Add(new("POLIDEOLOGY", "Moderate")); break;
        }
        // The GSS groups by family income; the persona carries personal income (PINCP): see the README.
        if (p.Income is { } income)
        {
            if (income >= 100_000) groups.Add(new("INCOME", "$100,000 or more"));
            else if (income < 30_000) groups.Add(new("INCOME", "Less than $30,000"));
        }
        // Leaners are left out: the GSS's Democrat/Republican are its strong and not-strong partisans.
        if (p.PoliticalViews is "Democrat" or "Republican") groups.Add(new("POLPARTY", p.PoliticalViews));
        if (RaceOf(p) is { } race) groups.Add(new("RACE", race));
        if (ReligionOf(p.Religion) is { } religion) groups.Add(new("RELIG", religion));
        return groups;
    }

    /// <summary>Hispanic origin first (any race, from HISP), then single-race White, Black or Asian.</summary>
    private static string? RaceOf(PersonaRecord p)
    {
        var hisp = p.Census.Codes.FirstOrDefault(c => c.Variable == "HISP");
        if (hisp.Variable is not null && hisp.Number is { } h && h != 1) return "Hispanic";
        return p.Race switch
        {
            "White alone" => "White",
            "Black or African American alone" => "Black",
            "Asian alone" => "Asian",
            _ => null,
        };
    }

    private static string? ReligionOf(string? religion) => religion switch
    {
        "Evangelical Protestant" or "Mainline Protestant" or "Historically Black Protestant" => "Protestant",
        "Jewish" => "Jewish",
        "Hindu" => "Hindu",
        "Muslim" => "Muslim",
        "Atheist" => "Atheist",
        _ => null,
    };
}

/// <summary>One persona's answer distribution to one question, with the persona's census weight and groups.</summary>
public sealed record SurveyAnswer(string PersonaId, string Qkey, double Weight, IReadOnlyList<SurveyGroup> Groups, IReadOnlyList<double> Distribution);

/// <summary>
/// A group's distribution from its personas' answers: the census-weighted mean of their
/// distributions (each persona stands for PWGTP people). A group with fewer than the threshold of
/// personas is withheld with its count, like the bench's --min-cell.
/// </summary>
public static class SurveyPanel
{
    public static (IReadOnlyList<SurveyPrediction> Predictions, IReadOnlyList<SurveyWithheld> Withheld) Aggregate(
        IReadOnlyList<SurveyAnswer> answers, SurveySet survey, int minPersonas)
    {
        var sums = new Sums(survey);
        foreach (var a in answers) sums.Add(a);
        return sums.Finish(minPersonas);
    }

    /// <summary>The running sums behind <see cref="Aggregate"/>: answers added as they come, none of them held.</summary>
    public sealed class Sums(SurveySet survey)
    {
        private readonly Dictionary<SurveyGroup, HashSet<string>> _personas = [];
        private readonly Dictionary<(string Qkey, SurveyGroup Group), (double[] Sum, double Weight)> _sums = [];

        public void Add(SurveyAnswer a)
        {
            foreach (var g in a.Groups)
            {
                if (!survey.TryGet(a.Qkey, g, out _)) continue;
                if (!_personas.TryGetValue(g, out var set)) _personas[g] = set = new HashSet<string>(StringComparer.Ordinal);
                set.Add(a.PersonaId);
                var key = (a.Qkey, g);
                var (sum, w) = _sums.TryGetValue(key, out var s) ? s : (new double[a.Distribution.Count], 0.0);
                for (var i = 0; i < sum.Length; i++) sum[i] += a.Weight * a.Distribution[i];
                _sums[key] = (sum, w + a.Weight);
            }
        }

        public (IReadOnlyList<SurveyPrediction> Predictions, IReadOnlyList<SurveyWithheld> Withheld) Finish(int minPersonas)
        {
            var withheld = new List<SurveyWithheld>();
            var kept = new HashSet<SurveyGroup>();
            foreach (var g in survey.Groups)
            {
                var n = _personas.TryGetValue(g, out var set) ? set.Count : 0;
                if (n >= minPersonas) kept.Add(g);
                else withheld.Add(new SurveyWithheld(g, n, n == 0 ? "no persona of this group in the panel" : $"fewer than {minPersonas} personas"));
            }
            var predictions = new List<SurveyPrediction>();
            foreach (var q in survey.Questions)
                foreach (var g in survey.Groups)
                    if (kept.Contains(g) && _sums.TryGetValue((q, g), out var s) && s.Weight > 0)
                        predictions.Add(new SurveyPrediction(q, g, s.Sum.Select(x => x / s.Weight).ToArray()));
            return (predictions, withheld);
        }
    }
}
