using System.Globalization;

namespace Persona;

/// <summary>
/// The time written into a record whose schema asks when it was made (Every Eval Ever's
/// <c>retrieved_timestamp</c>): now, or the reproducible-builds convention's <c>SOURCE_DATE_EPOCH</c>
/// (whole seconds since 1970) when it is set, so two runs of the same answers, one of them sharded,
/// can write every such file byte for byte.
/// </summary>
public static class RecordClock
{
    public const string Variable = "SOURCE_DATE_EPOCH";

    public static DateTimeOffset Now() => From(Environment.GetEnvironmentVariable(Variable), DateTimeOffset.UtcNow);

    /// <summary>The time a value of <see cref="Variable"/> stands for; <paramref name="now"/> when it is unset or empty.</summary>
    public static DateTimeOffset From(string? value, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(value)) return now;
        if (!long.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
            throw new PersonaException($"{Variable}='{value}': expected whole seconds since 1970-01-01 UTC, such as 1700000000 (or unset it to record the current time).");
        return DateTimeOffset.FromUnixTimeSeconds(seconds);
    }
}
