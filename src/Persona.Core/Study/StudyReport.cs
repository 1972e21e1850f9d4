using System.Text.Json;
using System.Text.Json.Serialization;

namespace Persona.Study;

/// <summary>The analysis as JSON (snake_case, indented, nulls kept so a missing statistic is visible with its reason).</summary>
public static class StudyReport
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string ToJson(StudyAnalysisResult r) => JsonSerializer.Serialize(r, Json) + "\n";

    /// <summary>"0.62 [0.48, 0.75]" or "undefined (reason)".</summary>
    public static string Format(Estimate e, string format = "0.00") =>
        e.Value is { } v
            ? v.ToString(format, System.Globalization.CultureInfo.InvariantCulture) +
              (e.Lower is { } lo && e.Upper is { } hi ? $" [{lo.ToString(format, System.Globalization.CultureInfo.InvariantCulture)}, {hi.ToString(format, System.Globalization.CultureInfo.InvariantCulture)}]" : "")
            : $"undefined ({e.Undefined})";
}
