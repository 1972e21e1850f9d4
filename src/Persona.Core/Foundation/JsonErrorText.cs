using System.Text.Json;
using System.Text.RegularExpressions;

namespace Persona;

/// <summary>
/// A JsonException's message without the parser's own coordinates ("Path: $ | LineNumber: 0 |
/// BytePositionInLine: 5."): the caller names file and line itself, counting lines from 1.
/// </summary>
public static partial class JsonErrorText
{
    public static string Of(JsonException ex) => Coordinates().Replace(ex.Message, "").TrimEnd(' ', '.');

    /// <summary>
    /// What was wrong, in a user's words: the field whose value had the wrong type or shape (the
    /// parser's own text names .NET types and was cut at its first full stop, mid-name), or that
    /// the text is not JSON at all.
    /// </summary>
    public static string Describe(JsonException ex)
    {
        if (ex.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal))
            return $"the field '{path[2..]}' has the wrong type or shape";
        if (ex.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
            return "the row is not a JSON object of the expected shape";
        return "malformed JSON: " + Of(ex);
    }

    /// <summary>The same for a message that quotes a JsonException's text somewhere inside.</summary>
    public static string StripCoordinates(string message) => Coordinates().Replace(message, "");

    [GeneratedRegex(@"\s*(Path: \S*\s*\|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?")]
    private static partial Regex Coordinates();
}
