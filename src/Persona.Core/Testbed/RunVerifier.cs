namespace Persona.Testbed;

public enum RunDifferenceKind
{
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

/// <param name="Path">The output's relative path, or the input's manifest path.</param>
/// <param name="InputName">The input's name (inputs only).</param>
/// <param name="Expected">SHA-256 the manifest recorded (null for an unexpected file).</param>
/// <param name="Actual">SHA-256 of the file now (null when it is missing).</param>
public sealed record RunDifference(RunDifferenceKind Kind, string Path, string? InputName, string? Expected, string? Actual);

/// <summary>What <see cref="RunVerifier.VerifyAsync"/> found: every difference, ordered by kind (outputs, then inputs), then path.</summary>
public sealed record RunVerification(string RunDirectory, int OutputsChecked, int InputsChecked, IReadOnlyList<RunDifference> Differences)
{
    public bool Matches => Differences.Count == 0;

    public IReadOnlyList<RunDifference> Of(RunDifferenceKind kind) => Differences.Where(d => d.Kind == kind).ToList();
}

/// <summary>
/// Checks a run folder against its manifest: each listed output must still hash the same, no new
/// file may have appeared (outside the manifest's exclusions), and each input must still be where
/// it was with the same bytes — so a figure or table can be traced to exactly these files.
/// </summary>
public static class RunVerifier
{
    /// <exception cref="PersonaException">The folder has no usable manifest (see <see cref="RunFingerprint.Read"/>).</exception>
    public static async Task<RunVerification> VerifyAsync(string runDir, CancellationToken ct = default)
    {
        var dir = Path.GetFullPath(runDir);
        var recorded = RunFingerprint.Read(dir);
        var differences = new List<RunDifference>();

        var present = RunHashes.OutputFiles(dir, recorded.OutputsExclude).ToHashSet(StringComparer.Ordinal);
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
        foreach (var rel in present.Where(p => !recorded.Outputs.ContainsKey(p)).Order(StringComparer.Ordinal))
            differences.Add(new RunDifference(RunDifferenceKind.OutputUnexpected, rel, null, null, await RunHashes.FileAsync(Path.Combine(dir, rel), ct).ConfigureAwait(false)));

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
        return new RunVerification(dir, recorded.Outputs.Count, recorded.Inputs.Count, ordered);
    }
}
