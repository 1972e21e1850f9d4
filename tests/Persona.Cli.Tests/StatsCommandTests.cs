using System.Text.Json;

namespace Persona.Cli.Tests;

public class StatsCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-stats-" + Guid.NewGuid().ToString("N"));

    public StatsCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    // Krippendorff (2011): 4 coders x 12 units; alpha nominal .743, interval .849.
    private static readonly int?[][] K2011 =
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
        [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
    ];

    private string K2011Csv(bool groups = false)
    {
        var lines = new List<string> { groups ? "rater,item,label,group" : "item,rater,label" };
        for (var r = 0; r < 4; r++)
            for (var u = 0; u < 12; u++)
                if (K2011[r][u] is { } v)
                    lines.Add(groups ? $"{"ABCD"[r]},u{u + 1},{v},{(u < 6 ? "first" : "second")}" : $"u{u + 1},{"ABCD"[r]},{v}");
        return Write(groups ? "k-groups.csv" : "k.csv", string.Join("\n", lines) + "\n");
    }

    private static JsonElement Coefficient(JsonElement block, string name) =>
        block.GetProperty("coefficients").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    [Fact]
    public async Task Agreement_on_the_Krippendorff_example_prints_and_writes_json()
    {
        var json = Path.Combine(_dir, "out", "agreement.json");
        var (code, text) = await Cli.Run("stats", "agreement", "--ratings", K2011Csv(), "--level", "interval", "--out", json, "--resamples", "500");
        Assert.Equal(0, code);
        Assert.Contains("0.849", text);
        Assert.Contains("41 ratings of 12 items by 4 raters", text);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var overall = doc.RootElement.GetProperty("overall");
        Assert.Equal(12, overall.GetProperty("items").GetInt32());
        Assert.Equal(4, overall.GetProperty("raters").GetInt32());
        var alpha = Coefficient(overall, "Krippendorff's alpha (interval)");
        Assert.Equal(0.849, Math.Round(alpha.GetProperty("value").GetDouble(), 3));
        Assert.True(alpha.GetProperty("interval").GetProperty("lower").GetDouble() < 0.849);
        Assert.Contains("Hayes-Krippendorff", alpha.GetProperty("interval").GetProperty("method").GetString());
        Assert.Contains("unit bootstrap", Coefficient(overall, "Krippendorff's alpha (interval), unit bootstrap").GetProperty("interval").GetProperty("method").GetString());
        var fleiss = Coefficient(overall, "Fleiss' kappa");
        Assert.Equal(JsonValueKind.Null, fleiss.GetProperty("value").ValueKind);
        Assert.Contains("different numbers of ratings", fleiss.GetProperty("undefined").GetString());
        Assert.Equal("item bootstrap percentile", Coefficient(overall, "percent agreement").GetProperty("interval").GetProperty("method").GetString());
        Assert.DoesNotContain("NaN", File.ReadAllText(json));
    }

    [Fact]
    public async Task Groups_and_jsonl_input()
    {
        var (code, text) = await Cli.Run("stats", "agreement", "--ratings", K2011Csv(groups: true), "--out", Path.Combine(_dir, "g.json"), "--resamples", "200");
        Assert.Equal(0, code);
        Assert.Contains("group first", text);
        Assert.Contains("0.743", text);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "g.json")));
        Assert.Equal(["first", "second"], doc.RootElement.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("group").GetString()));

        var jsonl = Write("two.jsonl", string.Join("\n",
            new[] { ("1", "a", 1), ("1", "b", 1), ("2", "a", 2), ("2", "b", 2), ("3", "a", 1), ("3", "b", 2), ("4", "a", 3), ("4", "b", 3) }
                .Select(x => $"{{\"item\": \"{x.Item1}\", \"rater\": \"{x.Item2}\", \"label\": {x.Item3}}}")) + "\n");
        (code, text) = await Cli.Run("stats", "agreement", "--ratings", jsonl, "--level", "ordinal", "--resamples", "200");
        Assert.Equal(0, code);
        Assert.Contains("Cohen's kappa (quadratic weights)", text);
        // Two raters, 4 items, 3 agree: unweighted kappa = (0.75 − 0.3125)/(1 − 0.3125) = 0.636.
        Assert.Contains("0.636", text);
    }

    public static TheoryData<string, string, string[]> BadInputs => new()
    {
        { "twice.csv", "item,rater,label\nq1,ann,1\nq1,bob,1\nq1,ann,2\n", ["line 4, field 'label': rater 'ann' rated item 'q1' twice with different labels ('1' on line 2, '2' here)"] },
        { "words.csv", "item,rater,label\nq1,ann,3\nq1,bob,high\n", ["line 3, field 'label': 'high' is not a number", "--level interval"] },
        { "empty.csv", "", ["holds no ratings"] },
        { "header.csv", "item,label\nq1,3\n", ["line 1: the header lacks rater"] },
        { "short.csv", "item,rater,label\nq1,ann\n", ["line 2: expected 3 fields"] },
        { "blank.csv", "item,rater,label\nq1,ann,\n", ["line 2, field 'label': empty"] },
        { "bad.jsonl", "{\"item\":1,\"rater\":\"a\",\"label\":2}\n{\"item\":1,\n", ["line 2: not valid JSON"] },
        { "nolabel.jsonl", "{\"item\":1,\"rater\":\"a\"}\n", ["line 1, field 'label': missing"] },
        { "ratings.txt", "x", ["expected a .csv or .jsonl"] },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_names_file_line_and_field_and_writes_nothing(string name, string content, string[] messages)
    {
        var path = Write(name, content);
        var output = Path.Combine(_dir, "out.json");
        var (code, text) = await Cli.Run("stats", "agreement", "--ratings", path, "--level", "interval", "--out", output);
        Assert.Equal(1, code);
        var flat = text.Replace("\n", " ").Replace("  ", " ");
        Assert.Contains(name, flat);
        foreach (var m in messages) Assert.Contains(m, flat);
        Assert.DoesNotContain("   at ", text); // no stack trace
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Bad_options_and_an_output_that_would_replace_the_input()
    {
        var path = K2011Csv();
        var (code, text) = await Cli.Run("stats", "agreement", "--ratings", path, "--level", "fuzzy");
        Assert.Equal(1, code);
        Assert.Contains("--level 'fuzzy'", text);
        (code, text) = await Cli.Run("stats", "agreement", "--ratings", path, "--out", path);
        Assert.Equal(1, code);
        Assert.Contains("is the ratings file itself", text);
        Assert.StartsWith("item,rater,label", File.ReadAllText(path));
        (code, text) = await Cli.Run("stats", "agreement", "--ratings", Path.Combine(_dir, "missing.csv"));
        Assert.Equal(1, code);
        Assert.Contains("does not exist", text);
    }

    [Fact]
    public async Task Ordinal_words_with_an_order_and_degenerate_data()
    {
        var likert = Write("likert.csv", "item,rater,label\n1,a,agree\n1,b,agree\n2,a,neutral\n2,b,disagree\n3,a,disagree\n3,b,disagree\n4,a,agree\n4,b,neutral\n");
        var (code, text) = await Cli.Run("stats", "agreement", "--ratings", likert, "--order", "disagree,neutral,agree", "--resamples", "200");
        Assert.Equal(0, code);
        Assert.Contains("Krippendorff's alpha (ordinal)", text.Replace("\n", " ").Replace("│", " ").Replace("  ", " "));
        (code, text) = await Cli.Run("stats", "agreement", "--ratings", likert, "--order", "disagree,agree");
        Assert.Equal(1, code);
        Assert.Contains("'neutral' is not in --order", text);

        var same = Write("same.csv", "item,rater,label\n1,a,x\n1,b,x\n2,a,x\n2,b,x\n");
        (code, text) = await Cli.Run("stats", "agreement", "--ratings", same, "--out", Path.Combine(_dir, "same.json"), "--resamples", "200");
        Assert.Equal(0, code);
        Assert.Contains("undefined", text);
        var json = File.ReadAllText(Path.Combine(_dir, "same.json"));
        Assert.DoesNotContain("NaN", json);
        Assert.Contains("no variation", json);
    }
}
