namespace Persona;

/// <summary>
/// Files shipped under the repository's data/ folder. They are copied next to the binaries at
/// build time so the tool runs on embedded defaults from any working directory, and tests see
/// exactly what a fresh clone holds.
/// </summary>
public static class BundledData
{
    public static string Root => System.IO.Path.Combine(AppContext.BaseDirectory, "data");

    /// <summary>Absolute path of a bundled file, e.g. <c>Path("acs/dictionary-2023.csv")</c>.</summary>
    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);
}
