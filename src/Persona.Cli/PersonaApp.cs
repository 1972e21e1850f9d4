using System.CommandLine;
using Persona.Llm;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>
/// The `persona` command tree. Verb groups live in their own files and add themselves here; each
/// verb is a thin adapter from options to a Persona.Core call.
/// </summary>
public static class PersonaApp
{
    /// <param name="error">Where verbs that write warnings put them (stderr unless given).</param>
    public static RootCommand BuildRoot(IAnsiConsole console, IAnsiConsole? error = null)
    {
        error ??= ErrorReport.StderrConsole();
        var root = new RootCommand(
            "Persona: a census-grounded testbed for pluralistic alignment of language models.\n\n" +
            "Examples:\n" +
            "  persona run                      the main job on bundled defaults (personas + fidelity report in out/)\n" +
            "  persona report out               rebuild out/report.html from a finished run (no LM call)\n" +
            "  persona census sample --n 1000 --seed 7 --out personas.jsonl\n" +
            "  persona census fidelity --personas personas.jsonl --out fidelity/\n" +
            "  persona llm batch --in requests.jsonl --out results.jsonl --model offline");
        root.Subcommands.Add(RunCommand.Create(console));
        root.Subcommands.Add(VerifyCommand.Create(console));
        root.Subcommands.Add(CensusCommands.Create(console));
        root.Subcommands.Add(LlmCommands.Create(console));
        root.Subcommands.Add(PersonasCommands.Create(console));
        root.Subcommands.Add(PromptsCommands.Create(console));
        root.Subcommands.Add(PairsCommands.Create(console));
        root.Subcommands.Add(StatsCommands.Create(console));
        root.Subcommands.Add(SurveyCommands.Create(console));
        root.Subcommands.Add(BenchCommands.Create(console));
        root.Subcommands.Add(StudyCommands.Create(console));
        root.Subcommands.Add(RmCommands.Create(console));
        root.Subcommands.Add(ReportCommand.Create(console, error));
        return root;
    }

    /// <summary>Widest table a redirected output (CI logs, `| tee`, files) gets unless COLUMNS says otherwise.</summary>
    public const int RedirectedWidth = 240;

    /// <summary>
    /// Spectre assumes 80 columns when stdout is not a terminal, and tables then wrap every cell into
    /// unreadable fragments; a terminal keeps its own width.
    /// </summary>
    public static IAnsiConsole WideWhenRedirected(IAnsiConsole console)
    {
        if (!Console.IsOutputRedirected) return console;
        console.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var c) && c >= 40
            ? c : RedirectedWidth;
        return console;
    }

    /// <param name="cancellationToken">Acts as the first Ctrl-C (tests).</param>
    /// <param name="error">Where errors go (stderr unless a test gives its own).</param>
    /// <param name="abortToken">Acts as the second Ctrl-C (tests).</param>
    /// <param name="handleSignals">Install SIGINT/SIGTERM handlers (the real process; in-process tests pass tokens instead).</param>
    public static async Task<int> RunAsync(string[] args, IAnsiConsole? console = null, CancellationToken cancellationToken = default,
        IAnsiConsole? error = null, CancellationToken abortToken = default, bool handleSignals = false)
    {
        console ??= WideWhenRedirected(AnsiConsole.Console);
        error ??= ErrorReport.StderrConsole();
        ChatClientFactory.RegisterProvider(new LocalModelProvider());
        var root = BuildRoot(console, error);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(abortToken);
        // Our own Ctrl-C handling replaces System.CommandLine's, whose 2-second termination timeout
        // abandoned (after paying for) any call longer than that.
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        using var signals = handleSignals ? Interrupts.Install(stop, abort, m => console.MarkupLineInterpolated($"[yellow]{m}[/]")) : null;
        Interrupts.SetAbort(abort.Token);
        try
        {
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0 && args.Length > 0) return ErrorReport.WriteParseErrors(error, parse);
            return await parse.InvokeAsync(config, stop.Token);
        }
        catch (PersonaException ex)
        {
            ErrorReport.Write(error, ex.Message);
            return 1;
        }
        catch (RunStoppedException ex)
        {
            ErrorReport.Write(error, $"{ex.Message} Run the same command again to resume (exit code {ex.ExitCode}).", "stopped");
            return ex.ExitCode;
        }
        catch (OperationCanceledException)
        {
            console.MarkupLine(abort.IsCancellationRequested
                ? "[yellow]aborted:[/] calls in flight were abandoned; finished calls are saved and a rerun resumes."
                : "[yellow]cancelled:[/] calls in flight finished and were saved; run the same command again to resume.");
            return 130;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ErrorReport.Write(error, ex.Message);
            return 1;
        }
        catch (Exception ex)
        {
            // Never a stack trace: one line naming what failed; the type helps a bug report.
            ErrorReport.Write(error, $"{ex.Message} ({ex.GetType().Name}). Please report it with the command you ran.", "internal error");
            return 70;
        }
    }
}
