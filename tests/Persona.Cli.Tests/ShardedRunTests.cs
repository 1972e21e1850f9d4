using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Persona.Run;

namespace Persona.Cli.Tests;

/// <summary>
/// One small run made twice: once unsharded, once as the shared step, three shards and the merge
/// (30 personas on the offline world; about two minutes on two cores).
/// </summary>
public sealed class ShardedRunFixture : IAsyncLifetime
{
    public static readonly string[] Options = ["--personas", "30"];
    public string Dir { get; } = Cli.TempDir("sharded-run");
    public string Single => Path.Combine(Dir, "single");
    public string Shared => Path.Combine(Dir, "shared");
    public string Merged => Path.Combine(Dir, "merged");
    public string Shard(int i) => Path.Combine(Dir, $"shard-{i}");

    public async Task InitializeAsync()
    {
        await Ok(["run", .. Options, "--out", Single]);
        await Ok(["run", .. Options, "--shared-only", "--out", Shared]);
        for (var i = 0; i < 3; i++) await Ok(["run", .. Options, "--shared", Shared, "--shard", $"{i}/3", "--out", Shard(i)]);
        await Ok(["run", "merge", Shard(0), Shard(1), Shard(2), "--out", Merged]);
    }

    public static async Task Ok(params string[] args)
    {
        var (code, text) = await Cli.Run(args);
        Assert.True(code == 0, $"persona {string.Join(' ', args)} exited {code}:\n{text}");
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Task.CompletedTask;
    }
}

public sealed class ShardedRunTests(ShardedRunFixture f) : IClassFixture<ShardedRunFixture>
{
    /// <summary>Fresh secret rater keys, by design, in any two runs.</summary>
    private const string StudyDb = "study/study.sqlite";

