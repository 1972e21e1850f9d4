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

    [Fact]
    public void A_plan_made_in_two_passes_is_the_plan_of_the_whole_file_with_each_items_own_texts()
    {
        // Two splits, so the planner's split filter acts on the light pass too; one failed pair is left out and counted.
        var pairs = StudyFixtures.Pairs(6, 9).Concat(StudyFixtures.Pairs(6, 3, "train").Select(p => p with { PairId = p.PairId + "t", PromptId = p.PromptId + "t" })).ToList();
        var lines = pairs.Select(p => System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string?>
        {
            ["pair_id"] = p.PairId, ["persona_id"] = p.PersonaId, ["prompt_id"] = p.PromptId, ["persona"] = p.PersonaText, ["instruction"] = p.Instruction,
            ["original"] = p.Original, ["data"] = p.Data, ["critique"] = "k", ["question type"] = p.QuestionType, ["split"] = p.Split,
        })).Append("""{"pair_id":"f","persona_id":"p01","prompt_id":"q99","instruction":"How?","status":"failed"}""").ToArray();
        var dir = Write(lines);
        var options = new StudyOptions { Personas = 4, ItemsPerPersona = 5, RatersPerPersona = 2, AttentionChecks = 1, Splits = ["test-seen"], Seed = 3 };
        var (plan, read, failed) = StudyInputs.Plan(dir, null, options);
        var whole = StudyPlanner.Plan(StudyInputs.ReadPairs(dir), null, options);
        Assert.Equal((72, 1), (read, failed));
        Assert.Equal(whole.Personas.Select(p => (p.PersonaId, p.Text)), plan.Personas.Select(p => (p.PersonaId, p.Text)));
        Assert.Equal(whole.Personas.SelectMany(p => p.Items), plan.Personas.SelectMany(p => p.Items));
        var item = plan.Personas.SelectMany(p => p.Items).First(i => i.Kind == ItemKind.Pair);
        var source = pairs.Single(p => p.PairId == item.PairId);
        Assert.Equal((source.Instruction, source.Original, source.Data), (item.Instruction, item.Generic, item.Personalised));
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
