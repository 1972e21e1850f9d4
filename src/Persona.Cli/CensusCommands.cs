using System.CommandLine;
using Spectre.Console;

namespace Persona.Cli;

internal static class CensusCommands
{
    public static Command Create(IAnsiConsole console)
    {
        var census = new Command("census", "Census-grounded personas: sample from ACS PUMS and check fidelity.");
        var n = new Option<int>("--n") { Description = "How many.", DefaultValueFactory = _ => 1 };
        var ping = new Command("ping", "placeholder") { n };
        ping.Hidden = true;
        ping.SetAction((parse, ct) =>
        {
            console.WriteLine(parse.GetValue(n).ToString());
            return Task.FromResult(0);
        });
        census.Subcommands.Add(ping);
        return census;
    }
}
