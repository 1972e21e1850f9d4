using System.Text.Json;
using System.Text.Json.Serialization;

namespace Persona.Run;

/// <summary>
/// One file a run read, as RUN/manifest.json records it under <c>"inputs"</c>:
/// <c>{"name": "census-extract", "path": "bundled:acs/pums-2024-us.parquet", "sha256": "..."}</c>.
/// </summary>
/// <param name="Name">What the input is to the run (e.g. "census-extract", "personas").</param>
/// <param name="Path">
/// Where it is, in one of three forms: <c>bundled:REL</c>, a file under the tool's bundled data
/// folder (<see cref="BundledData"/>; forward slashes), so a run made with the defaults verifies
/// on any machine with the same tool; a path relative to the run folder (forward slashes) for a
/// file inside it, so the folder can be moved; otherwise an absolute path.
/// </param>
/// <param name="Sha256">Lowercase hex SHA-256 of the file when the run read it.</param>
public sealed record RunInput(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("sha256")] string Sha256)
{
    public const string BundledPrefix = "bundled:";

    /// <summary>
    /// Hashes <paramref name="file"/> and records it in the right path form: <c>bundled:</c> when
    /// it lies under the bundled data folder, relative when under <paramref name="runDir"/>, else absolute.
    /// </summary>
    public static async Task<RunInput> OfFileAsync(string name, string file, string runDir, CancellationToken ct = default)
    {
        var full = System.IO.Path.GetFullPath(file);
        if (!File.Exists(full))
            throw new PersonaException($"Input '{name}': '{full}' does not exist, so the run cannot record its hash.");
        var sha = await RunHashes.FileAsync(full, ct).ConfigureAwait(false);
        return new RunInput(name, PathForm(full, System.IO.Path.GetFullPath(runDir)), sha);
    }

    /// <summary>The absolute file this input names (<paramref name="runDir"/> anchors a relative path).</summary>
    public string Resolve(string runDir) =>
        Path.StartsWith(BundledPrefix, StringComparison.Ordinal) ? BundledData.Path(Path[BundledPrefix.Length..])
        : System.IO.Path.IsPathRooted(Path) ? Path
        : System.IO.Path.GetFullPath(System.IO.Path.Combine(runDir, Path));

    private static string PathForm(string full, string runDir)
    {
        if (Under(full, System.IO.Path.GetFullPath(BundledData.Root)) is { } bundled) return BundledPrefix + bundled;
        return Under(full, runDir) ?? full;
    }

