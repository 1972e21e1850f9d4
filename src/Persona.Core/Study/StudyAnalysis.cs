using Persona.Statistics;

namespace Persona.Study;

public sealed record AnalysisOptions
{
    /// <summary>Votes needed for a human label; null: the original's 3 of 4, scaled (ceil(3/4 of the raters)).</summary>
    public int? MajorityVotes { get; init; }
    /// <summary>Persona attributes to report groups by ("age" is banded).</summary>
    public IReadOnlyList<string> GroupBy { get; init; } = ["sex", "age"];
    public int Resamples { get; init; } = 1000;
    public ulong Seed { get; init; } = 1;
    public double Level { get; init; } = 0.95;
    /// <summary>Per-persona and per-group results; the dashboard leaves them out to stay quick.</summary>
    public bool Breakdowns { get; init; } = true;
}

/// <summary>A statistic with its interval, the method of the interval and the number of units; Undefined says why there is no value.</summary>
public sealed record Estimate(double? Value, double? Lower, double? Upper, string? Method, int N, string? Undefined = null)
{
    public static Estimate None(int n, string reason) => new(null, null, null, null, n, reason);
}

public sealed record HumanAgreement(Estimate FleissKappa, Estimate KrippendorffAlpha, int Items, int RatersPerItem);

public sealed record ModelAgreement(
    string Model, Estimate KappaVsHumans, Estimate KappaPersonalisedFirst, Estimate KappaGenericFirst,
    Estimate FlipRate, Estimate ChoosesPersonalised, Estimate AccuracyVsHumans, int Units, int Unparsed,
    /// <summary>Rows: human majority (personalised, generic); columns: the model's choice (personalised, generic); units are (item, order).</summary>
    int[][] Confusion);

public sealed record ModelPairAgreement(string A, string B, Estimate Kappa);

public sealed record SubsetResult(string Name, int Personas, int Items, int LabelledItems, HumanAgreement Humans, IReadOnlyDictionary<string, Estimate> KappaVsHumans);

/// <summary>Sessions: completed ones and those closed by a failed check (which leave the statistics automatically).</summary>
public sealed record AttentionSummary(int Sessions, int Checks, int Passed, int SessionsFailingAny);

/// <summary>
/// <see cref="Quality"/>: careless-rater flags, exclusions and expired places. <see cref="WithoutFlagged"/>: the same
/// analysis (no breakdowns) with the flagged raters' answers left out, so a reader sees whether they move the result.
/// </summary>
public sealed record StudyAnalysisResult(
    int Personas, int CompletePersonas, int RatersPerPersona, int MajorityVotes, int Items, int FullyRatedItems, int LabelledItems, int NoMajorityItems,
    Estimate HumansChoosePersonalised, HumanAgreement Humans, IReadOnlyList<ModelAgreement> Models, IReadOnlyList<ModelPairAgreement> ModelPairs,
    IReadOnlyList<SubsetResult> PerPersona, IReadOnlyList<SubsetResult> PerGroup, AttentionSummary Attention, double Level, int Resamples, ulong Seed,
    QualityReport? Quality = null, IReadOnlyList<long>? ExcludedSessions = null, StudyAnalysisResult? WithoutFlagged = null);

/// <summary>
/// Human-vs-LM agreement of a study, with the statistics of Persona.Statistics: the human label of an
/// item is its majority of k (only items rated by all raters of the persona); Fleiss' kappa and
/// Krippendorff's alpha (nominal) among humans; Cohen's kappa of each model against the human
/// label and between models. Models judge each item in both answer orders; both orders are units
/// of the pooled kappa, whose interval resamples items (so the two orders of an item stay together).
/// </summary>
public static class StudyAnalysis
{
    private sealed record Unit(long ItemId, string PersonaId, bool PersonalisedFirst, string Choice);

