using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Persona.Benchmark;
using Persona.Personas;
using Persona.Report;
using Persona.Statistics;

namespace Persona.Core.Tests.Report;

/// <summary>
/// The run report over a real (trimmed) run folder, Fixtures/run-small: the paper-comparison rows,
/// escaping, missing and unreadable stages, the simulated banner and byte-stable output.
/// </summary>
public sealed class RunReportTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "persona-run-report-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    /// <summary>A copy of the fixture run at ROOT/parent/run (the fixture is never modified).</summary>
    private string Run(string parent = "a")
    {
        var src = Path.Combine(AppContext.BaseDirectory, "Fixtures", "run-small");
        var dst = Path.Combine(_root, parent, "run");
        foreach (var f in Directory.GetFiles(src, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(dst, Path.GetRelativePath(src, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
        return dst;
    }

    private static void Edit(string run, string relative, Action<JsonNode> edit)
    {
        var path = Path.Combine(run, relative);
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }

    private static string Verdict(RunReportData d, string figureStart) =>
        RunReportComparisons.Rows(d).Single(r => r.Figure.StartsWith(figureStart, StringComparison.Ordinal)).Verdict;

    [Fact]
    public void Html_escapes_markup_quotes_and_control_characters()
    {
        Assert.Equal("&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;R&amp;D&lt;/a&gt;", Fmt.Html("<a href='x' title=\"y\">R&D</a>"));
        Assert.Equal("a\uFFFDb\nc", Fmt.Html("a\u0001b\nc"));
        Assert.Equal("Ünïcødé stays", Fmt.Html("Ünïcødé stays"));
        Assert.Equal("", Fmt.Html(null));
    }

    [Fact]
    public void Numbers_are_formatted_the_same_in_any_culture()
    {
        Assert.Equal("8.5%", Fmt.Pct(0.085));
        Assert.Equal("+3.3 pp", Fmt.Pp(0.0333));
        Assert.Equal("−20.0 pp", Fmt.Pp(-0.2));
        Assert.Equal("317,200", Fmt.Int(317_200));
        Assert.Equal("[1.0%, 2.5%]", Fmt.Ci(new Interval(0.01, 0.025)));
        var data = RunReportData.Load(Run());
        var invariant = RunReport.Render(data);
        var saved = CultureInfo.CurrentCulture;
        try
        {
            // A German-style culture writes 0,085 and 317.200: a culture-dependent format anywhere would change the page.
            // (Built by hand: the house runs in globalization-invariant mode, which has no named cultures.)
            var german = (CultureInfo)CultureInfo.InvariantCulture.Clone();
            german.NumberFormat.NumberDecimalSeparator = german.NumberFormat.PercentDecimalSeparator = ",";
            german.NumberFormat.NumberGroupSeparator = german.NumberFormat.PercentGroupSeparator = ".";
            CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = german;
            Assert.Equal("0,5", 0.5.ToString(CultureInfo.CurrentCulture)); // the culture really is in effect
            Assert.Equal(invariant, RunReport.Render(data));
        }
        finally
        {
            CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = saved;
        }
    }

    [Fact]
    public void Comparison_rows_carry_this_runs_figures_and_judge_them_by_their_intervals()
    {
        var d = RunReportData.Load(Run());
        var rows = RunReportComparisons.Rows(d);
        // 22 of 52 rejected: Wilson [29.9%, 55.8%] excludes the original's 8.5%.
        var rejected = rows.Single(r => r.Figure.StartsWith("Personas rejected", StringComparison.Ordinal));
        Assert.Equal("about 8.5%", rejected.Original);
        Assert.StartsWith("42.3% (22 of 52 evaluated) [29.9%, 55.8%]", rejected.Ours);
        Assert.Equal(RunReportComparisons.Differs, rejected.Verdict);
        // The classifier saw 200 prompts only (--limit): no claim about the original's 3,868.
        Assert.Equal(RunReportComparisons.NotComparable, Verdict(d, "Prompts kept"));
        Assert.Equal("8,011", rows.Single(r => r.Figure.StartsWith("Source prompts", StringComparison.Ordinal)).Ours);
        // The one-order figure is the one set beside the original's 96%.
        Assert.StartsWith("81.5% [78.2%, 84.4%] (489/600) in the first order", rows.Single(r => r.Figure.StartsWith("Role-play check", StringComparison.Ordinal)).Ours);
        Assert.Equal(RunReportComparisons.Consistent, Verdict(d, "Baseline accuracy"));
        Assert.Equal(RunReportComparisons.Holds, Verdict(d, "Summarising the demographics"));
        Assert.Equal(RunReportComparisons.OtherScale, Verdict(d, "pass@k"));

        var b = d.Build.Value!;
        var near = d with { Build = new Loaded<PersonaBuildReport>(b with { Evaluated = 1000, Rejected = 90, RejectionRate = 0.09 }, null) };
        Assert.Equal(RunReportComparisons.Consistent, Verdict(near, "Personas rejected"));
    }

    [Fact]
    public void Chain_of_thought_verdict_follows_the_paired_interval_in_either_listing_order()
    {
        var d = RunReportData.Load(Run());
        var r = d.Bench.Value!;
        // The fixture's interval spans 0: no claim either way.
        Assert.Equal(RunReportComparisons.Unresolved, Verdict(d, "Chain of thought"));

        Comparison Cmp(string a, string b, double lo, double hi) =>
            r.Comparisons.First() with { A = a, B = b, Difference = (lo + hi) / 2, Interval = new Interval(lo, hi) };
        RunReportData With(params Comparison[] c) => d with { Bench = new Loaded<BenchResults>(r with { Comparisons = c }, null) };

        Assert.Equal(RunReportComparisons.Holds, Verdict(With(Cmp(BenchModes.ChainOfThought, BenchModes.OutputOnly, -0.2, -0.05)), "Chain of thought"));
        Assert.Equal(RunReportComparisons.DoesNotHold, Verdict(With(Cmp(BenchModes.ChainOfThought, BenchModes.OutputOnly, 0.05, 0.2)), "Chain of thought"));
        // Listed the other way round (output_only - chain_of_thought > 0): chain of thought is below.
        var flipped = RunReportComparisons.Rows(With(Cmp(BenchModes.OutputOnly, BenchModes.ChainOfThought, 0.05, 0.2)))
            .Single(x => x.Figure.StartsWith("Chain of thought", StringComparison.Ordinal));
        Assert.Equal(RunReportComparisons.Holds, flipped.Verdict);
        Assert.Contains("−12.5 pp [−20.0 pp, −5.0 pp]", flipped.Ours);
    }

    [Fact]
    public void Every_section_renders_and_carries_the_simulated_banner()
    {
        var html = RunReport.Render(RunReportData.Load(Run()));
        foreach (var id in new[] { "summary", "population", "prompts", "pairs", "bench", "study", "costs", "reproducibility" })
        {
            Assert.Contains($"<section id=\"{id}\">", html);
            Assert.Contains($"data-banner=\"{id}\"", html);
        }
        Assert.Contains("data-banner=\"top\"", html);
        Assert.Contains("Numbers from the simulator are never findings", html);
        Assert.Contains("Not run: <code>study/study.sqlite</code>", html); // the fixture has no study
        Assert.DoesNotContain("Could not read", html);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Without_simulated_stages_there_is_no_banner()
    {
        var run = Run();
        foreach (var m in Directory.GetFiles(run, "manifest.json", SearchOption.AllDirectories)) File.Delete(m);
        foreach (var f in new[] { "population/build-report.json", "pairs/pairs-report.json", "bench/results.json", "bench/loo/loo.json", "bench/passk/passk.json", "bench/summaries/summaries.json" })
            Edit(run, f, n => n["simulated"] = false);
        var data = RunReportData.Load(run);
        Assert.Empty(data.SimulatedStages());
        Assert.DoesNotContain("data-banner", RunReport.Render(data));

        // One simulated role in one stage's manifest is enough.
        File.WriteAllText(Path.Combine(run, "prompts", "manifest.json"), """{"simulated": false, "roles": {"model": {"simulated": true}}}""");
        data = RunReportData.Load(run);
        Assert.Equal(["prompts"], data.SimulatedStages());
        Assert.Contains("data-banner=\"population\"", RunReport.Render(data));
    }

    [Fact]
    public void A_run_manifest_written_between_stages_shows_its_stages_and_says_the_answer_totals_come_when_it_finishes()
    {
        var run = Run();
        var between = """{"format": "persona-testbed-run/1", "stages": {"pairs": {"status": "completed", "counts": {"pairs": 12}, "fingerprint": "f00d", "outputs": {"pairs/pairs.jsonl": "beef"}}}}""";
        File.WriteAllText(Path.Combine(run, "manifest.json"), between);
        var html = RunReport.Render(RunReportData.Load(run));
        Assert.Contains("pairs = 12", html);
        Assert.Contains("answer totals per role are recorded when the run finishes", html);
        Assert.DoesNotContain("beef", html); // output hashes are not what the page shows

        var finished = JsonNode.Parse(between)!;
        finished["answers"] = JsonNode.Parse("""{"judge": {"model_identity": "offline-judge", "simulated": true, "answers": 24, "prompt_tokens": 900, "completion_tokens": 80, "estimated_cost_usd": 0}}""");
        File.WriteAllText(Path.Combine(run, "manifest.json"), finished.ToJsonString());
        html = RunReport.Render(RunReportData.Load(run));
        Assert.Contains("offline-judge", html);
        Assert.DoesNotContain("answer totals per role are recorded when the run finishes", html);
    }

    [Fact]
    public void Text_from_the_files_is_escaped()
    {
        var run = Run();
        Edit(run, "population/build-report.json", n => n["model"] = "<script>alert('model')</script>");
        Edit(run, "bench/loo/loo.json", n => n["ranking"]![0]!["attribute"] = "<img src=x onerror=alert(1)>");
        var html = RunReport.Render(RunReportData.Load(run));
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img src=x", html);
        Assert.Contains("&lt;script&gt;alert(&#39;model&#39;)&lt;/script&gt;", html);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", html);
    }

    [Fact]
    public void Missing_stages_say_not_run_and_an_unreadable_file_is_named_not_thrown()
    {
        var run = Run();
        Directory.Delete(Path.Combine(run, "bench"), true);
        Directory.Delete(Path.Combine(run, "pairs"), true);
        File.WriteAllText(Path.Combine(run, "prompts", "curation-report.json"), "{\"filters\": [1, 2");
        var data = RunReportData.Load(run);
        Assert.Equal(["population", "fidelity", "prompts"], RunReport.StagesRun(data));
        var problem = Assert.Single(RunReport.Problems(data));
        // In words: the parser's own text about a cut-off file means little to a user.
        Assert.StartsWith("prompts/curation-report.json line 1: not valid JSON (the file ends before its JSON does: cut off?)", problem);
        var html = RunReport.Render(data);
        foreach (var f in new[] { "pairs/pairs-report.json", "bench/results.json", "bench/loo/loo.json", "bench/passk/passk.json", "bench/summaries/summaries.json" })
            Assert.Contains($"Not run: <code>{f}</code>", html);
        Assert.Contains("Could not read this stage: prompts/curation-report.json line 1: not valid JSON", html);
        Assert.DoesNotContain(RunReportComparisons.Rows(data), r => r.Section is "pairs" or "bench" or "prompts");
    }

    [Fact]
    public void A_file_missing_a_required_field_is_the_stages_error_not_a_crash()
    {
        var run = Run();
        Edit(run, "bench/results.json", n => n.AsObject().Remove("modes"));
        Edit(run, "pairs/pairs-report.json", n => n["by_group"] = null);
        var data = RunReportData.Load(run);
        Assert.Null(data.Bench.Value);
        // In words: the missing field by name, the wrong one by its JSON path; never our .NET type names.
        Assert.StartsWith("bench/results.json is not the file this version writes: it lacks 'modes'", data.Bench.Error);
        Assert.StartsWith("pairs/pairs-report.json is not the file this version writes: a value at $.by_group", data.Pairs.Error);
        Assert.DoesNotContain("Persona.", data.Bench.Error + data.Pairs.Error);
        var html = RunReport.Render(data);
        Assert.Contains("Could not read this stage: bench/results.json", html);
        Assert.NotNull(data.Loo.Value); // the other bench files still read
    }

    [Fact]
    public void A_folder_that_is_not_a_run_is_refused()
    {
        var empty = Path.Combine(_root, "empty");
        Directory.CreateDirectory(empty);
        var ex = Assert.Throws<PersonaException>(() => RunReportData.Load(empty));
        Assert.Contains("is not a run folder", ex.Message);
        // A single verb's folder (a manifest without stages) is no run either.
        File.WriteAllText(Path.Combine(empty, "manifest.json"), """{"format": "persona-llm-run/2", "simulated": true}""");
        Assert.Throws<PersonaException>(() => RunReportData.Load(empty));
        Assert.Contains("does not exist", Assert.Throws<PersonaException>(() => RunReportData.Load(Path.Combine(_root, "nope"))).Message);
        Assert.Contains("is a file", Assert.Throws<PersonaException>(() => RunReportData.Load(Path.Combine(empty, "manifest.json"))).Message);
        // The orchestrator's manifest alone makes a run whose stages all say "not run".
        File.WriteAllText(Path.Combine(empty, "manifest.json"), """{"stages": {"population": {"status": "failed", "seconds": 1.5}}, "seed": 7}""");
        var html = RunReport.Render(RunReportData.Load(empty));
        Assert.Contains("<td>population</td><td>failed</td><td>1.5</td>", html);
    }

    [Fact]
    public async Task The_report_is_written_atomically_and_depends_on_the_files_not_on_where_the_folder_is()
    {
        var a = Run("a");
        var b = Run("elsewhere/deeper");
        // Figures are embedded byte for byte.
        foreach (var run in new[] { a, b }) await File.WriteAllBytesAsync(Path.Combine(run, "population", "fidelity", "age.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var ra = await RunReport.WriteAsync(a);
        var rb = await RunReport.WriteAsync(b);
        Assert.Equal(Path.Combine(a, "report.html"), ra.Path);
        var html = await File.ReadAllTextAsync(ra.Path);
        Assert.Equal(html, await File.ReadAllTextAsync(rb.Path));
        Assert.DoesNotContain(_root, html);
        Assert.Contains("src=\"data:image/png;base64," + Convert.ToBase64String([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]) + "\"", html);
        Assert.Single(Regex.Matches(html, "<img "));
        Assert.Empty(Directory.GetFiles(a, "*.tmp*"));
        // The report hashes the run's files; report.html itself is not among them, so rewriting it changes nothing.
        Assert.DoesNotContain("report.html</code>", html);
        await RunReport.WriteAsync(a);
        Assert.Equal(html, await File.ReadAllTextAsync(ra.Path));
    }
}
