using System.Text.RegularExpressions;

namespace Persona.Personas;

/// <summary>One rule that flagged a persona; <see cref="Rule"/> is the rule id (e.g. "R03").</summary>
public sealed record RuleViolation(string Rule, string Name, string Message);

/// <summary>A documented cheap check: <see cref="Check"/> returns why the persona fails, or null.</summary>
public sealed record ConsistencyRule(string Id, string Name, string Description, Func<PersonaRecord, string?> Check);

/// <summary>
/// Stage 4a: cheap rule checks run before the LM verdict (method.md section 1: "a 9-year-old with a
/// salary" should never reach the LM). Most rules compare LM-written text with census fields; a
/// few guard against census impossibilities in a user's own source. Rules are deliberately
/// conservative (phrases that claim a state, not words that merely mention it), and every
/// rejection names its rule so the rejection log can be audited.
/// <list type="table">
/// <item>R01 child-salary: under 16 and the text speaks of a salary, wages or a paycheck (or the census income of an under-15 is positive).</item>
/// <item>R02 minor-employed: under 16 and the job description claims current employment.</item>
/// <item>R03 young-retiree: under 40 and the text calls the person retired.</item>
/// <item>R04 jobless-claims-job: employment status "Unemployed" or "Not in labor force" and the job description claims current employment.</item>
/// <item>R05 employed-claims-jobless: employed (civilian or armed forces) and the job description says they are out of work.</item>
/// <item>R06 occupation-mismatch: the job description's first sentence names a job title of another occupation family and none of the persona's own (data/personas/occupation-keywords.csv).</item>
/// <item>R07 age-claim: the text states an age (“a 45-year-old”, “is 45 years old”) more than one year off the census age.</item>
/// <item>R08 never-married-spouse: marital status "Never married or under 15 years old" and the text gives them a wife, husband or spouse.</item>
/// <item>R09 child-parent: under 14 and the text gives them children of their own.</item>
/// <item>R10 veteran-claim: census says never served (or under 17) and the text says they served in the military.</item>
/// <item>R11 degree-claim: census education below an associate's degree and the text claims a college degree.</item>
/// <item>R12 fertility-impossible: a birth in the past 12 months for a male, an under-15 or an over-50 (census).</item>
/// <item>R13 minor-married: under 15 with a marital status other than never married (census).</item>
/// </list>
/// </summary>
public static partial class ConsistencyRules
{
    public const string OccupationKeywordsPath = "personas/occupation-keywords.csv";

    private static readonly Lazy<IReadOnlyList<(Regex Pattern, string Keyword, HashSet<string> Prefixes)>> OccupationKeywords = new(LoadOccupationKeywords);

