using Persona.Personas;

namespace Persona.Report;

/// <summary>What <see cref="RunReport.WriteAsync"/> wrote: the file, whether any stage was simulated, and the stage files it could not read.</summary>
public sealed record RunReportResult(string Path, IReadOnlyList<string> StagesRun, IReadOnlyList<string> SimulatedStages, IReadOnlyList<string> Problems)
{
    /// <summary>Whether the whole run finished (null: not a whole run's folder, or its manifest is damaged).</summary>
    public Persona.Run.RunCompletion? Completion { get; init; }

    /// <summary>The stages that did not complete when the run's results are not all in (what the page marks); empty otherwise.</summary>
    public IReadOnlyList<Persona.Run.StageState> UnfinishedStages { get; init; } = [];
}

/// <summary>
/// RUN/report.html: one self-contained page (inline CSS, figures as data: URIs, no script, no
/// network) with every stage of a `persona run` beside the original study's published figures.
/// It only reads the run folder, so it is rebuilt from a finished run without any LM call, and
/// the same folder always gives the same bytes.
/// </summary>
public static class RunReport
{
    public const string FileName = "report.html";

    /// <summary>Reads <paramref name="runDir"/> and writes <c>runDir/report.html</c> atomically.</summary>
    /// <exception cref="PersonaException">The folder does not exist or is not a run.</exception>
    public static Task<RunReportResult> WriteAsync(string runDir, CancellationToken ct = default)
    {
        var data = RunReportData.Load(runDir, ct);
        var html = Render(data);
        ct.ThrowIfCancellationRequested();
        var path = Path.Combine(Path.GetFullPath(runDir), FileName);
        AtomicFile.WriteAllText(path, html);
        return Task.FromResult(new RunReportResult(path, StagesRun(data), data.SimulatedStages(), Problems(data))
        {
            Completion = data.Completion, UnfinishedStages = data.UnfinishedStages,
        });
    }

    /// <summary>The report's HTML for data already loaded (pure: the same data gives the same string).</summary>
    public static string Render(RunReportData data) => new RunReportHtml(data).Render();

    public static IReadOnlyList<string> StagesRun(RunReportData d)
    {
        var list = new List<string>();
        if (d.Build.Ran) list.Add("population");
        if (d.Fidelity.Ran) list.Add("fidelity");
        if (d.SurveyFidelity.Ran) list.Add("survey");
        if (d.Prompts.Ran) list.Add("prompts");
        if (d.Pairs.Ran) list.Add("pairs");
        if (d.Bench.Ran) list.Add("bench");
        if (d.Loo.Ran) list.Add("bench loo");
        if (d.PassK.Ran) list.Add("bench passk");
        if (d.Summaries.Ran) list.Add("bench summaries");
        if (d.Study.Ran) list.Add("study");
        return list;
    }

    public static IReadOnlyList<string> Problems(RunReportData d) =>
        new[] { d.ManifestProblem, d.Build.Error, d.Fidelity.Error, d.SurveyFidelity.Error, d.Prompts.Error, d.Pairs.Error, d.Bench.Error, d.Loo.Error, d.PassK.Error, d.Summaries.Error, d.Study.Error }
            .OfType<string>().ToList();
}
