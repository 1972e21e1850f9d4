using System.Globalization;

namespace Persona.Personas;

/// <summary>
/// Demographic keys the survey tables are published for. The sampler maps raw PUMS codes onto
/// these once per draw; the tables name groups with the same strings.
/// </summary>
internal static class PsychodemographicKeys
{
    public static readonly string[] Dimensions = ["national", "sex", "age", "race", "education", "region"];

    public static readonly IReadOnlyDictionary<string, string[]> Groups = new Dictionary<string, string[]>
    {
        ["national"] = ["all"],
        ["sex"] = ["male", "female"],
        ["race"] = ["white", "black", "hispanic", "asian", "other"],
        ["education"] = ["less_than_hs", "hs_grad", "some_college", "bachelors", "postgrad"],
        ["region"] = ["northeast", "midwest", "south", "west"],
    };

    public static string? Sex(int sex) => sex switch { 1 => "male", 2 => "female", _ => null };

    /// <summary>Hispanic of any race first, then single-race non-Hispanic groups (RAC1P).</summary>
    public static string Race(int rac1p, int hisp) =>
        hisp > 1 ? "hispanic" : rac1p switch { 1 => "white", 2 => "black", 6 => "asian", _ => "other" };

    /// <summary>SCHL 1-15 no diploma, 16-17 diploma/GED, 18-20 some college/associate, 21 BA, 22-24 graduate.</summary>
    public static string? Education(int? schl) => schl switch
    {
        null => null,
        <= 15 => "less_than_hs",
        <= 17 => "hs_grad",
        <= 20 => "some_college",
        21 => "bachelors",
        _ => "postgrad",
    };

    /// <summary>Census Bureau regions by state FIPS code.</summary>
    public static string? Region(int fips) => fips switch
    {
        9 or 23 or 25 or 33 or 44 or 50 or 34 or 36 or 42 => "northeast",
        17 or 18 or 26 or 39 or 55 or 19 or 20 or 27 or 29 or 31 or 38 or 46 => "midwest",
        10 or 11 or 12 or 13 or 24 or 37 or 45 or 51 or 54 or 1 or 21 or 28 or 47 or 5 or 22 or 40 or 48 => "south",
        4 or 8 or 16 or 30 or 32 or 35 or 49 or 56 or 2 or 6 or 15 or 41 or 53 => "west",
        _ => null,
    };
}

/// <summary>One adjustment table: per group, the ratio P(category | group) / P(category) of its own source.</summary>
internal sealed record AdjustmentTable(string File, string Dimension, IReadOnlyList<AdjustmentGroup> Groups);

/// <summary>Keys (several when a row covers e.g. "less_than_hs|hs_grad") or an age range, and per-category ratios.</summary>
internal sealed record AdjustmentGroup(string[] Keys, int AgeMin, int AgeMax, double[] Ratios)
{
    public bool Matches(string? key, int age) =>
        Keys.Length == 0 ? age >= AgeMin && age <= AgeMax : key is not null && Array.IndexOf(Keys, key) >= 0;
}

/// <summary>A categorical trait: its base national distribution and the tables that condition it.</summary>
internal sealed class CategoricalTrait
{
    public required string Name { get; init; }
    public required string[] Categories { get; init; }
    public required double[] National { get; init; }
    public required IReadOnlyList<AdjustmentTable> Adjustments { get; init; }
}

internal sealed record BigFiveNorm(double Mean, double Sd);

internal sealed record AgeOffset(int AgeMin, int AgeMax, double Z);

/// <summary>Reads and validates the psychodemographic CSV tables (see data/psychodemographics/README.md).</summary>
internal static class PsychodemographicTableLoader
{
    public static readonly string[] Traits = ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"];

    /// <summary>Added to both numerator and denominator (in percentage points) so a published 0 or a
    /// tiny base share cannot zero out or explode a category.</summary>
    public const double SmoothingPoints = 0.5;

    private const double SumTolerance = 3.0;
    private const string Rest = "(rest)";