    /// <summary>Every file of a run folder but the LM store and the history of invocations (what each invocation did), by hash.</summary>
    private static SortedDictionary<string, string> Files(string dir) => new(
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(dir, p).Replace('\\', '/'))
            .Where(rel => !Path.GetFileName(rel).StartsWith("store.sqlite", StringComparison.Ordinal) && rel is not RunInvocations.FileName)
            .ToDictionary(rel => rel, rel => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, rel))))), StringComparer.Ordinal);

    private static JsonElement Manifest(string dir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, TestbedRun.ManifestFile))).RootElement;

    private static HashSet<string> PaidKeys(string dir, List<string>? all = null)
    {
        using var c = new SqliteConnection($"Data Source={Path.Combine(dir, "store.sqlite")};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT key FROM calls WHERE cached = 0 AND status = 'ok'";
        using var r = cmd.ExecuteReader();
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (r.Read()) { set.Add(r.GetString(0)); all?.Add(r.GetString(0)); }
        return set;
    }

    [Fact]
    public void Three_shards_merged_are_the_unsharded_run_byte_for_byte()
    {
        var single = Files(f.Single);
        var merged = Files(f.Merged);
        foreach (var must in new[] { "population/personas.jsonl", "survey/survey-results.json", "survey/samples.jsonl", "pairs/pairs.parquet", "bench/results.json", "bench/samples.jsonl",
                     "bench/loo/loo.json", "bench/passk/passk.json", "bench/summaries/summaries.json", "bench/figures/accuracy-by-mode.svg", "dataset/data/train-00000-of-00001.parquet",
                     "report.html", StudyDb })
            Assert.True(single.ContainsKey(must), $"{must} is not among the single run's files: {string.Join(", ", single.Keys)}");
        Assert.Contains(TestbedRun.ManifestFile, single.Keys);
        Assert.Contains("manifest.sha256", single.Keys);
        Assert.Equal(single.Keys, merged.Keys);
        // The study database (fresh rater keys) and the Every Eval Ever aggregate (it records when it was written) are made afresh by any run.
        var differ = single.Keys.Where(k => k != StudyDb && !(k.StartsWith("survey/every-eval-ever/", StringComparison.Ordinal) && k.EndsWith(".json", StringComparison.Ordinal))
            && single[k] != merged[k]).ToList();
        Assert.True(differ.Count == 0, "the merged run differs from the unsharded run in: " + string.Join(", ", differ));
        Assert.True(single.Count > 40, $"only {single.Count} files compared");

        // The manifest (and its digest, above) is the single run's byte for byte: what says what an invocation did is in invocations.jsonl.
        Assert.Equal(File.ReadAllText(Path.Combine(f.Single, TestbedRun.ManifestFile)), File.ReadAllText(Path.Combine(f.Merged, TestbedRun.ManifestFile)));
        var b = Manifest(f.Merged);
        Assert.Equal("completed", b.GetProperty("status").GetString());
        foreach (var key in new[] { "this_invocation", "store_totals", "endpoints" }) Assert.False(b.TryGetProperty(key, out _), $"the manifest still has '{key}'");
        Assert.All(b.GetProperty("stages").EnumerateObject(), s => Assert.False(s.Value.TryGetProperty("seconds", out _) || s.Value.TryGetProperty("spend", out _), s.Name));
        // The merge's own line says it was a merge, of which shards, and that it paid nothing.
        var merge = RunInvocations.Last(f.Merged)!;
        Assert.Equal("merge", merge["kind"]!.GetValue<string>());
        Assert.Equal([0, 1, 2], merge["shards"]!.AsArray().Select(x => x!["index"]!.GetValue<int>()));
        Assert.Equal(Path.GetFullPath(f.Shard(1)), merge["shards"]![1]!["dir"]!.GetValue<string>());
        Assert.Equal(0, merge["this_invocation"]!["paid_calls_started"]!.GetValue<long>());
        Assert.Equal(0, merge["parameters"]!["max_calls"]!.GetValue<long>());
        var run = RunInvocations.Last(f.Single)!;
        Assert.Equal("run", run["kind"]!.GetValue<string>());
        Assert.True(run["this_invocation"]!["paid_calls_started"]!.GetValue<long>() > 0);
    }

    [Fact]
    public void The_shared_step_and_the_shards_pay_exactly_the_unsharded_runs_calls_each_once()
    {
        var single = PaidKeys(f.Single);
        var all = new List<string>();
        var union = PaidKeys(f.Shared, all);
        for (var i = 0; i < 3; i++) union.UnionWith(PaidKeys(f.Shard(i), all));
        // Exactly the calls of one run: none missing (the merge would have stopped) and none more.
        Assert.True(union.SetEquals(single), $"sharded paid {union.Count} distinct calls, the single run {single.Count}; {union.Except(single).Count()} not in it");
        // And each once: the persona-free calls (a prompt's generic answer, a question's baseline answer) were paid by the shared
        // step, not again by every shard that met the prompt (that was 2-3% more calls); every shard making every persona's calls would be 3x.
        var twice = all.GroupBy(k => k, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(all.Count == single.Count, $"the shared step and the shards paid {all.Count} calls for the single run's {single.Count}; paid more than once: " +
            string.Join("; ", twice.Take(3).Select(k => k.Length > 300 ? k[..300] : k)));
        // The shared stages were paid once, by the shared step: no shard paid a population or prompts call.
        var sharedKeys = PaidKeys(f.Shared);
        for (var i = 0; i < 3; i++) Assert.Empty(PaidKeys(f.Shard(i)).Intersect(sharedKeys));
    }

    [Fact]
    public async Task A_merge_refuses_a_missing_repeated_unfinished_changed_or_foreign_shard_by_name_and_writes_nothing()
    {
        var dir = Cli.TempDir("sharded-refusals");
        var output = Path.Combine(dir, "run");
        async Task Refused(string expect, params string[] shards)
        {
            var (code, stdout, stderr) = await Cli.RunSplit(["run", "merge", .. shards, "--out", output]);
            Assert.True(code == 1, $"exit {code}: {stdout}{stderr}");
            Assert.Contains(expect, stderr);
            Assert.DoesNotContain("   at ", stderr);
            Assert.False(Directory.Exists(output), "a refused merge wrote its folder");
        }
        await Refused("Missing shard(s) 2/3", f.Shard(0), f.Shard(1));
        await Refused("Shard 1/3 is given twice", f.Shard(0), f.Shard(1), f.Shard(1), f.Shard(2));

        var unfinished = Copy(f.Shard(2), Path.Combine(dir, "unfinished-2"));
        var shardJson = Path.Combine(unfinished, TestbedShards.ShardFile);
        File.WriteAllText(shardJson, File.ReadAllText(shardJson).Replace("\"status\": \"completed\"", "\"status\": \"running\""));
        await Refused($"'{unfinished}' is shard 2/3, which has not finished", f.Shard(0), f.Shard(1), unfinished);

        var changed = Copy(f.Shard(2), Path.Combine(dir, "changed-2"));
        using (var c = new SqliteConnection($"Data Source={Path.Combine(changed, "store.sqlite")};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE responses SET content = content || ' (edited)' WHERE id = (SELECT MAX(id) FROM responses)";
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }
        await Refused($"'{changed}' (shard 2/3) changed after it finished", f.Shard(0), f.Shard(1), changed);

        // A shard that says it is complete but lacks answers (made by another version, say): the merge stops at the first call it
        // would have to make, sends nothing, and says so.
        var lacking = Copy(f.Shard(2), Path.Combine(dir, "lacking-2"));
        using (var c = new SqliteConnection($"Data Source={Path.Combine(lacking, "store.sqlite")};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "DELETE FROM responses WHERE key IN (SELECT key FROM calls WHERE cached = 0 AND role = 'judge' LIMIT 50)";
            Assert.True(cmd.ExecuteNonQuery() > 0);
        }
        var (answers, sha) = TestbedShards.AnswersDigest(Path.Combine(lacking, "store.sqlite"));
        var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(lacking, TestbedShards.ShardFile)))!;
        record["answers"] = answers;
        record["answers_sha256"] = sha;
        File.WriteAllText(Path.Combine(lacking, TestbedShards.ShardFile), record.ToJsonString());
        var lackingOut = Path.Combine(dir, "lacking-run");
        var (lc, _, lerr) = await Cli.RunSplit(["run", "merge", f.Shard(0), f.Shard(1), lacking, "--out", lackingOut]);
        Assert.True(lc == 1, lerr);
        Assert.Contains("The shards do not hold every answer the run needs", lerr);
        Assert.Equal(0, RunInvocations.Last(lackingOut)!["this_invocation"]!["paid_calls_started"]!.GetValue<long>());

        // A shard of another run: other options, so another shared step.
        var otherShared = Path.Combine(dir, "shared-seed2");
        await ShardedRunFixture.Ok(["run", "--personas", "12", "--seed", "2", "--shared-only", "--out", otherShared]);
        var foreign = Path.Combine(dir, "foreign-2");
        await ShardedRunFixture.Ok(["run", "--personas", "12", "--seed", "2", "--shared", otherShared, "--shard", "2/3", "--out", foreign]);
        await Refused($"'{foreign}' is a shard of another run", f.Shard(0), f.Shard(1), foreign);

        // And a shard started with options other than its shared step's is refused before it pays anything.
        var (code, _, err) = await Cli.RunSplit(["run", "--personas", "30", "--seed", "3", "--shared", f.Shared, "--shard", "1/3", "--out", Path.Combine(dir, "seed3-1")]);
        Assert.Equal(1, code);
        Assert.Contains("was made with other options", err);
        Assert.Contains("seed 1 vs 3", err);
        Assert.False(File.Exists(Path.Combine(dir, "seed3-1", TestbedShards.ShardFile)));
    }

    [Fact]
    public async Task A_shard_killed_with_kill_9_and_rerun_pays_nothing_twice_and_makes_the_same_answers()
    {
        var killed = Path.Combine(Cli.TempDir("sharded-kill"), "shard-1");
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "persona")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["run", .. ShardedRunFixture.Options, "--shared", f.Shared, "--shard", "1/3", "--out", killed]) psi.ArgumentList.Add(a);
        var trace = new List<string>();
        using (var p = Process.Start(psi)!)
        {
            _ = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            // Kill without warning once the shard has finished its first stage (the survey): its record, rewritten after each
            // stage, lists it while the status is still "running" (progress lines come only at the end off a terminal).
            var record = Path.Combine(killed, TestbedShards.ShardFile);
            var deadline = DateTime.UtcNow.AddMinutes(2);
            var watch = Stopwatch.StartNew();
            while (DateTime.UtcNow < deadline && !p.HasExited)
            {
                try
                {
                    var text = File.Exists(record) ? File.ReadAllText(record) : "";
                    if (trace.Count == 0 || !trace[^1].EndsWith(text.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal))
                        trace.Add($"{watch.ElapsedMilliseconds} ms: record of {text.Length}");
                    if (text.Contains("\"status\": \"running\"", StringComparison.Ordinal) && text.Contains("\"survey\"", StringComparison.Ordinal)) break;
                }
                catch (IOException) { }
                await Task.Delay(5);
            }
            // (The message must not wait for the shard's stderr: that ends only when the shard does.)
            if (p.HasExited) Assert.Fail("the shard finished before it could be killed: " + string.Join("; ", trace) + await stderr);
            p.Kill(entireProcessTree: true);
            trace.Add($"SIGKILL at {watch.ElapsedMilliseconds} ms");
            await p.WaitForExitAsync();
            trace.Add($"{watch.ElapsedMilliseconds} ms: exit {p.ExitCode}");
            Assert.True(p.ExitCode == 137, "the shard was not killed: " + string.Join("; ", trace));
        }
        var afterKill = File.ReadAllText(Path.Combine(killed, TestbedShards.ShardFile));
        Assert.True(afterKill.Contains("\"status\": \"running\"", StringComparison.Ordinal), "the shard finished before the kill: " + string.Join("; ", trace) + afterKill);
        var beforeKill = PaidSoFar(killed);
        Assert.True(beforeKill > 0);

        await ShardedRunFixture.Ok(["run", .. ShardedRunFixture.Options, "--shared", f.Shared, "--shard", "1/3", "--out", killed]);
        // Every answer paid once across the kill and the rerun, and the same answers as the uninterrupted shard.
        var paid = new List<string>();
        var keys = PaidKeys(killed, paid);
        Assert.True(keys.Count == paid.Count, $"{paid.Count - keys.Count} answers paid twice ({beforeKill} paid before the kill)");
        Assert.True(keys.SetEquals(PaidKeys(f.Shard(1))), "the resumed shard paid other calls than the uninterrupted one");
        JsonElement Record(string d) => JsonDocument.Parse(File.ReadAllText(Path.Combine(d, TestbedShards.ShardFile))).RootElement;
        Assert.Equal(Record(f.Shard(1)).GetProperty("answers_sha256").GetString(), Record(killed).GetProperty("answers_sha256").GetString());
    }

    private static long PaidSoFar(string dir)
    {
        var store = Path.Combine(dir, "store.sqlite");
        if (!File.Exists(store)) return 0;
        try
        {
            // Read-write: a store left by a killed writer has a write-ahead log to recover, which a read-only connection cannot.
            using var c = new SqliteConnection($"Data Source={store};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*) FROM calls WHERE cached = 0";
            return (long)cmd.ExecuteScalar()!;
        }
        catch (SqliteException) { return 0; }
    }

    private static string Copy(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return to;
    }
}
