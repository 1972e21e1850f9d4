using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Persona.Prompts;
using Persona.Statistics;

namespace Persona.Rewards;

/// <summary>Options of `persona rm train` and the rm stage.</summary>
public sealed record RmOptions
{
    public HoldoutOptions Holdout { get; init; } = new();
    public RmTrainOptions Train { get; init; } = new();
    public string Features { get; init; } = FeaturiserSpec.Lexical;
    public int Dimensions { get; init; } = 1 << 14;
    public int Resamples { get; init; } = 1000;
    /// <summary>Unit-length TF-IDF vectors (see <see cref="FeaturiserSpec.L2"/>).</summary>
    public bool L2 { get; init; } = true;
    /// <summary>Features in fewer training texts than this are dropped.</summary>
    public int MinDf { get; init; } = 1;
    /// <summary>Where featurised texts are cached (null: DIR/features-cache).</summary>
    public string? CacheDirectory { get; init; }
    public static readonly IReadOnlyList<int> CurveK = [0, 1, 2, 5, 10, 20, 50, 100];
    public static readonly IReadOnlyList<string> AllModels = [GlobalBt.ModelName, PerPersona.ModelName, Conditioned.ModelName, IdealPoints.ModelName];
    /// <summary>Which models to train (the global one always: the others start from it and the majority tax is measured against it).</summary>
    public IReadOnlyList<string> Models { get; init; } = AllModels;
    /// <summary>Set when the personas given are a sample of a larger population (see <see cref="RmPersonaSample"/>): recorded in the results.</summary>
    public RmSampleInfo? Sample { get; init; }
}

public sealed record RmInterval(double Lower, double Upper);
public sealed record RmAccuracy(double Accuracy, RmInterval Interval, int N);
public sealed record RmCurvePoint(int K, double Accuracy, RmInterval Interval, int N);
public sealed record RmGroup(string Attribute, string Group, double Accuracy, RmInterval Interval, int N, int Personas)
{
    /// <summary>This model's accuracy minus the global model's on the same pairs, with a paired interval (set for the personalised models).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public RmDifference? VsGlobal { get; init; }
}

