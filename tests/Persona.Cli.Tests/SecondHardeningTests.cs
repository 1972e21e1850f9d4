using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Persona.Testing.FakeLlm;

namespace Persona.Cli.Tests;

/// <summary>
/// The second hardening pass (issue 24): each test reproduces a defect a new user met, and failed
/// before its fix. Output paths inside the runs a verb reads, option values checked before the
/// first call (a fake server counts the calls), bounds, inconsistent and non-UTF-8 inputs,
/// read-only runs, values that were silently ignored, and messages that misled.
/// </summary>
public sealed class SecondHardeningTests : IClassFixture<SecondHardeningTests.Runs>
{
    private readonly Runs _runs;

    public SecondHardeningTests(Runs runs) => _runs = runs;

    /// <summary>Personas, questions and two small offline bench runs, made once for the class.</summary>
    public sealed class Runs : IAsyncLifetime
    {
        public string Dir { get; } = Cli.TempDir("hardening2");
        public string Personas => Path.Combine(Dir, "personas.jsonl");
        public string Questions => Path.Combine(Dir, "questions.jsonl");
        public string A => Path.Combine(Dir, "bench-a");
        public string B => Path.Combine(Dir, "bench-b");

        public async Task InitializeAsync()
        {
            File.WriteAllLines(Personas, Enumerable.Range(0, 40).Select(i => JsonSerializer.Serialize(new
            {
                persona = $"age: {20 + i % 7 * 10}\nsex: {(i % 2 == 0 ? "Female" : "Male")}\nideology: {(i / 6 % 2 == 0 ? "Liberal" : "Conservative")}\nlifestyle: walks dogs {i}\n",
            })));
            File.WriteAllLines(Questions, Enumerable.Range(0, 8).Select(i => JsonSerializer.Serialize(new { id = $"q{i}", question = $"How should I plan for thing {i}?", split = "held_out" })));
            foreach (var (dir, seed) in new[] { (A, "0"), (B, "3") })
            {
                var (code, text) = await Cli.Run(Bench(dir, "--offline-seed", seed));
                if (code != 0) throw new InvalidOperationException(text);
            }
        }

        public string[] Bench(string outDir, params string[] more) =>
            ["bench", "run", "--personas", Personas, "--prompts", Questions, "--model", "offline", "--critic-model", "offline", "--samples", "12",
             "--mode", "output_only,demographic_summary", "--resamples", "100", "--no-figures", "--out", outDir, .. more];

        public Task DisposeAsync()
        {
            try { Directory.Delete(Dir, true); } catch (IOException) { }
            return Task.CompletedTask;
        }
    }

    private string Sub(string name) => Path.Combine(_runs.Dir, name + "-" + Guid.NewGuid().ToString("N")[..8]);

    private static void AssertRefused((int Code, string Output) r, string expected)
    {
        Assert.True(r.Code == 1, r.Output);
        Assert.Contains(expected, r.Output);
        Assert.DoesNotContain("   at ", r.Output);
        Assert.DoesNotContain("internal error", r.Output);
    }

    private static bool IsSqlite(string path)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM samples";
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    // 1. Data loss: `bench compare A B --out B/store.sqlite` overwrote B's cache and exited 0.
    [Fact]
    public async Task Compare_refuses_an_out_inside_a_run_it_reads_and_the_store_survives()
    {
        var store = Path.Combine(_runs.B, "store.sqlite");
        var log = Path.Combine(_runs.A, "samples.jsonl");
        var logBefore = File.ReadAllBytes(log);
        AssertRefused(await Cli.Run("bench", "compare", _runs.A, _runs.B, "--out", store, "--resamples", "100"), "lies inside the RUN folder");
        AssertRefused(await Cli.Run("bench", "compare", _runs.A, _runs.B, "--out", log, "--resamples", "100"), "lies inside the RUN folder");
        Assert.True(IsSqlite(store));
        Assert.Equal(logBefore, File.ReadAllBytes(log));
        var (code, text) = await Cli.Run("bench", "compare", _runs.A, _runs.B, "--resamples", "100");
        Assert.True(code == 0, text);
    }