    /// <summary>
    /// The analysis of every completed rater (failed attention checks are already out: their places were
    /// closed), with the quality report, and again without the raters the careless-rater flags name.
    /// Without them a persona that lost a rater has its items rated by fewer than all its raters, so those
    /// items leave the labelled set, as the items of an unfinished persona do.
    /// </summary>
    public static StudyAnalysisResult Analyze(StudyDatabase db, AnalysisOptions? options = null, QualityThresholds? thresholds = null)
    {
        options ??= new AnalysisOptions();
        var quality = StudyQuality.Assess(db, thresholds);
        var all = Core(db, options, null);
        var flagged = quality.Raters.Where(r => r.Flags.Count > 0 && r.State == "completed").Select(r => r.SessionId).Order().ToList();
        var without = Core(db, options with { Breakdowns = false }, flagged.ToHashSet()) with { ExcludedSessions = flagged };
        return all with { Quality = quality, WithoutFlagged = without };
    }

    private static StudyAnalysisResult Core(StudyDatabase db, AnalysisOptions options, IReadOnlySet<long>? exclude)
    {
        var raters = db.Options.RatersPerPersona;
        var votes = options.MajorityVotes ?? (int)Math.Ceiling(raters * 0.75);
        if (votes < 1 || votes > raters) throw new PersonaException($"--majority must be between 1 and the raters per persona ({raters}); got {votes}.");
        var ratings = StudyLabels.Human(db, excludeSessions: exclude);
        var full = ratings.Where(r => r.Choices.Count == raters).ToList();
        var human = new Dictionary<long, string>();
        foreach (var r in full)
            if (Majority.Of(r.Choices, votes) is { HasMajority: true } m) human[r.ItemId] = m.Label!;
        var personas = db.Personas();
        var judgments = db.Judgments();
        var models = judgments.Select(j => j.Model).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var personaOf = ratings.ToDictionary(r => r.ItemId, r => r.PersonaId);
        var units = models.ToDictionary(m => m, m => judgments
            .Where(j => j.Model == m && j.Choice is not null && personaOf.ContainsKey(j.ItemId))
            .Select(j => new Unit(j.ItemId, personaOf[j.ItemId], j.PersonalisedFirst, j.Choice!)).ToList(), StringComparer.Ordinal);

        var modelResults = models.Select(m => ModelResult(m, units[m], judgments.Count(j => j.Model == m && j.Choice is null), human, options)).ToList();
        var pairs = new List<ModelPairAgreement>();
        for (var a = 0; a < models.Count; a++)
            for (var b = a + 1; b < models.Count; b++)
                pairs.Add(new ModelPairAgreement(models[a], models[b], ModelVsModel(units[models[a]], units[models[b]], options)));

        SubsetResult Subset(string name, IReadOnlyCollection<string> personaIds)
        {
            var set = personaIds.ToHashSet(StringComparer.Ordinal);
            var items = full.Where(r => set.Contains(r.PersonaId)).ToList();
            return new SubsetResult(name, set.Count, ratings.Count(r => set.Contains(r.PersonaId)), items.Count(r => human.ContainsKey(r.ItemId)),
                Humans(items, raters, options),
                models.ToDictionary(m => m, m => KappaVsHumans(units[m].Where(u => set.Contains(u.PersonaId)).ToList(), human, options), StringComparer.Ordinal));
        }

        var personaIds = personas.Keys.ToList();
        var perPersona = options.Breakdowns ? personaIds.Select(p => Subset(p, [p])).ToList() : [];
        var perGroup = new List<SubsetResult>();
        foreach (var key in options.Breakdowns ? options.GroupBy : [])
            foreach (var g in personaIds.GroupBy(p => GroupValue(personas[p], key)).OrderBy(g => g.Key, StringComparer.Ordinal))
                perGroup.Add(Subset($"{key}={g.Key}", g.ToList()));

        var sessions = db.SessionProgress().Where(s => (s.State == "completed" || s.EndReason == EndReasons.AttentionFailed) && (exclude is null || !exclude.Contains(s.SessionId))).ToList();
        var attention = new AttentionSummary(sessions.Count, sessions.Sum(s => s.AttentionTotal), sessions.Sum(s => s.AttentionPassed),
            sessions.Count(s => s.AttentionPassed < s.AttentionTotal));
        var personalisedWins = human.Values.Count(v => v == StudyLabels.Personalised);
        var completePersonas = full.GroupBy(r => r.PersonaId).Count(g => g.Count() == ratings.Count(r => r.PersonaId == g.Key));
        return new StudyAnalysisResult(
            personaIds.Count, completePersonas, raters, votes, ratings.Count, full.Count, human.Count, full.Count - human.Count,
            Proportion(personalisedWins, human.Count, options), Humans(full, raters, options), modelResults, pairs, perPersona, perGroup,
            attention, options.Level, options.Resamples, options.Seed);
    }

