using System.Text.Json;
using Persona.Study;

namespace Persona.Cli.Tests;

public sealed class StudyCommandsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-cli-study", Guid.NewGuid().ToString("N"));
    private string Study => Path.Combine(_dir, "study");

    private Task<(int Code, string Output)> CreateAsync(params string[] extra) =>
        Cli.Run(["study", "create", "--pairs", Cli.Fixture("study-pairs"), "--out", Study, "--persona-count", "3", "--raters", "4", "--items", "5", .. extra]);

    [Fact]
    public async Task Create_judge_and_analyze_a_study_end_to_end()
    {
        var (code, output) = await CreateAsync("--attention-checks", "1");
        Assert.True(code == 0, output);
        Assert.Contains("3 x 4 raters = 12 rater places", output);

        // Twelve raters: three of four pick the personalised answer on every question.
        using (var db = StudyDatabase.Open(Study))
        {
            for (var n = 0; n < 12; n++)
            {
                var claimed = (await db.ClaimAsync(ProlificIds.None, default))!;
                var s = (await db.RecordConsentAsync(claimed.Token, consents: true, passedScreening: true, default))!;
                for (var pos = 1; pos <= s.ItemCount; pos++)
                {
                    var item = db.FindItem(s.PersonaId, pos)!;
                    var wantPersonalised = item.Kind == ItemKind.Attention || s.RaterIndex != 3; // everyone passes the attention check
                    var side = wantPersonalised == StudyPlan.PersonalisedLeft(item.Flip, s.RaterIndex) ? "left" : "right";
                    await db.SubmitAsync(s.Token, pos, side, "because that is what this person likes", ProlificIds.None, default);
                }
            }
        }

        (code, output) = await Cli.Run("study", "judge", Study, "--model", "offline");
        Assert.True(code == 0, output);
        Assert.Contains("15 questions x 2 orders; 30 judged now, 0 already stored", output);
        Assert.Contains("simulated", output);
        (code, output) = await Cli.Run("study", "judge", Study, "--model", "offline");
        Assert.Contains("0 judged now, 30 already stored", output);

        var outDir = Path.Combine(_dir, "analysis");
        (code, output) = await Cli.Run("study", "analyze", Study, "--out", outDir, "--resamples", "200");
        Assert.True(code == 0, output);
        Assert.Contains("15 with a 3-of-4 majority", output);
        Assert.Contains("humans choose personalised", output);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "analysis.json")));
        Assert.Equal(15, json.RootElement.GetProperty("labelled_items").GetInt32());
        Assert.Equal(1.0, json.RootElement.GetProperty("humans_choose_personalised").GetProperty("value").GetDouble());
        var model = json.RootElement.GetProperty("models")[0];
        Assert.Equal("offline", model.GetProperty("model").GetString());
        Assert.Equal(30, model.GetProperty("units").GetInt32());
        Assert.True(File.Exists(Path.Combine(outDir, "confusion-offline.png")));
        Assert.True(File.Exists(Path.Combine(outDir, "kappa-per-persona-offline.svg")));
    }

    [Fact]
    public async Task Bad_inputs_end_with_a_short_error_and_never_replace_a_study()
    {
        Assert.Equal(0, (await CreateAsync()).Code);
        var (code, output) = await CreateAsync();
        Assert.Equal(1, code);
        Assert.Contains("never replaced", output);
        (code, output) = await Cli.Run("study", "create", "--pairs", Path.Combine(_dir, "none"), "--out", Path.Combine(_dir, "s2"));
        Assert.Equal(1, code);
        Assert.Contains("pairs.jsonl", output);
        var pairsFile = Path.Combine(Cli.Fixture("study-pairs"), "pairs.jsonl");
        (code, output) = await Cli.Run("study", "create", "--pairs", Cli.Fixture("study-pairs"), "--out", pairsFile);
        Assert.Equal(1, code);
        Assert.Contains("--out", output);
        Assert.True(File.Exists(pairsFile)); // the input is untouched
        (code, output) = await Cli.Run("study", "serve", Study, "--urls", "not-a-url");
        Assert.Equal(1, code);
        Assert.Contains("is not a listening address", output);
        (code, output) = await Cli.Run("study", "analyze", Path.Combine(_dir, "missing"), "--out", Path.Combine(_dir, "a"));
        Assert.Equal(1, code);
        Assert.Contains("No study at", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // a `personas build` folder, as `pairs build --personas` takes it (issue 24)
    public async Task Raters_see_the_persona_files_rendering_when_pairs_carry_only_ids(bool folder)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "built"));
        var personas = Path.Combine(_dir, "built", "personas.jsonl");
        Assert.Equal(0, (await Cli.Run("census", "sample", "--n", "2", "--seed", "5", "--source", Cli.Fixture("csv_pwy.zip"), "--out", personas)).Code);
        var records = new List<Persona.Personas.PersonaRecord>();
        await foreach (var p in Persona.Personas.PersonaJsonl.ReadAsync(personas)) records.Add(p);
        var pairsDir = Path.Combine(_dir, "pairs");
        Directory.CreateDirectory(pairsDir);
        await File.WriteAllLinesAsync(Path.Combine(pairsDir, "pairs.jsonl"),
            from p in records
            from q in Enumerable.Range(1, 2)
            select JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["pair_id"] = $"{p.Id}-{q}", ["persona_id"] = p.Id, ["prompt_id"] = $"q{q}", ["instruction"] = $"Question {q}?",
                ["original"] = "generic", ["data"] = "personalised", ["question type"] = "test", ["split"] = "test-seen",
            }));
        var (code, output) = await Cli.Run("study", "create", "--pairs", pairsDir, "--personas", folder ? Path.GetDirectoryName(personas)! : personas, "--out", Study, "--persona-count", "2", "--raters", "1", "--items", "2");
        Assert.True(code == 0, output);
        using var db = StudyDatabase.Open(Study);
        var texts = db.PersonaTexts();
        Assert.All(records, p => Assert.Equal(Persona.Personas.PersonaRenderer.Render(p), texts[p.Id]));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
