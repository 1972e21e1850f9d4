using System.CommandLine;
using System.Globalization;
using System.Numerics;

namespace Persona.Cli;

/// <summary>
/// Bounds on option values, checked by the parser: a value out of range is refused before any
/// input is read or any call is paid, with the same short error and exit code 1 as a parse error.
/// The upper bounds keep a typo (2000000000 resamples) from growing until the kernel kills the run.
/// </summary>
internal static class OptionRules
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Most bootstrap resamples a verb takes (each keeps one estimate per group and mode).</summary>
    public const int MaxResamples = 100_000;

    /// <summary>Most calls in flight per endpoint: more than any server serves at once.</summary>
    public const int MaxConcurrency = 1_024;

    public static Option<T> Between<T>(this Option<T> option, T min, T max, string? why = null) where T : struct, INumber<T>, IMinMaxValue<T>
    {
        option.Validators.Add(r =>
        {
            if (TryStruct<T>(r) is { } v && !(v >= min && v <= max))
                r.AddError(OutOfRange(option.Name, v, min, max, why));
        });
        return option;
    }

    public static Option<T?> Between<T>(this Option<T?> option, T min, T max, string? why = null) where T : struct, INumber<T>, IMinMaxValue<T>
    {
        option.Validators.Add(r =>
        {
            if (TryValue<T?>(r) is { } v && !(v >= min && v <= max))
                r.AddError(OutOfRange(option.Name, v, min, max, why));
        });
        return option;
    }

    /// <summary>An upper bound alone (the lower one is the verb's own check, with its own words).</summary>
    public static Option<int> AtMost(this Option<int> option, int max, string? why = null)
    {
        option.Validators.Add(r =>
        {
            if (TryStruct<int>(r) is { } v && v > max)
                r.AddError($"{option.Name} must be at most {max.ToString("N0", Inv)} (got {v.ToString("N0", Inv)}){(why is null ? "" : "; " + why)}.");
        });
        return option;
    }

    /// <summary>Refuses values that are not one of <paramref name="allowed"/> (case-sensitive, as the verbs compare them).</summary>
    public static Option<string> OneOf(this Option<string> option, params string[] allowed)
    {
        option.Validators.Add(r =>
        {
            if (TryValue<string>(r) is { } v && !allowed.Contains(v, StringComparer.Ordinal))
                r.AddError($"{option.Name} '{v}' is not one of {string.Join(", ", allowed)}.");
        });
        return option;
    }

    /// <summary>The value, or default when it did not parse (the parser reports that error itself).</summary>
    private static T? TryValue<T>(System.CommandLine.Parsing.OptionResult r)
    {
        try { return r.GetValueOrDefault<T>(); }
        catch (InvalidOperationException) { return default; }
    }

    private static T? TryStruct<T>(System.CommandLine.Parsing.OptionResult r) where T : struct
    {
        try { return r.GetValueOrDefault<T>(); }
        catch (InvalidOperationException) { return null; }
    }

    private static string OutOfRange<T>(string name, T value, T min, T max, string? why) where T : INumber<T>, IMinMaxValue<T>
    {
        var range = max == T.MaxValue ? $"at least {Show(min)}" : $"between {Show(min)} and {Show(max)}";
        return $"{name} must be {range} (got {Show(value)}){(why is null ? "" : "; " + why)}.";
    }

    private static string Show<T>(T v) where T : INumber<T> => v switch
    {
        int i => i.ToString("N0", Inv),
        long l => l.ToString("N0", Inv),
        IFormattable f => f.ToString(null, Inv),
        _ => v.ToString() ?? "",
    };
}