    private static string? Under(string full, string root)
    {
        var rel = System.IO.Path.GetRelativePath(root, full);
        return rel == "." || rel.StartsWith("..", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(rel) ? null : rel.Replace('\\', '/');
    }
}

/// <summary>What RUN/manifest.json records: its hashes, whether the run finished, and the SHA-256 of the manifest's bytes as read.</summary>
public sealed record RecordedRun(RunFingerprint Fingerprint, RunCompletion Completion, string ManifestSha256)
{
    /// <summary>Outputs the manifest names without a hash ("outputs_fresh": made afresh by any run; their hashes are in invocations.jsonl, see <see cref="RunInvocations"/>).</summary>
    public IReadOnlyList<string> Fresh { get; init; } = [];
}

/// <summary>
/// The hashes a whole-run manifest carries besides its other keys: every output file, the patterns
/// of files that are not outputs, and every input. The orchestrator computes it once the run has
/// written everything but manifest.json, then adds it to the manifest (<see cref="AddTo"/>);
/// <see cref="RunVerifier"/> checks a folder against it.
/// </summary>
/// <param name="Outputs">Relative path (forward slashes) -> lowercase hex SHA-256, sorted by path.</param>
/// <param name="OutputsExclude">The patterns the outputs were listed with (<see cref="RunHashes.DefaultExclusions"/> unless given), so verification excludes the same files.</param>
/// <param name="Inputs">The files the run read.</param>
public sealed record RunFingerprint(
    [property: JsonPropertyName("outputs")] IReadOnlyDictionary<string, string> Outputs,
    [property: JsonPropertyName("outputs_exclude")] IReadOnlyList<string> OutputsExclude,
    [property: JsonPropertyName("inputs")] IReadOnlyList<RunInput> Inputs)
{
    public const string ManifestFile = "manifest.json";

    /// <summary>Hashes every output under <paramref name="runDir"/> (all files but the excluded ones) and keeps <paramref name="inputs"/>.</summary>
    public static async Task<RunFingerprint> ComputeAsync(string runDir, IEnumerable<RunInput> inputs, IReadOnlyList<string>? exclude = null, CancellationToken ct = default)
    {
        var patterns = (exclude ?? RunHashes.DefaultExclusions).ToList();
        RunHashes.ValidatePatterns(patterns, "outputs_exclude");
        // The manifest is written after the hashes, so hashing it would record a file that cannot match.
        if (!RunHashes.IsExcluded(ManifestFile, patterns))
            throw new ArgumentException($"The exclusion patterns must exclude the run's own {ManifestFile} (e.g. '/{ManifestFile}').", nameof(exclude));
        var outputs = await RunHashes.OutputsAsync(runDir, patterns, ct).ConfigureAwait(false);
        return new RunFingerprint(outputs, patterns, inputs.ToList());
    }

    /// <summary>Sets <c>"outputs"</c>, <c>"outputs_exclude"</c> and <c>"inputs"</c> in a manifest about to be serialised.</summary>
    public void AddTo(IDictionary<string, object?> manifest)
    {
        manifest["outputs"] = Outputs;
        manifest["outputs_exclude"] = OutputsExclude;
        manifest["inputs"] = Inputs;
    }

    /// <summary>
    /// Reads the hashes of RUN/manifest.json; other keys are ignored. "outputs" is required,
    /// "inputs" and "outputs_exclude" are optional (none, and the defaults).
    /// </summary>
    /// <exception cref="PersonaException">No folder, no manifest, invalid JSON, or a field of the wrong shape (named in the message).</exception>
    public static RunFingerprint Read(string runDir) => ReadRecorded(runDir).Fingerprint;

    /// <summary>
    /// Reads RUN/manifest.json once: its hashes (as <see cref="Read"/>), whether the run finished,
    /// and the digest of the very bytes read (so the hashes checked are those of the manifest the digest names).
    /// </summary>
    /// <exception cref="PersonaException">As <see cref="Read"/>.</exception>
    public static RecordedRun ReadRecorded(string runDir)
    {
        var dir = System.IO.Path.GetFullPath(runDir);
        if (!Directory.Exists(dir))
            throw new PersonaException($"'{dir}' is not a folder; give the run folder that `persona run` wrote (its --out, holding {ManifestFile}).");
        var path = System.IO.Path.Combine(dir, ManifestFile);
        if (!File.Exists(path))
            throw new PersonaException($"'{dir}' has no {ManifestFile}; give the run folder that `persona run` wrote (its --out).");
        var bytes = File.ReadAllBytes(path);
        if (Damage(bytes, path) is { } damage)
            throw new PersonaException(damage + ", so the run cannot be verified.");
        using var doc = JsonDocument.Parse(bytes);
        var root = doc.RootElement;
        if (!root.TryGetProperty("outputs", out var outputs))
            throw new PersonaException($"{path} has no \"outputs\": it lists no output hashes to check against (a single verb's --run-dir manifest has none); give the folder `persona run` wrote.");
        return new RecordedRun(new RunFingerprint(ReadOutputs(outputs, path), ReadExclude(root, path), ReadInputs(root, path)),
            RunCompletion.Of(root), ManifestDigest.Of(bytes)) { Fresh = ReadFresh(root, path) };
    }

    /// <summary>
    /// Why a manifest's bytes cannot be used at all (not JSON, or not a JSON object), as the start of a
    /// sentence naming <paramref name="shownPath"/>; null when they parse as an object. `persona verify`
    /// and `persona report` both call such a manifest damaged, in these words.
    /// </summary>
    public static string? Damage(byte[] bytes, string shownPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return doc.RootElement.ValueKind == JsonValueKind.Object ? null
                : $"{shownPath}: expected a JSON object, found {Kind(doc.RootElement)}; the manifest is damaged";
        }
        catch (JsonException ex)
        {
            return $"{shownPath} line {(ex.LineNumber ?? 0) + 1}: not valid JSON ({JsonErrorText.Of(ex)}); the manifest is damaged";
        }
    }

