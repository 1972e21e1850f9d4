using System.CommandLine;
using Persona.Run;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona verify RUN`: is this run folder still exactly what its run wrote, from the same inputs, and did the run finish?</summary>
internal static class VerifyCommand
{
    /// <summary>The folder differs from its manifest, or the manifest from the digest it was checked against (distinct from 1, which means the manifest itself could not be used).</summary>
    public const int DiffersExitCode = 2;

    /// <summary>
    /// Every file the manifest lists matches, but the run did not finish (Ctrl-C, a budget, kill -9):
    /// 3 as for the run verbs, where 3 is a resumable stop, so a script treats it as "not done yet".
    /// </summary>
    public const int UnfinishedExitCode = 3;

    public static Command Create(IAnsiConsole console)
    {
        var run = new Argument<DirectoryInfo>("run") { Description = "A run folder written by `persona run` (its --out, holding manifest.json)." };
        var expect = new Option<string?>("--expect")
        {
            Description = "The manifest's digest as `persona run` printed it (SHA-256 of manifest.json's exact bytes, 64 hex digits;\n" +
                          "also in manifest.sha256). The manifest must hash to it: keep it outside the folder for this to prove anything.",
            HelpName = "DIGEST",
        };
        var cmd = new Command("verify",
            "Checks a run folder against the SHA-256 hashes its manifest.json recorded: every output must be unchanged and\n" +
            "present, no new file may have appeared, and every input (the census extract, personas, ...) must still be where\n" +
            "the run read it with the same bytes. The LM cache (store.sqlite*), lock and temporary files and manifest.sha256\n" +
            "are not outputs (the manifest's \"outputs_exclude\" lists the patterns). Prints a table of every difference.\n" +
            "It also checks that the run finished: the manifest lists only the outputs of completed stages, so a run stopped by\n" +
            "Ctrl-C, a budget or kill -9 has outputs that all match and is still not done (exit 3; files in the folders of the\n" +
            "stages that did not finish are listed apart).\n\n" +
            "What it proves: the folder holds what the manifest says. It does not prove the manifest itself: whoever can edit\n" +
            "manifest.json (flip \"simulated\", or rewrite an output together with its hash) can rewrite manifest.sha256 beside\n" +
            "it too. `persona run` prints the manifest's digest when it ends; keep it elsewhere (a lab notebook, a paper's\n" +
            "appendix, a commit) and give it as --expect DIGEST: then an edited manifest is a difference (exit 2). Without\n" +
            "--expect, manifest.sha256 beside the manifest is checked when present, which catches an edit of the manifest alone.\n\n" +
            $"Exit codes: 0 everything matches and the run finished, {DiffersExitCode} something differs (see the table; also a manifest that\n" +
            $"  is not the one --expect names), {UnfinishedExitCode} every listed file matches but the run did not finish (resume it with\n" +
            "  `persona run --out RUN`, then verify again), 1 no usable manifest (no folder, no manifest.json, a damaged one,\n" +
            "  or one without \"outputs\") or an --expect that is not a SHA-256.\n\n" +
            "Examples:\n" +
            "  persona verify out\n" +
            "  persona verify out --expect 3f2a...   (the 64 hex digits `persona run` printed)\n" +
            "  persona verify runs/population-42")
        {
            run, expect,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            string? pinned = null;
            if (parse.GetValue(expect) is { } given)
                pinned = ManifestDigest.Normalize(given)
                         ?? throw new PersonaException($"--expect '{given}' is not a SHA-256: give the 64 hex digits `persona run` printed as the manifest's digest (also in RUN/{ManifestDigest.FileName}).");
            var result = await RunVerifier.VerifyAsync(parse.GetValue(run)!.FullName, pinned, ct);
            Print(console, result);
            return !result.Matches ? DiffersExitCode : !result.Completion.Finished ? UnfinishedExitCode : 0;
        });
        return cmd;
    }

    private static void Print(IAnsiConsole console, RunVerification r)
    {
        var checkedText = $"{r.OutputsChecked} output{(r.OutputsChecked == 1 ? "" : "s")} and {r.InputsChecked} input{(r.InputsChecked == 1 ? "" : "s")} of {r.RunDirectory}";
        if (!r.Matches)
        {
            var t = new Table().Border(TableBorder.Rounded).AddColumns("difference", "file", "expected sha256", "now sha256");
            foreach (var d in r.Differences)
            {
                var file = d.Kind == RunDifferenceKind.ManifestChanged ? $"{d.Path} (vs {d.InputName})" : d.InputName is null ? d.Path : $"{d.InputName}: {d.Path}";
                t.AddRow(Markup.Escape(Label(d.Kind)), Markup.Escape(file), Short(d.Expected), Short(d.Actual));
            }
            console.Write(t);
        }
        foreach (var d in r.Of(RunDifferenceKind.ManifestChanged))
        {
            if (d.InputName == "--expect")
                console.MarkupLineInterpolated($"[red]manifest:[/] {RunFingerprint.ManifestFile} is not the manifest you pinned: it hashes to {d.Actual}, not {d.Expected}. It was edited or replaced after the run, so the hashes it lists prove nothing.");
            else
                console.MarkupLineInterpolated($"[red]manifest:[/] {RunFingerprint.ManifestFile} does not hash to the digest in {ManifestDigest.FileName} beside it ({d.Actual} now): one of the two was edited after the run.");
        }
        if (r.Unrecorded.Count > 0)
            console.MarkupLineInterpolated($"not recorded: {r.Unrecorded.Count} file{(r.Unrecorded.Count == 1 ? "" : "s")} in the folders of stages that did not finish ({string.Join(", ", r.Unrecorded.Select(u => u.Stage).Distinct())}), e.g. {r.Unrecorded[0].Path}; the manifest lists a stage's outputs once it completes.");
        if (!r.Completion.Finished)
            console.MarkupLineInterpolated($"[yellow]unfinished:[/] the run did not finish: {r.Completion.Explain()}. {r.Completion.HowToFinish(r.RunDirectory)}, then verify again.");
        if (!r.Matches)
        {
            console.MarkupLineInterpolated($"[red]differs:[/] {r.Differences.Count} difference{(r.Differences.Count == 1 ? "" : "s")}; checked {checkedText} (exit code {DiffersExitCode}).");
            return;
        }
        var pinned = r.DigestSource == "--expect"
            ? " The manifest is the one you pinned with --expect."
            : $" The manifest itself is not pinned (digest {r.ManifestSha256}): give --expect DIGEST, with the digest `persona run` printed, to prove it unedited.";
        if (!r.Completion.Finished)
            console.MarkupLineInterpolated($"[yellow]incomplete:[/] {checkedText} match the manifest, but the run is not done (exit code {UnfinishedExitCode}).{pinned}");
        else
            console.MarkupLineInterpolated($"[green]verified:[/] {checkedText} match the manifest.{pinned}");
    }

    private static string Label(RunDifferenceKind k) => k switch
    {
        RunDifferenceKind.ManifestChanged => "manifest changed",
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
