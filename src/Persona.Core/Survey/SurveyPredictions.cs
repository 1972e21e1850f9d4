using System.Text.Json;

namespace Persona.Survey;

/// <summary>
/// A predicted answer distribution of one group to one question: one share per entry of the
/// question's <see cref="SurveyItem.Ordinal"/>. <see cref="RefusalRate"/> is the predicted share of
/// refusals when the predictor reports one (kept apart from the distance, as in the survey).
/// </summary>
public sealed record SurveyPrediction(string Qkey, SurveyGroup Group, IReadOnlyList<double> Distribution, double? RefusalRate = null);

/// <summary>Reads predictions (`{"qkey", "attribute", "group", "distribution"}` per line) against a survey set, refusing a bad row with its file and line.</summary>
public static class SurveyPredictionsFile
{
    public static IReadOnlyList<SurveyPrediction> Read(string path, SurveySet survey)
    {
        InputFile.NotAFolder(path, "--predictions");
        if (!File.Exists(path)) throw new PersonaException($"--predictions '{path}' does not exist.");
        var list = new List<SurveyPrediction>();
        var seen = new Dictionary<(string, SurveyGroup), int>();
        foreach (var (number, text) in TextLines.Numbered(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            var where = $"{path}:{number}";
            var p = Parse(text, where, survey);
            if (!seen.TryAdd((p.Qkey, p.Group), number))
                throw new PersonaException($"{where}: question '{p.Qkey}' for group {p.Group} was already predicted on line {seen[(p.Qkey, p.Group)]}; keep one row per question and group.");
            list.Add(p);
        }
        if (list.Count == 0) throw new PersonaException($"{path}: no predictions; expected JSON Lines with qkey, attribute, group, distribution.");
        return list;
    }

    private static SurveyPrediction Parse(string line, string where, SurveySet survey)
    {
        using (var doc = SurveySetFile.ObjectLine(line, where))
        {
            var root = doc.RootElement;
            var qkey = SurveySetFile.Text(root, "qkey", where);
            var group = new SurveyGroup(SurveySetFile.Text(root, "attribute", where), SurveySetFile.Text(root, "group", where));
            if (!survey.HasQuestion(qkey))
                throw new PersonaException($"{where}: unknown qkey '{qkey}'; {survey.Source} has no such question.");
            if (!survey.TryGet(qkey, group, out var item))
            {
                var known = survey.Groups.Where(g => g.Attribute == group.Attribute).Select(g => g.Group).ToList();
                throw new PersonaException(known.Count == 0
                    ? $"{where}: unknown attribute '{group.Attribute}'; {survey.Source} groups by {string.Join(", ", survey.Groups.Select(g => g.Attribute).Distinct())}."
                    : $"{where}: unknown group '{group.Group}' of {group.Attribute}; expected one of {string.Join(", ", known)}.");
            }
            if (!root.TryGetProperty("distribution", out var d) || d.ValueKind != JsonValueKind.Array)
                throw new PersonaException($"{where}: 'distribution' is missing or not an array of shares.");
            var shares = new List<double>(d.GetArrayLength());
            foreach (var x in d.EnumerateArray()) shares.Add(SurveySetFile.Number(x, where, "distribution"));
            if (shares.Count != item.Ordinal.Count)
                throw new PersonaException($"{where}: {shares.Count} shares for '{qkey}', which has {item.Ordinal.Count} ({string.Join(" / ", item.Options.Take(item.Ordinal.Count))}); give one share per option, in that order.");
            if (shares.Any(s => s < 0)) throw new PersonaException($"{where}: a share of the distribution is negative.");
            var sum = shares.Sum();
            if (Math.Abs(sum - 1) > SurveySetFile.SumTolerance)
                throw new PersonaException($"{where}: the distribution sums to {sum:0.####}, not 1 (within {SurveySetFile.SumTolerance}); give shares of the answers, refusals apart in refusal_rate.");
            double? refusal = null;
            if (root.TryGetProperty("refusal_rate", out var r) && r.ValueKind != JsonValueKind.Null)
            {
                refusal = SurveySetFile.Number(r, where, "refusal_rate");
                if (refusal is < 0 or > 1) throw new PersonaException($"{where}: refusal_rate {refusal} is not a share between 0 and 1.");
            }
            return new SurveyPrediction(qkey, group, shares, refusal);
        }
    }
}
