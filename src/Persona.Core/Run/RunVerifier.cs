namespace Persona.Run;

public enum RunDifferenceKind
{
    /// <summary>manifest.json's bytes are not those of the digest the user pinned (--expect) or of manifest.sha256 beside it: it was edited after the run.</summary>
    ManifestChanged,
    /// <summary>An output's bytes are not the ones the manifest recorded.</summary>
    OutputChanged,
    /// <summary>An output the manifest lists is gone.</summary>
    OutputMissing,
    /// <summary>A file that is neither a listed output nor excluded (added after the run).</summary>
    OutputUnexpected,
    /// <summary>An input's bytes are not the ones the run read.</summary>
    InputChanged,
    /// <summary>An input is gone from where the manifest says it was.</summary>
    InputMissing,
}

/// <param name="Path">The output's relative path, the input's manifest path, or manifest.json.</param>
/// <param name="InputName">The input's name (inputs only); for the manifest, where the expected digest came from (--expect or manifest.sha256).</param>
/// <param name="Expected">SHA-256 the manifest recorded, or the manifest's expected digest (null for an unexpected file or an unreadable manifest.sha256).</param>
/// <param name="Actual">SHA-256 of the file now (null when it is missing).</param>
public sealed record RunDifference(RunDifferenceKind Kind, string Path, string? InputName, string? Expected, string? Actual);

/// <summary>A file in the folder of a stage that did not finish: not among the manifest's outputs, and not a difference either.</summary>
public sealed record UnrecordedFile(string Path, string Stage);

/// <summary>What <see cref="RunVerifier.VerifyAsync"/> found: every difference, ordered by kind (the manifest, outputs, then inputs), then path.</summary>
/// <param name="Completion">Whether the run finished, as its manifest says.</param>
/// <param name="ManifestSha256">SHA-256 of manifest.json's bytes as they were read and checked.</param>
/// <param name="DigestSource">What the manifest's digest was checked against: "--expect", "manifest.sha256" (beside it), or null (nothing to check against).</param>
public sealed record RunVerification(string RunDirectory, int OutputsChecked, int InputsChecked, IReadOnlyList<RunDifference> Differences,
    RunCompletion Completion, string ManifestSha256, string? DigestSource)
{
    /// <summary>No difference: every file the manifest lists is as recorded (whether the run finished is <see cref="RunCompletion.Finished"/>).</summary>
    public bool Matches => Differences.Count == 0;

    /// <summary>Files in the folders of stages that did not finish, which the manifest cannot list (an unfinished run only).</summary>
    public IReadOnlyList<UnrecordedFile> Unrecorded { get; init; } = [];

    public IReadOnlyList<RunDifference> Of(RunDifferenceKind kind) => Differences.Where(d => d.Kind == kind).ToList();
}

