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
    public static RootCommand BuildRoot(IAnsiConsole console)
    {
        var root = new RootCommand(
            "Persona: a census-grounded testbed for pluralistic alignment of language models.\n\n" +
            "Examples:\n" +
            "  persona run                      the main job on bundled defaults (personas + fidelity report in out/)\n" +
            "  persona census sample --n 1000 --seed 7 --out personas.jsonl\n" +
            "  persona census fidelity --personas personas.jsonl --out fidelity/\n" +
            "  persona llm batch --in requests.jsonl --out results.jsonl --model offline");
        root.Subcommands.Add(RunCommand.Create(console));
        root.Subcommands.Add(CensusCommands.Create(console));
        root.Subcommands.Add(LlmCommands.Create(console));
        root.Subcommands.Add(PersonasCommands.Create(console));
        root.Subcommands.Add(PromptsCommands.Create(console));
        root.Subcommands.Add(StudyCommands.Create(console));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, IAnsiConsole? console = null, CancellationToken cancellationToken = default)
    {
        console ??= AnsiConsole.Console;
        ChatClientFactory.RegisterProvider(new LocalModelProvider());
        var root = BuildRoot(console);
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            return await root.Parse(args).InvokeAsync(config, cancellationToken);
        }
        catch (PersonaException ex)
        {
            console.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            console.MarkupLine("[yellow]cancelled[/]");
            return 130;
        }
    }
}
