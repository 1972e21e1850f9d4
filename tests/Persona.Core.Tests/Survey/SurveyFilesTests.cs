using Persona.Survey;

namespace Persona.Core.Tests.Survey;

public sealed class SurveyFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("persona-survey-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Row1 = """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","question":"Q?","options":["A","B","C","Refused"],"ordinal":[1,2,3],"responses":[0.2,0.3,0.5],"refusal_rate":0.01}""";
    private const string Row2 = """{"qkey":"q1","attribute":"POLPARTY","group":"Republican","question":"Q?","options":["A","B","C","Refused"],"ordinal":[1,2,3],"responses":[0.5,0.3,0.2],"refusal_rate":0}""";

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private SurveySet Small() => SurveySetFile.Read(Write("survey.jsonl", Row1, Row2));

    [Theory]
    [InlineData("""{"qkey":"q9","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""", "unknown qkey 'q9'")]
    [InlineData("""{"qkey":"q1","attribute":"POLPARTY","group":"Green","distribution":[0.2,0.3,0.5]}""", "unknown group 'Green' of POLPARTY; expected one of Democrat, Republican")]
    [InlineData("""{"qkey":"q1","attribute":"SEX","group":"Male","distribution":[0.2,0.3,0.5]}""", "unknown attribute 'SEX'")]
    [InlineData("""{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.5,0.5]}""", "2 shares for 'q1', which has 3 (A / B / C)")]
    [InlineData("""{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[-0.5,0.5,1]}""", "negative")]
    [InlineData("""{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.5,0.5,0.5]}""", "sums to 1.5")]
    [InlineData("""{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":"0.5"}""", "'distribution' is missing or not an array")]
    [InlineData("""{"qkey":"q1","attribute":"POLPARTY","group":"Democrat",""", "not valid JSON")]
    public void A_bad_prediction_row_is_refused_with_its_file_and_line(string bad, string expected)
    {
        var survey = Small();
        var path = Write("pred.jsonl", """{"qkey":"q1","attribute":"POLPARTY","group":"Republican","distribution":[0.5,0.3,0.2]}""", bad);
        var ex = Assert.Throws<PersonaException>(() => SurveyPredictionsFile.Read(path, survey));
        Assert.StartsWith($"{path}:2: ", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void A_question_predicted_twice_for_a_group_is_refused()
    {
        var survey = Small();
        var row = """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""";
        var ex = Assert.Throws<PersonaException>(() => SurveyPredictionsFile.Read(Write("pred.jsonl", row, "", row), survey));
        Assert.Contains(":3: ", ex.Message);
        Assert.Contains("line 1", ex.Message);
    }

    [Fact]
    public void A_small_set_scores_by_hand()
    {
        var survey = Small();
        // Democrat predicted as Republicans answer: W1 = (|0.2-0.5| + |0.5-0.8|) / 2 = 0.3.
        var path = Write("pred.jsonl", """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.5,0.3,0.2],"refusal_rate":0.2}""");
        var r = SurveyScoring.Score(survey, SurveyPredictionsFile.Read(path, survey), resamples: 100);
        Assert.Equal(0.3, r.Overall.MeanDistance, 12);
        var dem = Assert.Single(r.Groups);
        Assert.Equal(0.3, dem.Baselines.Opposing!.Value, 12);
        // Prior = [0.35, 0.3, 0.35]: W1 = (|0.35-0.2| + |0.65-0.5|) / 2 = 0.15. Uniform: (|1/3-0.2| + |2/3-0.5|) / 2 = 0.15.
        Assert.Equal(0.15, dem.Baselines.PopulationPrior, 12);
        Assert.Equal(0.15, dem.Baselines.Uniform, 12);
        Assert.Equal(0.01, dem.RealRefusalRate, 12);
        Assert.Equal(0.2, dem.PredictedRefusalRate!.Value, 12);
        Assert.Null(dem.Score.Interval); // one question: no interval over questions
        Assert.Equal("too few questions", dem.VersusPrior.Verdict);
    }

    [Theory]
    [InlineData("""{"qkey":"q1","attribute":"A","group":"g","question":"Q?","options":["A","B"],"ordinal":[1,2,3],"responses":[0.5,0.5],"refusal_rate":0}""", "2 responses but 3 ordinals")]
    [InlineData("""{"qkey":"q1","attribute":"A","group":"g","question":"Q?","options":["A"],"ordinal":[1,2],"responses":[0.5,0.5],"refusal_rate":0}""", "1 options but 2 ordinals")]
    [InlineData("""{"qkey":"q1","attribute":"A","group":"g","options":["A","B"],"ordinal":[1,2],"responses":[0.5,0.5],"refusal_rate":0}""", "'question' is missing")]
    [InlineData("""{"qkey":"q1","attribute":"A","group":"g","question":"Q?","options":["A","B"],"ordinal":[1,2],"responses":[0.9,0.5],"refusal_rate":0}""", "sum to 1.4")]
    [InlineData("""{"qkey":"q1","attribute":"A","group":"g","question":"Q?","options":["A","B"],"ordinal":[1,2],"responses":[0.5,0.5],"refusal_rate":2}""", "refusal_rate 2")]
    public void A_bad_survey_row_is_refused_with_its_file_and_line(string bad, string expected)
    {
        var path = Write("bad.jsonl", Row1, bad);
        var ex = Assert.Throws<PersonaException>(() => SurveySetFile.Read(path));
        Assert.StartsWith($"{path}:2: ", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void A_question_with_two_scales_is_refused()
    {
        var path = Write("bad.jsonl", Row1, Row2.Replace("[1,2,3]", "[1,2,4]"));
        var ex = Assert.Throws<PersonaException>(() => SurveySetFile.Read(path));
        Assert.Contains("one question has one scale", ex.Message);
    }

    [Fact]
    public void Invalid_UTF8_is_refused_with_its_line()
    {
        var path = Path.Combine(_dir, "latin1.jsonl");
        File.WriteAllBytes(path, [.. System.Text.Encoding.UTF8.GetBytes(Row1 + "\n"), 0xE9, (byte)'\n']);
        var ex = Assert.Throws<PersonaException>(() => SurveySetFile.Read(path));
        Assert.Contains(":2", ex.Message);
        Assert.Contains("UTF-8", ex.Message);
    }
}
