using Persona.Census;

namespace Persona.Personas;

/// <summary>
/// Draws Big Five levels, religion, ideology and political views from published survey tables
/// (data/psychodemographics, see its README for sources, the combination method and limits).
/// Conditional mode combines the national distribution with per-demographic ratio tables
/// (naive-Bayes style); independent mode ignores the person and draws national marginals,
/// which is the <c>--independent-traits</c> ablation.
/// </summary>
public sealed class PsychodemographicSampler : IPsychodemographicSampler
{
    public const string NotApplicableMinor = "Not applicable (minor)";

    /// <summary>Ideology and party are not asked of people under this age (voting age).</summary>
    public const int AdultAge = 18;

    public static readonly string[] Levels = ["Extremely Low", "Low", "Average", "High", "Extremely High"];

    /// <summary>Level boundaries in z units of the overall adult norm: below -1.5, -1.5..-0.5, -0.5..0.5, 0.5..1.5, above 1.5.</summary>
    public static readonly double[] LevelCuts = [-1.5, -0.5, 0.5, 1.5];

    private static readonly string[] UnaffiliatedReligions = ["Atheist", "Agnostic", "Nothing in particular"];

    private readonly bool _independent;
    private readonly CategoricalTrait _religion;
    private readonly CategoricalTrait _ideology;
    private readonly CategoricalTrait _party;
    // Indexed [trait, sex 0/1]; traits in PsychodemographicTableLoader.Traits order (O, C, E, A, N).
    private readonly BigFiveNorm[,] _norms = new BigFiveNorm[5, 2];
    private readonly double[][] _ageOffsets = new double[5][];
    private readonly double[] _overallMean = new double[5];
    private readonly double[] _overallSd = new double[5];

    private PsychodemographicSampler(string directory, bool independent)
    {
        _independent = independent;
        _religion = PsychodemographicTableLoader.LoadCategorical(directory, "religion");
        _ideology = PsychodemographicTableLoader.LoadCategorical(directory, "ideology");
        _party = PsychodemographicTableLoader.LoadCategorical(directory, "party");
        var norms = PsychodemographicTableLoader.LoadNorms(directory);
        var offsets = PsychodemographicTableLoader.LoadAgeOffsets(directory);
        for (var t = 0; t < 5; t++)
        {
            var trait = PsychodemographicTableLoader.Traits[t];
            var male = norms[(trait, 1)];
            var female = norms[(trait, 2)];
            _norms[t, 0] = male;
            _norms[t, 1] = female;
            _ageOffsets[t] = offsets[trait];
            // The overall adult norm is the equal mix of the two sexes (the US adult sex ratio is close to 1).
            _overallMean[t] = (male.Mean + female.Mean) / 2;
            var between = (male.Mean - _overallMean[t]) * (male.Mean - _overallMean[t]);
            _overallSd[t] = Math.Sqrt((male.Sd * male.Sd + female.Sd * female.Sd) / 2 + between);
        }
    }

    public string Source => _independent ? "independent" : "conditional";

    public static PsychodemographicSampler LoadBundled(bool independent = false) =>
        Load(BundledData.Path("psychodemographics"), independent);

