namespace Persona.Census;

/// <summary>What to sample; the CLI's `persona census sample` flags map one to one onto this.</summary>
public sealed record CensusSampleOptions
{
    /// <summary>Number of personas to draw.</summary>
    public required int N { get; init; }

    public long Seed { get; init; }

    /// <summary>Person files, folders or globs; empty means the bundled national file.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary>Optional household files (psam_h*.csv or csv_h??.zip) joined on SERIALNO.</summary>
    public IReadOnlyList<string> Households { get; init; } = [];

    /// <summary>Overrides the bundled dictionary chosen by vintage.</summary>
    public string? DictionaryPath { get; init; }

    public int? MinAge { get; init; }
    public int? MaxAge { get; init; }

    /// <summary>State FIPS codes (see <see cref="StateCodes.Parse"/>); null keeps every state.</summary>
    public IReadOnlyList<int>? States { get; init; }

    public bool Unweighted { get; init; }
    public bool WithoutReplacement { get; init; }
    public bool KeepUnknownCodes { get; init; }

    /// <summary>Where to write the personas (.jsonl or .parquet); null returns them only.</summary>
    public string? OutputPath { get; init; }
}

/// <summary>Progress of a long stage; <see cref="Total"/> is 0 when unknown.</summary>
public sealed record CensusProgress(string Stage, long Done, long Total);

/// <summary>
/// A weighted draw of ACS person records: load the sources (and households), decode with the
/// dictionary of the same year, keep the universe the filters leave, and pick rows weighted by
/// PWGTP. What becomes of each drawn person (traits, a persona) is the population room's business.
/// </summary>
public sealed record CensusDrawResult(
    PumsDecoder Decoder,
    IReadOnlyList<int> Rows,
    string Vintage,
    string DictionaryPath,
    IReadOnlyList<string> DictionaryNotes,
    IReadOnlyList<string> Sources,
    int PersonsLoaded,
    int UniverseSize,
    double UniverseWeight,
    int DistinctPersons,
    string HouseholdFields,
    IReadOnlyList<string> UnavailableAttributes);

/// <summary>The census side of `persona census sample` and of a population build: which ACS persons are drawn.</summary>
public static class CensusDraw
{
    public const string BundledSource = "acs/pums-2024-us.parquet";

    // Distinct stream constants so the draw sequence and the per-persona trait streams never
    // coincide for any seed.
    private const ulong DrawStream = 0x636F6E7375735F64UL;
    private const ulong TraitStream = 0x7472616974735F73UL;

    /// <summary>The seed of draw <paramref name="index"/>'s own trait stream: it depends on (seed, draw index) only, so a persona's traits do not shift when another persona, filter or source changes.</summary>
    public static long TraitSeed(long seed, int index) => (long)(DeterministicRng.Mix(DeterministicRng.Mix((ulong)seed, TraitStream), (ulong)index) >> 33);

    /// <param name="outputs">Output files the caller will write: checked against the draw's inputs before the long load.</param>
    public static async Task<CensusDrawResult> DrawAsync(CensusSampleOptions options, IProgress<CensusProgress>? progress, CancellationToken ct,
        Action<IReadOnlyList<(string Option, string? Path)>>? checkOutputs = null)
    {
        Validate(options);
        var sources = ResolveSources(options);
        var households = PumsSources.ResolveHouseholds(options.Households);
        checkOutputs?.Invoke([.. sources.Select(f => ("--source", (string?)f)), .. households.Select(f => ("--household", (string?)f)), ("--dictionary", options.DictionaryPath)]);

        var table = await PumsLoader.LoadAsync(sources, progress, ct);
        progress?.Report(new CensusProgress("households", 0, 1));
        var householdOrigin = Households.Apply(table, households, ct);
        progress?.Report(new CensusProgress("households", 1, 1));

        var dictionary = PumsDictionary.Load(options.DictionaryPath ?? BundledDictionary(table));
        var decoder = new PumsDecoder(table, dictionary, options.KeepUnknownCodes);

        var universe = Universe(table, options);
        var weights = new double[universe.Length];
        var total = 0.0;
        for (var i = 0; i < universe.Length; i++) total += weights[i] = table.Weight[universe[i]];
        if (!options.Unweighted && total <= 0)
            throw new PersonaException(
                $"The {universe.Length:N0} persons in the universe have a total weight (PWGTP) of 0, so no weighted draw is possible; check the weight column or use --unweighted.");
        decoder.CheckCodes(universe, ct);

        progress?.Report(new CensusProgress("sample", 0, options.N));
        var rng = new DeterministicRng(DeterministicRng.Mix((ulong)options.Seed, DrawStream));
        int[] picks;
        if (options.WithoutReplacement)
        {
            var eligible = options.Unweighted ? universe.Length : weights.Count(w => w > 0);
            if (options.N > eligible)
                throw new PersonaException(
                    $"--without-replacement: cannot draw {options.N:N0} distinct persons from a universe of {eligible:N0}" +
                    (options.Unweighted ? "." : " persons with a positive weight.") + " Lower --n or widen the filters.");
            picks = WeightedSampler.WithoutReplacement(weights, options.N, rng, options.Unweighted);
        }
        else
        {
            picks = WeightedSampler.WithReplacement(weights, options.N, rng, options.Unweighted);
        }
        var rows = new int[picks.Length];
        for (var i = 0; i < picks.Length; i++) rows[i] = universe[picks[i]];

        return new CensusDrawResult(decoder, rows, table.Vintage, dictionary.Path, dictionary.Notes, sources, table.Count, universe.Length, total,
            rows.Distinct().Count(), Households.Describe(householdOrigin), decoder.UnavailableAttributes);
    }

