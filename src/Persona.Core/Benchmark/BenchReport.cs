using System.Text.Json;
using System.Text.Json.Serialization;
using Persona.Personas;
using Persona.Engine;
using Persona.Statistics;

namespace Persona.Benchmark;

/// <summary>One logged bench sample reduced to what the statistics need.</summary>
public sealed record BenchObservation(string PersonaId, string PromptId, string Mode, int Sample, double Weight,
    IReadOnlyDictionary<string, string> Attributes, bool Generated, bool CriticFailed, double? Score)
{
    /// <summary>The sample's key across modes (same persona, question and draw); a tuple, not a joined string: the comparisons key a million samples at 100,000 personas.</summary>
    public (string PersonaId, string PromptId, int Sample) PairKey => (PersonaId, PromptId, Sample);

    /// <summary>
    /// Reads a sample under a score set. The persona and its census weight come from the sample's
    /// own data, so a log is analysed without the persona files.
    /// </summary>
    public static BenchObservation From(SampleRecord s, string scoreSet, PersonaMetadataCache? personas = null)
    {
        var persona = personas is null ? PersonaMetadata.Read(s) : personas.Read(s);
        IReadOnlyDictionary<string, string> attrs = persona?.Attributes ?? new Dictionary<string, string>();
        var weight = persona?.Weight ?? 1;
        var score = s.Scores?.GetValueOrDefault(scoreSet);
        return new BenchObservation(s.Input("persona_id") ?? "", s.Input("prompt_id") ?? "", s.Input("mode") ?? "",
            int.TryParse(s.Input("sample"), out var k) ? k : 0, weight, attrs,
            s.Status == SampleRecord.StatusOk, s.Status == SampleRecord.StatusOk && (score is null || score.Failure is not null || score.Value is null),
            score?.Failure is null ? score?.Value : null);
    }
}

/// <summary>
/// One <see cref="PersonaMetadata"/> per distinct logged metadata object, so the observations of a persona's
/// samples share its attributes instead of each holding a copy (a million samples of 100,000 personas). The
/// attributes are held compactly (shared key layouts and short values), and an object is known by its
/// persona's id and a hash of its text, not by the text.
/// </summary>
public sealed class PersonaMetadataCache
{
    private readonly Dictionary<(string Id, UInt128 Hash), PersonaMetadata?> _byJson = [];
    private readonly PersonaInputs.AttributeCompactor _attributes = new();

    public PersonaMetadata? Read(SampleRecord s)
    {
        if (s.Field(PersonaMetadata.Field) is not { ValueKind: JsonValueKind.Object } m) return PersonaMetadata.Read(s);
        // The sample's persona id is part of the key: metadata without an id takes it from there.
        var key = (s.Input("persona_id") ?? "", TextHash.Of(m.GetRawText()));
        if (!_byJson.TryGetValue(key, out var persona))
            _byJson[key] = persona = PersonaMetadata.Read(s) is { } p ? p with { Attributes = _attributes.Of(p.Attributes) } : null;
        return persona;
    }
}

/// <summary>
/// Accuracy of one mode. <see cref="Accuracy"/> is over the samples the critic scored
/// (<see cref="Scored"/>); generation failures and unreadable verdicts are counted apart and also
/// folded in as failures in <see cref="AccuracyFailuresAsFail"/>, so no denominator hides them.
/// </summary>
public sealed record AccuracyEstimate(int Samples, int GenerationFailures, int CriticFailures, int Scored, int Passed,
    double? Accuracy, double? BootstrapStandardError, Interval? Wilson, Interval? Clustered, string? ClusteredMethod,
    double? AccuracyFailuresAsFail, double? CensusWeighted, Interval? CensusWeightedInterval, double? EffectiveN);

public sealed record GroupAttributeResult(string Attribute, IReadOnlyList<GroupRow> Rows, GroupRow? Worst, Disparity? Disparity);

public sealed record WorstGroup(string Attribute, string Group, double Mean, Interval? Interval, int N);

public sealed record ModeResult(string Mode, AccuracyEstimate Accuracy, IReadOnlyList<GroupAttributeResult> Groups, WorstGroup? WorstGroup, double? LargestGap, string? LargestGapAttribute);

public sealed record Comparison(string A, string B, int N, double MeanA, double MeanB, double Difference, double StandardError, Interval Interval,
    double PValue, double PValueHolm, int OnlyA, int OnlyB, double McNemarExactP, string Method);

public sealed record BenchResults(string Format, string ScoreSet, string? CriticModel, string? ModelUnderTest, bool CriticIsModelUnderTest, bool Simulated, int Resamples, ulong Seed, int MinCell,
    IReadOnlyList<ModeResult> Modes, IReadOnlyList<Comparison> Comparisons, IReadOnlyList<string> GroupAttributesSkipped, string Notes);

