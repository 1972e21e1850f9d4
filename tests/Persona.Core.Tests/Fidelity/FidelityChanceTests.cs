using Persona.Census;
using Persona.Core.Tests.Census;
using Persona.Personas;
using Persona.Fidelity;
using Xunit.Abstractions;

namespace Persona.Core.Tests.Fidelity;

/// <summary>
/// The chance levels of the fidelity report against what true random samples of persons do:
/// persons of the real Wyoming 2018 file, drawn by weight with a plain cumulative-weight search
/// (not the report's simulator), must land inside the chance levels about as often as the level says.
/// </summary>
public sealed class FidelityChanceTests(ITestOutputHelper output)
{
    private static readonly Lazy<List<(IReadOnlyDictionary<string, string?> Attributes, double Weight)>> Wyoming = new(() =>
    {
        var table = CensusFixtures.Load2018Async().GetAwaiter().GetResult();
        var decoder = new PumsDecoder(table, CensusFixtures.D2018, keepUnknownCodes: false);
        return Enumerable.Range(0, table.Count)
            .Select(r => ((IReadOnlyDictionary<string, string?>)PopulationFidelity.CensusAttributes(PersonaRecord.FromCensus(decoder.Decode(r), new PersonaTraits(null, 0), null)), table.GetWeight(r)))
            .ToList();
    });

    private static List<IReadOnlyDictionary<string, string?>> RandomSample(
        List<(IReadOnlyDictionary<string, string?> Attributes, double Weight)> census, int n, Random rng)
    {
        var cumulative = new double[census.Count];
        double sum = 0;
        for (var i = 0; i < census.Count; i++) cumulative[i] = sum += census[i].Weight;
        var sample = new List<IReadOnlyDictionary<string, string?>>(n);
        for (var k = 0; k < n; k++)
        {
            var i = Array.BinarySearch(cumulative, rng.NextDouble() * sum);
            sample.Add(census[i < 0 ? ~i : i].Attributes);
        }
        return sample;
    }

    [Fact]
    public void Chance_levels_contain_the_gaps_of_true_random_samples()
    {
        var census = Wyoming.Value;
        const int trials = 30, n = 200;
        var rng = new Random(2018);
        int pairChecks = 0, pairInside = 0, attrChecks = 0, attrInside = 0;
        FidelityReport? last = null;
        for (var t = 0; t < trials; t++)
        {
            var sample = RandomSample(census, n, rng);
            var report = FidelityReport.Compute(sample, census, options: new FidelityOptions { ChanceSeed = t });
            foreach (var p in report.Pairs.Where(p => p.Gap is not null))
            {
                pairChecks++;
                if (!p.BeyondChance) pairInside++;
                Assert.Equal(p.Gap < p.ChanceGapLow || p.Gap > p.ChanceGapHigh, p.BeyondChance);
            }
            foreach (var a in report.Attributes)
            {
                attrChecks++;
                if (!a.BeyondChance) attrInside++;
            }
            last = report;
        }
        output.WriteLine($"V gaps inside the 95% chance interval: {pairInside}/{pairChecks}; TVDs under the 95% chance level: {attrInside}/{attrChecks}");
        foreach (var p in last!.Pairs)
            output.WriteLine($"{p.First} x {p.Second}: gap {p.Gap:0.000}, chance {p.ChanceGapLow:0.000}..{p.ChanceGapHigh:0.000} (mean {p.ChanceGapMean:0.000})");

        // About 95% by construction; binomial noise over ~200 checks is about 1.5 points.
        Assert.InRange((double)pairInside / pairChecks, 0.89, 0.995);
        Assert.InRange((double)attrInside / attrChecks, 0.89, 0.995);
        // 200 persons overstate every association (the upward bias of V), and the chance level
        // carries that bias: a band centred on zero would flag true random samples as too associated.
        Assert.All(last.Pairs, p => Assert.True(p.ChanceGapMean > 0.01, $"{p.First} x {p.Second}: mean chance gap {p.ChanceGapMean}"));
    }

    [Fact]
    public void A_population_with_broken_association_is_flagged_beyond_chance()
    {
        // A true random sample with education shuffled across persons: marginals intact, the
        // age x education association gone. Its gap must fall below the chance interval.
        var census = Wyoming.Value;
        var rng = new Random(7);
        var sample = RandomSample(census, 2000, rng);
        var educations = sample.Select(s => s["education"]).OrderBy(_ => rng.Next()).ToList();
        var shuffled = sample.Select((s, i) => (IReadOnlyDictionary<string, string?>)new Dictionary<string, string?>(s) { ["education"] = educations[i] }).ToList();
        var report = FidelityReport.Compute(shuffled, census, ["age", "education"], [("age", "education")]);
        var pair = Assert.Single(report.Pairs);
        Assert.True(pair.BeyondChance, $"gap {pair.Gap} vs chance {pair.ChanceGapLow}..{pair.ChanceGapHigh}");
        Assert.True(pair.Gap < pair.ChanceGapLow);
        Assert.All(report.Attributes, a => Assert.False(a.BeyondChance, $"{a.Attribute}: TVD {a.Tvd} vs chance {a.ChanceTvd}"));
        Assert.Equal(1, report.Summary.PairsBeyondChance);
    }

    [Fact]
    public void Chance_levels_are_seeded_and_shrink_with_the_sample_size()
    {
        var census = Wyoming.Value;
        var small = RandomSample(census, 100, new Random(1));
        var large = RandomSample(census, 3000, new Random(1));
        var a = FidelityReport.Compute(small, census);
        var b = FidelityReport.Compute(small, census);
        Assert.Equal(a.ToJson(), b.ToJson());
        var c = FidelityReport.Compute(small, census, options: new FidelityOptions { ChanceSeed = 99 });
        Assert.NotEqual(a.Pairs.Select(p => p.ChanceGapHigh), c.Pairs.Select(p => p.ChanceGapHigh));
        var d = FidelityReport.Compute(large, census);
        for (var k = 0; k < a.Pairs.Count; k++)
            Assert.True(d.Pairs[k].ChanceGapHigh - d.Pairs[k].ChanceGapLow < a.Pairs[k].ChanceGapHigh - a.Pairs[k].ChanceGapLow);
        for (var k = 0; k < a.Attributes.Count; k++)
            Assert.True(d.Attributes[k].ChanceTvd < a.Attributes[k].ChanceTvd, a.Attributes[k].Attribute);
        Assert.Throws<PersonaException>(() => FidelityReport.Compute(small, census, options: new FidelityOptions { ChanceReplicates = 0 }));
    }

    [Fact]
    public void Bias_corrected_v_chance_levels_contain_true_random_samples_too()
    {
        // Bergsma's correction uses a table's effective size; simulated samples are unweighted, so
        // their tables must count persons, not cells, or their corrected V would collapse to 0.
        var census = Wyoming.Value;
        var rng = new Random(3);
        int checks = 0, inside = 0;
        for (var t = 0; t < 20; t++)
        {
            var report = FidelityReport.Compute(RandomSample(census, 200, rng), census,
                options: new FidelityOptions { BiasCorrectedCramersV = true, ChanceSeed = 100 + t });
            foreach (var p in report.Pairs.Where(p => p.Gap is not null))
            {
                checks++;
                if (!p.BeyondChance) inside++;
            }
        }
        output.WriteLine($"bias-corrected V gaps inside the 95% chance interval: {inside}/{checks}");
        Assert.InRange((double)inside / checks, 0.88, 1.0);
    }
}
