using System.CommandLine;
using Persona.Report;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona report RUN`: rebuilds RUN/report.html from a finished (or partial) run; reads files only, calls no LM.</summary>
internal static class ReportCommand
{
    public static Command Create(IAnsiConsole console, IAnsiConsole error)
    {
        var run = new Argument<DirectoryInfo>("RUN") { Description = "A run folder written by `persona run` (population/, prompts/, pairs/, bench/, study/, manifest.json)." };
        var cmd = new Command("report",
            "Rebuild RUN/report.html: one self-contained page (opens offline) with the population's fidelity, the prompt set,\n" +
            "the pairs' verification, the bench, the study kit, models and costs, seeds and file hashes, each beside the\n" +
            "original study's published figure. Reads the run's files only: no LM call; the same folder gives the same bytes.\n" +
            "Stages that did not run are marked 'not run'; a run with simulated stages carries a SIMULATED banner; a run that did\n" +
            "not finish (Ctrl-C, a budget, kill -9: manifest.json does not say \"completed\") carries an UNFINISHED banner and\n" +
            "its stages that did not complete are marked. A stage file that cannot be read, or a damaged manifest.json, is a\n" +
            "warning on stderr and its part of the page is left out; the page is still written.\n\n" +
            "Exit codes: 0 the page was written (warnings and an unfinished run included), 1 no page: the folder is not a run\n" +
            "  (when its only run file is a damaged manifest.json, the error says the manifest is damaged, as `persona verify`\n" +
            "  does) or report.html cannot be written.\n\n" +
            "Examples:\n" +
            "  persona report out\n" +
            "  persona report runs/gpt4o-mini")
        {
            run,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var result = await RunReport.WriteAsync(parse.GetValue(run)!.FullName, ct);
            // Warnings are not the report: stderr, in the house's words (a script reading stdout gets the summary only).
            foreach (var p in result.Problems) ErrorReport.Write(error, p, "warning");
            // Two lines: a long stop reason may cut the first (ErrorReport.MaxChars), never what to do.
            if (result.Completion is { } c && result.UnfinishedStages.Count > 0)
                ErrorReport.Write(error, $"the run did not finish: {c.Explain()}.\nThe page marks it. {c.HowToFinish(Path.GetDirectoryName(result.Path)!)}, then report again.", "unfinished");
            if (result.SimulatedStages.Count > 0)
                console.MarkupLineInterpolated($"[yellow]simulated:[/] {string.Join(", ", result.SimulatedStages)} ran on the offline simulator; nothing in the report is a finding.");
            console.MarkupLineInterpolated($"report: {result.Path} ({result.StagesRun.Count} stage(s): {string.Join(", ", result.StagesRun)})");
            Timings(console, parse.GetValue(run)!.FullName);
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// Each stage's wall time and spend as invocations.jsonl records them (the invocation that made the stage), printed
    /// beside the page rather than in it: report.html is a function of the run, the same for a resumed or merged one.
    /// </summary>
    private static void Timings(IAnsiConsole console, string dir)
    {
        var all = Persona.Run.RunInvocations.Read(dir);
        var work = Persona.Run.RunInvocations.StageWork(all);
        if (all.Count == 0 || work.Count == 0) return;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var t = new Table().Border(TableBorder.Rounded).Title($"time and spend per stage ({Persona.Run.RunInvocations.FileName}, {all.Count} invocation(s))")
            .AddColumns("stage", "seconds", "paid calls", "cache hits", "est. cost", "made by");
        foreach (var stage in Persona.Run.TestbedStages.All.Where(work.ContainsKey))
        {
            var w = work[stage];
            long Sum(string key) => w["spend"] is System.Text.Json.Nodes.JsonObject sp ? sp.Sum(r => r.Value?[key]?.GetValue<long>() ?? 0) : 0;
            var cost = w["spend"] is System.Text.Json.Nodes.JsonObject c ? c.Sum(r => r.Value?["estimated_cost_usd"]?.GetValue<double>() ?? 0) : 0;
            var by = all.LastOrDefault(l => l["stages"]?[stage] is System.Text.Json.Nodes.JsonObject o && ReferenceEquals(o, w));
            var when = by?["this_invocation"]?["started_utc"]?.GetValue<string>() ?? "";
            t.AddRow(Markup.Escape(stage), (w["seconds"]?.GetValue<double>() ?? 0).ToString("0.0", inv), Sum("paid_calls").ToString("N0", inv), Sum("cache_hits").ToString("N0", inv),
                "$" + cost.ToString("0.0000", inv), Markup.Escape($"{by?["kind"]?.GetValue<string>()} {when}".Trim()));
        }
        console.Write(t);
    }
}
