using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace Persona;

/// <summary>
/// Removes API keys from text before it is written anywhere (error texts, store rows, outputs,
/// the console). A server may echo the key it was sent in an error body ("Incorrect API key
/// provided: sk-..."); the configured key is replaced wherever it appears, and anything shaped
/// like a bearer token or an OpenAI-style key is masked too, because a key can also come from a
/// proxy's own configuration we never saw.
/// </summary>
public static partial class SecretScrubber
{
    public const string Mask = "[redacted]";
    private static readonly ConcurrentDictionary<string, byte> s_secrets = new(StringComparer.Ordinal);

    /// <summary>Registers a secret of this process (e.g. the value of OPENAI_API_KEY). Short values are ignored: masking "a" would mangle every text.</summary>
    public static void Register(string? secret)
    {
        if (!string.IsNullOrEmpty(secret) && secret.Trim().Length >= 8) s_secrets.TryAdd(secret.Trim(), 0);
    }

    /// <summary>The text with every registered secret and every key- or bearer-token-shaped string masked.</summary>
    public static string Scrub(string text, string? alsoSecret = null)
    {
        if (string.IsNullOrEmpty(text)) return text;
        if (!string.IsNullOrEmpty(alsoSecret) && alsoSecret.Length >= 8) text = text.Replace(alsoSecret, Mask, StringComparison.Ordinal);
        foreach (var s in s_secrets.Keys) text = text.Replace(s, Mask, StringComparison.Ordinal);
        text = BearerToken().Replace(text, "Bearer " + Mask);
        text = UrlCredentials().Replace(text, "$1" + Mask + "@");
        return KeyShaped().Replace(text, Mask);
    }

    public static string? ScrubOrNull(string? text) => text is null ? null : Scrub(text);

    [GeneratedRegex(@"(https?://)[^/@\s:]+:[^/@\s]+@", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlCredentials();

    [GeneratedRegex(@"Bearer\s+(?!\[redacted\])[A-Za-z0-9._~+/=\-]{8,}", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex BearerToken();

    // sk-..., sk-proj-..., and the shapes other OpenAI-compatible hosts use (gsk_, xai-, hf_...), long enough not to hit words.
    [GeneratedRegex(@"\b(?:sk|gsk|xai|hf|pk|rk)[-_][A-Za-z0-9_\-]{16,}", RegexOptions.CultureInvariant)]
    private static partial Regex KeyShaped();
}
