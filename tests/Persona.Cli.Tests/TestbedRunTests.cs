using System.Diagnostics;
using System.Text.Json;
using Persona.Run;

namespace Persona.Cli.Tests;

/// <summary>Two whole default runs of `persona run` into two folders, shared by the tests below (about a minute each).</summary>
public sealed class DefaultRunsFixture : IAsyncLifetime
{
    public string Dir { get; } = Cli.TempDir("testbed");
    public string A => Path.Combine(Dir, "a");
    public string B => Path.Combine(Dir, "b");
    public string TextA { get; private set; } = "";
    public string TextB { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var (code, text) = await Cli.Run("run", "--out", A);
        Assert.True(code == 0, text);
        TextA = text;
        (code, text) = await Cli.Run("run", "--out", B);
        Assert.True(code == 0, text);
        TextB = text;
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Task.CompletedTask;
    }
}

public sealed class TestbedRunTests(DefaultRunsFixture runs) : IClassFixture<DefaultRunsFixture>
{
    /// <summary>The study database holds fresh secret entry keys by design; every other output is a function of the inputs and answers.</summary>
    private const string StudyDb = "study/study.sqlite";

    /// <summary>
    /// Outputs that differ between identical runs by design: the study database (fresh secret keys) and the Every Eval
    /// Ever aggregate, which carries the time it was made (retrieved_timestamp, as its schema asks; its instances do not).
    /// </summary>
    private static bool MadeFresh(string k) =>
        k == StudyDb || (k.StartsWith("survey/every-eval-ever/", StringComparison.Ordinal) && k.EndsWith(".json", StringComparison.Ordinal));

