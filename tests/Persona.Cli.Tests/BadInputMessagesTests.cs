using System.IO.Compression;
using System.Text.Json;

namespace Persona.Cli.Tests;

/// <summary>Issue #8, defects 8, 10 and 12: short errors on stderr, empty inputs refused, flags named as the user typed them.</summary>
public sealed class BadInputMessagesTests
{
    private static string Dictionary2018 => Path.Combine(AppContext.BaseDirectory, "data", "acs", "PUMS_Data_Dictionary_2018.csv");

    private static string WyomingCsv()
    {
        using var zip = ZipFile.OpenRead(Cli.Fixture("csv_pwy.zip"));
        using var reader = new StreamReader(zip.GetEntry("psam_p56.csv")!.Open());
        return reader.ReadToEnd();
    }

    private static void AssertShortError((int Code, string Stdout, string Stderr) r, params string[] expect)
    {
        Assert.Equal(1, r.Code);
        Assert.InRange(r.Stderr.Length, 10, 1200);
        Assert.True(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 6, r.Stderr);
        Assert.DoesNotContain("error", r.Stdout);
        Assert.DoesNotContain("   at ", r.Stderr);
        foreach (var e in expect) Assert.Contains(e, r.Stderr);
    }

    [Fact]
    public async Task A_stray_quote_in_a_census_csv_gives_a_few_lines_not_hundreds_of_rows()
    {
        var dir = Cli.TempDir("messages");
        var lines = WyomingCsv().Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(400).ToList();
        var i = lines[5].IndexOf(',', StringComparison.Ordinal);
        lines[5] = lines[5][..(i + 1)] + "\"" + lines[5][(i + 1)..]; // a quote opens the second field and is never closed
        var csv = Path.Combine(dir, "psam_p56.csv");
        File.WriteAllText(csv, string.Join('\n', lines) + "\n");
        AssertShortError(await Cli.RunSplit("census", "sample", "--n", "5", "--source", csv, "--dictionary", Dictionary2018, "--out", Path.Combine(dir, "o.jsonl")), "psam_p56.csv", "quote on line 6 is probably not closed");
    }

    [Fact]
    public async Task A_long_multi_line_error_keeps_its_closing_advice()
    {
        var dir = Cli.TempDir("messages");
        var lines = WyomingCsv().Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(50).ToList();
        var header = lines[0].TrimEnd('\r').Split(',');
        var fields = lines[3].TrimEnd('\r').Split(',');
        foreach (var v in new[] { "SCHL", "MAR", "COW", "CIT", "MIL", "NATIVITY" }) fields[Array.IndexOf(header, v)] = "77";
        lines[3] = string.Join(',', fields);
        var csv = Path.Combine(dir, "psam_p56.csv");
        File.WriteAllText(csv, string.Join('\n', lines) + "\n");
        var r = await Cli.RunSplit("census", "sample", "--n", "5", "--source", csv, "--dictionary", Dictionary2018, "--out", Path.Combine(dir, "o.jsonl"));
        AssertShortError(r, "Codes absent from data dictionary", "--keep-unknown-codes", "more lines not shown");
    }

    [Fact]
    public async Task A_corrupt_zip_gives_a_short_error()
    {
        var dir = Cli.TempDir("messages");
        var bytes = File.ReadAllBytes(Cli.Fixture("csv_pwy.zip"));
        for (var k = bytes.Length / 3; k < bytes.Length / 3 + 4096; k++) bytes[k] ^= 0x5A;
        var zip = Path.Combine(dir, "csv_pwy.zip");
        File.WriteAllBytes(zip, bytes);
        AssertShortError(await Cli.RunSplit("census", "sample", "--n", "5", "--source", zip, "--dictionary", Dictionary2018, "--out", Path.Combine(dir, "o.jsonl")), "csv_pwy.zip");
    }

