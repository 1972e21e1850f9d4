using Persona.Census;
using Persona.Personas;

namespace Persona.Core.Tests.Census;

public class CensusSamplerTests
{
    private static CensusSampleOptions Wy(int n, long seed = 1) => new()
    {
        N = n,
        Seed = seed,
        Sources = [CensusFixtures.Wyoming2018Zip],
    };

    /// <summary>Records the first number of the rng it is given, so tests can see which stream a persona got.</summary>
    private sealed class FakePsycho : IPsychodemographicSampler
    {
        public string Source => "conditional";
        public Psychodemographics Draw(DemographicProfile profile, Random rng) =>
            new(new BigFive("High", "Average", "Low", "Extremely High", "Extremely Low"),
                "r" + rng.Next(), profile.Age < 18 ? "minor" : "adult", $"state {profile.StateFips}");
    }

    [Fact]
    public async Task A_lazy_sample_decodes_the_same_personas_as_an_eager_one_in_any_order_and_holds_no_decoded_persona()
    {
        var eager = await CensusSampler.SampleAsync(Wy(500, 7), new FakePsycho());
        var lazy = await CensusSampler.SampleAsync(Wy(500, 7), new FakePsycho(), null, CancellationToken.None, lazy: true);
        Assert.Equal(eager.Personas.Count, lazy.Personas.Count);
        Assert.IsNotType<PersonaRecord[]>(lazy.Personas);
        // Read backwards and concurrently, as the build's workers read it: each draw is its own, whatever came before.
        var back = new PersonaRecord[500];
        Parallel.For(0, 500, i => back[499 - i] = lazy.Personas[499 - i]);
        for (var i = 0; i < 500; i++)
            Assert.Equal(Json(eager.Personas[i]), Json(back[i]));
        Assert.Equal(eager.Personas.Select(p => p.Id), lazy.Personas.Select(p => p.Id));
        Assert.Throws<ArgumentOutOfRangeException>(() => lazy.Personas[500]);
        static string Json(PersonaRecord p)
        {
            var b = new System.Buffers.ArrayBufferWriter<byte>();
            PersonaJson.Write(b, p);
            return System.Text.Encoding.UTF8.GetString(b.WrittenSpan);
        }
    }

    [Fact]
    public async Task Weighted_draws_reproduce_the_weighted_marginals()
    {
        var table = await CensusFixtures.Load2018Async();
        double total = 0, female = 0, old = 0;
        for (var r = 0; r < table.Count; r++)
        {
            total += table.Weight[r];
            if (table.Get(PumsVariables.Sex, r) == 2) female += table.Weight[r];
            if (table.Get(PumsVariables.Agep, r) >= 65) old += table.Weight[r];
        }
        const int n = 40_000;
        var result = await CensusSampler.SampleAsync(Wy(n, 11), null);
        var pf = female / total;
        var po = old / total;
        var sf = result.Personas.Count(p => p.Sex == "Female") / (double)n;
        var so = result.Personas.Count(p => p.Age >= 65) / (double)n;
        // Five standard errors of a proportion: fails by chance about once in 1.7 million runs.
        Assert.InRange(sf, pf - 5 * Math.Sqrt(pf * (1 - pf) / n), pf + 5 * Math.Sqrt(pf * (1 - pf) / n));
        Assert.InRange(so, po - 5 * Math.Sqrt(po * (1 - po) / n), po + 5 * Math.Sqrt(po * (1 - po) / n));
        Assert.Equal(5740, result.Draw.PersonsLoaded);
        Assert.Equal(577_737, result.Draw.UniverseWeight);
    }