    private static JsonElement Manifest(string dir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, TestbedRun.ManifestFile))).RootElement;

    /// <summary>The stages as the newest invocation recorded them (invocations.jsonl: whether each was reused, its time and spend).</summary>
    private static JsonElement InvocationStages(string dir) =>
        JsonDocument.Parse(RunInvocations.Last(dir)!.ToJsonString()).RootElement.GetProperty("stages");

    /// <summary>Every output with its hash: the manifest's, and its fresh outputs (named there) with the hashes invocations.jsonl keeps.</summary>
    private static SortedDictionary<string, string> Outputs(string dir)
    {
        var m = Manifest(dir);
        var map = new SortedDictionary<string, string>(m.GetProperty("outputs").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!), StringComparer.Ordinal);
        var fresh = RunInvocations.FreshHashes(dir);
        foreach (var name in m.GetProperty("outputs_fresh").EnumerateArray()) map[name.GetString()!] = fresh[name.GetString()!];
        return map;
    }

    private static long PaidCallsInStore(string dir)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir, "store.sqlite")};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM calls WHERE cached = 0";
        return (long)cmd.ExecuteScalar()!;
    }

    [Fact]
    public async Task The_default_run_writes_every_stage_and_twice_gives_identical_outputs()
    {
        var m = Manifest(runs.A);
        Assert.Equal("completed", m.GetProperty("status").GetString());
        Assert.True(m.GetProperty("simulated").GetBoolean());
        foreach (var stage in TestbedStages.All)
            Assert.Equal("completed", m.GetProperty("stages").GetProperty(stage).GetProperty("status").GetString());
        var a = Outputs(runs.A);
        var b = Outputs(runs.B);
        foreach (var must in new[] { "population/personas.jsonl", "population/fidelity/fidelity.json", "prompts/prompts.jsonl", "pairs/pairs.parquet", "pairs/pairs-report.json",
                     "bench/results.json", "bench/loo/loo.json", "bench/passk/passk.json", "bench/summaries/summaries.json", StudyDb, "study/study-plan.json",
                     "dataset/README.md", "dataset/data/train-00000-of-00001.parquet", "dataset/personas/personas.parquet", "report.html" })
            Assert.True(a.ContainsKey(must), $"{must} is not among the outputs: {string.Join(", ", a.Keys)}");
        Assert.Equal(a.Keys, b.Keys);
        var differ = a.Keys.Where(k => !MadeFresh(k) && a[k] != b[k]).ToList();
        Assert.True(differ.Count == 0, "outputs differ between two identical runs: " + string.Join(", ", differ));
        // The manifest says what the run is, not what an invocation did (that is invocations.jsonl): two runs of the same options write the same bytes.
        Assert.Equal(File.ReadAllText(Path.Combine(runs.A, TestbedRun.ManifestFile)), File.ReadAllText(Path.Combine(runs.B, TestbedRun.ManifestFile)));
        Assert.Equal([StudyDb, .. a.Keys.Where(k => k.StartsWith("survey/every-eval-ever/", StringComparison.Ordinal) && k.EndsWith(".json", StringComparison.Ordinal))],
            m.GetProperty("outputs_fresh").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal).ToArray());
        // And the hashes are the files' (not only equal to each other).
        foreach (var (rel, sha) in a) Assert.Equal(sha, await RunHashes.FileAsync(Path.Combine(runs.A, rel)));
        Assert.Contains("simulated:", runs.TextA);
        Assert.Contains("report.html", runs.TextA);
    }

    [Fact]
    public void The_survey_stage_asks_a_stated_subset_and_writes_simulated_results_beside_the_baselines()
    {
        Assert.Contains("survey: 12 of 133 GSS questions asked of each panelist (a fixed seeded subset", runs.TextA);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runs.A, "survey", "survey-results.json")));
        var root = doc.RootElement;
        Assert.True(root.GetProperty("simulated").GetBoolean());
        // The bundled set by name, not by where this machine installed the tool (results of two installs compare byte for byte).
        Assert.Equal("bundled:survey/subpop_eval.jsonl", root.GetProperty("survey").GetString());
        var groups = root.GetProperty("groups").EnumerateArray().ToList();
        Assert.NotEmpty(groups);
        Assert.All(groups, g => Assert.Equal(12, g.GetProperty("n").GetInt32()));
        // Every survey group is either scored or withheld with its count (22 in the GSS set).
        Assert.Equal(22, groups.Count + root.GetProperty("withheld").GetArrayLength());
        Assert.All(root.GetProperty("withheld").EnumerateArray(), w => Assert.True(w.GetProperty("personas").GetInt32() < 10));
        Assert.True(root.GetProperty("baselines").GetProperty("population_prior").GetProperty("mean_distance").GetDouble() > 0);
        Assert.True(File.Exists(Path.Combine(runs.A, "survey", "survey-results-unsteered.json")));
        // Per question: every panelist (persona), one unsteered answer (none), and each of the 22 groups in the three steering modes.
        Assert.Equal(12 * (Manifest(runs.A).GetProperty("stages").GetProperty("survey").GetProperty("counts").GetProperty("panelists").GetInt32() + 1 + 3 * 22),
            File.ReadLines(Path.Combine(runs.A, "survey", "samples.jsonl")).Count());
        using var modes = JsonDocument.Parse(File.ReadAllText(Path.Combine(runs.A, "survey", "survey-modes.json")));
        Assert.Equal(["persona", "none", "steer-qa", "steer-bio", "steer-portray"], modes.RootElement.GetProperty("modes").EnumerateArray().Select(m => m.GetProperty("mode").GetString()));
        Assert.All(modes.RootElement.GetProperty("modes").EnumerateArray().Skip(2), m => Assert.Equal(22, m.GetProperty("steerability").GetProperty("groups").GetArrayLength()));
    }

    [Fact]
    public void Every_stage_result_reads_back_through_its_own_type_as_recorded()
    {
        var stages = Manifest(runs.A).GetProperty("stages");
        foreach (var stage in TestbedStages.Registry)
        {
            var counts = stages.GetProperty(stage.Name).GetProperty("counts");
            var typed = stage.ReadResult(counts);
            Assert.NotNull(typed);
            Assert.IsType(stage.ResultType, typed);
            // Nothing recorded is lost or renamed on the way through the type.
            Assert.Equal(JsonSerializer.Serialize(counts), JsonSerializer.Serialize(typed!.ToJson()));
        }
        var bench = Assert.IsType<BenchStageResult>(TestbedStages.Get(TestbedStages.Bench).ReadResult(stages.GetProperty("bench").GetProperty("counts")));
        Assert.Equal(bench.Modes.Order(), bench.Accuracy.Keys.Order());
        // Another stage's record is not taken for this one's.
        Assert.Null(TestbedStages.Get(TestbedStages.Bench).ReadResult(JsonDocument.Parse("""{"samples": "many"}""").RootElement));
    }

    [Fact]
    public void The_report_shows_the_survey_beside_its_baselines_with_the_numbers_of_survey_results()
    {
        var html = File.ReadAllText(Path.Combine(runs.A, "report.html"));
        var start = html.IndexOf("<section id=\"survey\">", StringComparison.Ordinal);
        Assert.True(start >= 0, "no survey section in report.html");
        var section = html[start..html.IndexOf("</section>", start, StringComparison.Ordinal)];
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string F(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble().ToString("0.000", inv) : "–";
        string Signed(double x) => (x > 0 ? "+" : x < 0 ? "−" : "") + Math.Abs(x).ToString("0.000", inv);
        string Row(string marker)
        {
            var i = section.IndexOf(marker, StringComparison.Ordinal);
            Assert.True(i >= 0, $"{marker} is not in the survey section");
            return section[i..section.IndexOf("</tr>", i, StringComparison.Ordinal)];
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runs.A, "survey", "survey-results.json")));
        using var unsteered = JsonDocument.Parse(File.ReadAllText(Path.Combine(runs.A, "survey", "survey-results-unsteered.json")));
        var root = doc.RootElement;
        Assert.Contains("<strong class=\"sim\">SIMULATED</strong>", section);
        Assert.Contains($"data-survey-overall=\"{F(root.GetProperty("overall").GetProperty("mean_distance"))}\"", section);
        Assert.Contains($"data-survey-dispersion=\"{F(root.GetProperty("dispersion").GetProperty("ratio"))}\"", section);
        var groups = root.GetProperty("groups").EnumerateArray().ToList();
        Assert.Contains($"data-survey-better=\"{groups.Count(g => g.GetProperty("versus_prior").GetProperty("verdict").GetString() == "better")}\"", section);
        var unsteeredBy = unsteered.RootElement.GetProperty("groups").EnumerateArray()
            .ToDictionary(g => g.GetProperty("attribute").GetString() + "=" + g.GetProperty("group").GetString(), g => g.GetProperty("mean_distance"));
        foreach (var g in groups)
        {
            var name = g.GetProperty("attribute").GetString() + "=" + g.GetProperty("group").GetString();
            var row = Row($"data-survey-group=\"{Persona.Report.Fmt.Html(name)}\"");
            Assert.Contains($"<strong>{F(g.GetProperty("mean_distance"))}</strong>", row);
            var ci = g.GetProperty("interval");
            Assert.Contains($"[{F(ci.GetProperty("lower"))}, {F(ci.GetProperty("upper"))}]", row);
            var b = g.GetProperty("baselines");
            Assert.Contains($"<td>{F(b.GetProperty("uniform").GetProperty("mean_distance"))}</td><td>{F(b.GetProperty("population_prior").GetProperty("mean_distance"))}</td>", row);
            if (b.TryGetProperty("opposing_group", out var o)) Assert.Contains($"{F(o.GetProperty("mean_distance"))} ({Persona.Report.Fmt.Html(o.GetProperty("group").GetString())})", row);
            Assert.Contains($"<td>{F(unsteeredBy[name])}</td>", row);
            var vp = g.GetProperty("versus_prior");
            Assert.Contains(Signed(vp.GetProperty("gain").GetDouble()), row);
            Assert.Contains(vp.GetProperty("verdict").GetString() switch { "better" => ">yes<", "worse" => ">no, worse<", var v => ">" + v + "<" }, row);
        }
        foreach (var w in root.GetProperty("withheld").EnumerateArray())
            Assert.Contains(Persona.Report.Fmt.Html($"{w.GetProperty("attribute").GetString()}={w.GetProperty("group").GetString()}: {w.GetProperty("personas").GetInt32()} personas"), section);
        // Steerability per mode, as survey-modes.json has it.
        using var modes = JsonDocument.Parse(File.ReadAllText(Path.Combine(runs.A, "survey", "survey-modes.json")));
        foreach (var m in modes.RootElement.GetProperty("modes").EnumerateArray())
        {
            var row = Row($"data-survey-mode=\"{m.GetProperty("mode").GetString()}\"");
            Assert.Contains($"<td>{F(m.GetProperty("mean_distance"))}</td>", row);
            if (m.TryGetProperty("steerability", out var st))
                Assert.Contains($"<td>{Signed(st.GetProperty("mean_gain").GetDouble())}</td><td>{F(st.GetProperty("sd_gain_across_groups"))}</td>", row);
        }
        // The heat map is the stage's own figure, embedded.
        var svg = File.ReadAllBytes(Path.Combine(runs.A, "survey", "figures", "survey-heatmap.svg"));
        Assert.Contains("data:image/svg+xml;base64," + Convert.ToBase64String(svg), section);
        Assert.Contains("SIMULATED", System.Text.Encoding.UTF8.GetString(svg));
        Assert.Equal(groups.Sum(g => g.GetProperty("n").GetInt32()), System.Text.RegularExpressions.Regex.Matches(System.Text.Encoding.UTF8.GetString(svg), "<rect [^>]*><title>").Count);
    }

    [Fact]
    public void The_survey_stage_writes_an_Every_Eval_Ever_record_of_every_mode()
    {
        var dir = Path.Combine(runs.A, "survey", "every-eval-ever");
        using var doc = JsonDocument.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(dir, "*.json"))));
        var r = doc.RootElement;
        Assert.Empty(EveryEvalEverRules.Aggregate(r));
        Assert.Equal("true", r.GetProperty("source_metadata").GetProperty("additional_details").GetProperty("simulated").GetString());
        Assert.Contains("SIMULATED", r.GetProperty("source_metadata").GetProperty("source_name").GetString());
        Assert.Equal("verbalized", r.GetProperty("source_metadata").GetProperty("additional_details").GetProperty("elicitation").GetString());
        var ids = r.GetProperty("evaluation_results").EnumerateArray().Select(e => e.GetProperty("evaluation_result_id").GetString()!).ToHashSet();
        foreach (var mode in new[] { "persona", "none", "steer-qa", "steer-bio", "steer-portray" }) Assert.Contains(mode + "/overall", ids);
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(runs.A, "survey", "survey-results.json")));
        var cells = results.RootElement.GetProperty("cells").GetArrayLength();
        var rows = File.ReadAllLines(Assert.Single(Directory.GetFiles(dir, "*.jsonl")));
        Assert.Equal(cells, rows.Count(l => l.Contains("\"mode\":\"persona\"", StringComparison.Ordinal)));
        foreach (var line in rows.Take(50))
        {
            using var x = JsonDocument.Parse(line);
            Assert.Empty(EveryEvalEverRules.Instance(x.RootElement));
            Assert.Contains(x.RootElement.GetProperty("evaluation_result_id").GetString()!, ids);
        }
    }

    [Fact]
    public async Task The_dataset_folder_is_ready_to_upload_with_pairs_and_personas_configs()
    {
        var card = File.ReadAllText(Path.Combine(runs.A, "dataset", "README.md"));
        Assert.StartsWith("---\n", card);
        Assert.Contains("- config_name: default", card);
        Assert.Contains("- config_name: personas", card);
        Assert.Contains("path: personas/personas.parquet", card);
        Assert.Contains("SIMULATED", card);
        var sums = File.ReadAllLines(Path.Combine(runs.A, "dataset", "SHA256SUMS"));
        Assert.Contains(sums, l => l.EndsWith("  personas/personas.parquet", StringComparison.Ordinal));
        foreach (var l in sums)
        {
            var (sha, file) = (l[..64], l[66..]);
            Assert.Equal(sha, await RunHashes.FileAsync(Path.Combine(runs.A, "dataset", file)));
        }
    }

    [Fact]
    public async Task A_rerun_reuses_every_stage_and_pays_nothing_and_from_reruns_the_later_stages_from_the_cache()
    {
        var paid = PaidCallsInStore(runs.A);
        var before = Outputs(runs.A);
        var (code, text) = await Cli.Run("run", "--out", runs.A);
        Assert.True(code == 0, text);
        var stages = InvocationStages(runs.A);
        foreach (var stage in TestbedStages.All) Assert.True(stages.GetProperty(stage).GetProperty("reused").GetBoolean(), stage + " was rerun");
        Assert.Equal(paid, PaidCallsInStore(runs.A));

        (code, text) = await Cli.Run("run", "--out", runs.A, "--from", "bench");
        Assert.True(code == 0, text);
        stages = InvocationStages(runs.A);
        var from = TestbedStages.All.ToList().IndexOf(TestbedStages.Bench);
        for (var i = 0; i < TestbedStages.All.Count; i++)
            Assert.Equal(i < from, stages.GetProperty(TestbedStages.All[i]).GetProperty("reused").GetBoolean());
        Assert.Equal(paid, PaidCallsInStore(runs.A)); // the rerun stages read every answer from the cache
        var after = Outputs(runs.A);
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Killed_with_kill_9_mid_run_then_rerun_gives_the_uninterrupted_runs_outputs_and_pays_nothing_twice()
    {
        var killed = Path.Combine(runs.Dir, "killed");
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "persona")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "run", "--out", killed }) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            // Kill without warning once the pairs stage is under way (population and prompts recorded as done).
            var deadline = DateTime.UtcNow.AddMinutes(4);
            while (DateTime.UtcNow < deadline && !p.HasExited)
            {
                await Task.Delay(100);
                try
                {
                    if (File.Exists(Path.Combine(killed, TestbedRun.ManifestFile)) && Manifest(killed).GetProperty("stages").TryGetProperty(TestbedStages.Prompts, out _)) break;
                }
                catch (Exception ex) when (ex is IOException or JsonException) { }
            }
            await Task.Delay(1500);
            Assert.False(p.HasExited, "the run ended before it could be killed");
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
        Assert.False(Manifest(killed).GetProperty("stages").TryGetProperty(TestbedStages.Report, out _), "the run finished before the kill");

        var (code, text) = await Cli.Run("run", "--out", killed);
        Assert.True(code == 0, text);
        var stages = InvocationStages(killed);
        Assert.True(stages.GetProperty(TestbedStages.Population).GetProperty("reused").GetBoolean());
        var clean = Outputs(runs.B);
        var resumed = Outputs(killed);
        Assert.Equal(clean.Keys, resumed.Keys);
        Assert.DoesNotContain(clean.Keys, k => !MadeFresh(k) && clean[k] != resumed[k]);
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(killed, "store.sqlite")};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM calls WHERE cached = 0 AND status = 'ok' GROUP BY key HAVING COUNT(*) > 1";
        using var r = cmd.ExecuteReader();
        Assert.False(r.Read(), "an answer was paid twice");
    }

    [Fact]
    public async Task A_rerun_killed_with_kill_9_keeps_the_later_stages_records_and_its_resumption_redoes_only_the_stage_in_flight()
    {
        var dir = Path.Combine(runs.Dir, "killed-rerun");
        CopyTree(runs.B, dir);
        var before = Manifest(runs.B).GetProperty("stages");
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "persona")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "run", "--out", dir, "--from", TestbedStages.Bench }) psi.ArgumentList.Add(a);
        string? inFlight = null;
        using (var p = Process.Start(psi)!)
        {
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            // Kill without warning as soon as the manifest names a stage as running.
            var deadline = DateTime.UtcNow.AddMinutes(4);
            while (DateTime.UtcNow < deadline && !p.HasExited && inFlight is null)
            {
                await Task.Delay(20);
                try
                {
                    inFlight = Manifest(dir).GetProperty("stages").EnumerateObject().Where(s => s.Value.GetProperty("status").GetString() == RunCompletion.Running).Select(s => s.Name).FirstOrDefault();
                }
                catch (Exception ex) when (ex is IOException or JsonException or KeyNotFoundException) { }
            }
            Assert.False(p.HasExited, "the run ended before it could be killed");
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
        Assert.NotNull(inFlight);
        var k = TestbedStages.All.ToList().IndexOf(inFlight);
        Assert.True(k >= TestbedStages.All.ToList().IndexOf(TestbedStages.Bench), inFlight + " ran, though --from bench reuses it");
        // The killed manifest still holds the earlier run's record of every stage after the one in flight, and says the run did not finish.
        var m = Manifest(dir);
        foreach (var later in TestbedStages.All.Skip(k + 1))
            Assert.Equal(before.GetProperty(later).GetProperty("fingerprint").GetString(), m.GetProperty("stages").GetProperty(later).GetProperty("fingerprint").GetString());
        var completion = RunCompletion.Of(m);
        Assert.False(completion.ResultsComplete);
        Assert.Contains("running: " + inFlight, completion.Explain());

        var (code, text) = await Cli.Run("run", "--out", dir);
        Assert.True(code == 0, text);
        // The stage in flight is redone; its outputs are those it had, so every other stage, before it or after it, is reused.
        var stages = InvocationStages(dir);
        foreach (var stage in TestbedStages.All)
            Assert.True(stage == inFlight != stages.GetProperty(stage).GetProperty("reused").GetBoolean(), $"{stage} (in flight: {inFlight})");
        var clean = Outputs(runs.B);
        var resumed = Outputs(dir);
        Assert.Equal(clean.Keys, resumed.Keys);
        Assert.DoesNotContain(clean.Keys, o => !MadeFresh(o) && clean[o] != resumed[o]);
    }

    [Fact]
    public async Task Persona_report_rebuilds_a_byte_identical_report_with_the_simulated_banner()
    {
        var report = Path.Combine(runs.B, TestbedStages.ReportFile);
        var before = await File.ReadAllBytesAsync(report);
        Assert.Contains("SIMULATED", System.Text.Encoding.UTF8.GetString(before));
        var (code, text) = await Cli.Run("report", runs.B);
        Assert.True(code == 0, text);
        Assert.Equal(before, await File.ReadAllBytesAsync(report));
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(runs.A, TestbedStages.ReportFile)), before);
    }

    [Fact]
    public async Task Verify_passes_the_finished_run_and_names_one_changed_byte_in_an_output()
    {
        var copy = Path.Combine(runs.Dir, "verify-copy");
        CopyTree(runs.B, copy);
        var (code, text) = await Cli.Run("verify", copy);
        Assert.True(code == 0, text);
        var target = Path.Combine(copy, "pairs", "pairs-report.json");
        var bytes = File.ReadAllBytes(target);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(target, bytes);
        (code, text) = await Cli.Run("verify", copy);
        Assert.Equal(2, code);
        Assert.Contains("pairs/pairs-report.json", text);
    }

    [Fact]
    public async Task The_run_prints_and_writes_its_manifest_digest_and_verify_expect_refuses_a_manifest_edited_with_its_digest_beside_it()
    {
        // B's manifest is never rewritten by the tests of this class (A's is, by the rerun test).
        var manifest = Path.Combine(runs.B, TestbedRun.ManifestFile);
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(manifest)));
        Assert.Contains(digest, runs.TextB);
        Assert.Contains($"--expect {digest}", runs.TextB);
        Assert.Equal($"{digest}  manifest.json\n", File.ReadAllText(Path.Combine(runs.B, "manifest.sha256")));
        Assert.DoesNotContain("manifest.sha256", Outputs(runs.B).Keys);

        var copy = Path.Combine(runs.Dir, "tamper-copy");
        CopyTree(runs.B, copy);
        var (code, stdout, stderr) = await Cli.RunSplit("verify", copy, "--expect", digest);
        Assert.True(code == 0, stdout + stderr);

        // "simulated": true -> false, an edit a text editor makes: the digest beside it no longer matches.
        var copied = Path.Combine(copy, TestbedRun.ManifestFile);
        var edited = File.ReadAllText(copied).Replace("\"simulated\": true", "\"simulated\": false", StringComparison.Ordinal);
        File.WriteAllText(copied, edited);
        (code, stdout, stderr) = await Cli.RunSplit("verify", copy);
        Assert.True(code == 2, stdout + stderr);
        Assert.Contains("manifest.sha256", stdout);
        // ... and with the digest beside it rewritten too, only the digest pinned elsewhere tells.
        File.WriteAllText(Path.Combine(copy, "manifest.sha256"), $"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(copied)))}  manifest.json\n");
        (code, stdout, stderr) = await Cli.RunSplit("verify", copy);
        Assert.True(code == 0, stdout + stderr);
        (code, stdout, stderr) = await Cli.RunSplit("verify", copy, "--expect", digest);
        Assert.True(code == 2, stdout + stderr);
        Assert.Contains("is not the manifest you pinned", stdout);
    }

    [Fact]
    public async Task A_study_made_from_other_options_is_never_replaced_or_silently_kept()
    {
        var copy = Path.Combine(runs.Dir, "study-copy");
        CopyTree(runs.B, copy);
        var db = Path.Combine(copy, "study", "study.sqlite");
        var before = await File.ReadAllBytesAsync(db);
        var (code, text) = await Cli.Run("run", "--out", copy, "--from", "study");
        Assert.True(code == 0, text); // the same plan: the study is kept as it is
        Assert.Equal(before, await File.ReadAllBytesAsync(db));
        (code, var stdout, var stderr) = await Cli.RunSplit("run", "--out", copy, "--seed", "2", "--from", "study");
        Assert.Equal(1, code);
        Assert.Contains("is never replaced", stderr);
        Assert.Equal(before, await File.ReadAllBytesAsync(db));
    }

    private static long CallsOfRole(string dir, string role)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir, "store.sqlite")};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM calls WHERE role = $r";
        cmd.Parameters.AddWithValue("$r", role);
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>A copy of run B, run again with <paramref name="flags"/>; the stages as that invocation recorded them.</summary>
    private async Task<(string Copy, JsonElement Stages)> RerunCopyAsync(string name, params string[] flags)
    {
        var copy = Path.Combine(runs.Dir, name);
        CopyTree(runs.B, copy);
        var (code, text) = await Cli.Run(["run", "--out", copy, .. flags]);
        Assert.True(code == 0, text);
        return (copy, InvocationStages(copy));
    }

    private void AssertSameAsB(string copy, params string[] files)
    {
        foreach (var f in files) Assert.Equal(File.ReadAllBytes(Path.Combine(runs.B, f)), File.ReadAllBytes(Path.Combine(copy, f)));
    }

    [Fact]
    public async Task A_new_critic_reruns_only_the_stages_that_call_it_or_read_what_they_wrote()
    {
        var (copy, stages) = await RerunCopyAsync("new-critic", "--critic-model", "offline:b");
        string[] rerun = [TestbedStages.Bench, TestbedStages.PassK, TestbedStages.Summaries, TestbedStages.Report];
        foreach (var stage in TestbedStages.All)
            Assert.True(stages.GetProperty(stage).GetProperty("reused").GetBoolean() != rerun.Contains(stage), $"{stage}: reused {stages.GetProperty(stage).GetProperty("reused")}");
        var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(copy, "bench", "results.json"))).RootElement;
        Assert.StartsWith("offline-simulator:b(", results.GetProperty("critic_model").GetString());
        AssertSameAsB(copy, "population/personas.jsonl", "pairs/pairs.jsonl", "dataset/SHA256SUMS");
    }

    [Fact]
    public async Task Past_rm_personas_the_rm_stage_fits_on_a_recorded_stratified_sample_and_only_it_reruns()
    {
        var (copy, stages) = await RerunCopyAsync("rm-sample", "--rm-personas", "60");
        Assert.False(stages.GetProperty(TestbedStages.Rm).GetProperty("reused").GetBoolean());
        // The judge scores the sample only, most of it from the cache: a persona the smaller split holds out is judged on
        // an evaluation pair instead of a test pair, and only those are paid.
        Assert.InRange(stages.GetProperty(TestbedStages.Rm).GetProperty("spend").GetProperty("judge").GetProperty("paid_calls").GetInt32(), 1, 40);
        foreach (var stage in new[] { TestbedStages.Population, TestbedStages.Pairs })
            Assert.True(stages.GetProperty(stage).GetProperty("reused").GetBoolean(), stage);
        var r = JsonDocument.Parse(File.ReadAllText(Path.Combine(copy, "rm", "rm-results.json"))).RootElement;
        var sample = r.GetProperty("persona_sample");
        Assert.Equal(60, sample.GetProperty("personas").GetInt32());
        Assert.Equal(200, sample.GetProperty("of").GetInt32());
        Assert.Equal("political views", sample.GetProperty("stratify").GetString());
        var fitted = r.GetProperty("seen_personas").GetInt32() + r.GetProperty("unseen_personas").GetInt32();
        Assert.InRange(fitted, 50, 60); // a sampled persona with no completed pair is not fitted
        var judged = r.GetProperty("models").EnumerateArray().Single(m => m.TryGetProperty("judge", out _)).GetProperty("judge").GetProperty("pairs").GetInt32();
        Assert.InRange(judged, 40, fitted); // one pair of each fitted persona that has a labelled test or evaluation pair
        var full = JsonDocument.Parse(File.ReadAllText(Path.Combine(runs.B, "rm", "rm-results.json"))).RootElement;
        Assert.False(full.TryGetProperty("persona_sample", out _));
        Assert.True(r.GetProperty("train_pairs").GetInt32() < full.GetProperty("train_pairs").GetInt32() / 2);
        Assert.Contains("60 of the population's 200 personas", File.ReadAllText(Path.Combine(copy, "report.html")));
        // The dataset and the bench (without rm_best_of_n) do not depend on the rm stage's sample.
        AssertSameAsB(copy, "population/personas.jsonl", "pairs/pairs.jsonl", "dataset/SHA256SUMS", "bench/results.json");
    }

    [Fact]
    public async Task A_second_model_on_the_same_dataset_pays_no_dataset_call_and_compare_finds_the_planted_difference()
    {
        var second = Path.Combine(runs.Dir, "model-b");
        var (code, text) = await Cli.Run("run", "--dataset", runs.B, "--model", "offline:b", "--critic-model", "offline", "--judge-model", "offline", "--out", second);
        Assert.True(code == 0, text);
        var m = Manifest(second);
        foreach (var stage in DatasetRun.Taken)
            Assert.Equal(Path.GetFullPath(runs.B), m.GetProperty("stages").GetProperty(stage).GetProperty("from").GetString());
        Assert.Equal(0, CallsOfRole(second, TestbedRoles.Writer));
        Assert.False(m.GetProperty("roles").TryGetProperty(TestbedRoles.Writer, out _), "the writer was never asked");
        Assert.Equal(File.ReadAllBytes(Path.Combine(runs.B, "pairs", "pairs.jsonl")), File.ReadAllBytes(Path.Combine(second, "pairs", "pairs.jsonl")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(runs.B, "bench", "loo", "loo.json")), File.ReadAllBytes(Path.Combine(second, "bench", "loo", "loo.json")));
        var (verify, _) = await Cli.Run("verify", second);
        Assert.Equal(0, verify);
        // The report shows this model against the dataset run's, paired on the same samples.
        var report = File.ReadAllText(Path.Combine(second, TestbedStages.ReportFile));
        Assert.Contains($"dataset run {Path.GetFileName(runs.B)}:critic output_only", report);
        Assert.Contains("this run:critic output_only", report);

        var cmp = Path.Combine(runs.Dir, "compare-b.json");
        (code, text) = await Cli.Run("bench", "compare", runs.B, second, "--out", cmp, "--resamples", "400");
        Assert.True(code == 0, text);
        var json = JsonDocument.Parse(File.ReadAllText(cmp)).RootElement;
        var perMode = JsonDocument.Parse(File.ReadAllText(Path.Combine(runs.B, "bench", "results.json"))).RootElement.GetProperty("modes")
            .EnumerateArray().ToDictionary(x => x.GetProperty("mode").GetString()!, x => x.GetProperty("accuracy").GetProperty("samples").GetInt32());
        var comparisons = json.GetProperty("comparisons").EnumerateArray().ToList();
        Assert.Equal(perMode.Count, comparisons.Count);
        foreach (var c in comparisons)
        {
            var mode = c.GetProperty("a").GetString()!.Split(' ')[^1];
            Assert.Equal(perMode[mode], c.GetProperty("n").GetInt32()); // every sample paired with the first run's one
            Assert.True(c.GetProperty("difference").GetDouble() > 0, mode); // the world plants offline:b 12 points lower
        }
        foreach (var mode in new[] { "output_only", "demographic_summary" })
        {
            var c = comparisons.Single(x => x.GetProperty("a").GetString()!.EndsWith(" " + mode, StringComparison.Ordinal));
            Assert.True(c.GetProperty("interval").GetProperty("lower").GetDouble() > 0, $"{mode}: the interval includes 0");
        }
    }

    [Fact]
    public async Task A_dataset_run_that_did_not_finish_is_refused_by_name()
    {
        var broken = Path.Combine(runs.Dir, "broken-dataset");
        CopyTree(runs.B, broken);
        File.Delete(Path.Combine(broken, "pairs", "pairs.jsonl"));
        var (code, _, stderr) = await Cli.RunSplit("run", "--dataset", broken, "--model", "offline:b", "--out", Path.Combine(runs.Dir, "never"));
        Assert.Equal(1, code);
        Assert.Contains("pairs/pairs.jsonl is missing or changed", stderr);
        // A writer given with --dataset would never be asked: refused, like every flag whose value would be ignored.
        (code, _, stderr) = await Cli.RunSplit("run", "--dataset", runs.B, "--writer-model", "offline:w", "--out", Path.Combine(runs.Dir, "never-w"));
        Assert.Equal(1, code);
        Assert.Contains("--writer-model (and --writer-base-url, --writer-concurrency) has nothing to write with --dataset", stderr);
        Assert.False(Directory.Exists(Path.Combine(runs.Dir, "never-w")));
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var d in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, d)));
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories)) File.Copy(f, Path.Combine(to, Path.GetRelativePath(from, f)));
    }

    [Fact]
    public async Task A_dry_run_prints_every_stage_per_role_and_sends_and_writes_nothing()
    {
        var dir = Path.Combine(runs.Dir, "dry");
        var (code, text) = await Cli.Run("run", "--out", dir, "--scale", "paper", "--model", "openai:gpt-4o-mini", "--critic-model", "openai:gpt-4o", "--judge-model", "openai:gpt-4o", "--dry-run");
        Assert.True(code == 0, text);
        Assert.False(Directory.Exists(dir));
        foreach (var stage in new[] { "population", "prompts", "pairs", "bench", "loo", "passk", "summaries" }) Assert.Contains(stage, text);
        Assert.Contains("317,200", text);
        Assert.Contains("634,400", text); // verification in both orders
        Assert.Contains("role total", text);
    }

    /// <summary>
    /// The dry run's calls per stage and role against what the default offline run then paid (the manifest's
    /// spend, counted by the accounting layer under the cache): within 5% for every stage and role, and no
    /// stage or role paid that the estimate leaves out or estimated that the run never paid.
    /// </summary>
    [Fact]
    public async Task The_dry_run_lands_within_5_percent_of_the_calls_the_default_offline_run_pays_per_stage_and_role()
    {
        var estimate = await TestbedDryRun.EstimateAsync(TestbedOptions.Default(Path.Combine(runs.Dir, "dry-default")),
            new Persona.Llm.LlmRuntimeOptions { Model = "offline", RunDirectory = Path.Combine(runs.Dir, "dry-default") });
        var estimated = estimate.Lines.GroupBy(l => (l.Stage, l.Role)).ToDictionary(g => g.Key, g => g.Sum(l => l.Calls));
        var paid = new Dictionary<(string, string), long>();
        // What each stage paid is in invocations.jsonl, in the invocation that made the stage (a later rerun reuses it).
        foreach (var (name, work) in RunInvocations.StageWork(runs.A))
            if (work["spend"] is System.Text.Json.Nodes.JsonObject spend)
                foreach (var (role, v) in spend)
                    if (v!["paid_calls"]!.GetValue<long>() > 0) paid[(name, role)] = v["paid_calls"]!.GetValue<long>();
        Assert.Equal(paid.Keys.OrderBy(k => k).ToList(), estimated.Keys.OrderBy(k => k).ToList());
        var off = paid.Where(kv => Math.Abs(estimated[kv.Key] - kv.Value) > 0.05 * kv.Value)
            .Select(kv => $"{kv.Key.Item1}/{kv.Key.Item2}: estimated {estimated[kv.Key]:N0}, paid {kv.Value:N0}").ToList();
        Assert.True(off.Count == 0, "more than 5% off: " + string.Join("; ", off));
    }

    [Theory]
    [InlineData("--scale", "huge", "--scale 'huge' is not a scale")]
    [InlineData("--from", "pears", "--from 'pears' is not a stage")]
    [InlineData("--personas", "1", "at least 2 personas")]
    public async Task Bad_options_get_one_line_and_exit_1_before_anything_is_written(string option, string value, string expected)
    {
        var dir = Path.Combine(runs.Dir, "bad-" + option.Trim('-'));
        var (code, _, stderr) = await Cli.RunSplit("run", "--out", dir, option, value);
        Assert.Equal(1, code);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(dir));
    }
}
