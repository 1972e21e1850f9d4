using Persona.Census;
using Persona.Personas;

namespace Persona.Core.Tests.Personas;

public sealed class PsychodemographicSamplerTests
{
    private static readonly PsychodemographicSampler Conditional = PsychodemographicSampler.LoadBundled();
    private static readonly PsychodemographicSampler Independent = PsychodemographicSampler.LoadBundled(independent: true);

    // 40-year-old non-Hispanic white woman with a bachelor's degree in Ohio (Midwest).
    private static DemographicProfile Adult(int age = 40, int sex = 2, int race = 1, int hisp = 1, int? schl = 21, int state = 39) =>
        new(age, sex, race, hisp, schl, state);

    [Fact]
    public void Bundled_tables_load_with_the_expected_categories()
    {
        Assert.Equal("conditional", Conditional.Source);
        Assert.Equal("independent", Independent.Source);
        Assert.Contains("Evangelical Protestant", Conditional.Categories("religion"));
        Assert.Contains("Nothing in particular", Conditional.Categories("religion"));
        Assert.Equal(["Very conservative", "Conservative", "Moderate", "Liberal", "Very liberal"], Conditional.Categories("ideology"));
        Assert.Equal(["Democrat", "Lean Democrat", "Independent", "Lean Republican", "Republican"], Conditional.Categories("party"));
        foreach (var trait in new[] { "religion", "ideology", "party" })
            Assert.Equal(1.0, Conditional.Distribution(trait, Adult()).Sum(), 9);
    }

    [Fact]
    public void Draws_are_deterministic_given_the_seed()
    {
        var profiles = Enumerable.Range(0, 500).Select(i => Adult(age: i % 90, sex: 1 + i % 2, race: 1 + i % 9, hisp: 1 + i % 3, state: 1 + i % 56)).ToArray();
        Psychodemographics[] Run(int seed)
        {
            var rng = new Random(seed);
            return profiles.Select(p => Conditional.Draw(p, rng)).ToArray();
        }
        var first = Run(7);
        Assert.Equal(first, Run(7));
        Assert.NotEqual(first, Run(8));
        Assert.True(first.Distinct().Count() > 50, "draws should vary across a population");
    }

    [Fact]
    public void Every_draw_uses_the_same_amount_of_randomness()
    {
        // Adults and minors, both modes: the generator must be left in the same state.
        foreach (var sampler in new[] { Conditional, Independent })
            foreach (var profile in new[] { Adult(), Adult(age: 5), Adult(age: 16, race: 2) })
            {
                var rng = new Random(3);
                sampler.Draw(profile, rng);
                var reference = new Random(3);
                sampler.Draw(Adult(age: 70), reference);
                Assert.Equal(reference.Next(), rng.Next());
            }
    }

    [Fact]
    public void Religion_shares_match_the_combined_table_within_sampling_error()
    {
        var profile = Adult(race: 1, schl: 16, state: 48); // white, high school, Texas (South)
        AssertSharesMatch(Conditional, profile, "religion", d => d.Religion, n: 100_000, seed: 11);
    }

    [Fact]
    public void Ideology_and_party_shares_match_the_combined_table_within_sampling_error()
    {
        var profile = Adult(age: 70, sex: 1, race: 2, schl: 22, state: 6); // Black man, 70, postgrad, California
        AssertSharesMatch(Conditional, profile, "ideology", d => d.Ideology, n: 100_000, seed: 12);
        AssertSharesMatch(Conditional, profile, "party", d => d.PoliticalViews, n: 100_000, seed: 13);
    }

    [Fact]
    public void Independent_mode_reproduces_the_national_marginals_and_ignores_demographics()
    {
        var a = Adult(age: 22, sex: 1, race: 2, schl: 22, state: 6);
        var b = Adult(age: 80, sex: 2, race: 1, schl: 10, state: 48);
        foreach (var trait in new[] { "religion", "ideology", "party" })
            Assert.Equal(Independent.Distribution(trait, a), Independent.Distribution(trait, b));
        // Same seed, very different people: identical draws.
        var rngA = new Random(5);
        var rngB = new Random(5);
        for (var i = 0; i < 1000; i++)
            Assert.Equal(Independent.Draw(a, rngA), Independent.Draw(b, rngB));
        AssertSharesMatch(Independent, a, "religion", d => d.Religion, n: 50_000, seed: 14);
        // Minors are not special in the ablation: the original PERSONA drew traits independently.
        Assert.NotEqual(PsychodemographicSampler.NotApplicableMinor, Independent.Draw(Adult(age: 8), new Random(1)).Ideology);
    }

