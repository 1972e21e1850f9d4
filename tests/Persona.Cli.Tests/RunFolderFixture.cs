using Persona.Cli;
using Spectre.Console;

namespace Persona.Testing;

/// <summary>
/// A small real run folder in the layout `persona run` writes, built once per test class with the
/// existing verbs on the offline model (about 15 s on two cores): population (+ fidelity), prompts,
/// pairs, reward models, bench (+ loo, passk, summaries) and the study kit. Shared with the browser tests, which
/// link this file.
/// </summary>
public sealed class RunFolderFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "persona-run-fixture-" + Guid.NewGuid().ToString("N"));
    public string Run => Path.Combine(Root, "run");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Run);
        string R(string relative) => Path.Combine(Run, relative);
        await Step("personas", "build", "--n", "30", "--model", "offline", "--out", R("population"));
        await Step("census", "fidelity", "--personas", R("population/personas.jsonl"), "--out", R("population/fidelity"));
        await Step("prompts", "curate", "--model", "offline", "--limit", "200", "--k", "8", "--out", R("prompts"));
        await Step("pairs", "build", "--personas", R("population/personas.jsonl"), "--prompts", R("prompts/prompts.jsonl"), "--model", "offline",
            "--out", R("pairs"), "--train-prompts", "15", "--heldout-prompts", "5", "--train-pairs", "10");
        await Step("rm", "train", "--pairs", R("pairs"), "--out", R("rm"), "--dim", "4096", "--resamples", "200", "--max-iterations", "40");
        string[] bench = ["--personas", R("population"), "--prompts", R("prompts"), "--model", "offline", "--critic-model", "offline"];
        await Step(["bench", "run", .. bench, "--per-persona", "2", "--resamples", "200", "--out", R("bench")]);
        await Step(["bench", "loo", .. bench, "--judge-model", "offline", "--attributes", "ideology,sex,age", "--loo-personas", "10", "--loo-questions", "3", "--out", R("bench/loo")]);
        await Step(["bench", "passk", .. bench, "--k", "4", "--samples", "10", "--resamples", "200", "--out", R("bench/passk")]);
        await Step("bench", "summaries", R("bench"), "--judge-model", "offline", "--out", R("bench/summaries"));
        // Survey fidelity of predictions made elsewhere (the uniform answer to three questions, every group).
        var survey = Persona.Survey.SurveySetFile.Read(Persona.Survey.SurveySet.BundledPath);
        Directory.CreateDirectory(R("survey-input"));
        await File.WriteAllLinesAsync(R("survey-input/predictions.jsonl"), survey.Items.Where(i => survey.Questions.Take(3).Contains(i.Qkey)).Select(i =>
            System.Text.Json.JsonSerializer.Serialize(new { qkey = i.Qkey, attribute = i.Attribute, group = i.Group, distribution = Persona.Survey.SurveyDistance.Uniform(i.Ordinal.Count) })));
        await Step("survey", "score", "--predictions", R("survey-input/predictions.jsonl"), "--out", R("survey"), "--resamples", "200");
        await Step("study", "create", "--pairs", R("pairs"), "--personas", R("population/personas.jsonl"), "--out", R("study"),
            "--persona-count", "3", "--raters", "4", "--items", "5");
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    /// <summary>Runs one verb in-process; a failing step fails the fixture with the verb's own output.</summary>
    public static async Task Step(params string[] args)
    {
        var (code, output) = await RunVerb(args);
        if (code != 0) throw new InvalidOperationException($"persona {string.Join(' ', args)} exited {code}:\n{output}");
    }

    /// <summary>Exit code and everything printed (stdout, then stderr).</summary>
    public static async Task<(int Code, string Output)> RunVerb(params string[] args)
    {
        var (console, writer) = Plain();
        var (error, errorWriter) = Plain();
        var code = await PersonaApp.RunAsync(args, console, error: error);
        return (code, writer.ToString() + errorWriter);
    }

    private static (IAnsiConsole, StringWriter) Plain()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 4000;
        return (console, writer);
    }
}
