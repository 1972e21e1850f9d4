using System.Text.Json;

namespace Persona.Llm;

/// <summary>
/// Finds the JSON value in a model's answer: the whole text, else the first ```json fenced block
/// that parses, else the first balanced {...} or [...] span (string-aware) that parses.
/// </summary>
public static class JsonExtraction
{
    public static bool TryExtract(string? text, out JsonElement value, out string json)
    {
        value = default;
        json = "";
        if (string.IsNullOrWhiteSpace(text)) return false;
        var trimmed = text.Trim();
        if (TryParse(trimmed, out value)) { json = trimmed; return true; }

        var idx = 0;
        while ((idx = trimmed.IndexOf("```", idx, StringComparison.Ordinal)) >= 0)
        {
            var bodyStart = trimmed.IndexOf('\n', idx);
            if (bodyStart < 0) break;
            var end = trimmed.IndexOf("```", bodyStart, StringComparison.Ordinal);
            if (end < 0) end = trimmed.Length; // an unclosed fence (truncated answer) may still hold whole JSON
            var body = trimmed[(bodyStart + 1)..end].Trim();
            if (TryParse(body, out value)) { json = body; return true; }
            idx = Math.Min(trimmed.Length, end + 3);
        }

        for (var start = 0; start < trimmed.Length; start++)
        {
            var c = trimmed[start];
            if (c != '{' && c != '[') continue;
            var stop = MatchingClose(trimmed, start);
            if (stop < 0) continue;
            var span = trimmed[start..(stop + 1)];
            if (TryParse(span, out value)) { json = span; return true; }
        }
        return false;
    }

    private static int MatchingClose(string s, int start)
    {
        var depth = 0;
        var inString = false;
        for (var i = start; i < s.Length; i++)
        {
            var c = s[i];
            if (inString)
            {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
                continue;
            }
            switch (c)
            {
                case '"': inString = true; break;
                case '{' or '[': depth++; break;
                case '}' or ']':
                    depth--;
                    if (depth == 0) return i;
                    break;
            }
        }
        return -1;
    }

    private static bool TryParse(string s, out JsonElement value)
    {
        value = default;
        if (s.Length == 0 || (s[0] != '{' && s[0] != '[' && s[0] != '"' && !char.IsDigit(s[0]) && s[0] != '-' && s[0] != 't' && s[0] != 'f' && s[0] != 'n'))
            return false;
        try
        {
            using var doc = JsonDocument.Parse(s);
            value = doc.RootElement.Clone();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
