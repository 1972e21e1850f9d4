using System.Text.Json;

namespace Persona.Cli.Tests;

public sealed class SurveyCommandTests : IDisposable
{
    private readonly string _dir = Cli.TempDir("survey");

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private const string Survey =
        """
        {"qkey":"q1","attribute":"POLPARTY","group":"Democrat","question":"Q1?","options":["A","B","C","Refused"],"ordinal":[1,2,3],"responses":[0.2,0.3,0.5],"refusal_rate":0}
        {"qkey":"q1","attribute":"POLPARTY","group":"Republican","question":"Q1?","options":["A","B","C","Refused"],"ordinal":[1,2,3],"responses":[0.5,0.3,0.2],"refusal_rate":0}
        {"qkey":"q2","attribute":"POLPARTY","group":"Democrat","question":"Q2?","options":["Yes","No","Refused"],"ordinal":[1,2],"responses":[0.9,0.1],"refusal_rate":0}
        {"qkey":"q2","attribute":"POLPARTY","group":"Republican","question":"Q2?","options":["Yes","No","Refused"],"ordinal":[1,2],"responses":[0.3,0.7],"refusal_rate":0}
        """;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text + "\n");
        return path;
    }

    [Fact]
    public async Task Score_writes_the_contract_fields_with_hand_computed_distances()
    {
        var survey = Write("survey.jsonl", Survey);
        // Democrats: q1 exact (0), q2 [0.6,0.4] vs [0.9,0.1] = 0.3 -> mean 0.15. Republicans: q1 predicted as
        // Democrats answer (0.3), q2 exact (0) -> 0.15.
        var preds = Write("preds.jsonl", string.Join("\n",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Democrat","distribution":[0.6,0.4]}""",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Republican","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Republican","distribution":[0.3,0.7]}"""));
        var outDir = Path.Combine(_dir, "out");
        var (code, text) = await Cli.Run("survey", "score", "--predictions", preds, "--survey", survey, "--out", outDir, "--resamples", "200");
        Assert.True(code == 0, text);
        Assert.Contains("Democrat", text);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "survey-results.json")));
        var root = doc.RootElement;
        Assert.Equal(0.15, root.GetProperty("overall").GetProperty("mean_distance").GetDouble(), 9);
        var groups = root.GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal(2, groups.Count);
        foreach (var g in groups)
        {
            Assert.Equal("POLPARTY", g.GetProperty("attribute").GetString());
            Assert.Equal(0.15, g.GetProperty("mean_distance").GetDouble(), 9);
            Assert.Equal(2, g.GetProperty("n").GetInt32());
            Assert.True(g.GetProperty("interval").GetProperty("lower").GetDouble() <= 0.15);
        }
        Assert.Equal(["Democrat", "Republican"], groups.Select(g => g.GetProperty("group").GetString()));
        // Uniform: q1 D (|1/3-.2|+|2/3-.5|)/2 = 0.15, R the same; q2 D |0.5-0.9| = 0.4, R |0.5-0.3| = 0.2 -> 0.225.
        var baselines = root.GetProperty("baselines");
        Assert.Equal(0.225, baselines.GetProperty("uniform").GetProperty("mean_distance").GetDouble(), 9);
        // Prior: q1 [.35,.3,.35] -> 0.15 each; q2 [0.6,0.4] -> 0.3 D, 0.3 R -> 0.225.
        Assert.Equal(0.225, baselines.GetProperty("population_prior").GetProperty("mean_distance").GetDouble(), 9);
    }

    [Fact]
    public async Task A_bad_row_exits_1_naming_file_and_line_without_a_stack_trace()
    {
        var survey = Write("survey.jsonl", Survey);
        var preds = Write("preds.jsonl", string.Join("\n",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}"""));
        var outDir = Path.Combine(_dir, "out");
        var (code, stdout, stderr) = await Cli.RunSplit("survey", "score", "--predictions", preds, "--survey", survey, "--out", outDir);
        Assert.Equal(1, code);
        Assert.Contains($"{preds}:2: 3 shares for 'q2', which has 2", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(File.Exists(Path.Combine(outDir, "survey-results.json")));
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task The_output_never_replaces_an_input()
    {
        var survey = Write("survey-results.json", Survey);
        var preds = Write("preds.jsonl", """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""");
        var before = File.ReadAllText(survey);
        var (code, text) = await Cli.Run("survey", "score", "--predictions", preds, "--survey", survey, "--out", _dir);
        Assert.Equal(1, code);
        Assert.Contains("--survey", text);
        Assert.Equal(before, File.ReadAllText(survey));
    }

    [Fact]
    public async Task Resamples_below_100_are_refused_before_reading()
    {
        var (code, text) = await Cli.Run("survey", "score", "--predictions", Path.Combine(_dir, "missing.jsonl"), "--out", _dir, "--resamples", "5");
        Assert.Equal(1, code);
        Assert.Contains("--resamples must be between 100", text);
    }

    [Fact]
    public async Task The_bundled_survey_is_the_default()
    {
        var preds = Write("preds.jsonl", """{"qkey":"natspac","attribute":"POLPARTY","group":"Democrat","distribution":[0.3,0.4,0.3]}""");
        var (code, text) = await Cli.Run("survey", "score", "--predictions", preds, "--out", Path.Combine(_dir, "o"));
        Assert.True(code == 0, text);
        Assert.Contains("subpop_eval.jsonl", text);
    }

    [Fact]
    public async Task Export_writes_one_Inspect_sample_per_question_and_group_without_a_target()
    {
        var survey = Write("survey.jsonl", Survey);
        var output = Path.Combine(_dir, "inspect.jsonl");
        var (code, text) = await Cli.Run("survey", "export", "--survey", survey, "--out", output);
        Assert.True(code == 0, text);
        var lines = File.ReadAllLines(output);
        Assert.Equal(4, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        var r = first.RootElement;
        Assert.Equal("q1/POLPARTY/Democrat", r.GetProperty("id").GetString());
        Assert.Equal("Q1?", r.GetProperty("input").GetString());
        Assert.Equal(["A", "B", "C"], r.GetProperty("choices").EnumerateArray().Select(c => c.GetString())); // "Refused" carries no share: no choice
        Assert.False(r.TryGetProperty("target", out _));
        var m = r.GetProperty("metadata");
        Assert.Equal("q1", m.GetProperty("qkey").GetString());
        Assert.Equal("Democrat", m.GetProperty("group").GetString());
        Assert.Equal([1.0, 2, 3], m.GetProperty("ordinal").EnumerateArray().Select(x => x.GetDouble()));
        Assert.Equal([0.2, 0.3, 0.5], m.GetProperty("responses").EnumerateArray().Select(x => x.GetDouble()));

        (code, text) = await Cli.Run("survey", "export", "--survey", survey, "--out", survey);
        Assert.Equal(1, code);
        Assert.Contains("replace its own input", text);
    }

    /// <summary>The built binary in its own process: SOURCE_DATE_EPOCH is process-wide, and in-process tests run in parallel.</summary>
    private static async Task<(int Code, string Stderr)> RunBuilt(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "persona")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        await stdout;
        return (p.ExitCode, await stderr);
    }

    [Fact]
    public async Task With_SOURCE_DATE_EPOCH_two_scorings_write_the_same_Every_Eval_Ever_bytes_and_a_bad_value_is_a_short_error()
    {
        var survey = Write("survey-epoch.jsonl", Survey);
        var preds = Write("preds-epoch.jsonl", string.Join("\n",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Democrat","distribution":[0.6,0.4]}"""));
        var env = new Dictionary<string, string> { ["SOURCE_DATE_EPOCH"] = "1700000000" };
        string Aggregate(string dir) => Assert.Single(Directory.GetFiles(Path.Combine(dir, "every-eval-ever"), "*.json"));
        var a = Path.Combine(_dir, "epoch-a");
        var b = Path.Combine(_dir, "epoch-b");
        foreach (var dir in new[] { a, b })
        {
            var (code, err) = await RunBuilt(env, "survey", "score", "--predictions", preds, "--survey", survey, "--out", dir, "--resamples", "100", "--model", "openai:gpt-4o-mini");
            Assert.True(code == 0, err);
            if (dir == a) await Task.Delay(1100); // a second apart: without the variable the timestamps would differ
        }
        Assert.Equal(await File.ReadAllBytesAsync(Aggregate(a)), await File.ReadAllBytesAsync(Aggregate(b)));
        using (var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Aggregate(a))))
            Assert.Equal("1700000000", doc.RootElement.GetProperty("retrieved_timestamp").GetString());

        var (bad, stderr) = await RunBuilt(new Dictionary<string, string> { ["SOURCE_DATE_EPOCH"] = "yesterday" },
            "survey", "score", "--predictions", preds, "--survey", survey, "--out", Path.Combine(_dir, "epoch-bad"), "--model", "openai:gpt-4o-mini");
        Assert.Equal(1, bad);
        Assert.Contains("SOURCE_DATE_EPOCH='yesterday': expected whole seconds", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "epoch-bad", "every-eval-ever")), "nothing is written before the error");
        Assert.False(File.Exists(Path.Combine(_dir, "epoch-bad", "survey-results.json")), "nothing is written before the error");
    }

    [Fact]
    public async Task Score_writes_an_Every_Eval_Ever_record_that_keeps_the_schema_and_the_scores()
    {
        var survey = Write("survey.jsonl", Survey);
        var preds = Write("preds.jsonl", string.Join("\n",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Democrat","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Democrat","distribution":[0.6,0.4]}""",
            """{"qkey":"q1","attribute":"POLPARTY","group":"Republican","distribution":[0.2,0.3,0.5]}""",
            """{"qkey":"q2","attribute":"POLPARTY","group":"Republican","distribution":[0.3,0.7]}"""));
        var outDir = Path.Combine(_dir, "out");
        var (code, text) = await Cli.Run("survey", "score", "--predictions", preds, "--survey", survey, "--out", outDir, "--resamples", "200", "--model", "openai:gpt-4o-mini");
        Assert.True(code == 0, text);
        Assert.Contains("Every Eval Ever record", text);
        var eee = Path.Combine(outDir, "every-eval-ever");
        var aggregatePath = Assert.Single(Directory.GetFiles(eee, "*.json"));
        var instancesPath = Assert.Single(Directory.GetFiles(eee, "*.jsonl"));
        Assert.Equal(Path.GetFileNameWithoutExtension(aggregatePath), Path.GetFileNameWithoutExtension(instancesPath));
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", Path.GetFileNameWithoutExtension(aggregatePath));

        using var doc = JsonDocument.Parse(File.ReadAllText(aggregatePath));
        var r = doc.RootElement;
        Assert.Empty(EveryEvalEverRules.Aggregate(r));
        Assert.Equal("0.2.2", r.GetProperty("schema_version").GetString());
        Assert.Equal("openai/gpt-4o-mini", r.GetProperty("model_info").GetProperty("id").GetString());
        Assert.True(long.Parse(r.GetProperty("retrieved_timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 1_600_000_000);
        // One overall result and one per group, each the score the results file has.
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "survey-results.json")));
        var byId = r.GetProperty("evaluation_results").EnumerateArray().ToDictionary(e => e.GetProperty("evaluation_result_id").GetString()!);
        Assert.Equal(["predictions/overall", "predictions/POLPARTY=Democrat", "predictions/POLPARTY=Republican"], byId.Keys);
        Assert.Equal(results.RootElement.GetProperty("overall").GetProperty("mean_distance").GetDouble(), byId["predictions/overall"].GetProperty("score_details").GetProperty("score").GetDouble(), 9);
        foreach (var g in results.RootElement.GetProperty("groups").EnumerateArray())
        {
            var e = byId[$"predictions/POLPARTY={g.GetProperty("group").GetString()}"];
            Assert.Equal(0.15, e.GetProperty("score_details").GetProperty("score").GetDouble(), 9);
            Assert.True(e.GetProperty("metric_config").GetProperty("lower_is_better").GetBoolean());
            var ci = e.GetProperty("score_details").GetProperty("uncertainty").GetProperty("confidence_interval");
            Assert.Equal(g.GetProperty("interval").GetProperty("lower").GetDouble(), ci.GetProperty("lower").GetDouble(), 9);
            Assert.Equal(g.GetProperty("baselines").GetProperty("population_prior").GetProperty("mean_distance").GetDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                e.GetProperty("score_details").GetProperty("details").GetProperty("baseline_population_prior_mean_distance").GetString());
        }
        Assert.Equal("other", byId["predictions/overall"].GetProperty("source_data").GetProperty("source_type").GetString());

        // The instances: one per question x group, each valid, joined to a result, its checksum and count in the aggregate.
        var lines = File.ReadAllLines(instancesPath);
        Assert.Equal(4, lines.Length);
        var detail = r.GetProperty("detailed_evaluation_results");
        Assert.Equal(Path.GetFileName(instancesPath), detail.GetProperty("file_path").GetString());
        Assert.Equal(4, detail.GetProperty("total_rows").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(instancesPath))), detail.GetProperty("checksum").GetString());
        foreach (var line in lines)
        {
            using var row = JsonDocument.Parse(line);
            var x = row.RootElement;
            Assert.Empty(EveryEvalEverRules.Instance(x));
            Assert.Equal("instance_level_eval_0.2.2", x.GetProperty("schema_version").GetString());
            Assert.Equal(r.GetProperty("evaluation_id").GetString(), x.GetProperty("evaluation_id").GetString());
            Assert.Contains(x.GetProperty("evaluation_result_id").GetString()!, byId.Keys);
        }
        // Democrats' q2: predicted [0.6,0.4] vs real [0.9,0.1] = 0.3; the prior [0.6,0.4] is as far: not "correct" (not nearer than the prior).
        using var q2 = JsonDocument.Parse(lines.Single(l => l.Contains("\"sample_id\":\"q2\"") && l.Contains("POLPARTY=Democrat")));
        Assert.Equal(0.3, q2.RootElement.GetProperty("evaluation").GetProperty("score").GetDouble(), 9);
        Assert.False(q2.RootElement.GetProperty("evaluation").GetProperty("is_correct").GetBoolean());
        Assert.Equal(["[0.9,0.1]"], q2.RootElement.GetProperty("input").GetProperty("reference").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(["[0.6,0.4]"], q2.RootElement.GetProperty("output").GetProperty("raw").EnumerateArray().Select(v => v.GetString()));
        // Democrats' q1 is exact (0) and nearer than the prior (0.15): "correct".
        using var q1 = JsonDocument.Parse(lines.Single(l => l.Contains("\"sample_id\":\"q1\"") && l.Contains("POLPARTY=Democrat")));
        Assert.True(q1.RootElement.GetProperty("evaluation").GetProperty("is_correct").GetBoolean());

        // The rules catch what the schema forbids (so an empty list above means something).
        var broken = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(aggregatePath))!.AsObject();
        broken.Remove("eval_library");
        broken["extra"] = 1;
        broken["evaluation_results"]![0]!["metric_config"]!.AsObject().Remove("min_score");
        var errors = EveryEvalEverRules.Aggregate(JsonDocument.Parse(broken.ToJsonString()).RootElement);
        Assert.Contains(errors, e => e.Contains("'eval_library' missing"));
        Assert.Contains(errors, e => e.Contains("'extra' not allowed"));
        Assert.Contains(errors, e => e.Contains("'min_score' missing"));

        // The heat map: one cell per question x group.
        var svg = File.ReadAllText(Path.Combine(outDir, "figures", "survey-heatmap.svg"));
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(svg, "<rect [^>]*><title>").Count);
    }
}
