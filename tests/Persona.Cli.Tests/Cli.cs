using Spectre.Console;

namespace Persona.Cli.Tests;

/// <summary>Runs the real `persona` command tree in-process on a plain, wide, non-interactive console.</summary>
internal static class Cli
{
    public static async Task<(int Code, string Output)> Run(params string[] args)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        var code = await PersonaApp.RunAsync(args, console);
        return (code, writer.ToString());
    }

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
}
