using System.Text.Json;

namespace Persona.Cli.Tests;

/// <summary>Issue #8, defects 1 and 2: an output never replaces an input, and a wrong-kind output path is a clean error before anything runs.</summary>
public sealed class OutputSafetyTests
{
    private static string Parquet => Cli.Fixture("p_56_2024_first2000.parquet");
    private static string Dictionary => Cli.Fixture("PUMS_Data_Dictionary_2023.csv");

    private static string Requests(string dir, int n = 3)
    {
        var path = Path.Combine(dir, "requests.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, n).Select(i => JsonSerializer.Serialize(new
        {
            id = $"r{i}",
            messages = new[] { new { role = "user", content = $"question {i}" } },
        })));
        return path;
    }

    private static async Task AssertRejectedUnchanged(string input, string[] args, string expect)
    {
        var before = File.ReadAllBytes(input);
        var (code, stdout, stderr) = await Cli.RunSplit(args);
        Assert.Equal(1, code);
        Assert.Contains(expect, stderr);
        Assert.DoesNotContain("   at ", stderr + stdout);
        Assert.Equal(before, File.ReadAllBytes(input));
    }

    [Fact]
    public async Task Census_sample_out_equal_to_its_source_is_refused_and_the_source_kept()
    {
        var dir = Cli.TempDir("safety");
        var source = Path.Combine(dir, "p.parquet");
        File.Copy(Parquet, source);
        await AssertRejectedUnchanged(source, ["census", "sample", "--n", "5", "--source", source, "--dictionary", Dictionary, "--out", source], "would replace its own input");
        // Through a symbolic link too.
        var link = Path.Combine(dir, "link.parquet");
        File.CreateSymbolicLink(link, source);
        await AssertRejectedUnchanged(source, ["census", "sample", "--n", "5", "--source", source, "--dictionary", Dictionary, "--out", link], "would replace its own input");
    }

    [Fact]
    public async Task Llm_batch_out_equal_to_in_is_refused_before_any_call()
    {
        var dir = Cli.TempDir("safety");
        var input = Requests(dir);
        await AssertRejectedUnchanged(input, ["llm", "batch", "--in", input, "--out", input, "--model", "offline", "--run-dir", Path.Combine(dir, "run")], "would replace its own input");
        Assert.False(Directory.Exists(Path.Combine(dir, "run")));
    }

    [Fact]
    public async Task Personas_audit_out_pointing_at_the_personas_file_it_reads_is_refused()
    {
        var dir = Cli.TempDir("safety");
        var pop = Path.Combine(dir, "pop");
        var (code, _) = await Cli.Run("personas", "build", "--n", "4", "--seed", "1", "--model", "offline", "--out", pop, "--source", Parquet, "--dictionary", Dictionary);
        Assert.Equal(0, code);
        var file = Path.Combine(pop, "personas.jsonl");
        await AssertRejectedUnchanged(file, ["personas", "audit", "--personas", pop, "--model", "offline", "--out", file], "would replace its own input");
        var store = Path.Combine(pop, "store.sqlite");
        await AssertRejectedUnchanged(store, ["personas", "audit", "--personas", pop, "--model", "offline", "--out", store], "would replace its own input");
    }

    [Fact]
    public async Task Prompts_curate_with_its_source_inside_out_as_prompts_jsonl_is_refused()
    {
        var dir = Cli.TempDir("safety");
        var outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(outDir);
        var source = Path.Combine(outDir, "prompts.jsonl");
        File.WriteAllLines(source, Enumerable.Range(0, 30).Select(i => JsonSerializer.Serialize(new { text = $"Should cities ban cars from their centres, question number {i}?" })));
        await AssertRejectedUnchanged(source, ["prompts", "curate", "--model", "offline", "--source", source, "--out", outDir, "--k", "2"], "would replace its own input");
    }

    public static TheoryData<string, string[]> ExistingFileAsFolder => new()
    {
        { "--out", ["personas", "build", "--n", "3", "--model", "offline", "--source", Parquet, "--dictionary", Dictionary, "--out", "{file}"] },
        { "--run-dir", ["personas", "build", "--n", "3", "--model", "offline", "--source", Parquet, "--dictionary", Dictionary, "--out", "{dir}/b", "--run-dir", "{file}"] },
        { "--out", ["run", "--n", "3", "--out", "{file}"] },
        { "--out", ["prompts", "curate", "--model", "offline", "--out", "{file}", "--limit", "20", "--k", "2"] },
        { "--run-dir", ["prompts", "curate", "--model", "offline", "--out", "{dir}/c", "--run-dir", "{file}", "--limit", "20", "--k", "2"] },
        { "--out", ["census", "fidelity", "--personas", "{personas}", "--source", Parquet, "--dictionary", Dictionary, "--out", "{file}"] },
        { "--run-dir", ["llm", "batch", "--in", "{requests}", "--out", "{dir}/r.jsonl", "--model", "offline", "--run-dir", "{file}"] },
    };

    [Theory]
    [MemberData(nameof(ExistingFileAsFolder))]
    public async Task A_folder_option_naming_an_existing_file_is_a_clean_error(string flag, string[] template)
    {
        var dir = Cli.TempDir("safety");
        var file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "keep me");
        var personas = Path.Combine(dir, "personas.jsonl");
        if (template.Contains("{personas}"))
            Assert.Equal(0, (await Cli.Run("census", "sample", "--n", "20", "--source", Parquet, "--dictionary", Dictionary, "--out", personas)).Code);
        var requests = Requests(dir);
        var args = template.Select(a => a.Replace("{file}", file).Replace("{dir}", dir).Replace("{personas}", personas).Replace("{requests}", requests)).ToArray();
        var (code, stdout, stderr) = await Cli.RunSplit(args);
        Assert.Equal(1, code);
        Assert.Contains($"{flag} '{file}' is an existing file", stderr);
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.Equal("keep me", File.ReadAllText(file));
    }

    [Fact]
    public async Task Llm_batch_out_naming_a_folder_fails_before_any_call_is_paid()
    {
        var dir = Cli.TempDir("safety");
        var input = Requests(dir);
        var folder = Path.Combine(dir, "results");
        Directory.CreateDirectory(folder);
        var runDir = Path.Combine(dir, "run");
        var (code, stdout, stderr) = await Cli.RunSplit("llm", "batch", "--in", input, "--out", folder, "--model", "offline", "--run-dir", runDir);
        Assert.Equal(1, code);
        Assert.Contains($"--out '{folder}' is an existing folder", stderr);
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.False(File.Exists(Path.Combine(runDir, "store.sqlite")));
    }

    [Fact]
    public async Task Llm_batch_out_naming_the_run_store_is_refused()
    {
        var dir = Cli.TempDir("safety");
        var input = Requests(dir);
        var runDir = Path.Combine(dir, "run");
        Assert.Equal(0, (await Cli.Run("llm", "batch", "--in", input, "--out", Path.Combine(dir, "first.jsonl"), "--model", "offline", "--run-dir", runDir)).Code);
        var store = Path.Combine(runDir, "store.sqlite");
        await AssertRejectedUnchanged(store, ["llm", "batch", "--in", input, "--out", store, "--model", "offline", "--run-dir", runDir], "would replace its own input");
    }
}