/// <summary>Assembles the bench statistics: per mode, per group, paired comparisons of modes.</summary>
public static class BenchReport
{
    public const string FormatId = "persona-bench-results/1";
    /// <summary>Attributes with more distinct values than this are free text (job descriptions, quirks): not grouped.</summary>
    public const int MaxGroupLevels = 40;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The group label of an attribute value: age and income in the census bands, other values as written.</summary>
    public static string GroupLabel(string attribute, string value)
    {
        try
        {
            if (attribute.Equals("age", StringComparison.OrdinalIgnoreCase)) return Bands.AgeLabel(value);
            if (attribute.Equals("income", StringComparison.OrdinalIgnoreCase)) return Bands.IncomeLabel(value);
        }
        catch (PersonaException) { }
        return value;
    }

    public static AccuracyEstimate Accuracy(IReadOnlyList<BenchObservation> obs, int resamples, ulong seed, double level = 0.95)
    {
        var scored = obs.Where(o => o.Score is not null).ToList();
        int genFail = obs.Count(o => !o.Generated), criticFail = obs.Count(o => o.CriticFailed);
        var passed = scored.Count(o => o.Score >= 0.5);
        if (scored.Count == 0)
            return new AccuracyEstimate(obs.Count, genFail, criticFail, 0, 0, null, null, null, null, null, obs.Count == 0 ? null : 0, null, null, null);
        var values = scored.Select(o => o.Score!.Value).ToArray();
        var acc = values.Average();
        var boot = Bootstrap.Mean(values, resamples, seed, level);
        Interval? clustered = null;
        string? method = null;
        if (scored.Select(o => o.PersonaId).Distinct().Count() > 1 && scored.Select(o => o.PromptId).Distinct().Count() > 1)
        {
            var c = Bootstrap.TwoWayClustered(values, scored.Select(o => o.PersonaId).ToArray(), scored.Select(o => o.PromptId).ToArray(), resamples, seed, level);
            (clustered, method) = (c.Interval, c.Method + " (personas x questions)");
        }
        else if (scored.Select(o => o.PersonaId).Distinct().Count() > 1)
        {
            var c = Bootstrap.OneWayClustered(values, scored.Select(o => o.PersonaId).ToArray(), resamples, seed, level);
            (clustered, method) = (c.Interval, c.Method + " (personas)");
        }
        var wm = WeightedMean.Compute(values, scored.Select(o => o.Weight).ToArray());
        return new AccuracyEstimate(obs.Count, genFail, criticFail, scored.Count, passed, acc, boot.StandardError, Proportion.Wilson(passed, scored.Count, level),
            clustered, method, (double)passed / obs.Count, wm.Mean, Proportion.Wilson(Math.Clamp(wm.Mean, 0, 1), wm.EffectiveN, level), wm.EffectiveN);
    }

    /// <summary>Per-group accuracy for every groupable attribute, census-weighted, with the worst group and the disparity.</summary>
    public static (IReadOnlyList<GroupAttributeResult> Groups, IReadOnlyList<string> Skipped) Groups(IReadOnlyList<BenchObservation> obs, int minCell, double level = 0.95)
    {
        var scored = obs.Where(o => o.Score is not null).ToList();
        var attributes = scored.SelectMany(o => o.Attributes.Keys).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var ordered = PersonaInputs.OriginalKeys.Where(k => attributes.Contains(k, StringComparer.OrdinalIgnoreCase))
            .Concat(attributes.Where(a => !PersonaInputs.OriginalKeys.Contains(a, StringComparer.OrdinalIgnoreCase)).Order(StringComparer.Ordinal)).ToList();
        var result = new List<GroupAttributeResult>();
        var skipped = new List<string>();
        foreach (var a in ordered)
        {
            var rows = scored.Where(o => o.Attributes.ContainsKey(a)).ToList();
            if (rows.Count == 0) continue;
            var labels = rows.Select(o => GroupLabel(a, o.Attributes[a])).ToArray();
            if (labels.Distinct(StringComparer.Ordinal).Count() > MaxGroupLevels) { skipped.Add(a); continue; }
            var t = GroupTable.Compute(rows.Select(o => o.Score!.Value).ToArray(), rows.Select(o => o.Weight).ToArray(), labels, minCell, level);
            result.Add(new GroupAttributeResult(a, t.Rows, t.Worst, t.Disparity));
        }
        return (result, skipped);
    }

    /// <summary>The full results of one score set of a bench log.</summary>
    public static BenchResults Compute(IEnumerable<SampleRecord> samples, string scoreSet, int resamples = 1000, ulong seed = 1, int minCell = 30, double level = 0.95) =>
        Compute(BenchTally.Of(samples, scoreSet), resamples, seed, minCell, level);