    [Fact]
    public async Task Unweighted_draws_follow_the_record_shares_instead()
    {
        var table = await CensusFixtures.Load2018Async();
        // GQ residents are over-represented among records relative to their weight in Wyoming.
        var gqShare = Enumerable.Range(0, table.Count).Count(r => table.GetSerial(r).Contains("GQ")) / (double)table.Count;
        const int n = 20_000;
        var result = await CensusSampler.SampleAsync(Wy(n, 3) with { Unweighted = true }, null);
        var s = result.Personas.Count(p => p.Census.SerialNo.Contains("GQ")) / (double)n;
        Assert.InRange(s, gqShare - 5 * Math.Sqrt(gqShare * (1 - gqShare) / n), gqShare + 5 * Math.Sqrt(gqShare * (1 - gqShare) / n));
    }

    [Fact]
    public async Task Same_seed_gives_byte_identical_files_and_another_seed_differs()
    {
        using var tmp = new CensusFixtures.TempDir();
        foreach (var ext in new[] { "jsonl", "parquet" })
        {
            await CensusSampler.SampleAsync(Wy(300, 5) with { OutputPath = tmp.File($"a.{ext}") }, new FakePsycho());
            await CensusSampler.SampleAsync(Wy(300, 5) with { OutputPath = tmp.File($"b.{ext}") }, new FakePsycho());
            await CensusSampler.SampleAsync(Wy(300, 6) with { OutputPath = tmp.File($"c.{ext}") }, new FakePsycho());
            Assert.Equal(File.ReadAllBytes(tmp.File($"a.{ext}")), File.ReadAllBytes(tmp.File($"b.{ext}")));
            Assert.NotEqual(File.ReadAllBytes(tmp.File($"a.{ext}")), File.ReadAllBytes(tmp.File($"c.{ext}")));
        }
        Assert.Empty(Directory.EnumerateFiles(tmp.Path, "*.tmp"));
    }

