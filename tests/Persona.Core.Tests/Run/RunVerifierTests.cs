using System.Text.Json;
using Persona.Run;

namespace Persona.Core.Tests.Run;

/// <summary>
/// Run manifests as the orchestrator will write them: hashes taken from real files with
/// <see cref="RunFingerprint.ComputeAsync"/>, then the folder or an input is changed on disk.
/// </summary>
public sealed class RunVerifierTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "persona-testbed-tests", Guid.NewGuid().ToString("N"));
    private string RunDir => Path.Combine(_root, "run");
    private string OutsideInput => Path.Combine(_root, "inputs", "world.json");
    private const string BundledDictionary = "acs/PUMS_Data_Dictionary_2023.csv";

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private void Write(string rel, string text)
    {
        var path = Path.Combine(RunDir, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    /// <summary>A run folder like `persona run` leaves: outputs, a stage's own manifest, the LM cache, a study database, bookkeeping.</summary>
    private async Task<RunFingerprint> MakeRun(IReadOnlyList<string>? exclude = null)
    {
        Write("personas.jsonl", "{\"id\":\"p_1\"}\n{\"id\":\"p_2\"}\n");
        Write("split.json", "{\"train\":[\"p_1\"],\"test\":[\"p_2\"]}");
        Write("fidelity/fidelity.json", "{\"tvd\":0.04}");
        Write("personas/manifest.json", "{\"format\":\"persona-llm-run/2\"}");
        Write("study/study.sqlite", "SQLite format 3\0 study answers");
        Write("inputs/requests.jsonl", "{\"id\":\"r1\"}\n");
        Write("store.sqlite", "SQLite format 3\0 cache");
        Write("store.sqlite-wal", "wal frames");
        Write("personas/store.sqlite", "SQLite format 3\0 stage cache");
        Write("run.lock", "4242");
        Write(".personas.jsonl.4242.0a1b.tmp", "half a file");
        Directory.CreateDirectory(Path.GetDirectoryName(OutsideInput)!);
        File.WriteAllText(OutsideInput, "{\"effects\":[0.2]}");

        RunInput[] inputs =
        [
            await RunInput.OfFileAsync("census-dictionary", BundledData.Path(BundledDictionary), RunDir),
            await RunInput.OfFileAsync("world", OutsideInput, RunDir),
            await RunInput.OfFileAsync("requests", Path.Combine(RunDir, "inputs", "requests.jsonl"), RunDir),
        ];
        var fp = await RunFingerprint.ComputeAsync(RunDir, inputs, exclude);
        var manifest = new Dictionary<string, object?> { ["format"] = "persona-testbed-run/1", ["status"] = "done", ["seed"] = 7 };
        fp.AddTo(manifest);
        File.WriteAllText(Path.Combine(RunDir, "manifest.json"), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
        return fp;
    }

    [Fact]
    public async Task File_hash_is_the_sha256_of_the_bytes()
    {
        Directory.CreateDirectory(_root);
        var path = Path.Combine(_root, "abc.txt");
        File.WriteAllBytes(path, "abc"u8.ToArray());
        // FIPS 180-2 test vector.
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", await RunHashes.FileAsync(path));
        File.WriteAllBytes(path, []);
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", await RunHashes.FileAsync(path));
    }

    [Fact]
    public async Task Outputs_are_every_file_but_the_cache_locks_temps_and_the_runs_own_manifest_sorted_with_forward_slashes()
    {
        var fp = await MakeRun();
        Assert.Equal(["fidelity/fidelity.json", "inputs/requests.jsonl", "personas.jsonl", "personas/manifest.json", "split.json", "study/study.sqlite"],
            fp.Outputs.Keys);
        Assert.All(fp.Outputs.Values, v => Assert.Matches("^[0-9a-f]{64}$", v));
        Assert.Equal(RunHashes.DefaultExclusions, fp.OutputsExclude);

        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(RunDir, "manifest.json"))).RootElement;
        Assert.Equal("done", json.GetProperty("status").GetString());
        Assert.Equal(fp.Outputs["personas.jsonl"], json.GetProperty("outputs").GetProperty("personas.jsonl").GetString());
        var inputs = json.GetProperty("inputs").EnumerateArray().ToList();
        Assert.Equal(["census-dictionary", "world", "requests"], inputs.Select(i => i.GetProperty("name").GetString()));
        Assert.Equal("bundled:" + BundledDictionary, inputs[0].GetProperty("path").GetString());
        Assert.Equal(Path.GetFullPath(OutsideInput), inputs[1].GetProperty("path").GetString());
        Assert.Equal("inputs/requests.jsonl", inputs[2].GetProperty("path").GetString());
    }

    [Fact]
    public async Task An_untouched_run_verifies()
    {
        await MakeRun();
        var r = await RunVerifier.VerifyAsync(RunDir);
        Assert.True(r.Matches, string.Join("\n", r.Differences));
        Assert.Equal(6, r.OutputsChecked);
        Assert.Equal(3, r.InputsChecked);
    }

    [Fact]
    public async Task One_changed_byte_in_an_output_is_caught_and_named()
    {
        var fp = await MakeRun();
        var path = Path.Combine(RunDir, "fidelity", "fidelity.json");
        var bytes = File.ReadAllBytes(path);
        bytes[^2] ^= 1; // 0.04 -> 0.05
        File.WriteAllBytes(path, bytes);

        var r = await RunVerifier.VerifyAsync(RunDir);
        var d = Assert.Single(r.Differences);
        Assert.Equal(RunDifferenceKind.OutputChanged, d.Kind);
        Assert.Equal("fidelity/fidelity.json", d.Path);
        Assert.Equal(fp.Outputs["fidelity/fidelity.json"], d.Expected);
        Assert.NotEqual(d.Expected, d.Actual);
        Assert.False(r.Matches);
    }

    [Fact]
    public async Task A_deleted_output_and_a_new_file_are_reported()
    {
        await MakeRun();
        File.Delete(Path.Combine(RunDir, "split.json"));
        Write("fidelity/extra.png", "not from the run");
        Write(".hidden-note", "a dot-file is a file too");

        var r = await RunVerifier.VerifyAsync(RunDir);
        Assert.Equal(["split.json"], r.Of(RunDifferenceKind.OutputMissing).Select(d => d.Path));
        Assert.Equal([".hidden-note", "fidelity/extra.png"], r.Of(RunDifferenceKind.OutputUnexpected).Select(d => d.Path));
        Assert.Equal(3, r.Differences.Count);
    }

    [Fact]
    public async Task A_changed_input_and_a_missing_input_are_reported_by_name()
    {
        var fp = await MakeRun();
        File.WriteAllText(OutsideInput, "{\"effects\":[0.3]}");
        File.Delete(Path.Combine(RunDir, "inputs", "requests.jsonl")); // also one of the outputs

        var r = await RunVerifier.VerifyAsync(RunDir);
        var changed = Assert.Single(r.Of(RunDifferenceKind.InputChanged));
        Assert.Equal("world", changed.InputName);
        Assert.Equal(fp.Inputs[1].Sha256, changed.Expected);
        var missing = Assert.Single(r.Of(RunDifferenceKind.InputMissing));
        Assert.Equal(("requests", "inputs/requests.jsonl"), (missing.InputName, missing.Path));
        Assert.Equal(["inputs/requests.jsonl"], r.Of(RunDifferenceKind.OutputMissing).Select(d => d.Path));
    }

    [Fact]
    public async Task Cache_lock_temp_and_manifest_files_changing_do_not_fail_verification()
    {
        await MakeRun();
        File.WriteAllText(Path.Combine(RunDir, "store.sqlite"), "SQLite format 3\0 cache with 1000 more rows");
        File.Delete(Path.Combine(RunDir, "store.sqlite-wal"));
        Write("store.sqlite-shm", "shared memory");
        Write("personas/store.sqlite-journal", "journal");
        Write("run.lock", "9999");
        Write("other.lock", "1");
        Write(".split.json.77.ff.tmp", "half");
        Write("personas/manifest.json.tmp", "{}");

        var r = await RunVerifier.VerifyAsync(RunDir);
        Assert.True(r.Matches, string.Join("\n", r.Differences));
    }

    [Fact]
    public async Task The_study_database_is_an_output()
    {
        await MakeRun();
        File.AppendAllText(Path.Combine(RunDir, "study", "study.sqlite"), "one more answer");
        var d = Assert.Single((await RunVerifier.VerifyAsync(RunDir)).Differences);
        Assert.Equal((RunDifferenceKind.OutputChanged, "study/study.sqlite"), (d.Kind, d.Path));
    }

    [Fact]
    public async Task The_recorded_exclusions_are_the_ones_verification_uses()
    {
        string[] exclude = ["store.sqlite*", "/manifest.json", "*.lock", ".*.tmp", "fidelity/*.json"];
        var fp = await MakeRun(exclude);
        Assert.DoesNotContain("fidelity/fidelity.json", fp.Outputs.Keys);
        Write("fidelity/fidelity.json", "{\"tvd\":0.99}");
        Write("fidelity/more.json", "{}");
        Write("personas/manifest.json.tmp", "{}"); // excluded by default, not by this list

        var r = await RunVerifier.VerifyAsync(RunDir);
        var d = Assert.Single(r.Differences);
        Assert.Equal((RunDifferenceKind.OutputUnexpected, "personas/manifest.json.tmp"), (d.Kind, d.Path));
    }

    [Fact]
    public async Task Exclusions_that_would_hash_the_manifest_itself_are_refused()
    {
        Directory.CreateDirectory(RunDir);
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => RunFingerprint.ComputeAsync(RunDir, [], ["store.sqlite*"]));
        Assert.Contains("/manifest.json", ex.Message);
    }

    [Fact]
    public async Task A_moved_run_folder_still_verifies_since_inputs_inside_it_are_relative()
    {
        await MakeRun();
        var moved = Path.Combine(_root, "moved");
        Directory.Move(RunDir, moved);
        var r = await RunVerifier.VerifyAsync(moved);
        Assert.True(r.Matches, string.Join("\n", r.Differences));
    }

    [Theory]
    [InlineData("study/study.sqlite", true)]
    [InlineData("survey/every-eval-ever/ca14aea3-e484-87ad-8a82-2d21aaea72d9.json", true)]
    [InlineData("survey/every-eval-ever/ca14aea3-e484-87ad-8a82-2d21aaea72d9.jsonl", false)] // its instances are a function of the answers
    [InlineData("survey/survey-results.json", false)]
    [InlineData("study/study-plan.json", false)]
    [InlineData("bench/study/study.sqlite", false)]
    public void Fresh_outputs_are_the_study_database_and_the_every_eval_ever_aggregate(string rel, bool fresh) =>
        Assert.Equal(fresh, RunInvocations.IsFresh(rel));

    [Theory]
    [InlineData("store.sqlite", true)]
    [InlineData("store.sqlite-wal", true)]
    [InlineData("stage/store.sqlite-shm", true)]
    [InlineData("study/study.sqlite", false)]
    [InlineData("study/study.sqlite-wal", true)] // an open study's journal: its answers reach study.sqlite when it closes
    [InlineData("study/study.sqlite-shm", true)]
    [InlineData("mystore.sqlite", false)]
    [InlineData("manifest.json", true)]
    [InlineData("personas/manifest.json", false)]
    [InlineData("personas/manifest.json.tmp", true)]
    [InlineData(".personas.jsonl.42.ab.tmp", true)]
    [InlineData("fidelity/.fidelity.json.1.2.tmp", true)]
    [InlineData("fidelity/x.tmp", false)]
    [InlineData("a/b/run.lock", true)]
    [InlineData("lock", false)]
    [InlineData("invocations.jsonl", true)] // the run's history of invocations: bookkeeping, like the store
    [InlineData("bench/invocations.jsonl", false)]
    public void Default_exclusions(string rel, bool excluded) =>
        Assert.Equal(excluded, RunHashes.IsExcluded(rel, RunHashes.DefaultExclusions));

    [Theory]
    [InlineData("fidelity/*.png", "fidelity/a.png", true)]
    [InlineData("fidelity/*.png", "fidelity/sub/a.png", false)]
    [InlineData("fidelity/*.png", "x/fidelity/a.png", false)]
    [InlineData("/*.png", "a.png", true)]
    [InlineData("/*.png", "figs/a.png", false)]
    [InlineData("*.png", "figs/a.png", true)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "ac", false)]
    [InlineData("*/x", "a/x", true)]
    [InlineData("*/x", "a/b/x", false)]
    [InlineData("a*b*c", "aXbYbZc", true)]
    [InlineData("a*b*c", "aXbYbZ", false)]
    public void Patterns(string pattern, string rel, bool excluded) =>
        Assert.Equal(excluded, RunHashes.IsExcluded(rel, [pattern]));

    [Fact]
    public async Task A_folder_without_a_usable_manifest_gets_a_one_line_error_naming_what_is_wrong()
    {
        async Task<string> Error() => (await Assert.ThrowsAsync<PersonaException>(() => RunVerifier.VerifyAsync(RunDir))).Message;
        var manifest = Path.Combine(RunDir, "manifest.json");

        Assert.Contains("is not a folder", await Error());
        Directory.CreateDirectory(RunDir);
        Assert.Contains("has no manifest.json", await Error());

        File.WriteAllText(manifest, "{\n  \"outputs\": {\n    \"a\": \"b\",\n  oops\n}");
        var invalid = await Error();
        Assert.Contains("line 4: not valid JSON", invalid);
        Assert.DoesNotContain("LineNumber", invalid);

        File.WriteAllText(manifest, "{\"format\": \"persona-llm-run/2\", \"status\": \"done\"}");
        Assert.Contains("has no \"outputs\"", await Error());

        var sha = new string('a', 64);
        foreach (var (body, expected) in new[]
        {
            ("[1, 2]", "expected a JSON object, found an array"),
            ("{\"outputs\": [\"a.txt\"]}", "\"outputs\" is an array; expected an object"),
            ("{\"outputs\": {\"a.txt\": \"123\"}}", "\"outputs\".\"a.txt\" is the text \"123\"; expected a SHA-256"),
            ($"{{\"outputs\": {{\"../etc/passwd\": \"{sha}\"}}}}", "names '../etc/passwd'"),
            ($"{{\"outputs\": {{\"/etc/passwd\": \"{sha}\"}}}}", "names '/etc/passwd'"),
            ($"{{\"outputs\": {{}}, \"inputs\": {{}}}}", "\"inputs\" is an object; expected an array"),
            ($"{{\"outputs\": {{}}, \"inputs\": [{{\"name\": \"x\", \"path\": \"y\"}}]}}", "\"inputs\"[0] needs"),
            ($"{{\"outputs\": {{}}, \"outputs_exclude\": \"store.sqlite\"}}", "\"outputs_exclude\" is the text"),
        })
        {
            File.WriteAllText(manifest, body);
            var message = await Error();
            Assert.Contains(expected, message);
            Assert.Contains(manifest, message);
            Assert.DoesNotContain("\n", message);
        }
    }

    [Fact]
    public async Task An_input_that_does_not_exist_cannot_be_recorded()
    {
        var ex = await Assert.ThrowsAsync<PersonaException>(() => RunInput.OfFileAsync("world", Path.Combine(_root, "nope.json"), RunDir));
        Assert.Contains("Input 'world'", ex.Message);
        Assert.Contains("does not exist", ex.Message);
    }

    [Fact]
    public void Bundled_input_paths_resolve_to_the_bundled_data_folder()
    {
        var input = new RunInput("dictionary", "bundled:" + BundledDictionary, new string('0', 64));
        Assert.Equal(Path.GetFullPath(BundledData.Path(BundledDictionary)), Path.GetFullPath(input.Resolve("/anywhere")));
        Assert.True(File.Exists(input.Resolve("/anywhere")));
        Assert.Equal(Path.Combine("/runs/r1", "in", "a.json"), new RunInput("a", "in/a.json", "").Resolve("/runs/r1"));
        Assert.Equal("/data/a.json", new RunInput("a", "/data/a.json", "").Resolve("/runs/r1"));
    }
}
