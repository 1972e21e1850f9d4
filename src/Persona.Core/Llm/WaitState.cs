using System.Globalization;

namespace Persona.Llm;

/// <summary>
/// Calls that left for a server and have not come back: how many and the longest wait, plus the
/// last thing a server told us about waiting (a capped Retry-After). Shown on progress lines so a
/// hung or throttling server is visible instead of a frozen bar.
/// </summary>
public sealed record WaitState(int Calls, TimeSpan Longest, string? Notice)
{
    public static readonly WaitState None = new(0, TimeSpan.Zero, null);

    /// <summary>Two roles' waits as one: calls add up, the longest wait and the first notice win.</summary>
    public static WaitState Combine(WaitState a, WaitState b) =>
        new(a.Calls + b.Calls, a.Longest >= b.Longest ? a.Longest : b.Longest, a.Notice ?? b.Notice);

    /// <summary>"" when nothing is worth saying; else e.g. "waiting: 16 calls, longest 45 s (timeout 60 s)".</summary>
    public string Describe(TimeSpan timeout, TimeSpan? showAfter = null)
    {
        var parts = new List<string>();
        if (Calls > 0 && Longest >= (showAfter ?? TimeSpan.Zero))
            parts.Add(string.Create(CultureInfo.InvariantCulture,
                $"waiting: {Calls} call{(Calls == 1 ? "" : "s")}, longest {Longest.TotalSeconds:0} s (timeout {timeout.TotalSeconds:0} s)"));
        if (Notice is not null) parts.Add(Notice);
        return string.Join("; ", parts);
    }

    public static string Human(TimeSpan t) =>
        t >= TimeSpan.FromHours(1) ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours} h {t.Minutes} min")
        : t >= TimeSpan.FromMinutes(1) ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalMinutes} min {t.Seconds} s")
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.#} s");
}
