using System.Globalization;
using Persona.Census;
using Persona.Personas;

namespace Persona.Fidelity;

/// <summary>What a fidelity run compared and where it wrote its outputs.</summary>
public sealed record PopulationFidelityResult(
    FidelityReport Report,
    string PersonasPath,
    IReadOnlyList<string> Sources,
    string Vintage,
    int CensusRows,
    IReadOnlyList<string> SkippedAttributes,
    string HouseholdFields,
    IReadOnlyList<string> UnavailableAttributes,
    string? JsonPath,
    IReadOnlyList<string> Plots)
{
    /// <summary>Things the user should know about the comparison (e.g. personas of another release than the source).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>
/// Compares a persona file with the weighted census it should represent: the same sources,
/// dictionary and universe filters as the draw, every person of that universe weighted by PWGTP.
/// </summary>
public static class PopulationFidelity
{
    /// <param name="census">Source, household, dictionary and universe options, as given to the sampler (N is ignored).</param>
    /// <param name="outDirectory">When set, fidelity.json and one PNG per attribute are written there.</param>
    public static async Task<PopulationFidelityResult> RunAsync(string personasPath, CensusSampleOptions census,
        string? outDirectory, IProgress<CensusProgress>? progress = null, CancellationToken ct = default)
    {
        // A `personas build` folder is as good as its personas file, as for every verb that reads personas.
        if (Directory.Exists(personasPath) && File.Exists(Path.Combine(personasPath, "personas.jsonl")))
            personasPath = Path.Combine(personasPath, "personas.jsonl");
        InputFile.NotAFolder(personasPath, "Persona file");
        if (!File.Exists(personasPath))
            throw new PersonaException($"Persona file '{personasPath}' does not exist; expected a .jsonl or .parquet file written by `persona census sample`.");
        // Streamed: the comparison reads each persona's census attributes, vintage and id, not its record (at 100,000 personas
        // the records with their census codes and written detail were most of the stage's memory).
        var synthetic = new List<IReadOnlyDictionary<string, string?>>();
        var ids = new List<string>();
        var vintages = new HashSet<string>(StringComparer.Ordinal);
        var labels = new StringPool(1 << 16);
        await foreach (var p in PersonaFiles.StreamAsync(personasPath, ct).ConfigureAwait(false))
        {
            var own = CensusAttributes(p);
            foreach (var key in own.Keys.ToList()) own[key] = labels.Get(own[key]);
            synthetic.Add(own);
            ids.Add(p.Id);
            vintages.Add(p.Census.Vintage);
        }
        if (synthetic.Count == 0)
            throw new PersonaException($"Persona file '{personasPath}' holds no personas.");

        var sources = CensusDraw.ResolveSources(census);
        var table = await PumsLoader.LoadAsync(sources, progress, ct);
        var households = Households.Apply(table, PumsSources.ResolveHouseholds(census.Households), ct);
        var dictionary = PumsDictionary.Load(census.DictionaryPath ?? CensusDraw.BundledDictionary(table));
        var decoder = new PumsDecoder(table, dictionary, census.KeepUnknownCodes);
        var universe = CensusDraw.Universe(table, census);
        decoder.CheckCodes(universe, ct);

        var traits = new PersonaTraits(null, 0);
        var censusRows = universe.Select(row =>
        {
            if ((row & 0xFFF) == 0) ct.ThrowIfCancellationRequested();
            return (Attributes: (IReadOnlyDictionary<string, string?>)CensusAttributes(PersonaRecord.FromCensus(decoder.Decode(row), traits, null)), Weight: table.Weight[row]);
        }).ToList();

        // An attribute the source cannot provide (e.g. household type without a household file)
        // is "not in universe" on both sides; comparing it would report a perfect match.
        var attributes = FidelityReport.DefaultAttributes
            .Where(a => synthetic.Any(r => r[a] is not null) || censusRows.Any(r => r.Attributes[a] is not null))
            .ToList();
        var skipped = FidelityReport.DefaultAttributes.Except(attributes).ToList();
        var pairs = FidelityReport.DefaultPairs.Where(p => attributes.Contains(p.First) && attributes.Contains(p.Second)).ToList();

        progress?.Report(new CensusProgress("compare", 0, 1));
        var report = FidelityReport.Compute(synthetic, censusRows, attributes, pairs);
        progress?.Report(new CensusProgress("compare", 1, 1));

        string? json = null;
        IReadOnlyList<string> plots = [];
        if (outDirectory is not null)
        {
            Directory.CreateDirectory(outDirectory);
            json = Path.Combine(outDirectory, "fidelity.json");
            report.WriteJson(json);
            plots = report.WritePlots(outDirectory);
        }
        var otherVintages = vintages.Where(v => v != table.Vintage).Order(StringComparer.Ordinal).ToList();
        var warnings = new List<string>();
        if (otherVintages.Count > 0)
            warnings.Add($"the personas were drawn from {string.Join(", ", otherVintages)} but the census source is {table.Vintage}: codes, labels and the population differ between releases, " +
                         "so the distances mix two things. Give the --source the personas were drawn from.");
        var repeated = ids.GroupBy(id => id, StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
        if (repeated.Count > 0)
            warnings.Add($"{repeated.Count:N0} persona id(s) occur more than once (first: '{repeated[0].Key}'); a file given or pasted twice counts those personas twice.");
        return new PopulationFidelityResult(report, Path.GetFullPath(personasPath), sources, table.Vintage, censusRows.Count, skipped,
            Households.Describe(households), decoder.UnavailableAttributes, json, plots) { Warnings = warnings };
    }

    /// <summary>The 24 census attributes of a persona as the fidelity report keys them (numbers in invariant culture).</summary>
    public static Dictionary<string, string?> CensusAttributes(PersonaRecord p)
    {
        var d = new Dictionary<string, string?>(FidelityReport.DefaultAttributes.Count, StringComparer.Ordinal)
        {
            ["age"] = p.Age.ToString(CultureInfo.InvariantCulture),
            ["income"] = p.Income?.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, get, _) in PersonaRecord.CensusLabels) d[key] = get(p);
        foreach (var (key, get, _) in PersonaRecord.CensusLabelsAfterIncome) d[key] = get(p);
        return d;
    }
}