    [Fact]
    public void Conditioning_moves_religion_as_the_sources_say()
    {
        var religion = Conditional.Categories("religion").ToList();
        double Share(DemographicProfile p, string category) => Conditional.Distribution("religion", p)[religion.IndexOf(category)];
        // Pew 2007 RLS: evangelicals 37% of Southerners vs 13% of Northeasterners.
        Assert.True(Share(Adult(state: 47), "Evangelical Protestant") > 2 * Share(Adult(state: 36), "Evangelical Protestant"));
        // Northeast more Catholic; West more Mormon.
        Assert.True(Share(Adult(state: 25), "Catholic") > Share(Adult(state: 13), "Catholic"));
        Assert.True(Share(Adult(state: 49), "Mormon") > 3 * Share(Adult(state: 39), "Mormon"));
        // Black adults mostly in historically Black Protestant churches (Georgia, high school).
        Assert.True(Share(Adult(race: 2, schl: 16, state: 13), "Historically Black Protestant") > 0.4);
        // Young adults less affiliated than 70+.
        var unaffiliated = new[] { "Atheist", "Agnostic", "Nothing in particular" };
        double None(DemographicProfile p) => unaffiliated.Sum(c => Share(p, c));
        Assert.True(None(Adult(age: 22)) > 2 * None(Adult(age: 75)));
    }

    [Fact]
    public void Conditioning_moves_ideology_and_party_as_the_sources_say()
    {
        double Conservative(DemographicProfile p) => Conditional.Distribution("ideology", p).Take(2).Sum();
        double Liberal(DemographicProfile p) => Conditional.Distribution("ideology", p).Skip(3).Sum();
        Assert.True(Conservative(Adult(age: 70)) > Conservative(Adult(age: 22)) + 0.1);
        Assert.True(Liberal(Adult(schl: 23)) > Liberal(Adult(schl: 16)) + 0.1);
        Assert.True(Conservative(Adult(sex: 1)) > Conservative(Adult(sex: 2)));
        double Democratic(DemographicProfile p) => Conditional.Distribution("party", p).Take(2).Sum();
        Assert.True(Democratic(Adult(race: 2)) > 0.7);
        Assert.True(Democratic(Adult(race: 2)) > Democratic(Adult(race: 1)) + 0.3);
    }

    [Fact]
    public void Party_is_conditioned_on_sex_age_and_education_in_the_published_direction()
    {
        // Pew 2014 leaned party ID (party-by-group.csv): men 44-43 vs 48-39 nationally; postgraduates
        // 57-35, high school or less 47-37; Millennials (18-33) 51-35, Silent Generation (69-86) 43-47.
        double Democratic(DemographicProfile p) => Conditional.Distribution("party", p).Take(2).Sum();
        double Republican(DemographicProfile p) => Conditional.Distribution("party", p).Skip(3).Sum();
        Assert.True(Democratic(Adult(sex: 2)) > Democratic(Adult(sex: 1)) + 0.02);
        Assert.True(Republican(Adult(sex: 1)) > Republican(Adult(sex: 2)) + 0.02);
        Assert.True(Democratic(Adult(schl: 23)) > Democratic(Adult(schl: 16)) + 0.03);
        Assert.True(Republican(Adult(schl: 16)) > Republican(Adult(schl: 23)));
        Assert.True(Democratic(Adult(age: 25)) > Democratic(Adult(age: 75)) + 0.03);
        Assert.True(Republican(Adult(age: 75)) > Republican(Adult(age: 25)) + 0.03);
        // Fewer pure independents among postgraduates (8%) than among high school or less (16%).
        double NoLean(DemographicProfile p) => Conditional.Distribution("party", p)[2];
        Assert.True(NoLean(Adult(schl: 16)) > NoLean(Adult(schl: 23)));
    }

    [Fact]
    public void Party_sex_contrast_is_the_documented_smoothed_ratio()
    {
        // Women have no row (ratio 1) and every other factor is shared, so the odds of Democrat over
        // Republican for a man versus a woman is r_male(Democrat) / r_male(Republican), where a "D|Lean D"
        // share is split in the national proportions 32:16 and "R|Lean R" in 23:16.
        var man = Conditional.Distribution("party", Adult(sex: 1));
        var woman = Conditional.Distribution("party", Adult(sex: 2));
        var s = PsychodemographicTableLoader.SmoothingPoints;
        var rDem = (44.0 * 32 / 48 + s) / (32 + s);
        var rRep = (43.0 * 23 / 39 + s) / (23 + s);
        Assert.Equal(rDem / rRep, man[0] / woman[0] / (man[4] / woman[4]), 9);
    }

