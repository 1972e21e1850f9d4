using System.Text.Json;
using System.Text.Json.Nodes;
using Persona.Run;

namespace Persona.Cli.Tests;

/// <summary>
/// RUN/invocations.jsonl holds what each invocation did (times, spend, reuse, endpoints, limits); manifest.json
/// holds what the run is. A small offline run (30 personas), resumed, edited and put back into the old format.
/// </summary>
public sealed class InvocationHistoryTests
{
    private static readonly string[] Options = ["--personas", "30"];

    private static async Task Ok(params string[] args)
    {
        var (code, text) = await Cli.Run(args);
        Assert.True(code == 0, $"persona {string.Join(' ', args)} exited {code}:\n{text}");
    }

    private static long PaidInStore(string dir, string role)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir, "store.sqlite")};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM calls WHERE cached = 0 AND status = 'ok' AND role = $r";
        cmd.Parameters.AddWithValue("$r", role);
        return (long)cmd.ExecuteScalar()!;
    }

    [Fact]
    public async Task Each_invocation_has_its_line_with_times_and_spend_and_an_old_format_manifest_still_verifies_and_resumes()
    {
        var dir = Path.Combine(Cli.TempDir("invocations"), "run");
        await Ok(["run", .. Options, "--out", dir]);
        var manifestPath = Path.Combine(dir, TestbedRun.ManifestFile);
        var manifestText = File.ReadAllText(manifestPath);
        foreach (var key in new[] { "started_utc", "\"seconds\"", "\"spend\"", "\"reused\"", "paid_calls", "cache_hits", "store_totals", "max_calls", "\"endpoints\"" })
            Assert.DoesNotContain(key, manifestText);

        // The first invocation's line: every stage made (not reused), with its time; the stages' spend adds up to the role's and to the store's paid calls.
        var lines = RunInvocations.Read(dir);
        var first = Assert.Single(lines);
        Assert.Equal("run", first["kind"]!.GetValue<string>());
        Assert.Equal("completed", first["status"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(first["this_invocation"]!["started_utc"]!.GetValue<string>()));
        var stages = first["stages"]!.AsObject();
        Assert.Equal(TestbedStages.All.Order(StringComparer.Ordinal), stages.Select(s => s.Key).Order(StringComparer.Ordinal));
        Assert.All(stages, s => Assert.False(s.Value!["reused"]!.GetValue<bool>(), s.Key));
        Assert.True(stages.Sum(s => s.Value!["seconds"]!.GetValue<double>()) > 0);
        foreach (var (role, usage) in first["roles"]!.AsObject())
        {
            var byStages = stages.Sum(s => s.Value!["spend"]?[role]?["paid_calls"]?.GetValue<long>() ?? 0);
            Assert.Equal(usage!["paid_calls"]!.GetValue<long>(), byStages);
            Assert.Equal(PaidInStore(dir, role), byStages);
        }
        Assert.Equal(["study/study.sqlite"], first["fresh_outputs"]!.AsObject().Select(kv => kv.Key).Where(k => k.StartsWith("study/", StringComparison.Ordinal)));

        // A resume adds its own line and keeps the first; it reuses every stage and leaves the manifest's bytes as they were.
        await Ok(["run", .. Options, "--out", dir]);
        lines = RunInvocations.Read(dir);
        Assert.Equal(2, lines.Count);
        Assert.Equal(first.ToJsonString(), lines[0].ToJsonString());
        Assert.All(lines[1]["stages"]!.AsObject(), s => Assert.True(s.Value!["reused"]!.GetValue<bool>(), s.Key));
        Assert.Equal(manifestText, File.ReadAllText(manifestPath));
        // Each stage's time and spend are still those of the invocation that made it.
        var work = RunInvocations.StageWork(dir);
        foreach (var (name, st) in stages) Assert.Equal(st!.ToJsonString(), work[name].ToJsonString());
        Assert.Equal(0, (await Cli.Run("verify", dir)).Code);
        // `persona report` prints each stage's time and spend from invocations.jsonl beside the page (the page itself is a function of the run).
        var reportBefore = File.ReadAllBytes(Path.Combine(dir, TestbedStages.ReportFile));
        var (rc, shown) = await Cli.Run("report", dir);
        Assert.True(rc == 0, shown);
        Assert.Contains("time and spend per stage (invocations.jsonl, 2 invocation(s))", shown);
        var benchPaid = stages[TestbedStages.Bench]!["spend"]!.AsObject().Sum(r => r.Value!["paid_calls"]!.GetValue<long>());
        Assert.True(benchPaid > 0);
        Assert.Contains(benchPaid.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), shown);
        Assert.Equal(reportBefore, File.ReadAllBytes(Path.Combine(dir, TestbedStages.ReportFile)));

        // A fresh output is checked against the hash invocations.jsonl keeps: an edited study database is a difference.
        var study = Path.Combine(dir, "study", "study.sqlite");
        var original = File.ReadAllBytes(study);
        File.AppendAllText(study, "x");
        var (code, text) = await Cli.Run("verify", dir);
        Assert.Equal(2, code);
        Assert.Contains("study/study.sqlite", text);
        File.WriteAllBytes(study, original);

        // The old format: per-invocation fields in manifest.json, fresh outputs hashed there, no invocations.jsonl.
        var old = JsonNode.Parse(manifestText)!.AsObject();
        var last = lines[0];
        foreach (var key in new[] { "endpoints", "this_invocation", "store_totals" }) old[key] = last[key]!.DeepClone();
        foreach (var (k, v) in last["parameters"]!.AsObject()) old["parameters"]![k] = v?.DeepClone();
        foreach (var (role, usage) in last["roles"]!.AsObject())
            foreach (var (k, v) in usage!.AsObject()) old["roles"]![role]![k] = v?.DeepClone();
        var fresh = last["fresh_outputs"]!.AsObject();
        foreach (var (name, st) in old["stages"]!.AsObject())
        {
            var s = st!.AsObject();
            foreach (var (k, v) in last["stages"]![name]!.AsObject()) if (k != "status") s[k] = v?.DeepClone();
            if (s.Remove("fresh_outputs", out var names))
                foreach (var n in names!.AsArray()) s["outputs"]![n!.GetValue<string>()] = fresh[n.GetValue<string>()]!.DeepClone();
        }
        foreach (var (rel, sha) in fresh) old["outputs"]![rel] = sha?.DeepClone();
        old.Remove("outputs_fresh");
        old["outputs_exclude"] = new JsonArray(["store.sqlite*", "*.sqlite-wal", "*.sqlite-shm", "*.lock", "/manifest.json", "/manifest.sha256", ".*.tmp", "manifest.json.tmp"]);
        var oldBytes = JsonSerializer.SerializeToUtf8Bytes(old, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        File.WriteAllBytes(manifestPath, oldBytes);
        File.WriteAllText(Path.Combine(dir, ManifestDigest.FileName), ManifestDigest.Line(ManifestDigest.Of(oldBytes)));
        File.Delete(Path.Combine(dir, RunInvocations.FileName));
        Assert.Contains("\"started_utc\"", File.ReadAllText(manifestPath));
        Assert.Contains("\"study/study.sqlite\": \"", File.ReadAllText(manifestPath));

        // It opens: verify checks it (the study database by the hash in it), the report reads it, and a resume reuses every stage.
        (code, text) = await Cli.Run("verify", dir);
        Assert.True(code == 0, text);
        File.AppendAllText(study, "x");
        Assert.Equal(2, (await Cli.Run("verify", dir)).Code);
        File.WriteAllBytes(study, original);
        // (`persona report` rewrites report.html from it: the same page, so the resume below still finds the report intact.)
        (code, text) = await Cli.Run("report", dir);
        Assert.True(code == 0, text);
        await Ok(["run", .. Options, "--out", dir]);
        var resumed = Assert.Single(RunInvocations.Read(dir));
        Assert.All(resumed["stages"]!.AsObject(), s => Assert.True(s.Value!["reused"]!.GetValue<bool>(), s.Key + " was rerun from an old-format manifest"));
        // ... and writes the new format again: the same bytes as before it was made old.
        Assert.Equal(manifestText, File.ReadAllText(manifestPath));
        Assert.Equal(0, (await Cli.Run("verify", dir)).Code);
    }
}