    public static TheoryData<string, string> EmptySources => new()
    {
        { "empty.jsonl", "" },
        { "header.csv", "id,text\n" },
        { "empty.json", "[]" },
    };

    [Theory]
    [MemberData(nameof(EmptySources))]
    public async Task An_empty_prompt_source_is_an_error(string name, string content)
    {
        var dir = Cli.TempDir("messages");
        var source = Path.Combine(dir, name);
        File.WriteAllText(source, content);
        var outDir = Path.Combine(dir, "out");
        AssertShortError(await Cli.RunSplit("prompts", "curate", "--model", "offline", "--source", source, "--out", outDir), "no prompts");
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public async Task Curate_limit_0_and_k_out_of_range_name_the_flags()
    {
        var dir = Cli.TempDir("messages");
        AssertShortError(await Cli.RunSplit("prompts", "curate", "--model", "offline", "--out", Path.Combine(dir, "a"), "--limit", "0"), "--limit");
        AssertShortError(await Cli.RunSplit("prompts", "curate", "--model", "offline", "--out", Path.Combine(dir, "b"), "--k", "0"), "--k");
        var source = Path.Combine(dir, "p.jsonl");
        File.WriteAllLines(source, Enumerable.Range(0, 12).Select(i => JsonSerializer.Serialize(new { text = $"Should question number {i} ever be asked at all?" })));
        AssertShortError(await Cli.RunSplit("prompts", "curate", "--model", "offline", "--source", source, "--out", Path.Combine(dir, "c"), "--k", "1000"), "--k 1000");
    }

    [Fact]
    public async Task An_empty_batch_is_an_error()
    {
        var dir = Cli.TempDir("messages");
        var input = Path.Combine(dir, "requests.jsonl");
        File.WriteAllText(input, "\n\n");
        AssertShortError(await Cli.RunSplit("llm", "batch", "--in", input, "--out", Path.Combine(dir, "o.jsonl"), "--model", "offline", "--run-dir", Path.Combine(dir, "run")), "no requests");
        Assert.False(Directory.Exists(Path.Combine(dir, "run")));
    }

    [Fact]
    public async Task A_bad_number_names_the_flag_in_words_without_the_help_or_dotnet_names()
    {
        var r = await Cli.RunSplit("census", "sample", "--n", "abc", "--out", "x.jsonl");
        AssertShortError(r, "--n", "persona census sample --help");
        Assert.DoesNotContain("System.", r.Stderr);
        Assert.DoesNotContain("Examples:", r.Stdout + r.Stderr);
    }

    [Fact]
    public async Task Quotes_in_messages_survive_the_wording_of_type_names()
    {
        var r = await Cli.RunSplit("census", "sample", "--n", "5", "--out", "a.txt");
        AssertShortError(r, "extension '.txt'");
    }

    [Fact]
    public async Task A_malformed_persona_line_and_a_folder_as_batch_input_read_as_a_user_would()
    {
        var dir = Cli.TempDir("messages");
        var bad = Path.Combine(dir, "bad.jsonl");
        File.WriteAllText(bad, "garbage\n");
        var r = await Cli.RunSplit("personas", "audit", "--personas", bad, "--model", "offline");
        AssertShortError(r, "bad.jsonl', line 1");
        Assert.DoesNotContain("LineNumber", r.Stderr);
        AssertShortError(await Cli.RunSplit("llm", "batch", "--in", dir, "--out", Path.Combine(dir, "o.jsonl"), "--model", "offline"), "is a folder");
    }

    [Fact]
    public async Task An_unwritable_folder_and_a_binary_dictionary_read_without_temp_names_or_garbage()
    {
        var dir = Cli.TempDir("messages");
        var source = Cli.Fixture("p_56_2024_first2000.parquet");
        var r = await Cli.RunSplit("census", "sample", "--n", "5", "--source", source, "--dictionary", Cli.Fixture("PUMS_Data_Dictionary_2023.csv"), "--out", "/proc/a.jsonl");
        AssertShortError(r, "Cannot write '/proc/a.jsonl'");
        Assert.DoesNotContain(".tmp", r.Stderr);
        r = await Cli.RunSplit("census", "sample", "--n", "5", "--source", source, "--dictionary", source, "--out", Path.Combine(dir, "a.jsonl"));
        AssertShortError(r, "expected NAME or VAL");
        Assert.DoesNotContain('\uFFFD', r.Stderr);
    }

    [Fact]
    public async Task Max_attempts_0_is_refused_not_silently_changed()
    {
        var dir = Cli.TempDir("messages");
        var input = Path.Combine(dir, "requests.jsonl");
        File.WriteAllText(input, "{\"id\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n");
        AssertShortError(await Cli.RunSplit("llm", "batch", "--in", input, "--out", Path.Combine(dir, "o.jsonl"), "--model", "offline", "--max-attempts", "0"), "--max-attempts");
    }

    [Fact]
    public async Task Ping_with_a_flag_it_does_not_take_says_so_instead_of_blaming_base_url()
    {
        var r = await Cli.RunSplit("llm", "ping", "--model", "offline", "--base-url", "http://localhost:1/v1", "--concurrency", "4");
        AssertShortError(r, "--concurrency");
        Assert.DoesNotContain("is not an http(s) URL", r.Stderr);
    }

    [Fact]
    public async Task Malformed_json_prompts_name_the_line_without_dotnet_positions()
    {
        var dir = Cli.TempDir("messages");
        var source = Path.Combine(dir, "p.json");
        File.WriteAllText(source, "[\n \"ok?\",\n {\"text\": }\n]");
        var r = await Cli.RunSplit("prompts", "curate", "--model", "offline", "--source", source, "--out", Path.Combine(dir, "o"));
        AssertShortError(r, "p.json:3");
        Assert.DoesNotContain("LineNumber", r.Stderr);
        Assert.DoesNotContain("BytePositionInLine", r.Stderr);
    }
}

public sealed class FidelityVintageTests
{
    [Fact]
    public async Task Fidelity_of_2018_personas_against_a_2024_source_warns_that_the_releases_differ()
    {
        var dir = Cli.TempDir("vintage");
        var personas = Path.Combine(dir, "wy2018.jsonl");
        Assert.Equal(0, (await Cli.Run("census", "sample", "--n", "200", "--source", Cli.Fixture("csv_pwy.zip"), "--out", personas)).Code);
        var (code, text) = await Cli.Run("census", "fidelity", "--personas", personas, "--source", Cli.Fixture("p_56_2024_first2000.parquet"),
            "--dictionary", Cli.Fixture("PUMS_Data_Dictionary_2023.csv"), "--out", Path.Combine(dir, "f"));
        Assert.Equal(0, code);
        Assert.Contains("warning:", text);
        Assert.Contains("2018-1yr", text);
        Assert.Contains("2024-1yr", text);
    }

    [Fact]
    public async Task Fidelity_of_a_persona_file_pasted_twice_warns_about_repeated_ids()
    {
        var dir = Cli.TempDir("vintage");
        var personas = Path.Combine(dir, "p.jsonl");
        string[] source = ["--source", Cli.Fixture("p_56_2024_first2000.parquet"), "--dictionary", Cli.Fixture("PUMS_Data_Dictionary_2023.csv")];
        Assert.Equal(0, (await Cli.Run(["census", "sample", "--n", "20", .. source, "--out", personas])).Code);
        var twice = Path.Combine(dir, "twice.jsonl");
        File.WriteAllText(twice, File.ReadAllText(personas) + File.ReadAllText(personas));
        var (code, text) = await Cli.Run(["census", "fidelity", "--personas", twice, .. source, "--out", Path.Combine(dir, "f")]);
        Assert.Equal(0, code);
        Assert.Contains("occur more than once", text);
    }

}
