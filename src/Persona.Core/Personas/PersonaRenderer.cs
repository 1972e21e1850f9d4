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
        Fields(p, (key, value) => sb.Append(key).Append(": ").Append(value).Append('\n'));
        return sb.ToString();
    }

    /// <summary>
    /// The attributes the rendered text shows, by display key, in the same order: what the bench's
    /// groups, the simulator's hints and the sample metadata read, without parsing the text back.
    /// Blank values are left out, as a reader of the text sees no value for them.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Attributes(PersonaRecord p)
    {
        var attributes = new PersonaInputs.OrderedAttributes();
        Fields(p, (key, value) =>
        {
            var v = value.Trim();
            if (v.Length > 0) attributes.TryAdd(key, v);
        });
        return attributes;
    }

    private static void Fields(PersonaRecord p, Action<string, string> field)
    {
        void Line(string key, string? value)
        {
            if (value is null) return;
            // One attribute per line: LM-written text with line breaks is folded onto its line.
            if (value.AsSpan().IndexOfAny('\r', '\n') >= 0)
                value = string.Join(' ', value.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            field(key.Replace('_', ' '), value);
        }
        Line("age", p.Age.ToString(CultureInfo.InvariantCulture));
        foreach (var (key, get, _) in PersonaRecord.CensusLabels) Line(key, get(p));
        Line("income", p.Income?.ToString(CultureInfo.InvariantCulture));
        foreach (var (key, get, _) in PersonaRecord.CensusLabelsAfterIncome) Line(key, get(p));
        if (p.BigFiveScores is { } b)
            Line("big_five_scores",
                $"openness {b.Openness}, conscientiousness {b.Conscientiousness}, extraversion {b.Extraversion}, " +
                $"agreeableness {b.Agreeableness}, neuroticism {b.Neuroticism}");
        foreach (var (key, get, _) in PersonaRecord.TraitLabels) Line(key, get(p));
    }
}
