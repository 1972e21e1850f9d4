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

    /// <summary>The same for a message that quotes a JsonException's text somewhere inside.</summary>
    public static string StripCoordinates(string message) => Coordinates().Replace(message, "");

    [GeneratedRegex(@"\s*(Path: \S*\s*\|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?")]
    private static partial Regex Coordinates();
}
