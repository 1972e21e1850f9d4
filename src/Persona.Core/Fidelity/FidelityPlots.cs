using Persona.Personas;
using System.Globalization;
using ScottPlot;

namespace Persona.Fidelity;

/// <summary>
/// Side-by-side bar charts of synthetic vs census shares, one PNG per attribute. Bars run
/// horizontally so long census labels ("MGR-Education And Childcare Administrators") stay
/// readable; high-cardinality attributes show their top categories and pool the rest.
/// </summary>
internal static class FidelityPlots
{
    public const string Other = "(other)";
    const int MaxLabelChars = 48;
    static readonly Color SyntheticColor = Color.FromHex("#1f77b4");
    static readonly Color CensusColor = Color.FromHex("#ff7f0e");

    public static IReadOnlyList<string> Write(FidelityReport report, string directory, int topCategories)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (topCategories < 1) throw new PersonaException($"Plots need at least one category per chart, got {topCategories}.");
        var written = new List<string>();
        foreach (var a in report.Attributes)
        {
            string path = Path.Combine(directory, FileName(a.Attribute) + ".png");
            var plot = Build(a, report.SyntheticCount, topCategories);
            AtomicFile.Write(path, tmp => plot.Plot.SavePng(tmp, plot.Width, plot.Height));
            written.Add(Path.GetFullPath(path));
        }
        return written;
    }

    /// <summary>The categories to draw: the top ones by the larger of the two shares, the rest pooled, in the report's order.</summary>
    internal static IReadOnlyList<CategoryShare> Displayed(AttributeFidelity a, int top)
    {
        if (a.Shares.Count <= top) return a.Shares;
        var keep = a.Shares.OrderByDescending(s => Math.Max(s.Synthetic, s.Census)).ThenBy(s => s.Category, StringComparer.Ordinal)
            .Take(top - 1).Select(s => s.Category).ToHashSet(StringComparer.Ordinal);
        var shown = a.Shares.Where(s => keep.Contains(s.Category)).ToList();
        var rest = a.Shares.Where(s => !keep.Contains(s.Category)).ToList();
        shown.Add(new CategoryShare($"{Other} {rest.Count} categories", rest.Sum(s => s.Synthetic), rest.Sum(s => s.Census)));
        return shown;
    }

    static (Plot Plot, int Width, int Height) Build(AttributeFidelity a, int syntheticCount, int top)
    {
        var shown = Displayed(a, top);
        var plot = new Plot();
        int k = shown.Count;
        var syn = new List<Bar>();
        var cen = new List<Bar>();
        // First category at the top: positions count down.
        for (int i = 0; i < k; i++)
        {
            double y = k - 1 - i;
            syn.Add(new Bar { Position = y + 0.2, Value = shown[i].Synthetic * 100, Size = 0.38, FillColor = SyntheticColor, LineWidth = 0 });
            cen.Add(new Bar { Position = y - 0.2, Value = shown[i].Census * 100, Size = 0.38, FillColor = CensusColor, LineWidth = 0 });
        }
        var sp = plot.Add.Bars(syn);
        sp.Horizontal = true;
        sp.LegendText = $"Synthetic (n = {syntheticCount.ToString("N0", CultureInfo.InvariantCulture)})";
        var cp = plot.Add.Bars(cen);
        cp.Horizontal = true;
        cp.LegendText = "Census (weighted)";

        plot.Axes.Left.SetTicks(
            Enumerable.Range(0, k).Select(i => (double)(k - 1 - i)).ToArray(),
            shown.Select(s => Shorten(s.Category)).ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        plot.Axes.Bottom.Label.Text = "Share of population (%)";
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Title($"{Title(a.Attribute)}: TVD {a.Tvd.ToString("0.000", CultureInfo.InvariantCulture)} " +
                   $"(sampling noise ≈ {a.ExpectedSamplingTvd.ToString("0.000", CultureInfo.InvariantCulture)})");
        plot.Axes.Title.Label.FontSize = 16;
        plot.Axes.Margins(left: 0, right: 0.12, bottom: 0.02, top: 0.02);
        plot.Grid.YAxisStyle.MajorLineStyle.Width = 0;
        // Outside the data area, so it never hides a bar.
        plot.ShowLegend(Edge.Bottom);
        plot.Legend.FontSize = 13;
        // Fonts are set last so every label created above picks up the sans-serif face.
        plot.Font.Set("DejaVu Sans");

        int width = 1100;
        int height = Math.Max(340, 160 + 44 * k);
        return (plot, width, height);
    }

    static string Shorten(string label) => label.Length <= MaxLabelChars ? label : label[..(MaxLabelChars - 1)] + "…";

    static string Title(string attribute)
    {
        var s = attribute.Replace('_', ' ');
        return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
    }

    /// <summary>A safe file name from an attribute key (letters, digits, '-', '_').</summary>
    internal static string FileName(string attribute)
    {
        var chars = attribute.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray();
        var name = new string(chars);
        return name.Length == 0 ? "attribute" : name;
    }
}
