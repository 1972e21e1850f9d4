using System.Text.Json;

namespace Persona.Cli.Tests;

public sealed class FidelityAndRunCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("persona-cli-fidelity-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Fidelity_of_a_large_draw_is_close_to_the_census_and_writes_json_and_plots()
    {
        var personas = Path.Combine(_dir, "wy.jsonl");
        var (code, text) = await Cli.Run("census", "sample", "--n", "4000", "--seed", "3", "--source", Cli.Fixture("csv_pwy.zip"), "--out", personas);
        Assert.True(code == 0, text);

        var outDir = Path.Combine(_dir, "fidelity");
        (code, text) = await Cli.Run("census", "fidelity", "--personas", personas, "--source", Cli.Fixture("csv_pwy.zip"), "--out", outDir);
        Assert.True(code == 0, text);
        Assert.Contains("age x education", text);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "fidelity.json")));
        var attributes = json.RootElement.GetProperty("attributes").EnumerateArray().ToList();
        Assert.Contains(attributes, a => a.GetProperty("attribute").GetString() == "household_type"); // derived from RELP in 2018 files
        foreach (var a in attributes)
        {
            // A weighted draw of 4,000 stays within a few times the TVD a random sample shows by chance.
            var tvd = a.GetProperty("tvd").GetDouble();
            var chance = a.GetProperty("expected_sampling_tvd").GetDouble();
            Assert.True(tvd < 3 * chance + 0.01, $"{a.GetProperty("attribute").GetString()}: TVD {tvd} vs chance {chance}");
        }
        // Every pair carries the gap a random sample of 4,000 would show, in the JSON and the table.
        Assert.Contains("gap by chance", text);
        Assert.Contains("household fields: derived from household members (RELP", text);
        Assert.Contains("beyond chance (200 random samples of 4,000", text);
        foreach (var pair in json.RootElement.GetProperty("pairs").EnumerateArray())
        {
            var low = pair.GetProperty("chance_gap_low").GetDouble();
            var high = pair.GetProperty("chance_gap_high").GetDouble();
            var gap = pair.GetProperty("gap").GetDouble();
            Assert.True(low < high, pair.ToString());
            Assert.Equal(gap < low || gap > high, pair.GetProperty("beyond_chance").GetBoolean());
        }
        Assert.Equal(200, json.RootElement.GetProperty("chance").GetProperty("replicates").GetInt32());
        Assert.True(File.Exists(Path.Combine(outDir, "education.png")));
        Assert.True(new FileInfo(Path.Combine(outDir, "education.png")).Length > 5_000);
    }

    [Fact]
    public async Task Fidelity_of_a_skewed_population_is_flagged()
    {
        // Only people aged 60+, compared with the whole census: age must be far off.
        var personas = Path.Combine(_dir, "old.jsonl");
        var (code, text) = await Cli.Run("census", "sample", "--n", "500", "--seed", "3", "--min-age", "60", "--source", Cli.Fixture("csv_pwy.zip"), "--out", personas);
        Assert.True(code == 0, text);
        var outDir = Path.Combine(_dir, "f");
        (code, text) = await Cli.Run("census", "fidelity", "--personas", personas, "--source", Cli.Fixture("csv_pwy.zip"), "--out", outDir);
        Assert.True(code == 0, text);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "fidelity.json")));
        var age = json.RootElement.GetProperty("attributes").EnumerateArray().Single(a => a.GetProperty("attribute").GetString() == "age");
        Assert.True(age.GetProperty("tvd").GetDouble() > 0.5);
        Assert.True(age.GetProperty("beyond_chance").GetBoolean());
        Assert.True(age.GetProperty("chance_tvd").GetDouble() < 0.2);
    }

    [Fact]
    public async Task Fidelity_with_a_missing_persona_file_exits_1()
    {
        var (code, text) = await Cli.Run("census", "fidelity", "--personas", Path.Combine(_dir, "absent.jsonl"), "--out", Path.Combine(_dir, "f"));
        Assert.Equal(1, code);
        Assert.Contains("absent.jsonl", text);
        Assert.False(Directory.Exists(Path.Combine(_dir, "f")));
    }
}
