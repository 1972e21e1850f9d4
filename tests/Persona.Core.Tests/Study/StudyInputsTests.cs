using Persona.Study;

namespace Persona.Core.Tests.Study;

public sealed class StudyInputsTests : IDisposable
{
    private readonly string _dir = StudyFixtures.TempDir();

    private string Write(params string[] lines)
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllLines(Path.Combine(_dir, StudyInputs.PairsFile), lines);
        return _dir;
    }

    private const string Good = """{"pair_id":"a","persona_id":"p1","prompt_id":"q1","persona":"age: 3\n","instruction":"Why?","original":"g","data":"c","critique":"k","question type":"test","split":"test-seen"}""";

    [Fact]
    public void Pairs_are_read_with_every_field()
    {
        var p = Assert.Single(StudyInputs.ReadPairs(Write(Good, "")));
        Assert.Equal(new PreferencePair("a", "p1", "q1", "age: 3\n", "Why?", "g", "c", "k", "test", "test-seen"), p);
    }

    [Fact]
    public void Pairs_that_the_build_marked_failed_are_left_out_and_counted()
    {
        const string failed = """{"pair_id":"f","persona_id":"p1","prompt_id":"q2","persona":"age: 3\n","instruction":"How?","original":null,"data":null,"question type":"test","split":"test-seen","status":"failed"}""";
        var pairs = StudyInputs.ReadPairs(Write(Good.Replace("\"split\":\"test-seen\"", "\"split\":\"test-seen\",\"status\":\"ok\""), failed), out var skipped);
        Assert.Equal("a", Assert.Single(pairs).PairId);
        Assert.Equal(1, skipped);
    }

    [Theory]
    [InlineData("""{"pair_id":"a","persona_id":"p1","prompt_id":"q1","instruction":"Why?","data":"c"}""", "line 2: field \"original\" is missing")]
    [InlineData("""{"pair_id":"a","persona_id":"p1","prompt_id":"q1","instruction":"Why?","original":["x"],"data":"c"}""", "line 2: field \"original\" must be a string")]
    [InlineData("not json", "line 2: not valid JSON")]
    public void A_bad_line_is_reported_with_its_number_and_field(string bad, string expected)
    {
        var ex = Assert.Throws<PersonaException>(() => StudyInputs.ReadPairs(Write(Good.Replace("\"a\"", "\"z\""), bad)));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void A_repeated_pair_id_and_a_missing_folder_are_errors()
    {
        Assert.Contains("appears twice", Assert.Throws<PersonaException>(() => StudyInputs.ReadPairs(Write(Good, Good))).Message);
        Assert.Contains("pairs.jsonl", Assert.Throws<PersonaException>(() => StudyInputs.ReadPairs(Path.Combine(_dir, "nope"))).Message);
    }

    [Theory]
    [InlineData("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("plain, with comma", "\"plain, with comma\"")]
    [InlineData("line\nbreak", "\"line\nbreak\"")]
    [InlineData("ok", "ok")]
    public void Csv_cells_are_quoted_and_formulas_defused(string value, string cell) => Assert.Equal(cell, StudyExport.Cell(value));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