    /// <summary>The full results of a bench log's samples, reduced as they came.</summary>
    public static BenchResults Compute(BenchTally tally, int resamples = 1000, ulong seed = 1, int minCell = 30, double level = 0.95)
    {
        var obs = tally.Observations;
        var (scoreSet, simulated, critic, model) = (tally.ScoreSet, tally.Simulated, tally.Critic, tally.Model);
        var modes = obs.Select(o => o.Mode).Distinct().OrderBy(BenchModes.Order).ThenBy(m => m, StringComparer.Ordinal).ToList();
        var results = new List<ModeResult>();
        var skipped = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var mode in modes)
        {
            var mine = obs.Where(o => o.Mode == mode).ToList();
            var acc = Accuracy(mine, resamples, seed, level);
            var (groups, sk) = acc.Scored > 0 ? Groups(mine, minCell, level) : ([], []);
            foreach (var x in sk) skipped.Add(x);
            var worst = groups.Where(g => g.Worst is not null).OrderBy(g => g.Worst!.Mean).ThenBy(g => g.Attribute, StringComparer.Ordinal).FirstOrDefault();
            var gap = groups.Where(g => g.Disparity is not null).OrderByDescending(g => g.Disparity!.MaxMinGap).FirstOrDefault();
            results.Add(new ModeResult(mode, acc, groups,
                worst is null ? null : new WorstGroup(worst.Attribute, worst.Worst!.Group, worst.Worst.Mean!.Value, worst.Worst.Interval, worst.Worst.N),
                gap?.Disparity?.MaxMinGap, gap?.Attribute));
        }
        var comparisons = CompareModes(obs, modes, resamples, seed, level);
        return new BenchResults(FormatId, scoreSet, critic, model, critic is not null && critic == model, simulated, resamples, seed, minCell, results, comparisons, skipped.ToList(),
            "accuracy = share of critic-scored samples needing no revision; bootstrap_standard_error is the i.i.d. bootstrap SE the original reports; " +
            "clustered resamples personas and questions; census_weighted uses each persona's census weight; accuracy_failures_as_fail counts generation " +
            "failures and unreadable verdicts as failures; groups below min_cell are suppressed; comparisons pair samples on (persona, question, draw) " +
            "and Holm-adjust the bootstrap p-values." + (critic is not null && critic == model ? " WARNING: the critic is the model under test." : "") + (simulated ? " SIMULATED: the offline simulator answered; nothing here is a finding." : ""));
    }

    /// <summary>Every pair of modes on the samples both scored (same persona, question, draw), Holm-adjusted.</summary>
    public static IReadOnlyList<Comparison> CompareModes(IReadOnlyList<BenchObservation> obs, IReadOnlyList<string> modes, int resamples, ulong seed, double level = 0.95)
    {
        var byMode = modes.ToDictionary(m => m, m => obs.Where(o => o.Mode == m && o.Score is not null).ToDictionary(o => o.PairKey));
        var raw = new List<(string A, string B, List<(BenchObservation X, BenchObservation Y)> Pairs)>();
        for (var i = 0; i < modes.Count; i++)
            for (var j = i + 1; j < modes.Count; j++)
            {
                var pairs = byMode[modes[i]].Where(kv => byMode[modes[j]].ContainsKey(kv.Key)).Select(kv => (kv.Value, byMode[modes[j]][kv.Key])).ToList();
                if (pairs.Count >= 2) raw.Add((modes[i], modes[j], pairs));
            }
        return Paired(raw, resamples, seed, level);
    }

    public static IReadOnlyList<Comparison> Paired(IReadOnlyList<(string A, string B, List<(BenchObservation X, BenchObservation Y)> Pairs)> raw, int resamples, ulong seed, double level)
    {
        var diffs = raw.Select(r =>
        {
            var a = r.Pairs.Select(p => p.X.Score!.Value).ToArray();
            var b = r.Pairs.Select(p => p.Y.Score!.Value).ToArray();
            var personas = r.Pairs.Select(p => p.X.PersonaId).ToArray();
            var prompts = r.Pairs.Select(p => p.X.PromptId).ToArray();
            var d = personas.Distinct().Count() > 1 && prompts.Distinct().Count() > 1
                ? Statistics.Paired.TwoWayClustered(a, b, personas, prompts, resamples, seed, level)
                : Statistics.Paired.Bootstrap(a, b, resamples, seed, level);
            var mc = Statistics.Paired.McNemar(a.Select(x => x >= 0.5).ToArray(), b.Select(x => x >= 0.5).ToArray());
            return (r.A, r.B, d, mc);
        }).ToList();
        var holm = diffs.Count == 0 ? [] : MultipleTesting.Holm(diffs.Select(x => x.d.PValue).ToArray());
        return diffs.Select((x, i) => new Comparison(x.A, x.B, x.d.N, x.d.MeanA, x.d.MeanB, x.d.Difference, x.d.StandardError, x.d.Interval,
            x.d.PValue, holm[i], x.mc.OnlyA, x.mc.OnlyB, x.mc.PValueExact, x.d.Method)).ToList();
    }

    public static void Write(string path, object results) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(results, results.GetType(), Json) + "\n");
}
