using System.CommandLine;
using Persona.Census;
using Persona.Personas;
using Persona.Reports;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>
/// `persona run`: the main job on bundled defaults, so a new user sees the whole tool work with one
/// command and no downloads.
/// </summary>
internal static class RunCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var n = new Option<int>("--n") { Description = "Number of personas.", DefaultValueFactory = _ => 1000 };
        var seed = new Option<long>("--seed") { Description = "Random seed; the same seed gives byte-identical outputs.", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "out" };
        var cmd = new Command("run",
            "The main job on bundled defaults: draw a census-grounded persona population from the bundled, nationally\n" +
            "representative 2024 ACS extract and check its fidelity against the weighted census.\n" +
            "Writes OUT/personas.jsonl, OUT/personas.parquet and OUT/fidelity/ (fidelity.json + histograms).\n\n" +
            "Examples:\n" +
            "  persona run\n" +
            "  persona run --n 5000 --seed 42 --out runs/population-42")
        {
            n, seed, output,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(output)!;
            var sample = new CensusSampleOptions
            {
                N = parse.GetValue(n),
                Seed = parse.GetValue(seed),
                OutputPath = Path.Combine(dir, "personas.jsonl"),
            };
            Directory.CreateDirectory(dir);
            var psycho = PsychodemographicSampler.LoadBundled();
            var drawn = await CensusCommands.RunWithProgress(console, (p, t) => CensusSampler.SampleAsync(sample, psycho, p, t), ct);
            await PersonaFiles.WriteAsync(Path.Combine(dir, "personas.parquet"), drawn.Personas, ct);
            console.MarkupLineInterpolated($"[green]drew[/] {drawn.Personas.Count:N0} personas ({drawn.Vintage}, {drawn.TraitSource} psychodemographics) -> {Path.Combine(dir, "personas.jsonl")} and .parquet");

            var fidelity = await CensusCommands.RunWithProgress(console,
                (p, t) => PopulationFidelity.RunAsync(sample.OutputPath, sample, Path.Combine(dir, "fidelity"), p, t), ct);
            CensusCommands.WriteFidelity(console, fidelity);
            return 0;
        });
        return cmd;
    }
}
