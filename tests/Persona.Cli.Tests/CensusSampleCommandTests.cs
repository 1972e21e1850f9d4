using Spectre.Console;
using System.IO.Compression;
using Persona.Personas;

namespace Persona.Cli.Tests;

public class CensusSampleCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-cli-" + Guid.NewGuid().ToString("N"));
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
    private static string Wy => Fixture("csv_pwy.zip");

    public CensusSampleCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static Task<(int Code, string Output)> Run(params string[] args) => Cli.Run(args);

    [Fact]
    public async Task Samples_to_jsonl_and_prints_a_summary()
    {
        var output = Path.Combine(_dir, "wy.jsonl");
        var (code, text) = await Run("census", "sample", "--n", "25", "--seed", "7", "--source", Wy, "--out", output);
        Assert.Equal(0, code);
        Assert.Contains("2018-1yr", text);
        Assert.Contains("5,740", text);
        var personas = await PersonaFiles.ReadAsync(output);
        Assert.Equal(25, personas.Count);
        Assert.Equal(25, File.ReadAllLines(output).Length);
    }

    [Fact]
    public async Task Same_seed_same_bytes_through_the_cli()
    {
        var a = Path.Combine(_dir, "a.parquet");
        var b = Path.Combine(_dir, "b.parquet");
        Assert.Equal(0, (await Run("census", "sample", "--n", "50", "--seed", "3", "--source", Wy, "--out", a, "--min-age", "18", "--states", "WY")).Code);
        Assert.Equal(0, (await Run("census", "sample", "--n", "50", "--seed", "3", "--source", Wy, "--out", b, "--min-age", "18", "--states", "56")).Code);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.All(await PersonaFiles.ReadAsync(a), p => Assert.True(p.Age >= 18));
    }

    [Fact]
    public async Task Help_lists_the_options_and_examples()
    {
        // Help goes to the invocation's output writer, not the Spectre console.
        var writer = new StringWriter();
        var code = await PersonaApp.BuildRoot(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()) }))
            .Parse(["census", "sample", "--help"]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = writer });
        var text = writer.ToString();
        Assert.Equal(0, code);
        foreach (var opt in new[] { "--n", "--seed", "--out", "--source", "--household", "--dictionary", "--min-age", "--max-age", "--states",
                     "--unweighted", "--without-replacement", "--keep-unknown-codes", "--independent-traits", "Examples:" })
            Assert.Contains(opt, text);
    }

    public static TheoryData<string, string[]> BadInputs => new()
    {
        { "survey year 2023", ["--n", "10", "--dictionary", Fixture("PUMS_Data_Dictionary_2023.csv")] },
        { "No person matches --states CA", ["--n", "10", "--states", "CA"] },
        { "neither a state postal code", ["--n", "10", "--states", "ZZ"] },
        { "--without-replacement: cannot draw 9,999", ["--without-replacement", "--n", "9999"] },
        { "--min-age 50 is greater than --max-age 20", ["--n", "10", "--min-age", "50", "--max-age", "20"] },
        { "--n must be between 1 and", ["--n", "0"] },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_exits_1_with_a_message_and_no_output(string message, string[] extra)
    {
        var output = Path.Combine(_dir, "out.jsonl");
        string[] args = ["census", "sample", "--seed", "1", "--source", Wy, "--out", output, .. extra];
        var (code, text) = await Run(args);
        Assert.Equal(1, code);
        Assert.Contains(message, text.Replace("\n", " ").Replace("  ", " "));
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.EnumerateFiles(_dir));
    }

    [Fact]
    public async Task Broken_files_exit_1_without_output()
    {
        var output = Path.Combine(_dir, "out.jsonl");
        // Truncated zip.
        var zip = Path.Combine(_dir, "csv_pwy.zip");
        var bytes = File.ReadAllBytes(Wy);
        File.WriteAllBytes(zip, bytes[..(bytes.Length / 3)]);
        var (code, text) = await Run("census", "sample", "--n", "5", "--source", zip, "--out", output);
        Assert.Equal(1, code);
        Assert.Contains("truncated or corrupt", text);
        Assert.False(File.Exists(output));

        // A CSV without the weight column, and one with a malformed field.
        string csv;
        using (var archive = ZipFile.OpenRead(Wy))
        using (var r = new StreamReader(archive.GetEntry("psam_p56.csv")!.Open()))
            csv = r.ReadToEnd();
        var lines = csv.Split('\n').Take(30).Select(l => l.TrimEnd('\r')).ToList();
        var noWeight = Path.Combine(_dir, "psam_p01.csv");
        File.WriteAllLines(noWeight, [lines[0].Replace(",PWGTP,", ",WGT,"), .. lines.Skip(1)]);
        (code, text) = await Run("census", "sample", "--n", "5", "--source", noWeight, "--out", output);
        Assert.Equal(1, code);
        Assert.Contains("lacks the column(s) PWGTP", text);

        var malformed = Path.Combine(_dir, "psam_p02.csv");
        var cols = lines[0].Split(',').ToList();
        var row = lines[5].Split(',');
        row[cols.IndexOf("SEX")] = "M";
        File.WriteAllLines(malformed, [lines[0], .. lines.Skip(1).Take(4), string.Join(',', row)]);
        (code, text) = await Run("census", "sample", "--n", "5", "--source", malformed, "--out", output);
        Assert.Equal(1, code);
        Assert.Contains("line 6, column SEX: 'M'", text);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Without_a_source_the_bundled_file_is_required()
    {
        var bundled = Persona.BundledData.Path("acs/pums-2024-us.parquet");
        if (File.Exists(bundled)) return; // once the national extract is bundled this error no longer applies
        var (code, text) = await Run("census", "sample", "--n", "5", "--out", Path.Combine(_dir, "x.jsonl"));
        Assert.Equal(1, code);
        Assert.Contains("pums-2024-us.parquet", text);
        Assert.Contains("--source", text);
    }
}
