using System.CommandLine;
using Persona.Census;
using Persona.Personas;
using Persona.Reports;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>
/// `persona run`: the main job on bundled defaults, so a new user sees the whole tool work with one
/// command and no downloads: the offline simulator by default, a real model when given.
/// </summary>
internal static class RunCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "the --out folder (re-running resumes)", defaultModel: "offline");
        var n = new Option<int>("--n") { Description = "Personas in the population (the original study: 1586).", DefaultValueFactory = _ => 200 };
        var seed = new Option<long>("--seed") { Description = "Random seed; the same seed, inputs and answers give byte-identical outputs.", DefaultValueFactory = _ => 1 };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder.", DefaultValueFactory = _ => new DirectoryInfo("out") };
        var cmd = new Command("run",
            "The main job on bundled defaults: build a persona population end to end — census draw from the bundled, nationally\n" +
            "representative 2024 ACS extract -> psychodemographics -> LM-written job, quirks, mannerisms, personal time and lifestyle\n" +
            "-> consistency filter -> train/test split — then check its fidelity against the weighted census.\n" +
            "With the default --model offline every LM answer is simulated (and labelled so); give a real model for real text.\n" +
            "Writes OUT/personas.jsonl, .parquet, split.json, rejections.jsonl, build-report.json, OUT/fidelity/ (json + histograms).\n\n" +
            RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n" +
            "  persona run\n" +
            "  persona run --n 1586 --seed 42 --out runs/population-42\n" +
            "  OPENAI_API_KEY=... persona run --n 1586 --model openai:gpt-4o-mini --max-cost 5 --out runs/gpt4o-mini\n" +
            "  persona run --model ollama:llama3.1 --n 50")
        {
            n, seed, output,
        };
        runtime.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(output)!.FullName;
            OutputChecks.BuildFolder(dir, null, null, null, null);
            var build = new PersonaBuildOptions { N = parse.GetValue(n), Seed = parse.GetValue(seed), OutputDirectory = dir };
            var (code, result) = await PersonasCommands.BuildAsync(console, build, runtime.Build(parse, dir), ct);
            if (result is null) return code;

            var census = new CensusSampleOptions { N = build.N };
            var fidelity = await CensusCommands.RunWithProgress(console,
                (p, t) => PopulationFidelity.RunAsync(Path.Combine(dir, PersonaBuilder.PersonasJsonl), census, Path.Combine(dir, "fidelity"), p, t), ct);
            CensusCommands.WriteFidelity(console, fidelity);
            return 0;
        });
        return cmd;
    }
}
