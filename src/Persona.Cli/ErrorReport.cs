using System.CommandLine;
using System.Text.RegularExpressions;
using Persona.Llm;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>
/// How an error reaches the user: on stderr, at most a few lines, with keys scrubbed and .NET
/// type names replaced by words. A message quoting a whole malformed row (or a corrupt zip's
/// bytes) is cut, keeping its start (file, line, what was expected come first by convention).
/// </summary>
internal static partial class ErrorReport
{
    /// <summary>Longest line kept (a line quoting a merged field or a zip's bytes is cut).</summary>
    public const int MaxChars = 400;
    public const int MaxLines = 4;

    public static IAnsiConsole StderrConsole() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    public static void Write(IAnsiConsole error, string message, string prefix = "error")
    {
        var text = Shorten(Friendly(JsonErrorText.StripCoordinates(SecretScrubber.Scrub(message))));
        error.MarkupLineInterpolated($"[red]{prefix}:[/] {text}");
    }

    /// <summary>The message cut to <see cref="MaxLines"/> lines and <see cref="MaxChars"/> characters, long fields elided.</summary>
    public static string Shorten(string message)
    {
        // A binary file read as text puts control characters and U+FFFD into quoted fields.
        message = string.Create(message.Length, message, (span, m) =>
        {
            for (var i = 0; i < m.Length; i++) span[i] = m[i] is '\uFFFD' || (char.IsControl(m[i]) && m[i] is not '\n' and not '\r') ? '?' : m[i];
        });
        var lines = message.Replace("\r", "").Split('\n').Select(l => l.Length > MaxChars ? l[..(MaxChars - 1)] + "…" : l).ToArray();
        if (lines.Length <= MaxLines) return string.Join("\n", lines);
        // By convention the first line says what and where, the last what to do: keep both.
        return string.Join("\n", lines.Take(MaxLines - 2)) + $"\n  ({lines.Length - MaxLines + 1} more lines not shown)\n" + lines[^1];
    }

    /// <summary>Replaces .NET type names (System.Int32 ...) with what a user would call them.</summary>
    public static string Friendly(string message)
    {
        message = DotNetType().Replace(message, m => m.Groups[1].Value switch
        {
            "Int32" or "Int64" or "Int16" => "a whole number",
            "Double" or "Single" or "Decimal" => "a number",
            "Boolean" => "true or false",
            "String" => "text",
            "IO.DirectoryInfo" => "a folder path",
            "IO.FileInfo" => "a file path",
            var other => other.Contains("Nullable", StringComparison.Ordinal) ? "a number" : other,
        });
        return ExpectedType().Replace(message, "as $1.");
    }

    [GeneratedRegex(@"System\.((?:IO\.)?[A-Za-z0-9]+(?:`1\[\[?System\.[A-Za-z0-9]+[^\]]*\]\]?)?)")]
    private static partial Regex DotNetType();

    // System.CommandLine: "... as expected type 'System.Int32'." after the type was put in words.
    [GeneratedRegex(@"as expected type '((?:a|an|text|true or false)[^']*)'\.")]
    private static partial Regex ExpectedType();

    /// <summary>Parse errors as one short line each plus a pointer to --help, instead of the whole help text.</summary>
    public static int WriteParseErrors(IAnsiConsole error, ParseResult parse)
    {
        foreach (var e in parse.Errors.Take(MaxLines))
            Write(error, e.Message);
        var verb = string.Join(' ', parse.CommandResult.Command is RootCommand ? [] : Path(parse.CommandResult));
        error.MarkupLineInterpolated($"Run 'persona {(verb.Length > 0 ? verb + " " : "")}--help' for the options and examples.");
        return 1;
    }

    private static IEnumerable<string> Path(System.CommandLine.Parsing.CommandResult r)
    {
        var names = new List<string>();
        for (System.CommandLine.Parsing.SymbolResult? s = r; s is System.CommandLine.Parsing.CommandResult c && c.Command is not RootCommand; s = s.Parent)
            names.Insert(0, c.Command.Name);
        return names;
    }
}