    // 1. Every verb with an --out refuses a path inside an input run or folder it reads.
    [Fact]
    public async Task Every_verb_with_an_out_refuses_a_path_inside_an_input_it_reads()
    {
        // A `personas build`-style folder and a `prompts curate`-style folder to read from.
        var population = Sub("population");
        Directory.CreateDirectory(population);
        File.Copy(_runs.Personas, Path.Combine(population, "personas.jsonl"));
        var prompts = Sub("prompts");
        Directory.CreateDirectory(prompts);
        File.WriteAllLines(Path.Combine(prompts, "prompts.jsonl"), File.ReadLines(_runs.Questions));
        string[] read = ["--personas", population, "--prompts", prompts, "--model", "offline", "--critic-model", "offline"];
        var inside = Path.Combine(population, "out");

        AssertRefused(await Cli.Run(["bench", "run", .. read, "--out", inside]), "lies inside the --personas folder");
        AssertRefused(await Cli.Run(["bench", "passk", .. read, "--out", Path.Combine(prompts, "passk")]), "lies inside the --prompts folder");
        AssertRefused(await Cli.Run(["bench", "loo", .. read, "--judge-model", "offline", "--out", inside]), "lies inside the --personas folder");
        AssertRefused(await Cli.Run("bench", "summaries", _runs.A, "--judge-model", "offline", "--out", _runs.A), "the output would replace its own input");
        AssertRefused(await Cli.Run("pairs", "build", "--personas", population, "--prompts", prompts, "--model", "offline", "--out", inside), "lies inside the --personas folder");
        AssertRefused(await Cli.Run("pairs", "export", population, "--format", "trl", "--out", inside), "lies inside the DIR folder");
        AssertRefused(await Cli.Run("pairs", "merge", population, "--out", inside), "lies inside the SHARD_DIR folder");
        AssertRefused(await Cli.Run("census", "fidelity", "--personas", population, "--out", inside), "lies inside the --personas folder");
        Assert.False(Directory.Exists(inside));
        Assert.Equal(File.ReadAllBytes(_runs.Personas), File.ReadAllBytes(Path.Combine(population, "personas.jsonl")));
    }

    // 1. A verb's --out inside a `persona run` folder would replace files its manifest vouches for.
    [Fact]
    public async Task A_bench_into_a_persona_run_folder_is_refused()
    {
        var run = Sub("run");
        Directory.CreateDirectory(run);
        await File.WriteAllTextAsync(Path.Combine(run, "manifest.json"), """{"format": "persona-testbed-run/1", "status": "completed"}""");
        AssertRefused(await Cli.Run(_runs.Bench(Path.Combine(run, "bench"))), "lies inside the `persona run` folder");
        Assert.False(Directory.Exists(Path.Combine(run, "bench")));
    }

