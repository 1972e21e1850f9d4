using System.Globalization;

namespace Persona.Llm;

/// <summary>Parses the server's wait hints: retry-after-ms, then Retry-After as seconds or an HTTP date.</summary>
public static class RetryAfter
{
    public static TimeSpan? Parse(string? retryAfterMs, string? retryAfter, DateTimeOffset now)
    {
        if (retryAfterMs is not null && double.TryParse(retryAfterMs.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms >= 0)
            return TimeSpan.FromMilliseconds(ms);
        if (retryAfter is null) return null;
        var v = retryAfter.Trim();
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s >= 0)
            return TimeSpan.FromSeconds(s);
        if (DateTimeOffset.TryParseExact(v, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date)
            || DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out date))
        {
            var wait = date - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }
}
