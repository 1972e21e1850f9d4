using System.Security.Cryptography;

namespace Persona.Run;

/// <summary>
/// SHA-256 fingerprints of files and of a whole run folder, so a finished run can later be checked
/// against what it wrote (<see cref="RunVerifier"/>).
/// </summary>
/// <remarks>
/// Exclusion patterns are matched against paths relative to the run folder, with forward slashes:
/// a pattern without '/' matches a file name at any depth (<c>store.sqlite*</c>); a pattern with a
/// leading '/' is anchored at the run folder (<c>/manifest.json</c> is the run's own manifest, not
/// a stage's); any other pattern with '/' matches the whole relative path. <c>*</c> matches any
/// run of characters but '/', <c>?</c> one character but '/'. Matching is case-sensitive.
/// </remarks>
public static class RunHashes
{
    /// <summary>
    /// What a run folder holds that is not an output: the LM cache (store.sqlite and its -wal/-shm/
    /// -journal, at any depth: its rows grow on every resume), lock files, the run's own manifest and
    /// its digest (manifest.sha256, written after it), and the temporary siblings of atomic writes (.NAME.*.tmp, and manifest.json.tmp of the LM
    /// runtime), and the history of invocations (/invocations.jsonl: when and what each `persona run` did, see
    /// <see cref="RunInvocations"/>). The human study's study/study.sqlite is an output and is not excluded.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultExclusions =
        ["store.sqlite*", "*.sqlite-wal", "*.sqlite-shm", "*.lock", "/manifest.json", "/manifest.sha256", ".*.tmp", "manifest.json.tmp", "/" + RunInvocations.FileName];

    /// <summary>Lowercase hex SHA-256 of a file, read as a stream (any size).</summary>
    public static async Task<string> FileAsync(string path, CancellationToken ct = default)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Every file under <paramref name="runDir"/> that is not excluded, as relative path (forward
    /// slashes) -> lowercase hex SHA-256, sorted by path (ordinal), which is the order it serialises in.
    /// </summary>
    /// <param name="exclude">Patterns of files that are not outputs (see the remarks of <see cref="RunHashes"/>); default <see cref="DefaultExclusions"/>.</param>
    public static async Task<IReadOnlyDictionary<string, string>> OutputsAsync(string runDir, IReadOnlyList<string>? exclude = null, CancellationToken ct = default)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var rel in OutputFiles(runDir, exclude ?? DefaultExclusions))
        {
            ct.ThrowIfCancellationRequested();
            map[rel] = await FileAsync(Path.Combine(runDir, rel), ct).ConfigureAwait(false);
        }
        return map;
    }

    /// <summary>The relative paths (forward slashes, ordinal order) of the files under <paramref name="runDir"/> that the patterns do not exclude.</summary>
    public static IReadOnlyList<string> OutputFiles(string runDir, IReadOnlyList<string> exclude)
    {
        var root = Path.GetFullPath(runDir);
        // AttributesToSkip = 0: on Unix a name starting with '.' counts as hidden, and an output may be named so.
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
        return Directory.EnumerateFiles(root, "*", options)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(rel => !IsExcluded(rel, exclude))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Whether <paramref name="relativePath"/> (forward slashes) matches one of the patterns.</summary>
    public static bool IsExcluded(string relativePath, IReadOnlyList<string> patterns)
    {
        var name = relativePath[(relativePath.LastIndexOf('/') + 1)..];
        foreach (var p in patterns)
        {
            if (p.StartsWith('/')) { if (Glob(p[1..], relativePath)) return true; }
            else if (p.Contains('/')) { if (Glob(p, relativePath)) return true; }
            else if (Glob(p, name)) return true;
        }
        return false;
    }

    /// <summary>Checks a pattern list before it is used or recorded: no empty pattern, no '\' (paths use '/').</summary>
    public static void ValidatePatterns(IEnumerable<string> patterns, string where)
    {
        foreach (var p in patterns)
            if (string.IsNullOrWhiteSpace(p) || p.Contains('\\'))
                throw new PersonaException($"{where}: exclusion pattern '{p}' is empty or uses '\\'; expected a path pattern with '/' such as 'store.sqlite*' or '/manifest.json'.");
    }

    // Iterative wildcard match with backtracking to the last '*': linear in practice, no regex to escape.
    private static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
            else if (p < pattern.Length && text[t] != '/' && (pattern[p] == '?' || pattern[p] == text[t]) && pattern[p] != '*') { p++; t++; }
            else if (p < pattern.Length && pattern[p] == '/' && text[t] == '/') { p++; t++; }
            else if (star >= 0 && text[mark] != '/') { p = star + 1; t = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }

    internal static bool IsSha256Hex(string? s) => s is { Length: 64 } && s.All(char.IsAsciiHexDigit);
}