/// <summary>A difference of census-weighted accuracies on the same pairs; the interval resamples personas with both models' verdicts together, so it is far tighter than two separate intervals.</summary>
public sealed record RmDifference(double Difference, RmInterval Interval);
public sealed record RmModelResult(string Name, string Description, RmAccuracy Seen, IReadOnlyList<RmCurvePoint> UnseenCurve, IReadOnlyList<RmGroup> Groups,
    RmGroup? WorstGroup)
{
    /// <summary>Set on the judge's reference row only (what it judged, how its orders agreed).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public RmJudgeStats? Judge { get; init; }

    /// <summary>Accuracy per group on unseen personas with no pair of theirs (k = 0): what a model infers of a new person from who they are.</summary>
    public IReadOnlyList<RmGroup> UnseenGroups { get; init; } = [];
}
public sealed record RmTax(string Attribute, string Group, double Global, double Personalised, string Model, double Tax)
{
    /// <summary>The paired interval of <see cref="Tax"/> (see <see cref="RmDifference"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public RmInterval? Interval { get; init; }
}
public sealed record RmResults(bool Simulated, string Features, string Split, int SeenPersonas, int UnseenPersonas, int TrainPairs, int SeenTestPairs,
    int UnseenEvalPairs, IReadOnlyList<RmModelResult> Models, IReadOnlyList<RmTax> MajorityTax)
{
    // Timings and cache counts are this process's, not results: kept out of rm-results.json so two identical runs (or a resumed one) write the same bytes.
    /// <summary>Set when the models were fitted and scored on a sample of the population's personas (the rm stage's --rm-personas cap).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public RmSampleInfo? PersonaSample { get; init; }
    [System.Text.Json.Serialization.JsonIgnore] public int TextsFeaturised { get; init; }
    [System.Text.Json.Serialization.JsonIgnore] public int CacheHits { get; init; }
    [System.Text.Json.Serialization.JsonIgnore] public double FeaturiseSeconds { get; init; }
    [System.Text.Json.Serialization.JsonIgnore] public IReadOnlyDictionary<string, double> TrainSeconds { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// The reward-model track: the canonical persona split, features computed once, the four models
/// trained on seen personas' train pairs, and their evaluation: accuracy on seen personas' test pairs,
/// the few-shot curve on unseen personas (k adaptation pairs, k = 0, 1, 2, 5, 10, 20, 50, 100 as the
/// pools allow), census-weighted per group with persona-clustered bootstrap intervals, the worst
/// group and the majority tax (what the global model loses against the best personalised one per group).
/// </summary>
public static class RmTrack
{
    public const string ResultsFile = "rm-results.json", ModelsFolder = "models", ModelFile = "model.json", ModelFormat = "persona-rm-model/1", FiguresFolder = "figures";
    public const int MinGroupPersonas = 2;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static async Task<RmResults> RunAsync(IReadOnlyList<RmPersonaInfo> personas, IReadOnlyList<RmPair> pairs, bool simulated, string outDir,
        RmOptions o, ITextEmbedder? embedder, Action<string>? progress, CancellationToken ct, RmJudge? judge = null)
    {
        o.Train.Validate();
        if (pairs.Count == 0) throw new PersonaException("no pairs to train on.");
        var inPairs = pairs.Select(p => p.PersonaId).ToHashSet(StringComparer.Ordinal);
        var byId = personas.ToDictionary(p => p.Id, StringComparer.Ordinal);
        var missing = pairs.FirstOrDefault(p => !byId.ContainsKey(p.PersonaId));
        if (missing is not null) throw new PersonaException($"pair '{missing.PairId}' is of persona '{missing.PersonaId}', which is not in the population: give the population the pairs were built from.");
        personas = [.. personas.Where(p => inPairs.Contains(p.Id))];
        var holdout = PersonaHoldout.Create(personas.Select(p => (p.Id, p.Attributes)),
            pairs.Select(p => (p.PairId, p.PersonaId, p.Split)), o.Holdout);
        var labelled = pairs.Where(p => p.Label != 0).ToList();

        // ---- features, once ----
        progress?.Invoke("features");
        var sw = Stopwatch.StartNew();
        var store = new FeatureStore(o.Features, o.CacheDirectory ?? Path.Combine(outDir, "features-cache"), o.Dimensions, 2, embedder);
        await store.AddAsync(labelled.SelectMany(p => new[] { p.A, p.B }).Concat(personas.Select(p => p.Text)), ct).ConfigureAwait(false);
        var trainPairs = labelled.Where(p => holdout.RoleOf(p.PairId).Role == RmRole.SeenTrain).ToList();
        var spec = store.Spec(store.FitIdf(trainPairs.SelectMany(p => new[] { p.A, p.B }), o.MinDf), o.L2);
        var dim = spec.Kind == FeaturiserSpec.Lexical ? spec.Dimensions : store.Raw(labelled[0].A).Index.Length;
        var personaFeatures = personas.ToDictionary(p => p.Id, p => PersonaFeatures(p.Attributes, FeatureStore.Weigh(store.Raw(p.Text), spec), dim), StringComparer.Ordinal);
        RmExample Example(RmPair p) => new(p.PersonaId, SparseVector.Difference(FeatureStore.Weigh(store.Raw(p.A), spec), FeatureStore.Weigh(store.Raw(p.B), spec)), p.Label);
        var examples = labelled.ToDictionary(p => p.PairId, Example, StringComparer.Ordinal);
        store.Unload();
        var featureSeconds = sw.Elapsed.TotalSeconds;

        var train = trainPairs.Select(p => examples[p.PairId]).ToList();
        if (train.Count == 0) throw new PersonaException("no seen persona has a labelled train pair (a pair the judge preferred one way in both orders): verify pairs when building them.");
        var seenTest = labelled.Where(p => holdout.RoleOf(p.PairId).Role == RmRole.SeenTest).ToList();
        var unseenIds = holdout.Unseen.Order(StringComparer.Ordinal).ToList();
        var pools = unseenIds.ToDictionary(id => id, id => labelled.Where(p => p.PersonaId == id && holdout.RoleOf(p.PairId).Role == RmRole.UnseenAdapt)
            .OrderBy(p => holdout.RoleOf(p.PairId).Order).Select(p => examples[p.PairId]).ToList(), StringComparer.Ordinal);
        var evals = unseenIds.ToDictionary(id => id, id => labelled.Where(p => p.PersonaId == id && holdout.RoleOf(p.PairId).Role == RmRole.UnseenEval).ToList(), StringComparer.Ordinal);
        var maxK = pools.Count == 0 ? -1 : pools.Values.Min(p => p.Count);
        var ks = RmOptions.CurveK.Where(k => k <= maxK).ToList();

        // ---- models ----
        var t = o.Train;
        var models = new List<(RewardModel Model, double Seconds)>();
        sw.Restart();
        progress?.Invoke("global");
        var global = new GlobalBt { W = GlobalBt.Fit(train, dim, t.Lambda, t.MaxIterations, ct), Featuriser = spec, Settings = t, Dim = dim };
        models.Add((global, sw.Elapsed.TotalSeconds));
        foreach (var name in o.Models)
            if (!RmOptions.AllModels.Contains(name)) throw new PersonaException($"--models: '{name}' is not a model; expected some of {string.Join(", ", RmOptions.AllModels)}.");
        bool Wanted(string name) => o.Models.Contains(name);
        sw.Restart();
        progress?.Invoke("per_persona");
        var offsets = train.GroupBy(e => e.PersonaId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => PerPersona.FitOffset(global.W, g.ToList(), t.Shrink, t.MaxIterations, ct), StringComparer.Ordinal);
        if (Wanted(PerPersona.ModelName)) models.Add((new PerPersona { Global = global.W, Offsets = offsets, Featuriser = spec, Settings = t, Dim = dim }, sw.Elapsed.TotalSeconds));
        if (Wanted(Conditioned.ModelName))
        {
            sw.Restart();
            progress?.Invoke("conditioned");
            var personaDim = dim + AttributeSlots;
            var (cw, cu, cv) = Conditioned.Fit(train, personaFeatures, global.W, offsets, dim, personaDim, t, ct);
            models.Add((new Conditioned { W = cw, U = cu, V = cv, PersonaDim = personaDim, Featuriser = spec, Settings = t, Dim = dim }, sw.Elapsed.TotalSeconds));
        }
        if (Wanted(IdealPoints.ModelName))
        {
            sw.Restart();
            progress?.Invoke("pal_mixture");
            var (protos, mixtures, mean) = IdealPoints.Fit(train, global.W, offsets, dim, t, ct);
            models.Add((new IdealPoints { Prototypes = protos, Mixtures = mixtures, MeanLogits = mean, Featuriser = spec, Settings = t, Dim = dim }, sw.Elapsed.TotalSeconds));
        }

        // ---- evaluation ----
        progress?.Invoke("evaluation");
        var results = new List<RmModelResult>();
        var seed = unchecked((ulong)o.Holdout.Seed);
        List<(string PersonaId, bool Correct)>? globalSeen = null, globalUnseen = null; // the first model is the global one
        foreach (var (model, seconds) in models)
        {
            var seenScored = seenTest.Select(p => (p.PersonaId, Correct: Correct(model.Margin(p.PersonaId, personaFeatures[p.PersonaId], examples[p.PairId].D), p.Label))).ToList();
            var seen = Weighted(seenScored, byId, o.Resamples, seed);
            var curve = new List<RmCurvePoint>();
            List<RmGroup> unseenGroups = [];
            foreach (var k in ks)
            {
                var scored = new List<(string PersonaId, bool Correct)>();
                foreach (var id in unseenIds)
                {
                    ct.ThrowIfCancellationRequested();
                    var scorer = model.Adapt(personaFeatures[id], pools[id].Take(k).ToList());
                    scored.AddRange(evals[id].Select(p => (id, Correct(scorer(examples[p.PairId].D), p.Label))));
                }
                var a = Weighted(scored, byId, o.Resamples, seed);
                curve.Add(new RmCurvePoint(k, a.Accuracy, a.Interval, a.N));
                if (k == 0)
                {
                    unseenGroups = Groups([.. scored.Select(x => (x.PersonaId, x.Correct ? 1.0 : 0.0))], byId, o.Resamples, seed);
                    if (globalUnseen is null) globalUnseen = scored;
                    else unseenGroups = PairedWithGlobal(unseenGroups, scored, globalUnseen, byId, o.Resamples, seed);
                }
            }
            var groups = Groups(seenScored.Select(s => (s.PersonaId, s.Correct ? 1.0 : 0.0)).ToList(), byId, o.Resamples, seed);
            if (globalSeen is null) globalSeen = seenScored;
            else groups = PairedWithGlobal(groups, seenScored, globalSeen, byId, o.Resamples, seed);
            results.Add(new RmModelResult(model.Name, model.Description, seen, curve, groups, Worst(groups)) { UnseenGroups = unseenGroups });
        }
        var tax = new List<RmTax>();
        foreach (var g in results.Count < 2 ? Enumerable.Empty<RmGroup>() : results[0].Groups)
        {
            var best = results.Skip(1).Select(r => (r.Name, G: r.Groups.First(x => x.Attribute == g.Attribute && x.Group == g.Group)))
                .OrderByDescending(x => x.G.Accuracy).First();
            tax.Add(new RmTax(g.Attribute, g.Group, g.Accuracy, best.G.Accuracy, best.Name, best.G.Accuracy - g.Accuracy) { Interval = best.G.VsGlobal?.Interval });
        }

        // ---- the judge, a reference generative reward model (after the tax: it is not one of the personalised models trained here) ----
        if (judge is not null)
        {
            progress?.Invoke("judge");
            var (seenJudged, unseenJudged) = JudgeRm.Select(holdout, labelled, judge.PairsPerPersona, o.Holdout.Seed);
            var attrs = personas.ToDictionary(p => p.Id, p => p.Attributes, StringComparer.Ordinal);
            var (credit, inconsistent, failed) = await JudgeRm.RunAsync(judge, [.. seenJudged, .. unseenJudged], attrs, ct).ConfigureAwait(false);
            List<(string PersonaId, double Credit)> Rows(IEnumerable<RmPair> ps) => [.. ps.Where(p => credit.ContainsKey(p.PairId)).Select(p => (p.PersonaId, credit[p.PairId]))];
            var seenRows = Rows(seenJudged);
            var unseenRows = Rows(unseenJudged);
            var unseenAcc = Weighted(unseenRows, byId, o.Resamples, seed);
            var groups = Groups(seenRows, byId, o.Resamples, seed);
            results.Add(new RmModelResult(JudgeRm.ModelName, "the judge role as a generative reward model (role-play choice in both orders; order-inconsistent verdicts count half)",
                Weighted(seenRows, byId, o.Resamples, seed), [.. ks.Select(k => new RmCurvePoint(k, unseenAcc.Accuracy, unseenAcc.Interval, unseenAcc.N))], groups, Worst(groups))
            {
                Judge = new RmJudgeStats(judge.Runtime.Role(judge.Role).Identity.Identity, credit.Count, inconsistent, failed),
                UnseenGroups = Groups(unseenRows, byId, o.Resamples, seed),
            });
        }

        // ---- outputs ----
        Directory.CreateDirectory(outDir);
        foreach (var (model, _) in models) Save(model, Path.Combine(outDir, ModelsFolder, model.Name));
        var res = new RmResults(simulated, o.Features, holdout.Options.Describe(), personas.Count - unseenIds.Count, unseenIds.Count, train.Count, seenTest.Count,
            evals.Values.Sum(e => e.Count), results, tax)
        {
            PersonaSample = o.Sample,
            TextsFeaturised = store.Computed, CacheHits = store.CacheHits, FeaturiseSeconds = Math.Round(featureSeconds, 3),
            TrainSeconds = models.ToDictionary(m => m.Model.Name, m => Math.Round(m.Seconds, 3), StringComparer.Ordinal),
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, ResultsFile), JsonSerializer.Serialize(res, Json));
        RmPlots.UnseenCurve(res, Path.Combine(outDir, FiguresFolder));
        RmPlots.Groups(res, Path.Combine(outDir, FiguresFolder));
        return res;
    }

    /// <summary>Slots for the persona's attributes one-hot, after the text features.</summary>
    public const int AttributeSlots = 1024;

    /// <summary>A persona's features: its text through the featuriser, then one slot per (attribute, group).</summary>
    public static SparseVector PersonaFeatures(IReadOnlyDictionary<string, string> attributes, SparseVector text, int dim)
    {
        var slots = PersonaGroups.Of(attributes).Select(g => dim + FeatureStore.AttributeIndex(g.Attribute, g.Group, AttributeSlots)).Distinct().Order().ToArray();
        return SparseVector.Sum(text, new SparseVector(slots, [.. slots.Select(_ => 1f)]));
    }

    private static bool Correct(double margin, int label) => margin > 0 ? label > 0 : margin < 0 ? label < 0 : false;

    /// <summary>Accuracy per (attribute, group) of the personas scored.</summary>
    private static List<RmGroup> Groups(IReadOnlyList<(string PersonaId, double Credit)> scored, IReadOnlyDictionary<string, RmPersonaInfo> byId, int resamples, ulong seed)
    {
        var groups = new List<RmGroup>();
        foreach (var g in scored.SelectMany(s => PersonaGroups.Of(byId[s.PersonaId].Attributes).Select(grp => (grp, s))).GroupBy(x => x.grp)
                     .OrderBy(g => g.Key.Attribute, StringComparer.Ordinal).ThenBy(g => g.Key.Group, StringComparer.Ordinal))
        {
            var rows = g.Select(x => x.s).ToList();
            var a = Weighted(rows, byId, resamples, seed);
            groups.Add(new RmGroup(g.Key.Attribute, g.Key.Group, a.Accuracy, a.Interval, a.N, rows.Select(r => r.PersonaId).Distinct().Count()));
        }
        return groups;
    }

    /// <summary>Each group's accuracy minus the global model's on the same pairs (same order: seen test pairs, or unseen personas' evaluation pairs at k = 0), with a persona-clustered paired bootstrap.</summary>
    private static List<RmGroup> PairedWithGlobal(List<RmGroup> groups, IReadOnlyList<(string PersonaId, bool Correct)> mine, IReadOnlyList<(string PersonaId, bool Correct)> global,
        IReadOnlyDictionary<string, RmPersonaInfo> byId, int resamples, ulong seed)
    {
        var perPersona = mine.Select((m, i) => (m.PersonaId, Diff: (m.Correct ? 1.0 : 0.0) - (global[i].Correct ? 1.0 : 0.0)))
            .GroupBy(x => x.PersonaId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Id: g.Key, Cluster: (Hits: byId[g.Key].Weight * g.Sum(x => x.Diff), Weight: byId[g.Key].Weight * g.Count()))).ToList();
        // Each persona's groups once, not once per group asked about.
        var members = perPersona.SelectMany(p => PersonaGroups.Of(byId[p.Id].Attributes).Select(g => (g.Attribute, g.Group, p.Cluster)))
            .ToLookup(x => (x.Attribute, x.Group), x => x.Cluster);
        return groups.Select(g =>
        {
            var clusters = members[(g.Attribute, g.Group)].ToList();
            if (clusters.Count < 2) return g; // one persona: nothing to resample
            var b = Bootstrap.Percentile(clusters, Ratio, resamples, seed).Interval;
            return g with { VsGlobal = new RmDifference(Ratio(clusters), new RmInterval(b.Lower, b.Upper)) };
        }).ToList();
    }

    /// <summary>Weighted hits over weighted pairs of persona clusters (the statistic every accuracy and difference here resamples).</summary>
    private static double Ratio(IReadOnlyList<(double Hits, double Weight)> clusters)
    {
        double h = 0, w = 0;
        foreach (var x in clusters) { h += x.Hits; w += x.Weight; }
        return w > 0 ? h / w : double.NaN;
    }

    private static RmGroup? Worst(IEnumerable<RmGroup> groups) =>
        groups.Where(g => g.Personas >= MinGroupPersonas).OrderBy(g => g.Accuracy).ThenBy(g => g.Attribute, StringComparer.Ordinal).FirstOrDefault();

    /// <summary>Census-weighted accuracy (each pair weighs its persona's weight) with a bootstrap over personas (pairs of one persona are not independent).</summary>
    public static RmAccuracy Weighted(IReadOnlyList<(string PersonaId, bool Correct)> rows, IReadOnlyDictionary<string, RmPersonaInfo> personas, int resamples, ulong seed) =>
        Weighted([.. rows.Select(r => (r.PersonaId, r.Correct ? 1.0 : 0.0))], personas, resamples, seed);

    /// <summary>The same with a credit per pair in [0, 1] (the judge's order-inconsistent verdicts count 0.5).</summary>
    public static RmAccuracy Weighted(IReadOnlyList<(string PersonaId, double Credit)> rows, IReadOnlyDictionary<string, RmPersonaInfo> personas, int resamples, ulong seed)
    {
        if (rows.Count == 0) return new RmAccuracy(double.NaN, new RmInterval(double.NaN, double.NaN), 0);
        var clusters = rows.GroupBy(r => r.PersonaId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Hits: personas[g.Key].Weight * g.Sum(r => r.Credit), Weight: personas[g.Key].Weight * g.Count())).ToList();
        var estimate = Ratio(clusters);
        if (clusters.Count < 2)
        {
            // One persona: no persona-level resampling is possible; Wilson on its pairs.
            var wi = Proportion.Wilson((int)Math.Round(rows.Sum(r => r.Credit)), rows.Count);
            return new RmAccuracy(estimate, new RmInterval(wi.Lower, wi.Upper), rows.Count);
        }
        var b = Bootstrap.Percentile(clusters, Ratio, resamples, seed);
        return new RmAccuracy(estimate, new RmInterval(b.Interval.Lower, b.Interval.Upper), rows.Count);
    }

    // ---- saving, loading, scoring ----

    public static void Save(RewardModel m, string dir)
    {
        Directory.CreateDirectory(dir);
        var s = m.Settings;
        AtomicFile.Write(Path.Combine(dir, ModelFile), tmp =>
        {
            using var stream = File.Create(tmp);
            using var w = new Utf8JsonWriter(stream);
            w.WriteStartObject();
            w.WriteString("format", ModelFormat);
            w.WriteString("name", m.Name);
            w.WriteString("description", m.Description);
            w.WriteNumber("dim", m.Dim);
            w.WriteStartObject("settings");
            w.WriteNumber("seed", s.Seed);
            w.WriteNumber("lambda", s.Lambda);
            w.WriteNumber("shrink", s.Shrink);
            w.WriteNumber("rank", s.Rank);
            w.WriteNumber("prototypes", s.Prototypes);
            w.WriteNumber("max_iterations", s.MaxIterations);
            w.WriteEndObject();
            w.WriteStartObject("featuriser");
            w.WriteString("kind", m.Featuriser.Kind);
            w.WriteNumber("dimensions", m.Featuriser.Dimensions);
            w.WriteNumber("ngrams", m.Featuriser.NGrams);
            w.WriteBoolean("l2", m.Featuriser.L2);
            if (m.Featuriser.Idf is null) w.WriteNull("idf");
            else RewardModel.WriteArray(w, "idf", m.Featuriser.Idf);
            w.WriteEndObject();
            w.WritePropertyName("parameters");
            m.WriteParameters(w);
            w.WriteEndObject();
        });
    }

    public static RewardModel Load(string dir)
    {
        var file = Directory.Exists(dir) ? Path.Combine(dir, ModelFile) : dir;
        if (!File.Exists(file)) throw new PersonaException($"--model '{dir}': no {ModelFile} there; expected a folder under the {ModelsFolder}/ of a `persona rm train` output (e.g. OUT/{ModelsFolder}/{GlobalBt.ModelName}).");
        JsonDocument doc;
        // A document, not a node tree: a per-persona model's ~10 M numbers stay one buffer instead of an object each.
        try { using var stream = File.OpenRead(file); doc = JsonDocument.Parse(stream); }
        catch (JsonException ex) { throw new PersonaException($"{file}: not valid JSON ({JsonErrorText.Describe(ex)})."); }
        using var _ = doc;
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != ModelFormat)
            throw new PersonaException($"{file}: expected \"format\": \"{ModelFormat}\".");
        // Each read names the field's path, so a damaged or hand-edited model file says what to look at.
        PersonaException Bad(string path, string expected) =>
            new($"{file}: field \"{path}\" is missing or not {expected}; retrain with `persona rm train`.");
        JsonElement Get(JsonElement parent, string path)
        {
            var name = path[(path.LastIndexOf('.') + 1)..];
            return parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var v) ? v : throw Bad(path, "present");
        }
        JsonElement Obj(JsonElement parent, string path) => Get(parent, path) is { ValueKind: JsonValueKind.Object } v ? v : throw Bad(path, "an object");
        long Long(JsonElement parent, string path) => Get(parent, path) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt64(out var x) ? x : throw Bad(path, "an integer");
        int Int(JsonElement parent, string path) => Get(parent, path) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out var x) ? x : throw Bad(path, "an integer");
        double Num(JsonElement parent, string path) => Get(parent, path) is { ValueKind: JsonValueKind.Number } v && v.TryGetDouble(out var x) ? x : throw Bad(path, "a number");
        string Str(JsonElement parent, string path) => Get(parent, path) is { ValueKind: JsonValueKind.String } v ? v.GetString()! : throw Bad(path, "a string");
        double[] Numbers(JsonElement n, string path)
        {
            if (n.ValueKind != JsonValueKind.Array) throw Bad(path, "an array of numbers");
            var a = new double[n.GetArrayLength()];
            var i = 0;
            foreach (var x in n.EnumerateArray())
            {
                a[i] = x.ValueKind == JsonValueKind.Number && x.TryGetDouble(out var d) ? d : throw Bad($"{path}[{i}]", "a number");
                i++;
            }
            return a;
        }
        int[] Ints(JsonElement n, string path) =>
            [.. Numbers(n, path).Select((x, i) => x == Math.Round(x) && x is >= int.MinValue and <= int.MaxValue ? (int)x : throw Bad($"{path}[{i}]", "an integer"))];
        IEnumerable<JsonProperty> Members(JsonElement parent, string path) => Obj(parent, path).EnumerateObject();

        var st = Obj(root, "settings");
        var settings = new RmTrainOptions
        {
            Seed = Long(st, "settings.seed"), Lambda = Num(st, "settings.lambda"), Shrink = Num(st, "settings.shrink"),
            Rank = Int(st, "settings.rank"), Prototypes = Int(st, "settings.prototypes"), MaxIterations = Int(st, "settings.max_iterations"),
        };
        var f = Obj(root, "featuriser");
        var idf = f.TryGetProperty("idf", out var idfs) && idfs.ValueKind != JsonValueKind.Null ? Numbers(idfs, "featuriser.idf") : null;
        var l2 = !f.TryGetProperty("l2", out var l2Field) || (l2Field.ValueKind is JsonValueKind.True or JsonValueKind.False ? l2Field.GetBoolean() : throw Bad("featuriser.l2", "true or false"));
        var spec = new FeaturiserSpec(Str(f, "featuriser.kind"), Int(f, "featuriser.dimensions"), Int(f, "featuriser.ngrams"), idf, l2);
        var dim = Int(root, "dim");
        var p = Obj(root, "parameters");
        double[] Array(string name) => Numbers(Get(p, "parameters." + name), "parameters." + name);
        return Str(root, "name") switch
        {
            GlobalBt.ModelName => new GlobalBt { W = Array("w"), Featuriser = spec, Settings = settings, Dim = dim },
            PerPersona.ModelName => new PerPersona
            {
                Global = Array("global"), Featuriser = spec, Settings = settings, Dim = dim,
                Offsets = Members(p, "parameters.offsets").ToDictionary(kv => kv.Name, kv => new SparseVector(
                    Ints(Get(kv.Value, $"parameters.offsets.{kv.Name}.index"), $"parameters.offsets.{kv.Name}.index"),
                    [.. Numbers(Get(kv.Value, $"parameters.offsets.{kv.Name}.value"), $"parameters.offsets.{kv.Name}.value").Select(x => (float)x)]), StringComparer.Ordinal),
            },
            Conditioned.ModelName => new Conditioned
            {
                PersonaDim = Int(p, "parameters.persona_dim"), W = Array("w"), U = Array("u"), V = Array("v"),
                Featuriser = spec, Settings = settings, Dim = dim,
            },
            IdealPoints.ModelName => new IdealPoints
            {
                Prototypes = Array("prototypes"), MeanLogits = Array("mean_logits"),
                Mixtures = Members(p, "parameters.mixtures").ToDictionary(kv => kv.Name, kv => Numbers(kv.Value, $"parameters.mixtures.{kv.Name}"), StringComparer.Ordinal),
                Featuriser = spec, Settings = settings, Dim = dim,
            },
            var other => throw new PersonaException($"{file}: unknown model '{other}'; expected one of {GlobalBt.ModelName}, {PerPersona.ModelName}, {Conditioned.ModelName}, {IdealPoints.ModelName}."),
        };
    }

    public sealed record ScoredPair(string PairId, string PersonaId, double Margin, double PA, int Label, bool? Correct, bool KnownPersona);

    /// <summary>Scores pairs with a saved model: the probability the persona prefers A (the personalised answer), and whether that matches the label when there is one.</summary>
    /// <param name="personas">Each pair's persona, typed, by id (the population, or the pairs' own personas read once at the pairs file's boundary).</param>
    public static async Task<IReadOnlyList<ScoredPair>> ScoreAsync(RewardModel m, IReadOnlyList<RmPair> pairs, IReadOnlyList<RmPersonaInfo> personas, ITextEmbedder? embedder, CancellationToken ct)
    {
        var attributesOf = personas.ToDictionary(p => p.Id, p => p.Attributes, StringComparer.Ordinal);
        if (m.Featuriser.Kind == FeaturiserSpec.Embedding && embedder is null) throw new PersonaException("this model was trained on embedding features; the sentence-embedding model is needed to score with it.");
        var store = new FeatureStore(m.Featuriser.Kind, null, m.Featuriser.Kind == FeaturiserSpec.Lexical ? m.Featuriser.Dimensions : 1 << 16, m.Featuriser.NGrams, embedder);
        await store.AddAsync(pairs.SelectMany(p => new[] { p.A, p.B, p.PersonaText }), ct).ConfigureAwait(false);
        var known = m switch { PerPersona pp => pp.Offsets.Keys.ToHashSet(), IdealPoints ip => ip.Mixtures.Keys.ToHashSet(), _ => null };
        var list = new List<ScoredPair>();
        foreach (var p in pairs)
        {
            var attrs = attributesOf.TryGetValue(p.PersonaId, out var a) ? a
                : throw new PersonaException($"pair {p.PairId}: persona {p.PersonaId} is not in the population given; score pairs with the population they were built for.");
            var psi = PersonaFeatures(attrs, FeatureStore.Weigh(store.Raw(p.PersonaText), m.Featuriser), m.Dim);
            var d = SparseVector.Difference(FeatureStore.Weigh(store.Raw(p.A), m.Featuriser), FeatureStore.Weigh(store.Raw(p.B), m.Featuriser));
            var margin = m.Margin(p.PersonaId, psi, d);
            list.Add(new ScoredPair(p.PairId, p.PersonaId, margin, 1 / (1 + Math.Exp(-margin)), p.Label, p.Label == 0 ? null : Correct(margin, p.Label), known is null || known.Contains(p.PersonaId)));
        }
        return list;
    }

    public static string Format(double x) => x.ToString("0.000", CultureInfo.InvariantCulture);
}