    private static SortedDictionary<string, string> ReadOutputs(JsonElement outputs, string path)
    {
        if (outputs.ValueKind != JsonValueKind.Object)
            throw new PersonaException($"{path}: \"outputs\" is {Kind(outputs)}; expected an object of relative path -> SHA-256.");
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in outputs.EnumerateObject())
        {
            if (!IsSafeRelative(p.Name))
                throw new PersonaException($"{path}: \"outputs\" names '{p.Name}'; expected a path relative to the run folder with '/' and no '..' segment.");
            var sha = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null;
            if (!RunHashes.IsSha256Hex(sha))
                throw new PersonaException($"{path}: \"outputs\".\"{p.Name}\" is {Kind(p.Value)}; expected a SHA-256 as 64 hex digits.");
            map[p.Name] = sha!.ToLowerInvariant();
        }
        return map;
    }

    private static List<string> ReadFresh(JsonElement root, string path)
    {
        if (!root.TryGetProperty("outputs_fresh", out var f) || f.ValueKind == JsonValueKind.Null) return [];
        if (f.ValueKind != JsonValueKind.Array || f.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String || !IsSafeRelative(e.GetString()!)))
            throw new PersonaException($"{path}: \"outputs_fresh\" is {Kind(f)}; expected an array of paths relative to the run folder, such as \"study/study.sqlite\".");
        return [.. f.EnumerateArray().Select(e => e.GetString()!)];
    }

    private static List<string> ReadExclude(JsonElement root, string path)
    {
        if (!root.TryGetProperty("outputs_exclude", out var ex) || ex.ValueKind == JsonValueKind.Null) return [.. RunHashes.DefaultExclusions];
        if (ex.ValueKind != JsonValueKind.Array || ex.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw new PersonaException($"{path}: \"outputs_exclude\" is {Kind(ex)}; expected an array of path patterns such as \"store.sqlite*\".");
        var patterns = ex.EnumerateArray().Select(e => e.GetString()!).ToList();
        RunHashes.ValidatePatterns(patterns, $"{path}: \"outputs_exclude\"");
        return patterns;
    }

    private static List<RunInput> ReadInputs(JsonElement root, string path)
    {
        if (!root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind == JsonValueKind.Null) return [];
        if (inputs.ValueKind != JsonValueKind.Array)
            throw new PersonaException($"{path}: \"inputs\" is {Kind(inputs)}; expected an array of {{\"name\", \"path\", \"sha256\"}} objects.");
        var list = new List<RunInput>();
        var i = 0;
        foreach (var e in inputs.EnumerateArray())
        {
            string? Field(string key) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var (name, file, sha) = (Field("name"), Field("path"), Field("sha256"));
            if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(file) || !RunHashes.IsSha256Hex(sha))
                throw new PersonaException($"{path}: \"inputs\"[{i}] needs \"name\" and \"path\" as text and \"sha256\" as 64 hex digits.");
            list.Add(new RunInput(name, file, sha!.ToLowerInvariant()));
            i++;
        }
        return list;
    }

    private static bool IsSafeRelative(string rel) =>
        rel.Length > 0 && !rel.Contains('\\') && !System.IO.Path.IsPathRooted(rel) && rel.Split('/').All(s => s is not ("" or "." or ".."));

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the text \"{e.GetString()}\"",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        _ => "null",
    };
}