    /// <summary>The value of a persona attribute for grouping, from its stored attributes; ages fall into the census bands.</summary>
    public static string GroupValue(StudyPersona persona, string key)
    {
        var value = persona.Attributes is { } typed ? typed.FirstOrDefault(kv => string.Equals(kv.Key, key, StringComparison.OrdinalIgnoreCase)).Value
            // Foreign format: a study stored before attributes were (schema 2), or made from unparsable release text, has only the `persona` text.
            : StudyInputs.Attributes(persona.Text).FirstOrDefault(kv => string.Equals(kv.Key, key, StringComparison.OrdinalIgnoreCase)).Value;
        if (value is null) return Bands.NotInUniverse;
        if (key.Equals("age", StringComparison.OrdinalIgnoreCase) && int.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var age) && age >= 0)
            return Bands.Age(age);
        return value;
    }

    private static HumanAgreement Humans(IReadOnlyList<ItemRatings> items, int raters, AnalysisOptions o)
    {
        Estimate fleiss, alpha;
        var labels = items.Select(i => i.Choices).ToList();
        try
        {
            var f = Agreement.Fleiss(labels, StudyLabels.Categories);
            Estimate withInterval;
            try
            {
                var boot = Bootstrap.Percentile(labels, s => Agreement.Fleiss(s, StudyLabels.Categories).Kappa, o.Resamples, o.Seed, o.Level);
                withInterval = new Estimate(f.Kappa, boot.Interval.Lower, boot.Interval.Upper, "item bootstrap (percentile)", items.Count);
            }
            catch (Exception ex) when (ex is UndefinedStatisticException or ArgumentException)
            {
                // A resample without variation has no kappa; fall back to the null-hypothesis standard error.
                var z = Stat.Z(o.Level);
                withInterval = new Estimate(f.Kappa, f.Kappa - z * f.StandardErrorUnderNull, f.Kappa + z * f.StandardErrorUnderNull, "Wald with the standard error under no agreement", items.Count);
            }
            fleiss = withInterval;
        }
        catch (UndefinedStatisticException ex) { fleiss = Estimate.None(items.Count, ex.Reason); }
        try
        {
            var data = ReliabilityData.FromLabels(labels, MeasurementLevel.Nominal, raters: raters);
            var a = Krippendorff.Alpha(data);
            try
            {
                var boot = Krippendorff.HayesKrippendorffBootstrap(data, o.Resamples, o.Seed, o.Level);
                alpha = new Estimate(a.Alpha, boot.Interval.Lower, boot.Interval.Upper, "Hayes-Krippendorff bootstrap", items.Count);
            }
            catch (UndefinedStatisticException) { alpha = new Estimate(a.Alpha, null, null, null, items.Count, "no bootstrap interval"); }
        }
        catch (UndefinedStatisticException ex) { alpha = Estimate.None(items.Count, ex.Reason); }
        return new HumanAgreement(fleiss, alpha, items.Count, raters);
    }

    private static ModelAgreement ModelResult(string model, List<Unit> units, int unparsed, IReadOnlyDictionary<long, string> human, AnalysisOptions o)
    {
        var labelled = units.Where(u => human.ContainsKey(u.ItemId)).ToList();
        var confusion = new[] { new int[2], new int[2] };
        foreach (var u in labelled)
            confusion[human[u.ItemId] == StudyLabels.Personalised ? 0 : 1][u.Choice == StudyLabels.Personalised ? 0 : 1]++;
        var byItem = units.GroupBy(u => u.ItemId).Where(g => g.Select(u => u.PersonalisedFirst).Distinct().Count() == 2).ToList();
        var flips = byItem.Count(g => g.Select(u => u.Choice).Distinct().Count() > 1);
        return new ModelAgreement(model,
            KappaVsHumans(units, human, o),
            KappaVsHumans(units.Where(u => u.PersonalisedFirst).ToList(), human, o),
            KappaVsHumans(units.Where(u => !u.PersonalisedFirst).ToList(), human, o),
            Proportion(flips, byItem.Count, o),
            Proportion(units.Count(u => u.Choice == StudyLabels.Personalised), units.Count, o),
            Proportion(labelled.Count(u => u.Choice == human[u.ItemId]), labelled.Count, o),
            labelled.Count, unparsed, confusion);
    }

    private static Estimate KappaVsHumans(List<Unit> units, IReadOnlyDictionary<long, string> human, AnalysisOptions o)
    {
        var labelled = units.Where(u => human.ContainsKey(u.ItemId)).ToList();
        return ClusteredKappa(labelled.GroupBy(u => u.ItemId).Select(g => g.Select(u => (human[u.ItemId], u.Choice)).ToList()).ToList(), o);
    }

    private static Estimate ModelVsModel(List<Unit> a, List<Unit> b, AnalysisOptions o)
    {
        var other = b.ToDictionary(u => (u.ItemId, u.PersonalisedFirst), u => u.Choice);
        var matched = a.Where(u => other.ContainsKey((u.ItemId, u.PersonalisedFirst)))
            .GroupBy(u => u.ItemId).Select(g => g.Select(u => (u.Choice, other[(u.ItemId, u.PersonalisedFirst)])).ToList()).ToList();
        return ClusteredKappa(matched, o);
    }

    /// <summary>Cohen's kappa over paired labels grouped by item; the interval resamples items, else (a resample without variation) the Wald interval.</summary>
    private static Estimate ClusteredKappa(IReadOnlyList<List<(string A, string B)>> clusters, AnalysisOptions o)
    {
        var n = clusters.Sum(c => c.Count);
        if (n == 0) return Estimate.None(0, "no units");
        CohensKappaResult Kappa(IReadOnlyList<List<(string A, string B)>> cs) =>
            Agreement.CohensKappa(cs.SelectMany(c => c.Select(p => p.A)).ToList(), cs.SelectMany(c => c.Select(p => p.B)).ToList(), categories: StudyLabels.Categories, level: o.Level);
        CohensKappaResult k;
        try { k = Kappa(clusters); }
        catch (UndefinedStatisticException ex) { return Estimate.None(n, ex.Reason); }
        try
        {
            var boot = Bootstrap.Percentile(clusters, cs => Kappa(cs).Kappa, o.Resamples, o.Seed, o.Level);
            return new Estimate(k.Kappa, boot.Interval.Lower, boot.Interval.Upper, "item bootstrap (percentile)", n);
        }
        catch (Exception ex) when (ex is UndefinedStatisticException or ArgumentException)
        {
            return new Estimate(k.Kappa, k.Interval.Lower, k.Interval.Upper, "Wald (units treated as independent)", n);
        }
    }

    private static Estimate Proportion(int successes, int n, AnalysisOptions o)
    {
        if (n == 0) return Estimate.None(0, "no units");
        var ci = Statistics.Proportion.Wilson(successes, n, o.Level);
        return new Estimate((double)successes / n, ci.Lower, ci.Upper, "Wilson", n);
    }
}
