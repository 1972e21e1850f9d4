using System.Globalization;
using System.Text;

namespace Persona.Prompts;

/// <summary>Text rules behind the cheap filters. Pure functions, so they are easy to test and explain.</summary>
public static partial class PromptText
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
    /// Canonical form for duplicate detection: diacritics and compatibility forms folded to their
    /// base letters (see FoldTable), lower-cased, apostrophes removed (so "don't" = "dont" =
    /// "don’t"), every other run of punctuation, symbols or whitespace turned into a single space
    /// (so "Israel-Palestine" = "israel palestine"), trimmed.
    /// </summary>
    public static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.IsBmp && Fold.TryGetValue((char)rune.Value, out var folded))
            {
                foreach (var c in folded) Append(new Rune(c));
                continue;
            }
            Append(rune);
        }
        return sb.ToString();

        void Append(Rune r)
        {
            var cat = Rune.GetUnicodeCategory(r);
            if (cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
                return; // decomposed accents ("e" + U+0301)
            if (r.Value is '\'' or '\u2019' or '\u2018' or '\u02BC' or '`') return;
            if (Rune.IsLetterOrDigit(r))
            {
                if (pendingSpace && sb.Length > 0) sb.Append(' ');
                pendingSpace = false;
                var lower = Rune.ToLowerInvariant(r);
                Span<char> buf = stackalloc char[2];
                sb.Append(buf[..lower.EncodeToUtf16(buf)]);
            }
            else
            {
                pendingSpace = true; // whitespace, punctuation, symbols, controls all separate words
            }
        }
    }

    private static readonly Dictionary<char, string> Fold = FoldTable
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)
        .ToDictionary(e => e[0], e => e[1..]);

    /// <summary>Sorted distinct words of the normalised text: equal keys = same words in any order or multiplicity.</summary>
    public static string TokenSetKey(string normalized) =>
        string.Join(' ', normalized.Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
}
