using System.Text.Json;

namespace Persona.Cli.Tests;

public sealed class SurveyCommandTests : IDisposable
{
    private readonly string _dir = Cli.TempDir("survey");

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private const string Survey =
        """
        {"qkey":"q1","attribute":"POLPARTY","group":"Democrat","question":"Q1?","options":["A","B","C","Refused"],"ordinal":[1,2,3],"responses":[0.2,0.3,0.5],"refusal_rate":0}
        {"qkey":"q1","attribute":"POLPARTY","group":"Republican","question":"Q1?","options":["A","B","C","Refused"],"ordinal":[1,2,3],"responses":[0.5,0.3,0.2],"refusal_rate":0}
        {"qkey":"q2","attribute":"POLPARTY","group":"Democrat","question":"Q2?","options":["Yes","No","Refused"],"ordinal":[1,2],"responses":[0.9,0.1],"refusal_rate":0}
        {"qkey":"q2","attribute":"POLPARTY","group":"Republican","question":"Q2?","options":["Yes","No","Refused"],"ordinal":[1,2],"responses":[0.3,0.7],"refusal_rate":0}
        """;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text + "\n");
        return path;
    }

    [Fact]
    public async Task Score_writes_the_contract_fields_with_hand_computed_distances()
    {
        var survey = Write("survey.jsonl", Survey);
        // Democrats: q1 exact (0), q2 [0.6,0.4] vs [0.9,0.1] = 0.3 -> mean 0.15. Republicans: q1 predicted as
        // Democrats answer (0.3), q2 exact (0) -> 0.15.
        var preds = Write("preds.jsonl", string.Join("\n",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Democrat","distribution":[0.6,0.4]}""",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Republican","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Republican","distribution":[0.3,0.7]}"""));
        var outDir = Path.Combine(_dir, "out");
        var (code, text) = await Cli.Run("survey", "score", "--predictions", preds, "--survey", survey, "--out", outDir, "--resamples", "200");
        Assert.True(code == 0, text);
        Assert.Contains("Democrat", text);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "survey-results.json")));
        var root = doc.RootElement;
        Assert.Equal(0.15, root.GetProperty("overall").GetProperty("mean_distance").GetDouble(), 9);
        var groups = root.GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal(2, groups.Count);
        foreach (var g in groups)
        {
            Assert.Equal("POLPARTY", g.GetProperty("attribute").GetString());
            Assert.Equal(0.15, g.GetProperty("mean_distance").GetDouble(), 9);
            Assert.Equal(2, g.GetProperty("n").GetInt32());
            Assert.True(g.GetProperty("interval").GetProperty("lower").GetDouble() <= 0.15);
        }
        Assert.Equal(["Democrat", "Republican"], groups.Select(g => g.GetProperty("group").GetString()));
        // Uniform: q1 D (|1/3-.2|+|2/3-.5|)/2 = 0.15, R the same; q2 D |0.5-0.9| = 0.4, R |0.5-0.3| = 0.2 -> 0.225.
        var baselines = root.GetProperty("baselines");
        Assert.Equal(0.225, baselines.GetProperty("uniform").GetProperty("mean_distance").GetDouble(), 9);
        // Prior: q1 [.35,.3,.35] -> 0.15 each; q2 [0.6,0.4] -> 0.3 D, 0.3 R -> 0.225.
        Assert.Equal(0.225, baselines.GetProperty("population_prior").GetProperty("mean_distance").GetDouble(), 9);
    }

    [Fact]
    public async Task A_bad_row_exits_1_naming_file_and_line_without_a_stack_trace()
    {
        var survey = Write("survey.jsonl", Survey);
        var preds = Write("preds.jsonl", string.Join("\n",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}"""));
        var outDir = Path.Combine(_dir, "out");
        var (code, stdout, stderr) = await Cli.RunSplit("survey", "score", "--predictions", preds, "--survey", survey, "--out", outDir);
        Assert.Equal(1, code);
        Assert.Contains($"{preds}:2: 3 shares for 'q2', which has 2", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(File.Exists(Path.Combine(outDir, "survey-results.json")));
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task The_output_never_replaces_an_input()
    {
        var survey = Write("survey-results.json", Survey);
        var preds = Write("preds.jsonl", """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""");
        var before = File.ReadAllText(survey);
        var (code, text) = await Cli.Run("survey", "score", "--predictions", preds, "--survey", survey, "--out", _dir);
        Assert.Equal(1, code);
        Assert.Contains("--survey", text);
        Assert.Equal(before, File.ReadAllText(survey));
    }

    [Fact]
    public async Task Resamples_below_100_are_refused_before_reading()
    {
        var (code, text) = await Cli.Run("survey", "score", "--predictions", Path.Combine(_dir, "missing.jsonl"), "--out", _dir, "--resamples", "5");
        Assert.Equal(1, code);
        Assert.Contains("--resamples must be between 100", text);
    }

    [Fact]
    public async Task The_bundled_survey_is_the_default()
    {
        var preds = Write("preds.jsonl", """{"qkey":"natspac","attribute":"POLPARTY","group":"Democrat","distribution":[0.3,0.4,0.3]}""");
        var (code, text) = await Cli.Run("survey", "score", "--predictions", preds, "--out", Path.Combine(_dir, "o"));
        Assert.True(code == 0, text);
        Assert.Contains("subpop_eval.jsonl", text);
    }

    [Fact]
    public async Task Export_writes_one_Inspect_sample_per_question_and_group_without_a_target()
    {
        var survey = Write("survey.jsonl", Survey);
        var output = Path.Combine(_dir, "inspect.jsonl");
        var (code, text) = await Cli.Run("survey", "export", "--survey", survey, "--out", output);
        Assert.True(code == 0, text);
        var lines = File.ReadAllLines(output);
        Assert.Equal(4, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        var r = first.RootElement;
        Assert.Equal("q1/POLPARTY/Democrat", r.GetProperty("id").GetString());
        Assert.Equal("Q1?", r.GetProperty("input").GetString());
        Assert.Equal(["A", "B", "C"], r.GetProperty("choices").EnumerateArray().Select(c => c.GetString())); // "Refused" carries no share: no choice
        Assert.False(r.TryGetProperty("target", out _));
        var m = r.GetProperty("metadata");
        Assert.Equal("q1", m.GetProperty("qkey").GetString());
        Assert.Equal("Democrat", m.GetProperty("group").GetString());
        Assert.Equal([1.0, 2, 3], m.GetProperty("ordinal").EnumerateArray().Select(x => x.GetDouble()));
        Assert.Equal([0.2, 0.3, 0.5], m.GetProperty("responses").EnumerateArray().Select(x => x.GetDouble()));

        (code, text) = await Cli.Run("survey", "export", "--survey", survey, "--out", survey);
        Assert.Equal(1, code);
        Assert.Contains("replace its own input", text);
    }
}
