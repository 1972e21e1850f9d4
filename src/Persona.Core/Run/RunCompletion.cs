using System.Security.Cryptography;
using System.Text.Json;

namespace Persona.Run;

/// <summary>One stage of a whole run as its manifest records it: its status ("completed", "cancelled", ...), or null when the manifest holds no record of it.</summary>
public sealed record StageState(string Stage, string? Status)
{
    public bool Completed => Status == RunCompletion.Completed;

    /// <summary>The status as a user reads it ("not run" for a stage without a record).</summary>
    public string Text => Status ?? RunCompletion.NotRun;
}

/// <summary>
/// Whether a whole run (`persona run`) finished, read from its manifest.json. The run writes
/// <c>"status": "completed"</c> only after its last stage; Ctrl-C leaves "cancelled" (a second one
/// "aborted"), a budget or a failing endpoint "stopped", a stage's error "failed", and a kill -9, a
/// crash or a power cut the "running" of the last stage boundary. The outputs of a stage that did not finish are not in the
/// manifest's "outputs", so an unfinished run's outputs can all match while the run is incomplete:
/// this is what tells the two apart.
/// </summary>
/// <param name="Status">The manifest's "status" (null when absent or not text).</param>
/// <param name="StopReason">The manifest's "stop_reason" (why a budget or an endpoint stopped it).</param>
/// <param name="Stages">
/// Every stage of <see cref="TestbedStages.All"/> in order with its recorded status, when the manifest
/// has a "stages" object; empty when it has none (a hand-made manifest of hashes only).
/// </param>
public sealed record RunCompletion(string? Status, string? StopReason, IReadOnlyList<StageState> Stages)
{
    public const string Completed = "completed", Running = "running", Failed = "failed", NotRun = "not run";

    /// <summary>The run ended normally: status "completed" and every recorded stage completed.</summary>
    public bool Finished => Status == Completed && Stages.All(s => s.Completed);

    /// <summary>
    /// Every stage's results are in: all stages but the report completed, and the run neither
    /// cancelled nor stopped. The report stage renders while the manifest still says "running" (it
    /// reads the manifest, so the manifest is written first), so the page it writes cannot wait for
    /// "completed"; it uses this instead, and the same folder gives the same page during and after the run.
    /// </summary>
    public bool ResultsComplete => Status is Completed or Running && Stages.Where(s => s.Stage != TestbedStages.Report).All(s => s.Completed);

    /// <summary>The stages that did not complete (cancelled, stopped, or not run), in order.</summary>
    public IReadOnlyList<StageState> Unfinished => Stages.Where(s => !s.Completed).ToList();

    /// <summary>What the status means, in words ("cancelled by Ctrl-C", ...).</summary>
    public string StatusText => Status switch
    {
        null => "no status recorded",
        Running => "\"running\": the process was killed (kill -9, a crash, a power cut) or is still going",
        "cancelled" => "\"cancelled\" by Ctrl-C",
        "aborted" => "\"aborted\" by a second Ctrl-C",
        "stopped" => "\"stopped\"" + (StopReason is { Length: > 0 } r ? $" ({r.TrimEnd('.')})" : " by a budget or a failing endpoint"),
        Failed => "\"failed\": a stage ended with an error" + (StopReason is { Length: > 0 } e ? $" ({e.TrimEnd('.')})" : ""),
        var s => $"\"{s}\"",
    };

    /// <summary>One line: the status and the stages that did not complete, grouped by what happened to them.</summary>
    public string Explain()
    {
        var parts = new List<string> { $"manifest.json says {StatusText}" };
        foreach (var g in Unfinished.GroupBy(s => s.Text))
            parts.Add($"{g.Key}: {string.Join(", ", g.Select(s => s.Stage))}");
        return string.Join("; ", parts);
    }

    /// <summary>How to finish the run in <paramref name="runDir"/> (as shown: a path, or "RUN" on a page that names no path).</summary>
    public string HowToFinish(string runDir) =>
        // The same command, not a reconstructed one: a run made with --model, --scale or --dataset resumed with defaults would be another run.
        (Status == Failed ? "Fix what failed, then finish it by running" : "Resume it by running") + $" the same `persona run ... --out {runDir}` command again (completed stages are reused)";

    /// <summary>The run's completion from a parsed manifest (any object; missing fields read as absent).</summary>
    public static RunCompletion Of(JsonElement manifest)
    {
        string? Text(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var stages = new List<StageState>();
        if (manifest.ValueKind == JsonValueKind.Object && manifest.TryGetProperty("stages", out var recorded) && recorded.ValueKind == JsonValueKind.Object)
            foreach (var stage in TestbedStages.All)
                stages.Add(new StageState(stage, recorded.TryGetProperty(stage, out var r) ? Text(r, "status") ?? "no status" : null));
        return new RunCompletion(Text(manifest, "status"), Text(manifest, "stop_reason"), stages);
    }

    /// <summary>Whether a parsed manifest is a whole run's (`persona run`), as opposed to a single verb's --run-dir manifest.</summary>
    public static bool IsWholeRun(JsonElement manifest) =>
        manifest.ValueKind == JsonValueKind.Object && manifest.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String && f.GetString() == TestbedRun.Format;
}

/// <summary>
/// The manifest's own digest: the SHA-256 of manifest.json's exact bytes, as lowercase hex. The run
/// prints it when it ends and writes it beside the manifest in manifest.sha256 (the line
/// <c>DIGEST  manifest.json</c>, so <c>sha256sum -c manifest.sha256</c> checks it too).
/// <c>persona verify RUN --expect DIGEST</c> compares the manifest with a digest the user kept:
/// only a digest kept outside the folder proves the manifest unedited, since whoever can edit
/// manifest.json can rewrite manifest.sha256 beside it.
/// </summary>
public static class ManifestDigest
{
    public const string FileName = "manifest.sha256";

    public static string Of(ReadOnlySpan<byte> manifestBytes) => Convert.ToHexStringLower(SHA256.HashData(manifestBytes));

    /// <summary>The content of manifest.sha256 for a digest (the format of sha256sum).</summary>
    public static string Line(string digest) => $"{digest}  {RunFingerprint.ManifestFile}\n";

    /// <summary>The digest a manifest.sha256 holds, or null when its first line does not start with 64 hex digits.</summary>
    public static string? ParseFile(string text)
    {
        var first = text.Split('\n', 2)[0].Trim();
        var token = first.Split(' ', 2)[0];
        return RunHashes.IsSha256Hex(token) ? token.ToLowerInvariant() : null;
    }

    /// <summary>A digest as a user gives it (any case, surrounding spaces, an optional "sha256:" prefix) as lowercase hex, or null when it is not 64 hex digits.</summary>
    public static string? Normalize(string? given)
    {
        var s = given?.Trim() ?? "";
        if (s.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase)) s = s["sha256:".Length..];
        return RunHashes.IsSha256Hex(s) ? s.ToLowerInvariant() : null;
    }
}