/// <summary>
/// Checks a run folder against its manifest: each listed output must still hash the same, no new
/// file may have appeared (outside the manifest's exclusions), and each input must still be where
/// it was with the same bytes — so a figure or table can be traced to exactly these files.
/// </summary>
public static class RunVerifier
{
    /// <param name="expectedManifestSha256">
    /// A digest of manifest.json the user kept (lowercase hex, see <see cref="ManifestDigest"/>); the
    /// manifest must hash to it. Without it, manifest.sha256 beside the manifest is checked when present,
    /// which catches an edit of the manifest alone, not one that rewrote both.
    /// </param>
    /// <exception cref="PersonaException">The folder has no usable manifest (see <see cref="RunFingerprint.Read"/>).</exception>
    public static async Task<RunVerification> VerifyAsync(string runDir, string? expectedManifestSha256 = null, CancellationToken ct = default)
    {
        var dir = Path.GetFullPath(runDir);
        var run = RunFingerprint.ReadRecorded(dir);
        var recorded = run.Fingerprint;
        var differences = new List<RunDifference>();

        string? source = null;
        if (expectedManifestSha256 is not null)
        {
            source = "--expect";
            if (expectedManifestSha256 != run.ManifestSha256)
                differences.Add(new RunDifference(RunDifferenceKind.ManifestChanged, RunFingerprint.ManifestFile, source, expectedManifestSha256, run.ManifestSha256));
        }
        else if (File.Exists(Path.Combine(dir, ManifestDigest.FileName)))
        {
            source = ManifestDigest.FileName;
            var beside = ManifestDigest.ParseFile(await File.ReadAllTextAsync(Path.Combine(dir, ManifestDigest.FileName), ct).ConfigureAwait(false));
            if (beside != run.ManifestSha256)
                differences.Add(new RunDifference(RunDifferenceKind.ManifestChanged, RunFingerprint.ManifestFile, source, beside, run.ManifestSha256));
        }

        var present = RunHashes.OutputFiles(dir, recorded.OutputsExclude).ToHashSet(StringComparer.Ordinal);
        // The digest file is written after the manifest, so no manifest can list it; a manifest whose
        // exclusions predate it would otherwise call it a new file.
        if (!recorded.Outputs.ContainsKey(ManifestDigest.FileName)) present.Remove(ManifestDigest.FileName);
        foreach (var (rel, expected) in recorded.Outputs)
        {
            ct.ThrowIfCancellationRequested();
            if (!present.Contains(rel))
            {
                // An excluded name listed as an output (a manifest written with other patterns) is still checked.
                if (File.Exists(Path.Combine(dir, rel))) present.Add(rel);
                else
                {
                    differences.Add(new RunDifference(RunDifferenceKind.OutputMissing, rel, null, expected, null));
                    continue;
                }
            }
            var actual = await RunHashes.FileAsync(Path.Combine(dir, rel), ct).ConfigureAwait(false);
            if (actual != expected) differences.Add(new RunDifference(RunDifferenceKind.OutputChanged, rel, null, expected, actual));
        }
        // Fresh outputs (named by the manifest, made afresh by any run): there, and as the newest invocation that wrote them hashed them.
        var freshHashes = RunInvocations.FreshHashes(dir);
        foreach (var rel in run.Fresh)
        {
            ct.ThrowIfCancellationRequested();
            var expected = freshHashes.GetValueOrDefault(rel);
            if (!File.Exists(Path.Combine(dir, rel)))
            {
                differences.Add(new RunDifference(RunDifferenceKind.OutputMissing, rel, null, expected, null));
                continue;
            }
            present.Remove(rel);
            if (expected is null) continue; // the history was deleted: its presence is all that can be checked
            var actual = await RunHashes.FileAsync(Path.Combine(dir, rel), ct).ConfigureAwait(false);
            if (actual != expected) differences.Add(new RunDifference(RunDifferenceKind.OutputChanged, rel, null, expected, actual));
        }
        var unrecorded = new List<UnrecordedFile>();
        var unfinished = run.Completion.Unfinished.Select(s => s.Stage).ToHashSet(StringComparer.Ordinal);
        foreach (var rel in present.Where(p => !recorded.Outputs.ContainsKey(p)).Order(StringComparer.Ordinal))
        {
            // A stage that did not finish records no outputs, so what it (or an earlier run of the
            // folder) left in its folder is not a change to the run: listed apart, not a difference.
            if (StageOf(rel) is { } stage && unfinished.Contains(stage)) unrecorded.Add(new UnrecordedFile(rel, stage));
            else differences.Add(new RunDifference(RunDifferenceKind.OutputUnexpected, rel, null, null, await RunHashes.FileAsync(Path.Combine(dir, rel), ct).ConfigureAwait(false)));
        }

        foreach (var input in recorded.Inputs)
        {
            ct.ThrowIfCancellationRequested();
            var file = input.Resolve(dir);
            if (!File.Exists(file))
            {
                differences.Add(new RunDifference(RunDifferenceKind.InputMissing, input.Path, input.Name, input.Sha256, null));
                continue;
            }
            var actual = await RunHashes.FileAsync(file, ct).ConfigureAwait(false);
            if (actual != input.Sha256) differences.Add(new RunDifference(RunDifferenceKind.InputChanged, input.Path, input.Name, input.Sha256, actual));
        }

        var ordered = differences.OrderBy(d => d.Kind).ThenBy(d => d.Path, StringComparer.Ordinal).ToList();
        return new RunVerification(dir, recorded.Outputs.Count + run.Fresh.Count, recorded.Inputs.Count, ordered, run.Completion, run.ManifestSha256, source) { Unrecorded = unrecorded };
    }

    /// <summary>The stage whose folder holds <paramref name="rel"/> (the deepest: bench/loo/x is loo's), or null for a file outside every stage folder.</summary>
    private static string? StageOf(string rel)
    {
        if (rel == TestbedStages.ReportFile) return TestbedStages.Report;
        return TestbedStages.All.Where(s => s != TestbedStages.Report && rel.StartsWith(TestbedStages.Folder(s) + "/", StringComparison.Ordinal))
            .OrderByDescending(s => TestbedStages.Folder(s).Length).FirstOrDefault();
    }
}
