using Spectre.Console;

namespace Persona.Cli.Tests;

/// <summary>Runs the real `persona` command tree in-process on a plain, wide, non-interactive console.</summary>
internal static class Cli
{
    /// <summary>Exit code and everything printed (stdout, then stderr).</summary>
    public static async Task<(int Code, string Output)> Run(params string[] args)
    {
        var (code, stdout, stderr) = await RunSplit(args);
        return (code, stdout + stderr);
    }

    /// <summary>Exit code, stdout and stderr apart.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunSplit(params string[] args)
    {
        var (console, writer) = Plain();
        var (error, errorWriter) = Plain();
        error.Profile.Width = 4000; // an error is asserted on as one line; a terminal wraps it
        var code = await PersonaApp.RunAsync(args, console, error: error);
        return (code, writer.ToString(), errorWriter.ToString());
    }

    private static (IAnsiConsole, StringWriter) Plain()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        // Wide enough that a line holding two temporary paths (under the test process's own root, inside CI's
        // private TMPDIR) stays one line: tests assert on words, and a terminal's wrapping would split them.
        console.Profile.Width = 1000;
        return (console, writer);
    }

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static string TempDir(string area)
    {
        var d = Path.Combine(Path.GetTempPath(), "persona-cli-" + area, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