    // 2. Paid, then refused: `bench run --resamples -1` ran the whole bench, then exited 70.
    [Theory]
    [InlineData("--resamples", "-1")]
    [InlineData("--resamples", "0")]
    [InlineData("--min-cell", "-5")]
    [InlineData("--resamples", "2000000000")]
    [InlineData("--concurrency", "100000")]
    [InlineData("--per-persona", "2000000000")]
    [InlineData("--shots", "0")]
    [InlineData("--max-failure-rate", "1.5")]
    public async Task Bad_option_values_are_refused_before_any_call_is_paid(string option, string value)
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = _ => JsonSerializer.Serialize(new { answer_to_question = "an answer" });
        var (code, text) = await Cli.Run("bench", "run", "--personas", _runs.Personas, "--prompts", _runs.Questions, "--samples", "4", "--mode", "output_only",
            "--model", "openai:m", "--base-url", server.BaseUrl, "--critic-model", "openai:c", "--out", Sub("paid"), option, value);
        Assert.True(code == 1, text);
        Assert.Contains(option, text);
        Assert.DoesNotContain("internal error", text);
        Assert.Equal(0, server.TotalReceived);
    }

    [Fact]
    public async Task Score_with_bad_resamples_stores_no_critic_score()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var (code, text) = await Cli.Run("bench", "score", _runs.A, "--critic-model", "openai:c", "--critic-base-url", server.BaseUrl, "--name", "x", "--resamples", "-1");
        Assert.True(code == 1, text);
        Assert.Equal(0, server.TotalReceived);
        Assert.False(Directory.Exists(Path.Combine(_runs.A, "scores", "x")));
    }

    [Fact]
    public async Task Loo_with_an_unknown_drop_mode_is_refused_before_the_stage_runs()
    {
        await using var server = await FakeLlmServer.StartAsync();
        var outDir = Sub("loo");
        var (code, text) = await Cli.Run("bench", "loo", "--personas", _runs.Personas, "--prompts", _runs.Questions, "--model", "openai:m", "--base-url", server.BaseUrl,
            "--attributes", "age", "--loo-personas", "4", "--loo-questions", "2", "--drop-mode", "foo", "--out", outDir);
        Assert.True(code == 1, text);
        Assert.Contains("--drop-mode 'foo'", text);
        Assert.Equal(0, server.TotalReceived);
    }

    [Fact]
    public async Task Run_with_a_truncated_prompt_file_is_refused_before_the_population_is_made()
    {
        var prompts = Path.Combine(Sub("prompts"), "truncated.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(prompts)!);
        await File.WriteAllTextAsync(prompts, "{\"id\": \"a\", \"text\": \"Should cities ban cars from their centres?\"}\n{\"id\": \"b\", \"text\": \"Is it right to");
        var outDir = Sub("run");
        var (code, text) = await Cli.Run("run", "--prompts", prompts, "--personas", "5", "--out", outDir);
        Assert.True(code == 1, text);
        Assert.Contains("truncated.jsonl:2", text);
        Assert.False(File.Exists(Path.Combine(outDir, "manifest.json")), "nothing may be run or paid for a refused input");
    }

    // 5. Inconsistent inputs: an empty or duplicated pairs.jsonl contradicting shard.json was exported.
    [Theory]
    [InlineData("empty")]
    [InlineData("duplicated")]
    public async Task Pairs_export_refuses_a_pairs_file_that_contradicts_its_shard(string damage)
    {
        var pairs = Sub("pairs");
        var (code, text) = await Cli.Run("pairs", "build", "--personas", _runs.Personas, "--prompts", PairsPrompts(), "--model", "offline", "--out", pairs,
            "--train-prompts", "2", "--heldout-prompts", "1", "--train-pairs", "1", "--verify", "none");
        Assert.True(code == 0, text);
        var file = Path.Combine(pairs, "pairs.jsonl");
        var lines = File.ReadAllLines(file);
        File.WriteAllLines(file, damage == "empty" ? [] : [.. lines, lines[0]]);
        AssertRefused(await Cli.Run("pairs", "export", pairs, "--format", "trl", "--out", Sub("trl")), damage == "empty" ? "says" : "appears twice");
    }

    private string PairsPrompts()
    {
        var path = Path.Combine(_runs.Dir, "pair-prompts.jsonl");
        if (!File.Exists(path))
            File.WriteAllLines(path, Enumerable.Range(0, 6).Select(i => JsonSerializer.Serialize(new { id = $"p{i}", question = $"What is the best way to handle matter {i}?", split = i < 4 ? "train" : "held_out" })));
        return path;
    }

    // 5. Invalid UTF-8 became U+FFFD and changed results silently.
    [Fact]
    public async Task A_persona_file_with_invalid_utf8_is_refused_with_file_and_line()
    {
        var file = Path.Combine(Sub("latin1"), "personas.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var lines = File.ReadAllLines(_runs.Personas).Take(3).Select(Encoding.UTF8.GetBytes).ToList();
        lines[1] = [.. Encoding.UTF8.GetBytes("{\"persona\": \"age: 30\\nsex: "), 0xE9, 0xE8, .. Encoding.UTF8.GetBytes("Male\\n\"}")];
        await File.WriteAllBytesAsync(file, lines.SelectMany(l => l.Append((byte)'\n')).ToArray());
        AssertRefused(await Cli.Run(_runs.Bench(Sub("bench")).Select(a => a == _runs.Personas ? file : a).ToArray()), "personas.jsonl:2: not valid UTF-8");
    }

    [Fact]
    public async Task A_ratings_file_with_invalid_utf8_is_refused_instead_of_making_a_new_label()
    {
        var file = Path.Combine(Sub("ratings"), "ratings.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var text = new List<byte>(Encoding.UTF8.GetBytes("item,rater,label\n1,a,yes\n1,b,yes\n2,a,no\n"));
        text.AddRange([.. Encoding.UTF8.GetBytes("2,b,n"), 0xF6, (byte)'\n']);
        await File.WriteAllBytesAsync(file, [.. text]);
        AssertRefused(await Cli.Run("stats", "agreement", "--ratings", file), "ratings.csv:5: not valid UTF-8");
    }

    // 8. Read-only runs: compare could not read a run in a folder it may not write to ("SQLite Error 14").
    [Fact]
    public async Task Compare_reads_an_immutable_run_folder()
    {
        var frozen = Sub("frozen");
        Directory.CreateDirectory(frozen);
        foreach (var f in Directory.GetFiles(_runs.B)) File.Copy(f, Path.Combine(frozen, Path.GetFileName(f)));
        var paths = Directory.GetFiles(frozen).Append(frozen).ToArray();
        Assert.True(Chattr("+i", paths) == 0, "chattr +i failed: this test needs root and a file system with the immutable flag");
        try
        {
            var (code, text) = await Cli.Run("bench", "compare", _runs.A, frozen, "--resamples", "100");
            Assert.True(code == 0, text);
            Assert.Contains("paired n", text);
            Assert.Equal(Directory.GetFiles(_runs.B).Select(Path.GetFileName).Order(), Directory.GetFiles(frozen).Select(Path.GetFileName).Order());
        }
        finally
        {
            Chattr("-i", paths);
        }
    }

    private static int Chattr(string flag, string[] paths)
    {
        var psi = new ProcessStartInfo("chattr") { RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(flag);
        foreach (var p in paths) psi.ArgumentList.Add(p);
        using var p2 = Process.Start(psi)!;
        p2.WaitForExit();
        return p2.ExitCode;
    }

    // 9. Values silently ignored.
    [Fact]
    public async Task Values_that_would_be_ignored_are_refused()
    {
        AssertRefused(await Cli.Run(_runs.Bench(Sub("b"), "--base-url", "http://127.0.0.1:9/v1")), "--base-url names a server, but --model offline");
        AssertRefused(await Cli.Run(_runs.Bench(Sub("b"), "--critic-base-url", "http://127.0.0.1:9/v1")), "--critic-base-url names a server");
        AssertRefused(await Cli.Run("bench", "passk", "--personas", _runs.Personas, "--prompts", _runs.Questions, "--model", "offline", "--critic-model", "offline",
            "--temperature", "0", "--out", Sub("passk")), "--temperature must be between 0.01 and 2");
        var pairs = Sub("pairs");
        var (code, text) = await Cli.Run("pairs", "build", "--personas", _runs.Personas, "--prompts", PairsPrompts(), "--model", "offline", "--out", pairs,
            "--train-prompts", "2", "--heldout-prompts", "1", "--train-pairs", "1", "--verify", "none");
        Assert.True(code == 0, text);
        AssertRefused(await Cli.Run("pairs", "export", pairs, "--format", "hf", "--prompt-style", "implicit", "--out", Sub("hf")), "--prompt-style shapes --format trl rows only");
        AssertRefused(await Cli.Run("pairs", "export", pairs, "--format", "hf", "--persona-in", "prompt", "--out", Sub("hf")), "--persona-in shapes --format trl rows only");
    }

    // 10. Misleading messages.
    [Fact]
    public async Task Messages_say_what_is_wrong()
    {
        var (code, text) = await Cli.Run(_runs.Bench(Sub("b"), "--shots", "0", "--pairs", _runs.Dir));
        AssertRefused((code, text), "--shots must be between 1 and 100");
        Assert.DoesNotContain("no train pairs", text);
        AssertRefused(await Cli.Run("stats", "agreement", "--ratings", _runs.Dir), "is a folder; expected a file");
        var cells = Path.Combine(_runs.Dir, "cells");
        Directory.CreateDirectory(cells);
        AssertRefused(await Cli.Run(["bench", "intersect", .. _runs.Bench(Sub("b"))[2..], "--intersections", cells]), "is a folder; expected a file");
        var unknown = Path.Combine(_runs.Dir, "unknown-attribute.json");
        await File.WriteAllTextAsync(unknown, """[{"attributes": [{"attribute": "ethnicity", "values": ["Asian alone"]}]}]""");
        AssertRefused(await Cli.Run(["bench", "intersect", .. _runs.Bench(Sub("b"))[2..], "--intersections", unknown]), "no persona has the attribute 'ethnicity'");
        var badRow = Path.Combine(Sub("pairs"), "pairs.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(badRow)!);
        await File.WriteAllTextAsync(badRow, """{"persona": 5, "instruction": "x"}""" + "\n");
        (code, text) = await Cli.Run("pairs", "export", Path.GetDirectoryName(badRow)!, "--format", "trl", "--out", Sub("trl"));
        AssertRefused((code, text), "pairs.jsonl:1: not a pair row (the field 'persona' has the wrong type or shape)");
    }

    [Fact]
    public async Task Score_and_summaries_help_promise_no_default_model_they_refuse()
    {
        foreach (var (verb, role) in new[] { ("score", "critic"), ("summaries", "judge") })
        {
            var writer = new StringWriter();
            await PersonaApp.BuildRoot(Spectre.Console.AnsiConsole.Console).Parse(["bench", verb, "--help"]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = writer });
            var help = writer.ToString();
            var line = help.Split('\n').First(l => l.TrimStart().StartsWith("--model", StringComparison.Ordinal));
            Assert.DoesNotContain("[default: offline]", line);
            Assert.Contains($"Default: the --{role}-model", help);
            AssertRefused(await Cli.Run("bench", verb, _runs.A), $"--{role}-model");
        }
    }

    // 3. Unbounded study options: a typo of a few digits made a study of two billion places.
    [Theory]
    [InlineData("--raters", "2000000000", "--raters must be at most")]
    [InlineData("--items", "999999", "--items must be at most")]
    [InlineData("--persona-count", "5000000", "--persona-count must be at most")]
    public async Task Study_sizes_are_bounded_before_anything_is_made(string option, string value, string expected)
    {
        var outDir = Sub("study");
        AssertRefused(await Cli.Run("study", "create", "--pairs", Cli.Fixture("study-pairs"), "--out", outDir, option, value), expected);
        Assert.False(Directory.Exists(outDir));
    }

    // 11. Smaller things: pass@k headed two columns "pass@4" with --k 4.
    [Fact]
    public async Task Passk_table_heads_each_k_once()
    {
        var (code, text) = await Cli.Run("bench", "passk", "--personas", _runs.Personas, "--prompts", _runs.Questions, "--model", "offline", "--critic-model", "offline",
            "--k", "4", "--samples", "3", "--resamples", "100", "--no-figures", "--out", Sub("passk"));
        Assert.True(code == 0, text);
        var head = text.Split('\n').First(l => l.Contains("pass@1")).Split('│', StringSplitOptions.TrimEntries);
        Assert.Equal(["pass@1", "pass@4", "95% of pass@4"], head.Where(c => c.StartsWith("pass@", StringComparison.Ordinal) || c.StartsWith("95%", StringComparison.Ordinal)));
    }

    // 11. Summary tables wrapped into unreadable cells when output was not a terminal.
    [Fact]
    public void A_redirected_output_gets_a_wide_table()
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "persona");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "bench", "compare", _runs.A, _runs.B, "--resamples", "100" }) psi.ArgumentList.Add(arg);
        psi.Environment.Remove("COLUMNS");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stdout + p.StandardError.ReadToEnd());
        var a = Path.GetFileName(_runs.A);
        var b = Path.GetFileName(_runs.B);
        Assert.Contains(stdout.Split('\n'), l => l.Contains($"{a}:critic demographic_summary") && l.Contains($"{b}:critic demographic_summary"));
    }
}