    [Fact]
    public void Independent_mode_party_is_the_national_marginal_for_every_group()
    {
        var national = Independent.Distribution("party", Adult());
        double[] expected = [0.32, 0.16, 0.13, 0.16, 0.23];
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], national[i], 12);
        foreach (var p in new[] { Adult(sex: 1), Adult(schl: 23), Adult(schl: 16), Adult(age: 25), Adult(age: 75), Adult(race: 2) })
            Assert.Equal(national, Independent.Distribution("party", p));
    }

    [Fact]
    public void Minors_get_no_politics_and_a_family_religion()
    {
        var rng = new Random(21);
        for (var i = 0; i < 2000; i++)
        {
            var d = Conditional.Draw(Adult(age: i % 18, schl: i % 18 < 3 ? null : 10), rng);
            Assert.Equal(PsychodemographicSampler.NotApplicableMinor, d.Ideology);
            Assert.Equal(PsychodemographicSampler.NotApplicableMinor, d.PoliticalViews);
            Assert.StartsWith("Raised ", d.Religion);
        }
        var adult = Conditional.Draw(Adult(age: 18), new Random(2));
        Assert.NotEqual(PsychodemographicSampler.NotApplicableMinor, adult.Ideology);
        Assert.DoesNotContain("Raised", adult.Religion);
        // A child's religion ignores its own (meaningless) education and age band.
        Assert.Equal(Conditional.Distribution("religion", Adult(age: 8, schl: 3)), Conditional.Distribution("religion", Adult(age: 12, schl: 12)));
    }

    [Fact]
    public void Big_five_levels_follow_the_norms_and_the_age_and_sex_offsets()
    {
        const int n = 60_000;
        var levels = PsychodemographicSampler.Levels;
        double HighShare(DemographicProfile p, Func<BigFive, string> trait, int seed)
        {
            var rng = new Random(seed);
            var high = 0;
            for (var i = 0; i < n; i++)
            {
                var level = trait(Conditional.Draw(p, rng).BigFive);
                Assert.Contains(level, levels);
                if (level is "High" or "Extremely High") high++;
            }
            return (double)high / n;
        }
        // Women score higher on neuroticism and agreeableness (BFI-2 norms).
        Assert.True(HighShare(Adult(sex: 2), b => b.Neuroticism, 1) > HighShare(Adult(sex: 1), b => b.Neuroticism, 2) + 0.05);
        Assert.True(HighShare(Adult(sex: 2), b => b.Agreeableness, 3) > HighShare(Adult(sex: 1), b => b.Agreeableness, 4) + 0.05);
        // Conscientiousness is much lower at 17 than at 45; openness lower at 85 than at 25.
        Assert.True(HighShare(Adult(age: 45), b => b.Conscientiousness, 5) > HighShare(Adult(age: 17), b => b.Conscientiousness, 6) + 0.15);
        Assert.True(HighShare(Adult(age: 25), b => b.Openness, 7) > HighShare(Adult(age: 85), b => b.Openness, 8) + 0.1);
    }

    [Fact]
    public void Independent_big_five_levels_follow_the_standard_normal_cut_points()
    {
        const int n = 100_000;
        var counts = new int[5];
        var rng = new Random(9);
        var profile = Adult(age: 17, sex: 1);
        for (var i = 0; i < n; i++)
            counts[Array.IndexOf(PsychodemographicSampler.Levels, Independent.Draw(profile, rng).BigFive.Conscientiousness)]++;
        // Phi(-1.5) = 0.0668, Phi(-0.5) - Phi(-1.5) = 0.2417, Phi(0.5) - Phi(-0.5) = 0.3829.
        double[] expected = [0.0668, 0.2417, 0.3829, 0.2417, 0.0668];
        for (var i = 0; i < 5; i++)
            AssertWithin(expected[i], (double)counts[i] / n, n, $"level {PsychodemographicSampler.Levels[i]}");
    }

    [Theory]
    [InlineData(-2.0, "Extremely Low")]
    [InlineData(-1.5, "Low")]
    [InlineData(-0.6, "Low")]
    [InlineData(0.0, "Average")]
    [InlineData(0.49, "Average")]
    [InlineData(0.5, "High")]
    [InlineData(1.5, "Extremely High")]
    public void Levels_use_the_documented_cut_points(double z, string expected) =>
        Assert.Equal(expected, PsychodemographicSampler.LevelOf(z));

    private static void AssertSharesMatch(PsychodemographicSampler sampler, DemographicProfile profile, string trait,
        Func<Psychodemographics, string> pick, int n, int seed)
    {
        var categories = sampler.Categories(trait).ToList();
        var target = sampler.Distribution(trait, profile);
        var counts = new int[categories.Count];
        var rng = new Random(seed);
        for (var i = 0; i < n; i++) counts[categories.IndexOf(pick(sampler.Draw(profile, rng)))]++;
        for (var i = 0; i < counts.Length; i++)
            AssertWithin(target[i], (double)counts[i] / n, n, $"{trait} '{categories[i]}'");
    }

    /// <summary>Five binomial standard errors: a false alarm is a one-in-a-million event per check.</summary>
    private static void AssertWithin(double expected, double actual, int n, string what)
    {
        var tolerance = 5 * Math.Sqrt(expected * (1 - expected) / n) + 1e-9;
        Assert.True(Math.Abs(actual - expected) <= tolerance,
            $"{what}: expected {expected:0.0000} +/- {tolerance:0.0000}, got {actual:0.0000}");
    }
}
