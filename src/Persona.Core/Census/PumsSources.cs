namespace Persona.Census;

/// <summary>
/// Expands --source / --household arguments (files, folders, or globs such as
/// <c>data/p_*.parquet</c>) into a sorted list of files. Sorting by ordinal path makes the row
/// order, and so every seeded draw, independent of how the shell or file system listed them.
/// </summary>
public static class PumsSources
{
    private static readonly string[] PersonPatterns = ["*.parquet", "psam_p*.csv", "csv_p*.zip"];
    private static readonly string[] HouseholdPatterns = ["psam_h*.csv", "csv_h*.zip"];

    public static IReadOnlyList<string> ResolvePersons(IEnumerable<string> args) => Resolve(args, PersonPatterns, "person");

    public static IReadOnlyList<string> ResolveHouseholds(IEnumerable<string> args) => Resolve(args, HouseholdPatterns, "household");

    private static IReadOnlyList<string> Resolve(IEnumerable<string> args, string[] folderPatterns, string what)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var arg in args)
        {
            if (Directory.Exists(arg))
            {
                var found = folderPatterns.SelectMany(p => Directory.EnumerateFiles(arg, p)).ToList();
                if (found.Count == 0)
                    throw new PersonaException(
                        $"Folder '{arg}' holds no PUMS {what} file (looked for {string.Join(", ", folderPatterns)}).");
                foreach (var f in found) files.Add(Path.GetFullPath(f));
            }
            else if (arg.IndexOfAny(['*', '?']) >= 0)
            {
                var dir = Path.GetDirectoryName(arg);
                dir = string.IsNullOrEmpty(dir) ? "." : dir;
                var pattern = Path.GetFileName(arg);
                if (dir.IndexOfAny(['*', '?']) >= 0)
                    throw new PersonaException($"'{arg}': wildcards are supported in the file name only, not in folders.");
                var found = Directory.Exists(dir) ? Directory.EnumerateFiles(dir, pattern).ToList() : [];
                if (found.Count == 0)
                    throw new PersonaException($"'{arg}' matches no file.");
                foreach (var f in found) files.Add(Path.GetFullPath(f));
            }
            else if (File.Exists(arg))
            {
                files.Add(Path.GetFullPath(arg));
            }
            else
            {
                throw new PersonaException($"The {what} source '{arg}' does not exist.");
            }
        }
        return files.ToArray();
    }
}