    public static PsychodemographicSampler Load(string directory, bool independent = false)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new PersonaException($"{directory}: psychodemographics directory not found");
        return new PsychodemographicSampler(directory, independent);
    }

    public Psychodemographics Draw(DemographicProfile profile, Random rng)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(rng);
        // Every draw consumes the same random numbers in the same order, whatever the profile, so a
        // population stays aligned across modes and code paths.
        Span<string> levels = new string[5];
        for (var t = 0; t < 5; t++)
            levels[t] = LevelOf((DrawScore(t, profile) - _overallMean[t]) / _overallSd[t]);
        ReadOnlySpan<double> u = [rng.NextDouble(), rng.NextDouble(), rng.NextDouble()];

        var bigFive = new BigFive(levels[0], levels[1], levels[2], levels[3], levels[4]);
        if (_independent)
            return new Psychodemographics(bigFive,
                Pick(_religion, profile, u[0], conditional: false, minor: false),
                Pick(_ideology, profile, u[1], conditional: false, minor: false),
                Pick(_party, profile, u[2], conditional: false, minor: false));

        var minor = profile.Age < AdultAge;
        var religion = Pick(_religion, profile, u[0], conditional: true, minor);
        if (minor)
            return new Psychodemographics(bigFive, RaisedIn(religion), NotApplicableMinor, NotApplicableMinor);
        return new Psychodemographics(bigFive, religion,
            Pick(_ideology, profile, u[1], conditional: true, minor: false),
            Pick(_party, profile, u[2], conditional: true, minor: false));

        double DrawScore(int t, DemographicProfile p)
        {
            var z = StandardNormal(rng);
            if (_independent) return _overallMean[t] + z * _overallSd[t];
            var norm = _norms[t, p.Sex == 2 ? 1 : 0];
            var age = Math.Clamp(p.Age, 0, 99);
            return norm.Mean + (_ageOffsets[t][age] + z) * norm.Sd;
        }
    }

    /// <summary>The level of a trait score expressed in z units of the overall adult norm.</summary>
    public static string LevelOf(double z)
    {
        for (var i = 0; i < LevelCuts.Length; i++)
            if (z < LevelCuts[i]) return Levels[i];
        return Levels[^1];
    }

    /// <summary>
    /// Probability of each category for a profile: national shares times the ratio of every table
    /// whose group matches, renormalised. Exposed for tests and diagnostics.
    /// </summary>
    internal double[] Distribution(string trait, DemographicProfile profile) => trait switch
    {
        "religion" => Distribution(_religion, profile, !_independent, profile.Age < AdultAge),
        "ideology" => Distribution(_ideology, profile, !_independent, false),
        "party" => Distribution(_party, profile, !_independent, false),
        _ => throw new ArgumentOutOfRangeException(nameof(trait)),
    };

    internal IReadOnlyList<string> Categories(string trait) => trait switch
    {
        "religion" => _religion.Categories,
        "ideology" => _ideology.Categories,
        "party" => _party.Categories,
        _ => throw new ArgumentOutOfRangeException(nameof(trait)),
    };

    private static string Pick(CategoricalTrait trait, DemographicProfile profile, double u, bool conditional, bool minor)
    {
        Span<double> weights = stackalloc double[trait.Categories.Length];
        Fill(trait, profile, conditional, minor, weights);
        var sum = 0.0;
        foreach (var w in weights) sum += w;
        var target = u * sum;
        for (var i = 0; i < weights.Length; i++)
        {
            target -= weights[i];
            if (target < 0) return trait.Categories[i];
        }
        return trait.Categories[^1];
    }

    private static double[] Distribution(CategoricalTrait trait, DemographicProfile profile, bool conditional, bool minor)
    {
        var weights = new double[trait.Categories.Length];
        Fill(trait, profile, conditional, minor, weights);
        var sum = weights.Sum();
        for (var i = 0; i < weights.Length; i++) weights[i] /= sum;
        return weights;
    }

    private static void Fill(CategoricalTrait trait, DemographicProfile profile, bool conditional, bool minor, Span<double> weights)
    {
        trait.National.CopyTo(weights);
        if (!conditional) return;
        foreach (var table in trait.Adjustments)
        {
            // A child's religion is the family's: parents' education is unknown and the child's own
            // age is not the adults' age band, so for minors only sex, race and region condition it.
            if (minor && table.Dimension is "age" or "education") continue;
            var key = table.Dimension switch
            {
                "sex" => PsychodemographicKeys.Sex(profile.Sex),
                "race" => PsychodemographicKeys.Race(profile.Race, profile.Hispanic),
                "education" => PsychodemographicKeys.Education(profile.Education),
                "region" => PsychodemographicKeys.Region(profile.StateFips),
                _ => null,
            };
            foreach (var group in table.Groups)
            {
                if (!group.Matches(key, profile.Age)) continue;
                for (var i = 0; i < weights.Length; i++) weights[i] *= group.Ratios[i];
                break;
            }
        }
    }

    private static string RaisedIn(string religion) =>
        Array.IndexOf(UnaffiliatedReligions, religion) >= 0 ? "Raised without a religion" : $"Raised {religion}";

    /// <summary>Box-Muller with one uniform pair per value: simple, exact and deterministic.</summary>
    private static double StandardNormal(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
