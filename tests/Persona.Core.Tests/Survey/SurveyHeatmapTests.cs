using System.Text.RegularExpressions;
using Persona.Survey;

namespace Persona.Core.Tests.Survey;

public sealed class SurveyHeatmapTests
{
    private static SurveySet Set() => new("t.jsonl",
    [
        new("q1", "POLPARTY", "Democrat", "Q1?", ["A", "B", "C"], [1, 2, 3], [0.2, 0.3, 0.5], 0),
        new("q1", "POLPARTY", "Republican", "Q1?", ["A", "B", "C"], [1, 2, 3], [0.5, 0.3, 0.2], 0),
        new("q2", "POLPARTY", "Democrat", "Q2?", ["Yes", "No"], [1, 2], [0.9, 0.1], 0),
        new("q2", "POLPARTY", "Republican", "Q2?", ["Yes", "No"], [1, 2], [0.3, 0.7], 0),
    ]);

    [Fact]
    public void One_cell_per_question_and_group_shaded_by_distance_with_a_dot_where_the_prior_is_nearer()
    {
        var set = Set();
        // Democrats exact on q1 (0), Republicans given the Democrats' q1 (0.3, the prior is 0.15: farther), q2 both exact.
        var r = SurveyScoring.Score(set,
        [
            new("q1", new("POLPARTY", "Democrat"), [0.2, 0.3, 0.5]), new("q1", new("POLPARTY", "Republican"), [0.2, 0.3, 0.5]),
            new("q2", new("POLPARTY", "Democrat"), [0.9, 0.1]), new("q2", new("POLPARTY", "Republican"), [0.3, 0.7]),
        ], resamples: 100);
        var svg = SurveyHeatmap.Svg(r, "title <&>");
        Assert.Equal(svg, SurveyHeatmap.Svg(r, "title <&>")); // a function of the results
        Assert.Contains("title &lt;&amp;&gt;", svg);
        var cells = Regex.Matches(svg, "<rect [^>]*fill=\"(#[0-9a-f]{6})\"><title>([^<]*)</title>");
        Assert.Equal(4, cells.Count);
        var byTitle = cells.ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value);
        // The largest distance shown is the darkest shade; a distance of 0 is white.
        Assert.Equal("#8c1414", byTitle["q1 / POLPARTY=Republican: distance 0.3, prior 0.15"]);
        Assert.Equal("#ffffff", byTitle["q1 / POLPARTY=Democrat: distance 0, prior 0.15"]);
        Assert.Single(Regex.Matches(svg, "<circle ")); // only the Republicans' q1 is farther than the prior
        Assert.Contains(">Democrat</text>", svg);
        Assert.Contains(">q2</text>", svg);
    }
}
