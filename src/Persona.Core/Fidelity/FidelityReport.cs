using Persona.Personas;
using System.Text.Json;
using System.Text.Json.Serialization;
using Persona.Statistics;

namespace Persona.Fidelity;

/// <summary>How the report treats attributes: numeric binning, plot size, Cramér's V variant.</summary>
public sealed record FidelityOptions
{
    /// <summary>
    /// Attributes whose raw values are numbers and must be binned before comparison (value as
    /// written, invariant culture, or null). Defaults: <c>age</c> in <see cref="Bands.AgeBands"/>,
    /// <c>income</c> in <see cref="Bands.IncomeBands"/>.
    /// </summary>
    public IReadOnlyDictionary<string, Func<string?, string>> Binners { get; init; } =
        new Dictionary<string, Func<string?, string>>(StringComparer.Ordinal)
        {
            ["age"] = Bands.AgeLabel,
            ["income"] = Bands.IncomeLabel,
        };

    /// <summary>Display order of binned categories (otherwise categories sort by census share).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> CategoryOrder { get; init; } =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
        {
            ["age"] = Bands.AgeBands,
            ["income"] = Bands.IncomeBands,
        };

    /// <summary>Categories shown per plot; the rest are pooled into "(other)". Statistics always use every category.</summary>
    public int PlotTopCategories { get; init; } = 15;

    /// <summary>Use Bergsma's bias-corrected Cramér's V (see <see cref="Association.CramersV(ContingencyTable, bool)"/>).</summary>
    public bool BiasCorrectedCramersV { get; init; }

    /// <summary>Random samples of the synthetic population's size simulated from the weighted census for the chance levels.</summary>
    public int ChanceReplicates { get; init; } = 200;

    /// <summary>Seeds the chance simulation (each statistic has its own stream derived from it).</summary>
    public long ChanceSeed { get; init; } = 14;

    /// <summary>
    /// Share of chance samples a statistic must leave behind to be flagged: a TVD above the
    /// simulated TVDs' <c>Level</c> quantile, a V gap outside their central <c>Level</c> interval.
    /// </summary>
    public double ChanceLevel { get; init; } = 0.95;
}

public sealed record CategoryShare(string Category, double Synthetic, double Census)
{
    public double Difference => Synthetic - Census;
}

/// <summary>
/// One attribute's marginal fidelity. <see cref="ExpectedSamplingTvd"/> is the TVD a simple random
/// sample of the synthetic population's size would show by chance alone (normal approximation),
/// <see cref="ChanceTvd"/> the <see cref="FidelityOptions.ChanceLevel"/> quantile of TVDs of
/// simulated random samples of that size from the weighted census; only a TVD beyond it is
/// <see cref="BeyondChance"/>.
/// </summary>
public sealed record AttributeFidelity(
    string Attribute,
    int Categories,
    double Tvd,
    double ExpectedSamplingTvd,
    double ChanceTvd,
    bool BeyondChance,
    CategoryShare? MostOverRepresented,
    CategoryShare? MostUnderRepresented,
    IReadOnlyList<CategoryShare> Shares);

/// <summary>
/// Association between two attributes; V is null when undefined (an attribute with one category).
/// <see cref="ChanceGapLow"/>..<see cref="ChanceGapHigh"/> is the central interval of the gaps
/// V(sample) - V(census) that simulated random samples of the synthetic population's size show
/// (small samples overstate association, so it need not contain 0), <see cref="ChanceGapMean"/>
/// their mean; only a gap outside the interval is <see cref="BeyondChance"/>.
/// </summary>
public sealed record PairFidelity(string First, string Second, double? SyntheticCramersV, double? CensusCramersV, double? Gap,
    double? ChanceGapMean, double? ChanceGapLow, double? ChanceGapHigh, bool BeyondChance);

