using System.Globalization;
using System.Text;
using Persona.Preferences;
using Persona.Statistics;

namespace Persona.Report;

/// <summary>
/// Number and text formatting of the run report: invariant culture everywhere (the same run gives
/// the same bytes on any machine), and HTML escaping of every text that comes from a file.
/// </summary>
public static class Fmt
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    public const string Dash = "–";

    /// <summary>Escapes text for HTML element content and quoted attribute values.</summary>
    public static string Html(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '"': sb.Append("&quot;"); break;
                case '\'': sb.Append("&#39;"); break;
                // Control characters have no business in a report (a corrupt file); U+FFFD keeps them visible.
                case < ' ' and not '\n' and not '\t': sb.Append('\uFFFD'); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    public static string Int(long n) => n.ToString("N0", Inv);

    public static string Num(double v, string format = "0.000") => double.IsFinite(v) ? v.ToString(format, Inv) : Dash;

    public static string Num(double? v, string format = "0.000") => v is { } x ? Num(x, format) : Dash;

    /// <summary>A proportion as a percentage ("8.5%").</summary>
    public static string Pct(double v, string format = "0.0") => double.IsFinite(v) ? (v * 100).ToString(format, Inv) + "%" : Dash;

    /// <summary>A difference of proportions in percentage points, signed ("+3.3 pp", "−20.0 pp").</summary>
    public static string Pp(double v) =>
        !double.IsFinite(v) ? Dash : (v > 0 ? "+" : v < 0 ? "−" : "") + Math.Abs(v * 100).ToString("0.0", Inv) + " pp";

    public static string Pct(double? v, string format = "0.0") => v is { } x ? Pct(x, format) : Dash;

    /// <summary>"[lower, upper]" in percent (or as plain numbers); empty when there is no interval.</summary>
    public static string Ci(Interval? i, bool pct = true) =>
        i is not { } v ? "" : pct ? $"[{Pct(v.Lower)}, {Pct(v.Upper)}]" : $"[{Num(v.Lower, "0.00")}, {Num(v.Upper, "0.00")}]";

    /// <summary>An interval of a difference in percentage points.</summary>
    public static string CiPp(Interval i) => $"[{Pp(i.Lower)}, {Pp(i.Upper)}]";

    /// <summary>A share with its Wilson interval and counts: "72.5% [68.8%, 75.9%] (435/600)".</summary>
    public static string Share(Share s) =>
        s.Value is { } v ? $"{Pct(v)} {Ci(s.Lower is { } l && s.Upper is { } u ? new Interval(l, u) : null)} ({Int(s.Count)}/{Int(s.N)})".Replace("  ", " ") : $"{Dash} (0 counted)";
}
