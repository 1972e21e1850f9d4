using Persona.Statistics;
using Persona.Survey;

namespace Persona.Core.Tests.Survey;

public class SurveyScoringTests
{
    private static readonly Lazy<SurveySet> Gss = new(() => SurveySetFile.Read(SurveySet.BundledPath));

    // /work/shared/data/README.md (gss-subpop): "Computed with an independent script on this file,
    // the mean distance of the uniform answer to each group is 0.208, of the mean of the 22 groups
    // ("population prior") 0.074, and Democrats vs Republicans 0.168."
    [Fact]
    public void The_bundled_GSS_set_reproduces_the_published_baselines()
    {
        var gss = Gss.Value;
        Assert.Equal(133, gss.Questions.Count);
        Assert.Equal(22, gss.Groups.Count);
        Assert.Equal(2926, gss.Items.Count);

        var uniform = SurveyScoring.Score(gss, SurveyScoring.Baseline(gss, i => SurveyDistance.Uniform(i.Ordinal.Count)), resamples: 200);
        Assert.Equal(0.208, Math.Round(uniform.Overall.MeanDistance, 3));
        Assert.Equal(0.208, Math.Round(uniform.OverallBaselines.Uniform, 3));
        Assert.Equal(0.074, Math.Round(uniform.OverallBaselines.PopulationPrior, 3));

        var prior = SurveyScoring.PopulationPrior(gss);
        var asPrior = SurveyScoring.Score(gss, SurveyScoring.Baseline(gss, i => prior[i.Qkey]), resamples: 200);
        Assert.Equal(0.074, Math.Round(asPrior.Overall.MeanDistance, 3));

        var demRep = Assert.Single(uniform.OpposingPairs, p => p.A.Group == "Democrat");
        Assert.Equal(133, demRep.N);
        // The published 0.168 is 0.1675 (4 decimals) rounded again: the unrounded mean is 0.16749, so
        // it is pinned at 4 decimals, and to the published 3 within its last digit.
        Assert.Equal(0.1675, Math.Round(demRep.MeanDistance, 4));
        Assert.True(Math.Abs(demRep.MeanDistance - 0.168) < 0.001, $"Democrats vs Republicans {demRep.MeanDistance}");

        // Each of the four political groups sees its opposite in its own row.
        var dem = Assert.Single(uniform.Groups, g => g.Group.Group == "Democrat");
        Assert.Equal("POLPARTY=Republican", dem.Baselines.OpposingGroup);
        Assert.Equal(demRep.MeanDistance, dem.Baselines.Opposing!.Value, 12);
    }

    [Fact]
    public void The_real_answers_score_zero_and_beat_the_prior_in_every_group()
    {
        var gss = Gss.Value;
        var r = SurveyScoring.Score(gss, SurveyScoring.RealAnswers(gss), resamples: 200);
        Assert.Equal(0, r.Overall.MeanDistance, 12);
        Assert.Equal(22, r.Groups.Count);
        Assert.All(r.Groups, g => Assert.Equal("better", g.VersusPrior.Verdict));
        Assert.All(r.Groups, g => Assert.Equal(133, g.Score.N));
        Assert.Equal(8, r.Attributes.Count);
    }

    [Fact]
    public void The_uniform_answer_is_worse_than_the_prior_in_every_group()
    {
        var gss = Gss.Value;
        var r = SurveyScoring.Score(gss, SurveyScoring.Baseline(gss, i => SurveyDistance.Uniform(i.Ordinal.Count)), resamples: 200);
        Assert.All(r.Groups, g => Assert.Equal("worse", g.VersusPrior.Verdict));
        Assert.All(r.Groups, g => Assert.True(g.Score.Interval!.Value.Lower <= g.Score.MeanDistance && g.Score.MeanDistance <= g.Score.Interval.Value.Upper));
    }

    // Hand-computed: W1 = sum over steps of |F_p - F_q| x step, divided by the ordinal range.
    [Theory]
    [InlineData(new[] { 1.0, 2, 3 }, new[] { 1.0, 0, 0 }, new[] { 0.0, 0, 1 }, 1.0)]
    [InlineData(new[] { 1.0, 2, 3 }, new[] { 1.0, 0, 0 }, new[] { 0.0, 1, 0 }, 0.5)]
    [InlineData(new[] { 1.0, 2, 3 }, new[] { 0.5, 0.5, 0 }, new[] { 0.0, 0.5, 0.5 }, 0.5)]
    [InlineData(new[] { 1.0, 2, 4 }, new[] { 1.0, 0, 0 }, new[] { 0.0, 1, 0 }, 1.0 / 3)] // uneven steps count by value
    [InlineData(new[] { 3.0, 1, 2 }, new[] { 0.0, 1, 0 }, new[] { 1.0, 0, 0 }, 1.0)]       // ordinals need not be sorted
    [InlineData(new[] { 1.0, 2, -1 }, new[] { 0.5, 0, 0.5 }, new[] { 0.0, 1, 0 }, 1.0)]    // "Not sure" dropped, 0.5 renormalised to 1
    [InlineData(new[] { 1.0, -1, 2 }, new[] { 0.25, 0.5, 0.25 }, new[] { 0.5, 0, 0.5 }, 0.0)]
    public void Ordinal_Wasserstein_matches_hand_computed_cases(double[] ordinal, double[] p, double[] q, double expected)
    {
        Assert.Equal(SurveyMetric.Wasserstein, SurveyDistance.MetricOf(ordinal));
        Assert.Equal(expected, SurveyDistance.Distance(ordinal, p, q)!.Value, 12);
        Assert.Equal(expected, SurveyDistance.Distance(ordinal, q, p)!.Value, 12);
    }

    [Fact]
    public void A_question_without_a_scale_is_refused_by_Wasserstein_and_scored_by_total_variation()
    {
        Assert.Throws<UndefinedStatisticException>(() => SurveyDistance.OrdinalWasserstein([2, 2], [1, 0], [0, 1]));
        Assert.Throws<UndefinedStatisticException>(() => SurveyDistance.OrdinalWasserstein([-1, -1], [1, 0], [0, 1]));
        Assert.Equal(SurveyMetric.TotalVariation, SurveyDistance.MetricOf([-1, -1, -1]));
        Assert.Equal(0.5, SurveyDistance.Distance([-1, -1], [1, 0], [0.5, 0.5])!.Value, 12);
        Assert.Equal(0.3, SurveyDistance.Distance([2, 2, 2], [0.2, 0.3, 0.5], [0.5, 0.3, 0.2])!.Value, 12);
    }

    [Fact]
    public void An_answer_with_no_mass_on_the_scale_is_unscorable_not_a_distance()
    {
        Assert.Null(SurveyDistance.Distance([1, 2, -1], [0, 0, 1], [0.5, 0.5, 0]));
    }
}