    [Fact]
    public async Task Output_does_not_depend_on_the_order_sources_are_given()
    {
        using var tmp = new CensusFixtures.TempDir();
        var a = CensusFixtures.WriteEditedCsv(tmp.File("psam_p56a.csv"), 400);
        var b = tmp.File("psam_p56b.csv");
        // Second file: the next rows, with their own serials.
        var lines = CensusFixtures.Wyoming2018Csv().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        File.WriteAllLines(b, new[] { lines[0].TrimEnd('\r') }.Concat(lines.Skip(401).Take(400).Select(l => l.TrimEnd('\r'))));
        var one = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 200, Seed = 9, Sources = [a, b] }, null);
        var two = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 200, Seed = 9, Sources = [b, a] }, null);
        var dir = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 200, Seed = 9, Sources = [tmp.Path] }, null);
        var glob = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 200, Seed = 9, Sources = [Path.Combine(tmp.Path, "psam_p*.csv")] }, null);
        Assert.Equal(one.Personas.Select(p => p.Id), two.Personas.Select(p => p.Id));
        Assert.Equal(one.Personas.Select(p => p.Id), dir.Personas.Select(p => p.Id));
        Assert.Equal(one.Personas.Select(p => p.Id), glob.Personas.Select(p => p.Id));
    }

    [Fact]
    public async Task Trait_streams_depend_on_seed_and_draw_index_only()
    {
        var all = await CensusSampler.SampleAsync(Wy(50, 21), new FakePsycho());
        var adults = await CensusSampler.SampleAsync(Wy(50, 21) with { MinAge = 18 }, new FakePsycho());
        Assert.Equal(all.Personas.Select(p => p.Religion), adults.Personas.Select(p => p.Religion));
        Assert.Equal(all.Personas.Select(p => p.Traits.Seed), adults.Personas.Select(p => p.Traits.Seed));
        Assert.Equal(50, all.Personas.Select(p => p.Traits.Seed).Distinct().Count());
        Assert.All(all.Personas, p => Assert.Equal("conditional", p.Traits.Source));
        Assert.All(all.Personas, p => Assert.Equal(p.Age < 18 ? "minor" : "adult", p.Ideology)); // the profile carries the drawn person
        Assert.All(all.Personas, p => Assert.Equal("state 56", p.PoliticalViews));
        var none = await CensusSampler.SampleAsync(Wy(5, 21), null);
        Assert.All(none.Personas, p => Assert.True(p.BigFiveScores is null && p.Religion is null && p.Traits.Source is null));
    }

    [Fact]
    public async Task Without_replacement_never_repeats_a_person()
    {
        var result = await CensusSampler.SampleAsync(Wy(3000, 2) with { WithoutReplacement = true }, null);
        Assert.Equal(3000, result.Personas.Select(p => (p.Census.SerialNo, p.Census.SpOrder)).Distinct().Count());
        Assert.Equal(3000, result.Draw.DistinctPersons);
        var everyone = await CensusSampler.SampleAsync(Wy(5740, 2) with { WithoutReplacement = true, Unweighted = true }, null);
        Assert.Equal(5740, everyone.Draw.DistinctPersons);
        var ex = await Assert.ThrowsAsync<PersonaException>(() => CensusSampler.SampleAsync(Wy(5741, 2) with { WithoutReplacement = true }, null));
        Assert.Contains("5,740", ex.Message);
    }

    [Fact]
    public async Task Without_replacement_still_favours_heavy_weights()
    {
        // Half the file drawn without replacement: heavier persons must be over-represented.
        var table = await CensusFixtures.Load2018Async();
        var mean = Enumerable.Range(0, table.Count).Average(r => table.Weight[r]);
        var result = await CensusSampler.SampleAsync(Wy(2870, 4) with { WithoutReplacement = true }, null);
        Assert.True(result.Personas.Average(p => p.Census.Weight) > mean * 1.1);
    }

    [Fact]
    public async Task Filters_restrict_the_universe()
    {
        var result = await CensusSampler.SampleAsync(Wy(2000, 8) with { MinAge = 18, MaxAge = 30, States = StateCodes.Parse("WY,56") }, null);
        Assert.All(result.Personas, p => Assert.InRange(p.Age, 18, 30));
        Assert.True(result.Draw.UniverseSize < 5740);
        var ex = await Assert.ThrowsAsync<PersonaException>(() => CensusSampler.SampleAsync(Wy(10) with { States = StateCodes.Parse("CA,TX,06") }, null));
        Assert.Contains("No person matches --states CA,TX", ex.Message);
        Assert.Contains("WY", ex.Message);
        Assert.Throws<PersonaException>(() => StateCodes.Parse("CA,XX"));
        Assert.Equal([6, 48], StateCodes.Parse("ca, TX ,06"));
    }

    [Fact]
    public async Task Parquet_sources_in_the_2024_layout_sample_with_the_2023_dictionary()
    {
        var result = await CensusSampler.SampleAsync(new CensusSampleOptions
        {
            N = 500, Seed = 1, Sources = [CensusFixtures.Wyoming2024Parquet], DictionaryPath = CensusFixtures.Dictionary2023,
        }, null);
        Assert.Equal("2024-1yr", result.Draw.Vintage);
        Assert.All(result.Personas, p => Assert.Equal("2024-1yr", p.Census.Vintage));
        Assert.Contains(result.Personas, p => p.OccupationCategory is not null);
        Assert.Contains("household_type", result.Draw.UnavailableAttributes);
    }

    [Fact]
    public void Alias_sampler_matches_small_known_weights()
    {
        var rng = new DeterministicRng(42);
        double[] w = [1, 0, 3, 6];
        var draws = WeightedSampler.WithReplacement(w, 100_000, rng, uniform: false);
        var counts = new int[4];
        foreach (var d in draws) counts[d]++;
        Assert.Equal(0, counts[1]);
        for (var i = 0; i < 4; i++)
        {
            var p = w[i] / 10;
            Assert.InRange(counts[i] / 100_000.0, p - 5 * Math.Sqrt(p * (1 - p) / 1e5) - 1e-12, p + 5 * Math.Sqrt(p * (1 - p) / 1e5) + 1e-12);
        }
        var es = WeightedSampler.WithoutReplacement(w, 3, new DeterministicRng(1), uniform: false);
        Assert.Equal([0, 2, 3], es.Order());
    }
}
