using System.Diagnostics;

namespace Persona;

/// <summary>
/// Checks made on output paths before anything is read at length or paid for: an output never
/// replaces one of the command's inputs (compared as resolved paths, through symbolic links), a
/// file output is not an existing folder and a folder output is not an existing file. Also removes
/// the temporary files an earlier, killed run of the same output left behind.
/// </summary>
public static class OutputPaths
{
    /// <summary>The path made absolute with every symbolic link on the way resolved (as far as the path exists).</summary>
    public static string Resolve(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var current = root;
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (!info.Exists && info.LinkTarget is null)
                return Path.Combine([next, .. parts[(i + 1)..]]); // the rest does not exist yet: nothing more to resolve
            try
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                current = target is null ? next : Path.GetFullPath(target.FullName);
            }
            catch (IOException)
            {
                current = next; // a link loop: compare as written
            }
        }
        return current;
    }

    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>True when both paths name the same file once links are resolved.</summary>
    public static bool Same(string a, string b) => string.Equals(Resolve(a), Resolve(b), PathComparison);

    /// <summary>
    /// Throws when <paramref name="output"/> (a file the command will write, given by <paramref name="flag"/>)
    /// is one of <paramref name="inputs"/> (flag name, path).
    /// </summary>
    public static void EnsureNotAnInput(string output, string flag, params (string Flag, string? Path)[] inputs)
    {
        foreach (var (inFlag, inPath) in inputs)
            if (inPath is not null && Same(output, inPath))
                throw new PersonaException($"{flag} '{output}' is the {inFlag} file '{inPath}': the output would replace its own input. Choose another {flag}.");
    }

    /// <summary>
    /// Throws when <paramref name="output"/> (a file or folder the command writes) lies inside one of the
    /// folders among <paramref name="inputs"/> (a run or stage folder the command reads), or is one of
    /// the input files: writing there could replace the files it reads, or files that folder's manifest
    /// vouches for.
    /// </summary>
    public static void EnsureOutsideInputs(string output, string flag, params (string Flag, string? Path)[] inputs)
    {
        var resolved = Resolve(output);
        foreach (var (inFlag, inPath) in inputs)
        {
            if (inPath is null) continue;
            if (Directory.Exists(inPath))
            {
                var dir = Resolve(inPath).TrimEnd(Path.DirectorySeparatorChar);
                if (string.Equals(resolved, dir, PathComparison) || resolved.StartsWith(dir + Path.DirectorySeparatorChar, PathComparison))
                    throw new PersonaException($"{flag} '{output}' lies inside the {inFlag} folder '{inPath}', which this command reads: writing there could replace its files. Choose a {flag} outside it.");
            }
            else if (Same(output, inPath))
                throw new PersonaException($"{flag} '{output}' is the {inFlag} file '{inPath}': the output would replace its own input. Choose another {flag}.");
        }
    }

    /// <summary>
    /// Throws when <paramref name="output"/> lies inside a `persona run` folder (one holding a manifest
    /// of <paramref name="runManifestFormat"/>): a verb writing there would replace files the run's
    /// manifest vouches for, or the run's own cache and manifest.
    /// </summary>
    public static void EnsureNotInsideRun(string output, string flag, string runManifestFormat)
    {
        for (var p = Resolve(output); !string.IsNullOrEmpty(p); p = Path.GetDirectoryName(p))
        {
            var manifest = Path.Combine(p, "manifest.json");
            string head;
            try
            {
                if (!File.Exists(manifest)) continue;
                using var reader = new StreamReader(manifest);
                var buffer = new char[4096];
                head = new string(buffer, 0, reader.ReadBlock(buffer, 0, buffer.Length));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { continue; }
            if (head.Contains($"\"{runManifestFormat}\"", StringComparison.Ordinal))
                throw new PersonaException($"{flag} '{output}' lies inside the `persona run` folder '{p}': writing there would replace files its manifest vouches for. Choose a {flag} outside it.");
        }
    }

    /// <summary>Throws when a folder the command writes into (<paramref name="flag"/>) would overwrite one of the inputs with <paramref name="writes"/>.</summary>
    public static void EnsureFolderSparesInputs(string folder, string flag, IEnumerable<string> writes, params (string Flag, string? Path)[] inputs)
    {
        foreach (var name in writes)
            EnsureNotAnInput(Path.Combine(folder, name), $"{flag} (its {name})", inputs);
    }

    /// <summary>A file output must not be an existing folder (and its parent must not be a file).</summary>
    public static void EnsureFileTarget(string path, string flag, string exampleName = "results.jsonl")
    {
        if (Directory.Exists(path))
            throw new PersonaException($"{flag} '{path}' is an existing folder; expected a file name (e.g. {Path.Combine(path, exampleName)}).");
        var parent = Path.GetDirectoryName(Path.GetFullPath(path));
        for (var p = parent; !string.IsNullOrEmpty(p); p = Path.GetDirectoryName(p))
        {
            if (File.Exists(p))
                throw new PersonaException($"{flag} '{path}': '{p}' is a file, so no folder can be made there.");
            if (Directory.Exists(p)) break;
        }
    }

    /// <summary>A folder output must not be an existing file (nor lie under one).</summary>
    public static void EnsureFolderTarget(string path, string flag)
    {
        for (var p = Path.GetFullPath(path); !string.IsNullOrEmpty(p); p = Path.GetDirectoryName(p))
        {
            if (File.Exists(p))
                throw new PersonaException(p == Path.GetFullPath(path)
                    ? $"{flag} '{path}' is an existing file; expected a folder (it is created if missing)."
                    : $"{flag} '{path}': '{p}' is a file, so no folder can be made there.");
            if (Directory.Exists(p)) return;
        }
    }

    /// <summary>
    /// Deletes the temporary siblings (".NAME.*.tmp") an earlier run writing <paramref name="path"/> left
    /// behind when it was killed. A temp of a process that is still alive is kept (another run may be
    /// writing it right now); temps without a process id are removed once they are an hour old.
    /// </summary>
    public static int CleanStaleTemps(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir)) return 0;
        var removed = 0;
        IEnumerable<string> candidates;
        try { candidates = Directory.EnumerateFiles(dir, "." + Path.GetFileName(full) + ".*.tmp").ToList(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return 0; }
        foreach (var temp in candidates)
        {
            var middle = Path.GetFileName(temp)[(Path.GetFileName(full).Length + 2)..^4]; // between ".NAME." and ".tmp"
            var pidPart = middle.Split('.')[0];
            bool stale;
            if (int.TryParse(pidPart, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid))
                stale = pid != Environment.ProcessId && !IsAlive(pid);
            else
                stale = DateTime.UtcNow - File.GetLastWriteTimeUtc(temp) > TimeSpan.FromHours(1);
            if (!stale) continue;
            try { File.Delete(temp); removed++; }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>A temp sibling name that <see cref="CleanStaleTemps"/> recognises as this process's.</summary>
    public static string TempSibling(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