public sealed record FidelitySummary(
    int Attributes,
    double MeanTvd,
    double MaxTvd,
    string? WorstAttribute,
    double MeanExpectedSamplingTvd,
    int Pairs,
    double? MeanAbsoluteCramersVGap,
    double? MaxAbsoluteCramersVGap,
    string? WorstPair,
    int AttributesBeyondChance,
    int PairsBeyondChance);

/// <summary>
/// How closely a synthetic population reproduces the census it was drawn from: per attribute the
/// total variation distance (TVD) between the synthetic shares and the census's weighted shares,
/// per attribute pair Cramér's V on both sides and the gap, each beside what a random sample of the
/// same size from the census would show (<see cref="Chance"/>). Missing values are the category
/// "(not in universe)" on both sides, so a field that is blanked or invented shows up.
/// </summary>
public sealed record FidelityReport(
    int SyntheticCount,
    int CensusCount,
    double CensusWeight,
    double CensusEffectiveSize,
    bool BiasCorrectedCramersV,
    IReadOnlyList<AttributeFidelity> Attributes,
    IReadOnlyList<PairFidelity> Pairs,
    FidelitySummary Summary,
    FidelityChance Chance)
{
    /// <summary>The census attributes of a persona record, as keyed in persona files (contract 2).</summary>
    public static readonly IReadOnlyList<string> DefaultAttributes =
    [
        "age", "sex", "race", "ancestry", "household_language", "education", "employment_status",
        "class_of_worker", "industry_category", "occupation_category", "income", "marital_status",
        "household_type", "family_presence_and_age", "place_of_birth", "citizenship", "veteran_status",
        "disability", "health_insurance", "cognitive_difficulty", "ability_to_speak_english",
        "vision_difficulty", "fertility", "hearing_difficulty",
    ];

    /// <summary>The associations a census-grounded population should preserve.</summary>
    public static readonly IReadOnlyList<(string First, string Second)> DefaultPairs =
    [
        ("age", "education"), ("sex", "occupation_category"), ("race", "income"), ("education", "income"),
        ("age", "marital_status"), ("race", "education"), ("age", "employment_status"),
    ];

    /// <summary>
    /// Compares synthetic attribute rows (values as written in persona files; age and income as
    /// numbers in invariant culture) with weighted census rows (decoded labels, the same keys).
    /// A key absent from a row counts as not in universe. The census rows are enumerated once.
    /// </summary>
    public static FidelityReport Compute(
        IReadOnlyList<IReadOnlyDictionary<string, string?>> synthetic,
        IEnumerable<(IReadOnlyDictionary<string, string?> Attributes, double Weight)> census,
        IReadOnlyList<string>? attributes = null,
        IReadOnlyList<(string First, string Second)>? pairs = null,
        FidelityOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(synthetic);
        ArgumentNullException.ThrowIfNull(census);
        attributes ??= DefaultAttributes;
        pairs ??= DefaultPairs;
        options ??= new FidelityOptions();
        if (synthetic.Count == 0) throw new PersonaException("Fidelity report: the synthetic population is empty.");
        if (attributes.Count == 0) throw new PersonaException("Fidelity report: no attributes to compare.");
        if (attributes.Distinct(StringComparer.Ordinal).Count() != attributes.Count)
            throw new PersonaException("Fidelity report: an attribute is listed twice.");
        foreach (var (a, b) in pairs)
            if (a == b) throw new PersonaException($"Fidelity report: pair ({a}, {b}) pairs an attribute with itself.");
        if (options.ChanceReplicates < 1)
            throw new PersonaException($"Fidelity report: ChanceReplicates must be at least 1 (got {options.ChanceReplicates}).");
        if (!(options.ChanceLevel > 0 && options.ChanceLevel < 1))
            throw new PersonaException($"Fidelity report: ChanceLevel must lie strictly between 0 and 1 (got {options.ChanceLevel}).");

        var needed = attributes.Concat(pairs.SelectMany(p => new[] { p.First, p.Second }))
            .Distinct(StringComparer.Ordinal).ToArray();

        var synDist = attributes.ToDictionary(a => a, _ => new WeightedDistribution(), StringComparer.Ordinal);
        var cenDist = attributes.ToDictionary(a => a, _ => new WeightedDistribution(), StringComparer.Ordinal);
        var synTables = pairs.Select(_ => new ContingencyTable()).ToArray();
        var cenTables = pairs.Select(_ => new ContingencyTable()).ToArray();
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);

        void Accumulate(IReadOnlyDictionary<string, string?> row, double weight,
            Dictionary<string, WeightedDistribution> dist, ContingencyTable[] tables)
        {
            labels.Clear();
            foreach (var a in needed) labels[a] = Label(a, row.GetValueOrDefault(a), options);
            foreach (var a in attributes) dist[a].Add(labels[a], weight);
            for (int k = 0; k < pairs.Count; k++) tables[k].Add(labels[pairs[k].First], labels[pairs[k].Second], weight);
        }

        foreach (var row in synthetic) Accumulate(row, 1.0, synDist, synTables);
        int censusCount = 0;
        double censusSumSq = 0;
        foreach (var (row, weight) in census)
        {
            if (!double.IsFinite(weight) || weight < 0)
                throw new PersonaException($"Fidelity report: census row {censusCount + 1} has weight {weight}; expected a finite weight >= 0.");
            Accumulate(row, weight, cenDist, cenTables);
            censusCount++;
            censusSumSq += weight * weight;
        }
        if (censusCount == 0) throw new PersonaException("Fidelity report: the census source yielded no rows.");
        double censusWeight = cenDist[attributes[0]].Total;
        if (censusWeight <= 0) throw new PersonaException("Fidelity report: the census rows' weights sum to 0.");

        var chance = new FidelityChanceSimulator(synthetic.Count, options.ChanceReplicates, options.ChanceSeed);
        // Statistics are independent streams, so running them in parallel does not change a bit.
        var attrResults = new AttributeFidelity[attributes.Count];
        Parallel.For(0, attributes.Count, i =>
            attrResults[i] = CompareAttribute(attributes[i], synDist[attributes[i]], cenDist[attributes[i]], synthetic.Count, chance, options));
        var pairResults = new PairFidelity[pairs.Count];
        Parallel.For(0, pairs.Count, k => pairResults[k] = ComparePair(pairs[k], synTables[k], cenTables[k], chance, options));

        var worstAttr = attrResults.OrderByDescending(a => a.Tvd).First();
        var gaps = pairResults.Where(p => p.Gap is not null).ToList();
        var worstPair = gaps.OrderByDescending(p => Math.Abs(p.Gap!.Value)).FirstOrDefault();
        var summary = new FidelitySummary(
            attrResults.Length,
            attrResults.Average(a => a.Tvd),
            worstAttr.Tvd,
            worstAttr.Attribute,
            attrResults.Average(a => a.ExpectedSamplingTvd),
            pairResults.Length,
            gaps.Count > 0 ? gaps.Average(p => Math.Abs(p.Gap!.Value)) : null,
            gaps.Count > 0 ? gaps.Max(p => Math.Abs(p.Gap!.Value)) : null,
            worstPair is null ? null : $"{worstPair.First} x {worstPair.Second}",
            attrResults.Count(a => a.BeyondChance),
            pairResults.Count(p => p.BeyondChance));
        var chanceInfo = new FidelityChance(options.ChanceReplicates, options.ChanceSeed, options.ChanceLevel,
            "random samples of the synthetic population's size drawn from the weighted census (probability proportional to weight, with replacement), " +
            "simulated per statistic from its census cells; TVD flagged above the level's quantile, V gap flagged outside the central interval");

        return new FidelityReport(synthetic.Count, censusCount, censusWeight, censusWeight * censusWeight / censusSumSq,
            options.BiasCorrectedCramersV, attrResults, pairResults, summary, chanceInfo);
    }

    static PairFidelity ComparePair((string First, string Second) p, ContingencyTable syn, ContingencyTable cen,
        FidelityChanceSimulator chance, FidelityOptions options)
    {
        double? sv = Defined(Association.CramersV(syn, options.BiasCorrectedCramersV));
        double? cv = Defined(Association.CramersV(cen, options.BiasCorrectedCramersV));
        double? gap = sv is { } s && cv is { } c ? s - c : null;
        if (cv is not { } censusV)
            return new PairFidelity(p.First, p.Second, sv, cv, gap, null, null, null, false);
        var gaps = chance.CramersVGap($"{p.First}|{p.Second}", cen, censusV, options.BiasCorrectedCramersV);
        if (gaps.Length == 0)
            return new PairFidelity(p.First, p.Second, sv, cv, gap, null, null, null, false);
        double tail = (1 - options.ChanceLevel) / 2;
        double low = FidelityChanceSimulator.Quantile(gaps, tail), high = FidelityChanceSimulator.Quantile(gaps, 1 - tail);
        return new PairFidelity(p.First, p.Second, sv, cv, gap, gaps.Average(), low, high,
            gap is { } g && (g < low || g > high));
    }

    static double? Defined(double v) => double.IsNaN(v) ? null : v;

    static string Label(string attribute, string? value, FidelityOptions options)
    {
        if (options.Binners.TryGetValue(attribute, out var bin)) return bin(value);
        return string.IsNullOrWhiteSpace(value) ? Bands.NotInUniverse : value;
    }

    static AttributeFidelity CompareAttribute(string attribute, WeightedDistribution syn, WeightedDistribution cen, int n,
        FidelityChanceSimulator chance, FidelityOptions options)
    {
        var categories = syn.Categories.Union(cen.Categories, StringComparer.Ordinal).ToList();
        var shares = categories.Select(c => new CategoryShare(c, syn.Share(c), cen.Share(c)));
        shares = options.CategoryOrder.TryGetValue(attribute, out var order)
            ? shares.OrderBy(s => IndexIn(order, s.Category)).ThenBy(s => s.Category, StringComparer.Ordinal)
            : shares.OrderBy(s => s.Category == Bands.NotInUniverse ? 1 : 0)
                .ThenByDescending(s => s.Census).ThenByDescending(s => s.Synthetic).ThenBy(s => s.Category, StringComparer.Ordinal);
        var list = shares.ToList();
        var over = list.Where(s => s.Difference > 0).OrderByDescending(s => s.Difference).ThenBy(s => s.Category, StringComparer.Ordinal).FirstOrDefault();
        var under = list.Where(s => s.Difference < 0).OrderBy(s => s.Difference).ThenBy(s => s.Category, StringComparer.Ordinal).FirstOrDefault();
        var tvd = Divergence.TotalVariation(syn, cen);
        var chanceTvd = FidelityChanceSimulator.Quantile(chance.Tvd(attribute, cen), options.ChanceLevel);
        return new AttributeFidelity(attribute, list.Count, tvd, Divergence.ExpectedSamplingTotalVariation(cen, n),
            chanceTvd, tvd > chanceTvd, over, under, list);
    }

    static int IndexIn(IReadOnlyList<string> order, string category)
    {
        for (int i = 0; i < order.Count; i++) if (order[i] == category) return i;
        return category == Bands.NotInUniverse ? int.MaxValue : int.MaxValue - 1;
    }

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Writes the report as indented snake_case JSON, atomically (temp file in the same folder, then rename).</summary>
    public void WriteJson(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.WriteAllText(path, ToJson() + "\n");
    }

    /// <summary>One PNG per attribute (synthetic vs census shares), named after the attribute. Returns the paths written.</summary>
    public IReadOnlyList<string> WritePlots(string directory, FidelityOptions? options = null)
        => FidelityPlots.Write(this, directory, (options ?? new FidelityOptions()).PlotTopCategories);
}
