using System.Globalization;
using System.Text;

namespace Persona.Personas;

/// <summary>
/// The persona as LMs see it: <c>key: value</c> lines in contract order, underscores in keys
/// replaced by spaces, null fields omitted; id, census and traits are bookkeeping and not shown.
/// </summary>
public static class PersonaRenderer
{
    public static string Render(PersonaRecord p)
    {
        var sb = new StringBuilder(1024);
        Line(sb, "age", p.Age.ToString(CultureInfo.InvariantCulture));
        foreach (var (key, get, _) in PersonaRecord.CensusLabels) Line(sb, key, get(p));
        Line(sb, "income", p.Income?.ToString(CultureInfo.InvariantCulture));
        foreach (var (key, get, _) in PersonaRecord.CensusLabelsAfterIncome) Line(sb, key, get(p));
        if (p.BigFiveScores is { } b)
            Line(sb, "big_five_scores",
                $"openness {b.Openness}, conscientiousness {b.Conscientiousness}, extraversion {b.Extraversion}, " +
                $"agreeableness {b.Agreeableness}, neuroticism {b.Neuroticism}");
        foreach (var (key, get, _) in PersonaRecord.TraitLabels) Line(sb, key, get(p));
        return sb.ToString();
    }

    private static void Line(StringBuilder sb, string key, string? value)
    {
        if (value is null) return;
        // One attribute per line: LM-written text with line breaks is folded onto its line.
        if (value.AsSpan().IndexOfAny('\r', '\n') >= 0)
            value = string.Join(' ', value.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        sb.Append(key.Replace('_', ' ')).Append(": ").Append(value).Append('\n');
    }
}
