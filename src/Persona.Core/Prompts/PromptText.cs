using System.Globalization;
using System.Text;

namespace Persona.Prompts;

/// <summary>Text rules behind the cheap filters. Pure functions, so they are easy to test and explain.</summary>
public static class PromptText
{
    public static bool HasQuestionMark(string text) =>
        text.Contains('?') || text.Contains('\uFF1F') || text.Contains('\u00BF'); // also full-width ? and Spanish ¿

    /// <summary>
    /// Words = whitespace-separated tokens holding at least one letter or digit, so stray
    /// punctuation ("what ? ? ?") does not count as words but "I'm" and "U.S." do.
    /// </summary>
    public static int WordCount(string text)
    {
        int count = 0;
        bool inToken = false, tokenHasWordChar = false;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                if (inToken && tokenHasWordChar) count++;
                inToken = false; tokenHasWordChar = false;
            }
            else
            {
                inToken = true;
                if (char.IsLetterOrDigit(c)) tokenHasWordChar = true;
            }
        }
        if (inToken && tokenHasWordChar) count++;
        return count;
    }

    /// <summary>
    /// Canonical form for duplicate detection: compatibility-decomposed with diacritics dropped,
    /// lower-cased, apostrophes removed (so "don't" = "dont" = "don’t"), every other punctuation or
    /// symbol run turned into a single space (so "Israel-Palestine" = "israel palestine"),
    /// whitespace runs collapsed and trimmed.
    /// </summary>
    public static string Normalize(string text)
    {
        var decomposed = text.Normalize(NormalizationForm.FormKD);
        var sb = new StringBuilder(decomposed.Length);
        bool pendingSpace = false;
        foreach (var c in decomposed)
        {
            var cat = CharUnicodeInfo.GetUnicodeCategory(c);
            if (cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
                continue;
            if (c is '\'' or '\u2019' or '\u2018' or '\u02BC' or '`') continue;
            if (char.IsLetterOrDigit(c))
            {
                if (pendingSpace && sb.Length > 0) sb.Append(' ');
                pendingSpace = false;
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                pendingSpace = true; // whitespace, punctuation, symbols, controls all separate words
            }
        }
        return sb.ToString();
    }

    /// <summary>Sorted distinct words of the normalised text: equal keys = same words in any order or multiplicity.</summary>
    public static string TokenSetKey(string normalized) =>
        string.Join(' ', normalized.Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
}
