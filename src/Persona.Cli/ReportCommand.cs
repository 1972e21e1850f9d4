using System.CommandLine;
using Persona.Reports;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona report RUN`: rebuilds RUN/report.html from a finished (or partial) run; reads files only, calls no LM.</summary>
internal static class ReportCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var run = new Argument<DirectoryInfo>("RUN") { Description = "A run folder written by `persona run` (population/, prompts/, pairs/, bench/, study/, manifest.json)." };
        var cmd = new Command("report",
            "Rebuild RUN/report.html: one self-contained page (opens offline) with the population's fidelity, the prompt set,\n" +
            "the pairs' verification, the bench, the study kit, models and costs, seeds and file hashes, each beside the\n" +
            "original study's published figure. Reads the run's files only: no LM call; the same folder gives the same bytes.\n" +
            "Stages that did not run are marked 'not run'; a run with simulated stages carries a SIMULATED banner.\n\n" +
            "Examples:\n" +
            "  persona report out\n" +
            "  persona report runs/gpt4o-mini")
        {
            run,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var result = await RunReport.WriteAsync(parse.GetValue(run)!.FullName, ct);
            foreach (var p in result.Problems) console.MarkupLineInterpolated($"[yellow]warning:[/] {p}");
            if (result.SimulatedStages.Count > 0)
                console.MarkupLineInterpolated($"[yellow]simulated:[/] {string.Join(", ", result.SimulatedStages)} ran on the offline simulator; nothing in the report is a finding.");
            console.MarkupLineInterpolated($"report: {result.Path} ({result.StagesRun.Count} stage(s): {string.Join(", ", result.StagesRun)})");
            return 0;
        });
        return cmd;
    }
}
