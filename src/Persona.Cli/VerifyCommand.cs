using System.CommandLine;
using Persona.Testbed;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona verify RUN`: is this run folder still exactly what its run wrote, from the same inputs?</summary>
internal static class VerifyCommand
{
    /// <summary>The folder differs from its manifest (distinct from 1, which means the manifest itself could not be used).</summary>
    public const int DiffersExitCode = 2;

    public static Command Create(IAnsiConsole console)
    {
        var run = new Argument<DirectoryInfo>("run") { Description = "A run folder written by `persona run` (its --out, holding manifest.json)." };
        var cmd = new Command("verify",
            "Checks a run folder against the SHA-256 hashes its manifest.json recorded: every output must be unchanged and\n" +
            "present, no new file may have appeared, and every input (the census extract, personas, ...) must still be where\n" +
            "the run read it with the same bytes. The LM cache (store.sqlite*), lock and temporary files are not outputs\n" +
            "(the manifest's \"outputs_exclude\" lists the patterns). Prints a table of every difference.\n\n" +
            $"Exit codes: 0 everything matches, {DiffersExitCode} something differs (see the table),\n" +
            "  1 no usable manifest (no folder, no manifest.json, or one without \"outputs\").\n\n" +
            "Examples:\n" +
            "  persona verify out\n" +
            "  persona verify runs/population-42")
        {
            run,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var result = await RunVerifier.VerifyAsync(parse.GetValue(run)!.FullName, ct);
            Print(console, result);
            return result.Matches ? 0 : DiffersExitCode;
        });
        return cmd;
    }

    private static void Print(IAnsiConsole console, RunVerification r)
    {
        var checkedText = $"{r.OutputsChecked} output{(r.OutputsChecked == 1 ? "" : "s")} and {r.InputsChecked} input{(r.InputsChecked == 1 ? "" : "s")} of {r.RunDirectory}";
        if (r.Matches)
        {
            console.MarkupLineInterpolated($"[green]verified:[/] {checkedText} match the manifest.");
            return;
        }
        var t = new Table().Border(TableBorder.Rounded).AddColumns("difference", "file", "manifest sha256", "now sha256");
        foreach (var d in r.Differences)
        {
            var file = d.InputName is null ? d.Path : $"{d.InputName}: {d.Path}";
            t.AddRow(Markup.Escape(Label(d.Kind)), Markup.Escape(file), Short(d.Expected), Short(d.Actual));
        }
        console.Write(t);
        console.MarkupLineInterpolated($"[red]differs:[/] {r.Differences.Count} difference{(r.Differences.Count == 1 ? "" : "s")}; checked {checkedText} (exit code {DiffersExitCode}).");
    }

    private static string Label(RunDifferenceKind k) => k switch
    {
        RunDifferenceKind.OutputChanged => "output changed",
        RunDifferenceKind.OutputMissing => "output missing",
        RunDifferenceKind.OutputUnexpected => "new file",
        RunDifferenceKind.InputChanged => "input changed",
        RunDifferenceKind.InputMissing => "input missing",
        _ => k.ToString(),
    };

    // 12 hex digits tell files apart at a glance; the full hashes are in manifest.json.
    private static string Short(string? sha) => sha is null ? "-" : sha[..Math.Min(12, sha.Length)];
}