    public static IReadOnlyList<ConsistencyRule> All { get; } =
    [
        new("R01", "child-salary", "Under 16 with a salary, wages or a paycheck.", p =>
            p.Age < 15 && p.Income is > 0 ? $"census income {p.Income} at age {p.Age}"
            : p.Age < 16 && Find(SalaryClaim(), AllText(p)) is { } m ? $"age {p.Age} but the text says \"{m}\"" : null),
        new("R02", "minor-employed", "Under 16 and the job description claims current employment.", p =>
            p.Age < 16 && Find(EmployedClaim(), p.DetailedJobDescription) is { } m ? $"age {p.Age} but the job description says \"{m}\"" : null),
        new("R03", "young-retiree", "Under 40 and described as retired.", p =>
            p.Age < 40 && Find(RetiredClaim(), AllText(p)) is { } m ? $"age {p.Age} but the text says \"{m}\"" : null),
        new("R04", "jobless-claims-job", "Unemployed or not in the labor force, but the job description claims current employment.", p =>
            p.EmploymentStatus is "Unemployed" or "Not in labor force" && Find(EmployedClaim(), p.DetailedJobDescription) is { } m
                ? $"employment status \"{p.EmploymentStatus}\" but the job description says \"{m}\"" : null),
        new("R05", "employed-claims-jobless", "Employed, but the job description says they are out of work.", p =>
            IsEmployed(p) && Find(JoblessClaim(), p.DetailedJobDescription) is { } m
                ? $"employment status \"{p.EmploymentStatus}\" but the job description says \"{m}\"" : null),
        new("R06", "occupation-mismatch", "The job description names a job title of another occupation family.", OccupationMismatch),
        new("R07", "age-claim", "The text states an age more than one year off the census age.", AgeClaim),
        new("R08", "never-married-spouse", "Never married, but the text gives them a spouse.", p =>
            p.MaritalStatus is { } ms && ms.StartsWith("Never married", StringComparison.Ordinal) && Find(SpouseClaim(), AllText(p)) is { } m
                ? $"marital status \"{ms}\" but the text says \"{m}\"" : null),
        new("R09", "child-parent", "Under 14 with children of their own.", p =>
            p.Age < 14 && Find(ChildrenClaim(), AllText(p)) is { } m ? $"age {p.Age} but the text says \"{m}\"" : null),
        new("R10", "veteran-claim", "Never served (or under 17), but the text says they served in the military.", p =>
            (p.Age < 17 || p.VeteranStatus == "Never served in the military") && Find(MilitaryClaim(), AllText(p)) is { } m
                ? $"veteran status \"{p.VeteranStatus ?? "not in universe"}\" at age {p.Age} but the text says \"{m}\"" : null),
        new("R11", "degree-claim", "Education below an associate's degree, but the text claims a college degree.", p =>
            !HasDegree(p.Education) && Find(DegreeClaim(), AllText(p)) is { } m
                ? $"education \"{p.Education ?? "not in universe"}\" but the text says \"{m}\"" : null),
        new("R12", "fertility-impossible", "A birth in the past year for a male, an under-15 or an over-50.", p =>
            p.Fertility == "Yes" && (p.Sex == "Male" || p.Age < 15 || p.Age > 50) ? $"fertility \"Yes\" for a {p.Age}-year-old {p.Sex?.ToLowerInvariant() ?? "person"}" : null),
        new("R13", "minor-married", "Under 15 with a marital status other than never married.", p =>
            p.Age < 15 && p.MaritalStatus is { } ms && !ms.StartsWith("Never married", StringComparison.Ordinal) ? $"marital status \"{ms}\" at age {p.Age}" : null),
    ];

    /// <summary>Every rule the persona breaks, in rule order.</summary>
    public static IReadOnlyList<RuleViolation> Check(PersonaRecord p)
    {
        List<RuleViolation>? found = null;
        foreach (var rule in All)
            if (rule.Check(p) is { } message)
                (found ??= []).Add(new RuleViolation(rule.Id, rule.Name, message));
        return found ?? (IReadOnlyList<RuleViolation>)[];
    }

    internal static string AllText(PersonaRecord p) =>
        string.Join("\n", new[] { p.DetailedJobDescription, p.DefiningQuirks, p.Mannerisms, p.PersonalTime, p.Lifestyle }.Where(s => s is not null));

    private static string? Find(Regex regex, string? text) =>
        text is null ? null : regex.Match(text) is { Success: true } m ? m.Value : null;

    private static bool IsEmployed(PersonaRecord p) =>
        p.EmploymentStatus is { } s && (s.StartsWith("Civilian employed", StringComparison.Ordinal) || s.StartsWith("Armed forces", StringComparison.Ordinal));

    private static bool HasDegree(string? education) =>
        education is "Associate's degree" or "Bachelor's degree" or "Master's degree" or "Professional degree beyond a bachelor's degree" or "Doctorate degree";

    private static string? AgeClaim(PersonaRecord p)
    {
        var text = AllText(p);
        foreach (Match m in StatedAge().Matches(text))
        {
            var g = m.Groups["a"].Success ? m.Groups["a"] : m.Groups["b"];
            if (int.TryParse(g.Value, out var stated) && Math.Abs(stated - p.Age) > 1)
                return $"age {p.Age} but the text says \"{m.Value}\"";
        }
        return null;
    }