    public static CategoricalTrait LoadCategorical(string directory, string trait)
    {
        var basePath = Path.Combine(directory, $"{trait}-national.csv");
        var baseRows = ReadRows(basePath, ["dimension", "group", "category", "percent"]);
        var categories = new List<string>();
        var percents = new List<double>();
        foreach (var row in baseRows)
        {
            if (row.Get("dimension") != "national" || row.Get("group") != "all")
                throw row.Error("dimension", "a base table holds only 'national,all' rows");
            var category = row.Get("category");
            if (category.Length == 0 || category.Contains('|') || category == Rest)
                throw row.Error("category", "a single non-empty category name");
            if (categories.Contains(category))
                throw row.Error("category", $"'{category}' listed once");
            categories.Add(category);
            percents.Add(row.Percent());
        }
        if (categories.Count < 2)
            throw new PersonaException($"{basePath}: expected at least two categories in the national row");
        CheckSum(basePath, baseRows[^1].Line, "national/all", percents.Sum());
        var national = Normalise(percents.ToArray());

        var adjustments = new List<AdjustmentTable>();
        var files = Directory.Exists(directory)
            ? Directory.GetFiles(directory, $"{trait}-by-*.csv").OrderBy(f => f, StringComparer.Ordinal).ToArray()
            : [];
        foreach (var file in files)
            adjustments.AddRange(LoadAdjustments(file, categories));
        return new CategoricalTrait { Name = trait, Categories = categories.ToArray(), National = national, Adjustments = adjustments };
    }

    private static IEnumerable<AdjustmentTable> LoadAdjustments(string file, List<string> categories)
    {
        var rows = ReadRows(file, ["dimension", "group", "category", "percent"]);
        // Group rows by (dimension, group) keeping file order so errors and results are deterministic.
        var blocks = new List<(string Dimension, string Group, List<Row> Rows)>();
        foreach (var row in rows)
        {
            var dimension = row.Get("dimension");
            if (Array.IndexOf(PsychodemographicKeys.Dimensions, dimension) < 0)
                throw row.Error("dimension", $"one of {string.Join(", ", PsychodemographicKeys.Dimensions)}");
            var group = row.Get("group");
            var block = blocks.FindIndex(b => b.Dimension == dimension && b.Group == group);
            if (block < 0) blocks.Add((dimension, group, [row]));
            else blocks[block].Rows.Add(row);
        }

        var nationalBlock = blocks.FindIndex(b => b.Dimension == "national");
        if (nationalBlock < 0)
            throw new PersonaException($"{file}: missing the 'national,all' reference rows (ratios are taken against them)");
        var reference = ParseShares(file, blocks[nationalBlock].Rows, categories, null);
        if (reference.Any(p => p <= 0))
            throw new PersonaException($"{file}: the national row must list every category with a positive percent: {string.Join(", ", categories)}");

        foreach (var dimension in blocks.Where(b => b.Dimension != "national").Select(b => b.Dimension).Distinct())
        {
            var groups = new List<AdjustmentGroup>();
            foreach (var block in blocks.Where(b => b.Dimension == dimension))
            {
                // Validate the group name before its shares so a typo is reported as such.
                var ratios = new double[categories.Count];
                var group = ParseGroup(block.Rows[0], dimension, block.Group, ratios);
                var shares = ParseShares(file, block.Rows, categories, reference);
                for (var i = 0; i < ratios.Length; i++)
                    ratios[i] = (shares[i] + SmoothingPoints) / (reference[i] + SmoothingPoints);
                groups.Add(group);
            }
            yield return new AdjustmentTable(file, dimension, groups);
        }
    }

    private static AdjustmentGroup ParseGroup(Row row, string dimension, string group, double[] ratios)
    {
        if (dimension == "age")
        {
            var (min, max) = ParseAgeRange(group) ?? throw row.Error("group", "an age range like '18-29' or '65+'");
            return new AdjustmentGroup([], min, max, ratios);
        }
        var keys = group.Split('|');
        foreach (var key in keys)
            if (Array.IndexOf(PsychodemographicKeys.Groups[dimension], key) < 0)
                throw row.Error("group", $"one of {string.Join(", ", PsychodemographicKeys.Groups[dimension])} (several joined with '|')");
        return new AdjustmentGroup(keys, 0, 0, ratios);
    }

