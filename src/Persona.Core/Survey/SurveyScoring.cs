using Persona.Statistics;

namespace Persona.Survey;

/// <summary>A mean distance over cells (question x group) with its bootstrap interval over questions.</summary>
public sealed record SurveyMean(double MeanDistance, Interval? Interval, int N)
{
    public double Representativeness => 1 - MeanDistance;
}

/// <summary>
/// The baselines any claim must beat, on exactly the cells that were predicted: the uniform answer,
/// the population prior (per question, the unweighted mean of every group's real distribution) and,
/// for a group with a political opposite, that opposite's real answers.
/// </summary>
public sealed record SurveyBaselines(double Uniform, double PopulationPrior, string? OpposingGroup, double? Opposing);

/// <summary>
/// Predicted minus prior distance, per question, with its interval: below 0 the predictions beat the
/// population prior. The verdict is "better" or "worse" only when the interval excludes 0.
/// </summary>
public sealed record SurveyVersusPrior(double Gain, Interval? Interval, string Verdict);

public sealed record SurveyGroupResult(
    SurveyGroup Group,
    SurveyMean Score,
    SurveyBaselines Baselines,
    SurveyVersusPrior VersusPrior,
    double RealRefusalRate,
    double? PredictedRefusalRate,
    int Unscorable);

public sealed record SurveyAttributeResult(string Attribute, SurveyMean Score, SurveyBaselines Baselines, int Groups);

/// <summary>A group left out of the scores (too few personas in the panel), with its count.</summary>
public sealed record SurveyWithheld(SurveyGroup Group, int Personas, string Reason);

/// <summary>How far apart the real groups of an opposing pair answer (a reference scale for distances).</summary>
public sealed record SurveyOpposingPair(SurveyGroup A, SurveyGroup B, double MeanDistance, int N);

/// <summary>
/// How far apart the groups are: per group, the mean distance of its distribution to the mean of the
/// groups' distributions on the same questions, for the predictions (the panel) and for the real
/// answers. A ratio below 1 means the panel flattens the differences between groups.
/// </summary>
public sealed record SurveyDispersion(IReadOnlyDictionary<SurveyGroup, double> Predicted, IReadOnlyDictionary<SurveyGroup, double> Real, double PredictedMean, double RealMean)
{
    public double? Ratio => RealMean > 0 ? PredictedMean / RealMean : null;
}

/// <summary>
/// One scored cell (question x group): its distance and the baselines' on the same cell, and the
/// predicted distribution (one share per ordinal entry). What the heat map and the per-instance
/// records (Every Eval Ever) show.
/// </summary>
public sealed record SurveyCell(string Qkey, SurveyGroup Group, double Distance, double Uniform, double Prior, double? Opposing, IReadOnlyList<double> Predicted);

public sealed record SurveyResults(
    string Survey,
    string Metric,
    SurveyMean Overall,
    SurveyBaselines OverallBaselines,
    IReadOnlyList<SurveyAttributeResult> Attributes,
    IReadOnlyList<SurveyGroupResult> Groups,
    IReadOnlyList<SurveyOpposingPair> OpposingPairs,
    IReadOnlyList<SurveyWithheld> Withheld,
    SurveyDispersion Dispersion,
    int Unscorable,
    int Resamples,
    ulong Seed,
    double Level)
{
    /// <summary>Every scored cell, in prediction order.</summary>
    public IReadOnlyList<SurveyCell> Cells { get; init; } = [];
}

/// <summary>
/// Scores predicted distributions against a survey set per group, per attribute and overall, each
/// beside its baselines. Intervals are percentile bootstraps over questions (a group's cells are one
/// per question; an attribute's and the overall's are clustered by question, since the groups
/// answer the same questions).
/// </summary>
public static class SurveyScoring
{
    /// <summary>The opposing groups of the field (Santurkar et al. 2023 compare these pairs).</summary>
    public static readonly IReadOnlyList<(SurveyGroup A, SurveyGroup B)> Opposites =
    [
        (new("POLPARTY", "Democrat"), new("POLPARTY", "Republican")),
        (new("POLIDEOLOGY", "Liberal"), new("POLIDEOLOGY", "Conservative")),
    ];

    public static SurveyGroup? OppositeOf(SurveyGroup g)
    {
        foreach (var (a, b) in Opposites)
        {
            if (a == g) return b;
            if (b == g) return a;
        }
        return null;
    }