    /// <summary>The three-letter family of an OCCP label ("MED-Registered Nurses" gives "MED"), or null.</summary>
    public static string? OccupationFamily(string? occupation) =>
        occupation is { Length: > 4 } o && o[3] == '-' && char.IsAsciiLetterUpper(o[0]) && char.IsAsciiLetterUpper(o[1]) && char.IsAsciiLetterUpper(o[2])
            ? o[..3] : null;

    private static string? OccupationMismatch(PersonaRecord p)
    {
        if (OccupationFamily(p.OccupationCategory) is not { } family || p.DetailedJobDescription is not { } jd) return null;
        var first = FirstSentence(jd);
        string? foreign = null;
        foreach (var (pattern, keyword, prefixes) in OccupationKeywords.Value)
        {
            if (!pattern.IsMatch(first)) continue;
            if (prefixes.Contains(family)) return null; // a title of their own family: consistent
            foreign ??= keyword;
        }
        return foreign is null ? null : $"occupation \"{p.OccupationCategory}\" but the job description opens with \"{foreign}\"";
    }

    private static string FirstSentence(string text)
    {
        var m = SentenceEnd().Match(text);
        return m.Success ? text[..m.Index] : text;
    }

    private static IReadOnlyList<(Regex, string, HashSet<string>)> LoadOccupationKeywords()
    {
        var rows = SmallCsv.Read(BundledData.Path(OccupationKeywordsPath), ["keyword", "prefixes"]);
        return rows.Select(r => (
            new Regex(@"\b" + Regex.Escape(r.Fields[0]).Replace(@"\ ", @"\s+") + @"(s|es)?\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled),
            r.Fields[0],
            r.Fields[1].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal))).ToArray();
    }

    [GeneratedRegex(@"\b(salary|salaries|wages?|paychecks?|paid job|earns (a living|money|\$))\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SalaryClaim();

    [GeneratedRegex(@"\b(currently (works|working|employed)|works (as|at|for|in)(?!\s+(a\s+|an\s+)?volunteer)|working (as|at|for)(?!\s+(a\s+|an\s+)?volunteer)|is employed|employed (as|at|by)|(full|part)[- ]time (job|position|role)|(his|her|their|my) (employer|boss|coworkers|co-workers)|clocks in)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex EmployedClaim();

    [GeneratedRegex(@"\b(unemployed|jobless|out of work|looking for (a )?(job|work)|between jobs|lost (his|her|their|my) job)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex JoblessClaim();

    [GeneratedRegex(@"\b(retired(?!\s+(parents?|father|mother|dad|mom|neighbou?rs?|grandparents?|friends?|couple))|retiree|in (his|her|their|my) retirement|enjoys? (his |her |their )?retirement|since retiring)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex RetiredClaim();

    [GeneratedRegex(@"\b(?:is|am|i'm|as|being)\s+an?\s+(?<a>\d{1,3})-year-old\b|\b(?:is|am|i'm)\s+(?<b>\d{1,3})\s+years?\s+old\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex StatedAge();

    [GeneratedRegex(@"\b((his|her|their|my) (wife|husband|spouse)|is married|are married)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SpouseClaim();

    [GeneratedRegex(@"\b(his|her|their|my) (own )?(kids|children|sons?|daughters?|grandchildren|grandkids)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ChildrenClaim();

    [GeneratedRegex(@"\b((military|army|navy|marine|war|combat|air force) veteran|served in the (army|navy|marines?|air force|military|coast guard|national guard)|(his|her|their|my) (military|army|navy) (service|days|years))\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex MilitaryClaim();

    [GeneratedRegex(@"\b(bachelor'?s degree|master'?s degree|ph\.?d\b|doctorate|college degree|university degree|law degree|medical degree|graduated from (college|university)|holds a degree)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DegreeClaim();

    [GeneratedRegex(@"[.!?](\s|$)")]
    private static partial Regex SentenceEnd();
}