    private static (int, int)? ParseAgeRange(string text)
    {
        if (text.EndsWith('+') && int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var from))
            return (from, int.MaxValue);
        var parts = text.Split('-');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var lo)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var hi) && lo <= hi)
            return (lo, hi);
        return null;
    }

    /// <summary>
    /// Percent per category for one group. Rows may name one category, a set "A|B" (its share is spread
    /// over A and B in the reference proportions) or "(rest)" (spread over every category not named).
    /// </summary>
    private static double[] ParseShares(string file, List<Row> rows, List<string> categories, double[]? reference)
    {
        var shares = new double[categories.Count];
        var named = new bool[categories.Count];
        double? rest = null;
        var total = 0.0;
        foreach (var row in rows)
        {
            var category = row.Get("category");
            var percent = row.Percent();
            total += percent;
            if (category == Rest)
            {
                if (reference is null) throw row.Error("category", "no '(rest)' in the national reference rows");
                if (rest is not null) throw row.Error("category", "at most one '(rest)' row per group");
                rest = percent;
                continue;
            }
            var members = category.Split('|');
            var indices = new int[members.Length];
            for (var m = 0; m < members.Length; m++)
            {
                indices[m] = categories.IndexOf(members[m]);
                if (indices[m] < 0) throw row.Error("category", $"one of {string.Join(", ", categories)}");
                if (named[indices[m]]) throw row.Error("category", $"'{members[m]}' named once per group");
                named[indices[m]] = true;
            }
            if (indices.Length == 1) { shares[indices[0]] = percent; continue; }
            if (reference is null) throw row.Error("category", "single categories in the national reference rows");
            var weight = indices.Sum(i => reference[i]);
            foreach (var i in indices) shares[i] = percent * reference[i] / weight;
        }
        var first = rows[0];
        var label = $"{first.Get("dimension")}/{first.Get("group")}";
        CheckSum(file, rows[^1].Line, label, total);
        var unnamed = Enumerable.Range(0, categories.Count).Where(i => !named[i]).ToArray();
        if (rest is null)
        {
            if (unnamed.Length > 0)
                throw new PersonaException($"{file}:{rows[^1].Line}: group {label} does not list {string.Join(", ", unnamed.Select(i => categories[i]))}; list them or add a '(rest)' row");
        }
        else if (unnamed.Length == 0)
        {
            throw new PersonaException($"{file}:{rows[^1].Line}: group {label} has a '(rest)' row but names every category");
        }
        else
        {
            var weight = unnamed.Sum(i => reference![i]);
            foreach (var i in unnamed) shares[i] = rest.Value * reference![i] / weight;
        }
        return shares;
    }

    public static Dictionary<(string Trait, int Sex), BigFiveNorm> LoadNorms(string directory)
    {
        var path = Path.Combine(directory, "bfi2-domain-norms.csv");
        var norms = new Dictionary<(string, int), BigFiveNorm>();
        foreach (var row in ReadRows(path, ["trait", "sex", "mean", "sd"]))
        {
            var trait = row.Get("trait");
            if (Array.IndexOf(Traits, trait) < 0) throw row.Error("trait", $"one of {string.Join(", ", Traits)}");
            var sex = row.Get("sex") switch { "male" => 1, "female" => 2, _ => throw row.Error("sex", "male or female") };
            var mean = row.Number("mean");
            var sd = row.Number("sd");
            if (mean < 1 || mean > 5) throw row.Error("mean", "a BFI-2 scale mean between 1 and 5");
            if (sd <= 0 || sd > 4) throw row.Error("sd", "a positive standard deviation below 4");
            if (!norms.TryAdd((trait, sex), new BigFiveNorm(mean, sd))) throw row.Error("trait", "one row per trait and sex");
        }
        foreach (var trait in Traits)
            foreach (var sex in new[] { 1, 2 })
                if (!norms.ContainsKey((trait, sex)))
                    throw new PersonaException($"{path}: missing the row for trait '{trait}', sex '{(sex == 1 ? "male" : "female")}'");
        return norms;
    }

    /// <summary>Offsets must cover ages 0..99 without gaps or overlaps for every trait.</summary>
    public static Dictionary<string, double[]> LoadAgeOffsets(string directory)
    {
        var path = Path.Combine(directory, "big-five-age-offsets.csv");
        var byTrait = Traits.ToDictionary(t => t, _ => new double?[100]);
        foreach (var row in ReadRows(path, ["trait", "age_min", "age_max", "z_offset"]))
        {
            var trait = row.Get("trait");
            if (!byTrait.TryGetValue(trait, out var ages)) throw row.Error("trait", $"one of {string.Join(", ", Traits)}");
            var min = (int)row.Number("age_min");
            var max = (int)row.Number("age_max");
            if (min < 0 || max > 99 || min > max) throw row.Error("age_max", "an age range within 0..99 with age_min <= age_max");
            var z = row.Number("z_offset");
            if (Math.Abs(z) > 3) throw row.Error("z_offset", "an offset in SD units between -3 and 3");
            for (var a = min; a <= max; a++)
            {
                if (ages[a] is not null) throw row.Error("age_min", $"ranges that do not overlap (age {a} for {trait} is covered twice)");
                ages[a] = z;
            }
        }
        var result = new Dictionary<string, double[]>();
        foreach (var (trait, ages) in byTrait)
        {
            var gap = Array.FindIndex(ages, a => a is null);
            if (gap >= 0) throw new PersonaException($"{path}: trait '{trait}' has no offset for age {gap}; ages 0-99 must all be covered");
            result[trait] = ages.Select(a => a!.Value).ToArray();
        }
        return result;
    }

    private static void CheckSum(string file, int line, string label, double total)
    {
        if (Math.Abs(total - 100) > SumTolerance)
            throw new PersonaException($"{file}:{line}: field 'percent': group {label} sums to {total.ToString("0.##", CultureInfo.InvariantCulture)}, expected 100 (+/- {SumTolerance})");
    }

    private static double[] Normalise(double[] values)
    {
        var sum = values.Sum();
        return values.Select(v => v / sum).ToArray();
    }

    private static List<Row> ReadRows(string path, string[] required)
    {
        if (!File.Exists(path)) throw new PersonaException($"{path}: psychodemographic table not found");
        var lines = File.ReadAllLines(path);
        string[]? header = null;
        var rows = new List<Row>();
        for (var i = 0; i < lines.Length; i++)
        {
            var text = lines[i].Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            var fields = text.Split(',').Select(f => f.Trim()).ToArray();
            if (header is null)
            {
                header = fields;
                foreach (var column in required)
                    if (Array.IndexOf(header, column) < 0)
                        throw new PersonaException($"{path}:{i + 1}: missing column '{column}' in header (expected columns: {string.Join(",", required)})");
                continue;
            }
            if (fields.Length != header.Length)
                throw new PersonaException($"{path}:{i + 1}: expected {header.Length} fields ({string.Join(",", header)}), found {fields.Length}");
            rows.Add(new Row(path, i + 1, header, fields));
        }
        if (header is null || rows.Count == 0) throw new PersonaException($"{path}: no header or no data rows");
        return rows;
    }

    private sealed record Row(string File, int Line, string[] Header, string[] Fields)
    {
        public string Get(string column) => Fields[Array.IndexOf(Header, column)];

        public double Number(string column)
        {
            var text = Get(column);
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                throw Error(column, $"a number, found '{text}'");
            return value;
        }

        public double Percent()
        {
            var value = Number("percent");
            if (value < 0 || value > 100) throw Error("percent", $"a percentage between 0 and 100, found {value.ToString(CultureInfo.InvariantCulture)}");
            return value;
        }

        public PersonaException Error(string column, string expected) =>
            new($"{File}:{Line}: field '{column}': expected {expected} (value '{Get(column)}')");
    }
}
