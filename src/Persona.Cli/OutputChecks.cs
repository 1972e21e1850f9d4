using Persona.Personas;
using Persona.Prompts;
using Persona.Store;

namespace Persona.Cli;

/// <summary>The output checks of the verbs that write a folder, made before anything is loaded or paid.</summary>
internal static class OutputChecks
{
    private static readonly string[] RunFiles = ["store.sqlite", "manifest.json"];

    public static void BuildFolder(string outDir, string? categories, string? dictionary, string[]? sources, string[]? households)
    {
        OutputPaths.EnsureFolderTarget(outDir, "--out");
        var inputs = new List<(string, string?)> { ("--categories-file", categories), ("--dictionary", dictionary) };
        inputs.AddRange((sources ?? []).Select(s => ("--source", (string?)s)));
        inputs.AddRange((households ?? []).Select(s => ("--household", (string?)s)));
        OutputPaths.EnsureFolderSparesInputs(outDir, "--out",
            [PersonaBuilder.PersonasJsonl, PersonaBuilder.PersonasParquet, PersonaBuilder.RejectionsFile, PersonaBuilder.ReportFile, "split.json", .. RunFiles],
            [.. inputs]);
    }

    /// <summary>A file output must not be the run's own store or manifest.</summary>
    public static void SparesRunStore(string outFile, string runDir) =>
        OutputPaths.EnsureNotAnInput(outFile, "--out", [.. new[] { "store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "manifest.json" }
            .Select(f => ("--run-dir", (string?)Path.Combine(runDir, f)))]);

    public static void CurationFolder(string outDir, string? source)
    {
        OutputPaths.EnsureFolderTarget(outDir, "--out");
        OutputPaths.EnsureFolderSparesInputs(outDir, "--out",
            [PromptCurationWriter.PromptsFile, PromptCurationWriter.RejectedFile, PromptCurationWriter.ReportFile, .. RunFiles], ("--source", source));
    }
}
