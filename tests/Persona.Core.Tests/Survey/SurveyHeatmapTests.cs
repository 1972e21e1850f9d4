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

    [Fact]
    public async Task A_rerun_of_the_stage_replaces_its_Every_Eval_Ever_record_and_leaves_other_files()
    {
        var set = Set();
        SurveyStageResult Result(double share) => new(SurveyScoring.Score(set,
        [
            new("q1", new("POLPARTY", "Democrat"), [share, 0.3, 0.7 - share]), new("q1", new("POLPARTY", "Republican"), [0.2, 0.3, 0.5]),
            new("q2", new("POLPARTY", "Democrat"), [0.9, 0.1]), new("q2", new("POLPARTY", "Republican"), [0.3, 0.7]),
        ], resamples: 100), null, new Dictionary<string, SurveyResults>(), [], ["q1", "q2"], 2, 0);
        var dir = Path.Combine(Path.GetTempPath(), "persona-survey-extras-" + Guid.NewGuid().ToString("N"));
        try
        {
            await SurveyStage.WriteExtrasAsync(dir, set, Result(0.2), "offline", SurveyElicitation.Verbalized, true, DateTimeOffset.UnixEpoch, default);
            var folder = Path.Combine(dir, SurveyEveryEvalEver.Folder);
            var first = Directory.GetFiles(folder).Order().ToList();
            Assert.Equal(2, first.Count);
            File.WriteAllText(Path.Combine(folder, "notes.txt"), "mine");
            await SurveyStage.WriteExtrasAsync(dir, set, Result(0.4), "offline", SurveyElicitation.Verbalized, true, DateTimeOffset.UnixEpoch, default);
            var second = Directory.GetFiles(folder).Where(SurveyEveryEvalEver.IsRecordFile).Order().ToList();
            Assert.Equal(2, second.Count);
            Assert.Empty(second.Intersect(first)); // other answers, another record: the earlier one is gone
            Assert.True(File.Exists(Path.Combine(folder, "notes.txt")));
            Assert.True(File.Exists(Path.Combine(dir, SurveyHeatmap.Folder, SurveyHeatmap.FileName)));
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