    public static void Validate(CensusSampleOptions o)
    {
        if (o.N <= 0)
            throw new PersonaException($"--n must be a positive number of personas (got {o.N}).");
        if (o.MinAge is < 0 or > 99 || o.MaxAge is < 0 or > 99)
            throw new PersonaException("--min-age and --max-age must lie between 0 and 99 (PUMS top-codes age at 99).");
        if (o.MinAge is { } lo && o.MaxAge is { } hi && lo > hi)
            throw new PersonaException($"--min-age {lo} is greater than --max-age {hi}.");
    }

    public static IReadOnlyList<string> ResolveSources(CensusSampleOptions options)
    {
        if (options.Sources.Count > 0)
            return PumsSources.ResolvePersons(options.Sources);
        var bundled = BundledData.Path(BundledSource);
        if (!File.Exists(bundled))
            throw new PersonaException(
                $"No --source given and the bundled census file data/{BundledSource} is not installed (looked at '{bundled}'). " +
                "Pass --source with PUMS person files, e.g. --source csv_pwy.zip or --source 'pums/p_*.parquet'.");
        return [bundled];
    }

    /// <summary>
    /// The bundled dictionary of the data's release. 2024 data uses the 2023 dictionary: the
    /// 2024 codes follow the 2022 code lists, which the 2023 dictionary has (and the 2018/2021
    /// ones do not; about 10% of workers' INDP codes would be missing).
    /// </summary>
    public static string BundledDictionary(PumsTable table)
    {
        var name = table.FirstYear == table.LastYear
            ? $"PUMS_Data_Dictionary_{table.FirstYear}.csv"
            : $"PUMS_Data_Dictionary_{table.FirstYear}-{table.LastYear}.csv";
        var path = BundledData.Path("acs/" + name);
        if (File.Exists(path)) return path;
        if (table.FirstYear == 2024 && table.LastYear == 2024)
        {
            var fallback = BundledData.Path("acs/PUMS_Data_Dictionary_2023.csv");
            if (File.Exists(fallback)) return fallback;
        }
        throw new PersonaException(
            $"No bundled data dictionary for {table.Vintage} (looked for data/acs/{name}" +
            (table.FirstYear == 2024 ? " and data/acs/PUMS_Data_Dictionary_2023.csv" : "") +
            "). Pass the Census Bureau's dictionary of that release with --dictionary FILE.");
    }

    public static int[] Universe(PumsTable table, CensusSampleOptions o)
    {
        var age = table.Columns[PumsVariables.Agep.Ordinal]!;
        var state = table.Columns[PumsVariables.State.Ordinal]!;
        HashSet<int>? states = o.States is { Count: > 0 } s ? s.ToHashSet() : null;
        int lo = o.MinAge ?? int.MinValue, hi = o.MaxAge ?? int.MaxValue;
        var rows = new List<int>(table.Count);
        for (var r = 0; r < table.Count; r++)
        {
            if (age[r] == PumsTable.Null || age[r] < lo || age[r] > hi) continue;
            if (states is not null && !states.Contains(state[r])) continue;
            rows.Add(r);
        }
        if (rows.Count == 0)
        {
            var inData = Enumerable.Range(0, table.Count).Select(r => state[r]).Distinct().Order()
                .Select(StateCodes.Postal);
            var filters = new List<string>();
            if (o.MinAge is { } a) filters.Add($"--min-age {a}");
            if (o.MaxAge is { } b) filters.Add($"--max-age {b}");
            if (states is not null) filters.Add($"--states {string.Join(",", states.Order().Select(StateCodes.Postal))}");
            throw new PersonaException(
                $"No person matches {string.Join(" ", filters)}: the {table.Count:N0} persons loaded are aged " +
                $"{age.Where(x => x != PumsTable.Null).DefaultIfEmpty().Min()}-{age.Where(x => x != PumsTable.Null).DefaultIfEmpty().Max()} " +
                $"and live in {string.Join(",", inData)}.");
        }
        return rows.ToArray();
    }
}

/// <summary>Reads all person sources into one table, in sorted file order.</summary>
public static class PumsLoader
{
    public static async Task<PumsTable> LoadAsync(IReadOnlyList<string> files, IProgress<CensusProgress>? progress, CancellationToken ct)
    {
        if (files.Count == 0)
            throw new PersonaException("No person source files were given.");
        var chunks = new List<PumsChunk>();
        for (var i = 0; i < files.Count; i++)
        {
            progress?.Report(new CensusProgress("load", i, files.Count));
            var file = files[i];
            var ext = Path.GetExtension(file).ToLowerInvariant();
            chunks.AddRange(ext switch
            {
                ".parquet" => await PumsParquetReader.ReadFileAsync(file, ct),
                ".csv" or ".zip" => await Task.Run(() => PumsCsvReader.ReadFile(file, ct), ct),
                _ => throw new PersonaException(
                    $"Cannot read '{file}': expected a PUMS person file (.parquet, psam_p*.csv, or the Census zip csv_p??.zip)."),
            });
        }
        progress?.Report(new CensusProgress("load", files.Count, files.Count));
        return PumsTableBuilder.Build(chunks, files);
    }
}
