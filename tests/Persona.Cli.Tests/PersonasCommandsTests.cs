using System.Text.Json;
using Persona.Personas;
using Spectre.Console;

namespace Persona.Cli.Tests;

public class PersonasCommandsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-cli-" + Guid.NewGuid().ToString("N"));
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public PersonasCommandsTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static Task<(int Code, string Output)> Run(params string[] args) => Cli.Run(args);

    /// <summary>The build command; <paramref name="extra"/> pairs override the defaults (e.g. "--n", "0").</summary>
    private string[] Build(string outDir, params string[] extra)
    {
        var args = new List<(string, string)> { ("--n", "12"), ("--seed", "3"), ("--model", "offline"), ("--out", outDir),
            ("--source", Fixture("p_56_2024_first2000.parquet")), ("--dictionary", Fixture("PUMS_Data_Dictionary_2023.csv")) };
        for (var i = 0; i < extra.Length; i += 2)
        {
            args.RemoveAll(a => a.Item1 == extra[i]);
            args.Add((extra[i], extra[i + 1]));
        }
        return ["personas", "build", .. args.SelectMany(a => new[] { a.Item1, a.Item2 })];
    }

    [Fact]
    public async Task Build_then_audit_with_the_offline_model()
    {
        var outDir = Path.Combine(_dir, "pop");
        var (code, text) = await Run(Build(outDir));
        Assert.Equal(0, code);
        Assert.Contains("12 of 12", text);
        Assert.Contains("simulated", text);
        Assert.Equal(12, (await PersonaFiles.ReadAsync(Path.Combine(outDir, "personas.parquet"))).Count);
        foreach (var f in new[] { "personas.jsonl", "split.json", "rejections.jsonl", "build-report.json", "manifest.json", "store.sqlite" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "manifest.json"))))
            Assert.Equal(12, manifest.RootElement.GetProperty("counts").GetProperty("personas").GetInt32());
        // The 2024 Wyoming rows have no RELP, no household file and no derived columns: the summary says so.
        Assert.Contains("not in source", text);
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "build-report.json"))))
        {
            var missing = report.RootElement.GetProperty("unavailable_attributes").EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Contains("household_type", missing);
            Assert.Contains(missing, m => m!.StartsWith("place_of_birth (POBP", StringComparison.Ordinal));
            Assert.StartsWith("not available", report.RootElement.GetProperty("household_fields").GetString());
        }

        // A second run of the same command is served from the cache: nothing is paid.
        var (again, text2) = await Run(Build(outDir));
        Assert.Equal(0, again);
        Assert.Matches(@"paid calls\s+│\s+0 ", text2);

        var (auditCode, audit) = await Run("personas", "audit", "--personas", outDir, "--model", "offline");
        Assert.Equal(0, auditCode);
        Assert.Contains("by age band", audit);
        Assert.Contains("hardship", audit);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "drift-audit.json")));
        Assert.Equal(12, doc.RootElement.GetProperty("enriched").GetInt32());
        Assert.Equal(12, doc.RootElement.GetProperty("lm_checked").GetInt32());
        Assert.Equal(6, doc.RootElement.GetProperty("themes").GetArrayLength());
    }

    [Theory]
    [InlineData("--n", "0")]
    [InlineData("--limit", "-3")]
    [InlineData("--categories", "99")]
    [InlineData("--min-age", "120")]
    [InlineData("--train-fraction", "1.5")]
    public async Task Build_rejects_bad_input_with_exit_code_1(string option, string value)
    {
        var outDir = Path.Combine(_dir, "bad");
        var (code, text) = await Run(Build(outDir, option, value));
        Assert.Equal(1, code);
        Assert.Contains("error:", text);
        Assert.False(File.Exists(Path.Combine(outDir, "personas.jsonl")));
    }

    [Fact]
    public async Task Build_with_an_unknown_model_or_missing_source_fails_with_1()
    {
        Assert.Equal(1, (await Run(Build(Path.Combine(_dir, "a"), "--model", "nosuch:thing"))).Code);
        var (code, text) = await Run("personas", "build", "--n", "5", "--model", "offline", "--out", Path.Combine(_dir, "b"), "--source", Path.Combine(_dir, "missing.parquet"));
        Assert.Equal(1, code);
        Assert.Contains("missing.parquet", text);
    }

    [Fact]
    public async Task Build_stops_on_the_call_budget_with_exit_code_3_and_resumes()
    {
        var outDir = Path.Combine(_dir, "budget");
        var (code, _) = await Run(Build(outDir, "--max-calls", "5"));
        Assert.Equal(3, code);
        Assert.False(File.Exists(Path.Combine(outDir, "personas.jsonl")));
        Assert.Equal(0, (await Run(Build(outDir))).Code);
        Assert.True(File.Exists(Path.Combine(outDir, "personas.jsonl")));
    }

    [Fact]
    public async Task Audit_rejects_a_folder_without_personas_and_a_census_only_file()
    {
        var (code, text) = await Run("personas", "audit", "--personas", _dir, "--model", "offline");
        Assert.Equal(1, code);
        Assert.Contains("personas.jsonl", text);
        var census = Path.Combine(_dir, "census.jsonl");
        Assert.Equal(0, (await Run("census", "sample", "--n", "5", "--source", Fixture("p_56_2024_first2000.parquet"),
            "--dictionary", Fixture("PUMS_Data_Dictionary_2023.csv"), "--out", census)).Code);
        (code, text) = await Run("personas", "audit", "--personas", census, "--model", "offline");
        Assert.Equal(1, code);
        Assert.Contains("personas build", text);
    }

    [Fact]
    public async Task Prompts_curate_with_the_offline_model_reports_counts_per_filter()
    {
        var src = Path.Combine(_dir, "q.jsonl");
        var lines = Enumerable.Range(0, 40).Select(i => JsonSerializer.Serialize(new { id = $"q{i}", text = $"Should people in town number {i} pay more tax for better public schools?" }))
            .Append(JsonSerializer.Serialize(new { id = "short", text = "Why?" }))
            .Append(JsonSerializer.Serialize(new { id = "statement", text = "Tell me a story about a dragon and a knight." }));
        File.WriteAllLines(src, lines);
        var outDir = Path.Combine(_dir, "prompts");
        var (code, text) = await Run("prompts", "curate", "--model", "offline", "--out", outDir, "--source", src, "--k", "2", "--seed", "3");
        Assert.Equal(0, code);
        Assert.Contains("question_mark", text);
        Assert.Contains("min_words", text);
        Assert.Contains("controversial", text);
        Assert.True(File.Exists(Path.Combine(outDir, "prompts.jsonl")));
        Assert.True(File.Exists(Path.Combine(outDir, "manifest.json")));
    }

    [Fact]
    public async Task Prompts_curate_rejects_a_missing_source_with_1()
    {
        var (code, text) = await Run("prompts", "curate", "--model", "offline", "--out", Path.Combine(_dir, "p"), "--source", Path.Combine(_dir, "none.csv"));
        Assert.Equal(1, code);
        Assert.Contains("none.csv", text);
    }

    [Fact]
    public async Task Help_of_the_new_verbs_shows_examples_and_the_shared_runtime_options()
    {
        foreach (var verb in new[] { new[] { "personas", "build" }, ["personas", "audit"], ["prompts", "curate"] })
        {
            var writer = new StringWriter();
            var code = await PersonaApp.BuildRoot(AnsiConsole.Console).Parse([.. verb, "--help"])
                .InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = writer });
            var text = writer.ToString();
            Assert.Equal(0, code);
            Assert.Contains("Examples:", text);
            Assert.Contains("--max-cost", text);
            Assert.Contains("--offline-seed", text);
        }
    }
}