    /// <summary>Per question, the unweighted mean of every group's real distribution.</summary>
    public static IReadOnlyDictionary<string, double[]> PopulationPrior(SurveySet survey)
    {
        var prior = new Dictionary<string, double[]>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var item in survey.Items)
        {
            if (!prior.TryGetValue(item.Qkey, out var sum)) prior[item.Qkey] = sum = new double[item.Responses.Count];
            for (var i = 0; i < sum.Length; i++) sum[i] += item.Responses[i];
            counts[item.Qkey] = counts.GetValueOrDefault(item.Qkey) + 1;
        }
        foreach (var (q, sum) in prior) for (var i = 0; i < sum.Length; i++) sum[i] /= counts[q];
        return prior;
    }

    /// <summary>The real distributions of every group as predictions: what a perfect predictor would say.</summary>
    public static IReadOnlyList<SurveyPrediction> RealAnswers(SurveySet survey) =>
        survey.Items.Select(i => new SurveyPrediction(i.Qkey, new SurveyGroup(i.Attribute, i.Group), i.Responses, i.RefusalRate)).ToList();

    /// <summary>A baseline (a distribution per question and group) as predictions of every cell.</summary>
    public static IReadOnlyList<SurveyPrediction> Baseline(SurveySet survey, Func<SurveyItem, IReadOnlyList<double>> answer) =>
        survey.Items.Select(i => new SurveyPrediction(i.Qkey, new SurveyGroup(i.Attribute, i.Group), answer(i))).ToList();

    public static SurveyResults Score(SurveySet survey, IReadOnlyList<SurveyPrediction> predictions,
        IReadOnlyList<SurveyWithheld>? withheld = null, int resamples = 1000, ulong seed = 1, double level = 0.95, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(survey);
        ArgumentNullException.ThrowIfNull(predictions);
        if (predictions.Count == 0) throw new PersonaException("No predictions to score.");
        var prior = PopulationPrior(survey);
        var cells = new List<Cell>(predictions.Count);
        var unscorable = new Dictionary<SurveyGroup, int>();
        foreach (var p in predictions)
        {
            var item = survey.Get(p.Qkey, p.Group);
            var d = SurveyDistance.Distance(item.Ordinal, p.Distribution, item.Responses);
            if (d is null)
            {
                unscorable[p.Group] = unscorable.GetValueOrDefault(p.Group) + 1;
                continue;
            }
            var uniform = SurveyDistance.Distance(item.Ordinal, SurveyDistance.Uniform(item.Ordinal.Count), item.Responses)!.Value;
            var pri = SurveyDistance.Distance(item.Ordinal, prior[p.Qkey], item.Responses) ?? double.NaN;
            double? opposing = null;
            if (OppositeOf(p.Group) is { } o && survey.TryGet(p.Qkey, o, out var other))
                opposing = SurveyDistance.Distance(item.Ordinal, other.Responses, item.Responses);
            cells.Add(new Cell(p.Qkey, p.Group, d.Value, uniform, pri, opposing, item.RefusalRate, p.RefusalRate, p.Distribution));
        }
        if (cells.Count == 0) throw new PersonaException("No prediction could be scored: every one put all its mass on options outside the scale.");
        ct.ThrowIfCancellationRequested();

        var groups = new List<SurveyGroupResult>();
        var groupIndex = 0;
        foreach (var g in survey.Groups)
        {
            var mine = cells.Where(c => c.Group == g).ToList();
            var gSeed = DeterministicSeed(seed, (ulong)groupIndex++);
            if (mine.Count == 0) continue;
            var diffs = mine.Select(c => c.Distance - c.Prior).Where(double.IsFinite).ToList();
            var gain = diffs.Count > 0 ? diffs.Average() : double.NaN;
            var gainInterval = diffs.Count >= 2 ? Bootstrap.Mean(diffs, resamples, gSeed ^ 0x9E3779B97F4A7C15, level).Interval : (Interval?)null;
            var verdict = gainInterval is { } gi ? gi.Upper < 0 ? "better" : gi.Lower > 0 ? "worse" : "not distinguishable" : "too few questions";
            var predicted = mine.Where(c => c.PredictedRefusal is not null).Select(c => c.PredictedRefusal!.Value).ToList();
            groups.Add(new SurveyGroupResult(g, Mean(mine, resamples, gSeed, level), Baselines(mine, OppositeOf(g)),
                new SurveyVersusPrior(gain, gainInterval, verdict),
                mine.Average(c => c.RealRefusal), predicted.Count > 0 ? predicted.Average() : null, unscorable.GetValueOrDefault(g)));
            ct.ThrowIfCancellationRequested();
        }

        var attributes = new List<SurveyAttributeResult>();
        var attrIndex = 0;
        foreach (var attribute in survey.Groups.Select(g => g.Attribute).Distinct(StringComparer.Ordinal))
        {
            var mine = cells.Where(c => c.Group.Attribute == attribute).ToList();
            var aSeed = DeterministicSeed(seed, 1_000_000 + (ulong)attrIndex++);
            if (mine.Count == 0) continue;
            attributes.Add(new SurveyAttributeResult(attribute, Mean(mine, resamples, aSeed, level), Baselines(mine, null), mine.Select(c => c.Group).Distinct().Count()));
        }

        var pairs = new List<SurveyOpposingPair>();
        foreach (var (a, b) in Opposites)
        {
            var ds = survey.Questions
                .Where(q => survey.TryGet(q, a, out _) && survey.TryGet(q, b, out _))
                .Select(q => SurveyDistance.Distance(survey.Get(q, a).Ordinal, survey.Get(q, a).Responses, survey.Get(q, b).Responses))
                .Where(d => d is not null).Select(d => d!.Value).ToList();
            if (ds.Count > 0) pairs.Add(new SurveyOpposingPair(a, b, ds.Average(), ds.Count));
        }

        var metrics = survey.Questions.Select(q => SurveyDistance.MetricOf(survey.RowsOf(q).First().Ordinal)).Distinct().ToList();
        var metric = metrics.Count == 1 && metrics[0] == SurveyMetric.Wasserstein
            ? "normalised ordinal 1-Wasserstein"
            : "normalised ordinal 1-Wasserstein (total variation for questions without a scale)";
        return new SurveyResults(survey.Source, metric, Mean(cells, resamples, seed, level), Baselines(cells, null),
            attributes, groups, pairs, withheld ?? [], Dispersion(survey, predictions), unscorable.Values.Sum(), resamples, seed, level)
        {
            Cells = cells.Select(c => new SurveyCell(c.Qkey, c.Group, c.Distance, c.Uniform, c.Prior, c.Opposing, c.Predicted)).ToList(),
        };
    }

    /// <summary>
    /// Each group's mean distance to the mean of the predicted groups (and the same for their real
    /// answers), over the questions where two or more groups were predicted.
    /// </summary>
    public static SurveyDispersion Dispersion(SurveySet survey, IReadOnlyList<SurveyPrediction> predictions)
    {
        var predicted = new Dictionary<SurveyGroup, List<double>>();
        var real = new Dictionary<SurveyGroup, List<double>>();
        foreach (var byQuestion in predictions.GroupBy(p => p.Qkey, StringComparer.Ordinal))
        {
            var rows = byQuestion.ToList();
            if (rows.Count < 2) continue;
            var ordinal = survey.Get(rows[0].Qkey, rows[0].Group).Ordinal;
            var reals = rows.Select(r => survey.Get(r.Qkey, r.Group).Responses).ToList();
            var meanPredicted = MeanOf(rows.Select(r => r.Distribution).ToList());
            var meanReal = MeanOf(reals);
            for (var i = 0; i < rows.Count; i++)
            {
                if (SurveyDistance.Distance(ordinal, rows[i].Distribution, meanPredicted) is { } dp)
                    (predicted.TryGetValue(rows[i].Group, out var l) ? l : predicted[rows[i].Group] = []).Add(dp);
                if (SurveyDistance.Distance(ordinal, reals[i], meanReal) is { } dr)
                    (real.TryGetValue(rows[i].Group, out var l2) ? l2 : real[rows[i].Group] = []).Add(dr);
            }
        }
        var p = predicted.ToDictionary(kv => kv.Key, kv => kv.Value.Average());
        var r = real.ToDictionary(kv => kv.Key, kv => kv.Value.Average());
        return new SurveyDispersion(p, r, p.Count > 0 ? p.Values.Average() : double.NaN, r.Count > 0 ? r.Values.Average() : double.NaN);
    }

    private static double[] MeanOf(IReadOnlyList<IReadOnlyList<double>> distributions)
    {
        var m = new double[distributions[0].Count];
        foreach (var d in distributions) for (var i = 0; i < m.Length; i++) m[i] += d[i] / distributions.Count;
        return m;
    }

    private static SurveyMean Mean(IReadOnlyList<Cell> cells, int resamples, ulong seed, double level)
    {
        var scores = cells.Select(c => c.Distance).ToList();
        var questions = cells.Select(c => c.Qkey).ToList();
        Interval? interval = questions.Distinct(StringComparer.Ordinal).Count() >= 2
            ? Bootstrap.OneWayClustered(scores, questions, resamples, seed, level).Interval
            : null;
        return new SurveyMean(scores.Average(), interval, cells.Count);
    }

    private static SurveyBaselines Baselines(IReadOnlyList<Cell> cells, SurveyGroup? opposite)
    {
        var opp = cells.Where(c => c.Opposing is not null).Select(c => c.Opposing!.Value).ToList();
        var prior = cells.Select(c => c.Prior).Where(double.IsFinite).ToList();
        return new SurveyBaselines(cells.Average(c => c.Uniform), prior.Count > 0 ? prior.Average() : double.NaN,
            opposite?.ToString(), opposite is not null && opp.Count > 0 ? opp.Average() : null);
    }

    private static ulong DeterministicSeed(ulong seed, ulong salt) => DeterministicRng.Mix(seed, salt);

    private sealed record Cell(string Qkey, SurveyGroup Group, double Distance, double Uniform, double Prior, double? Opposing, double RealRefusal, double? PredictedRefusal,
        IReadOnlyList<double> Predicted);
}
