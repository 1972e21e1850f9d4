using System.Text.RegularExpressions;
using ScottPlot;

namespace Persona;

/// <summary>
/// ScottPlot names each SVG clip path from a process-wide counter (cl_0, ..., cl_7b, cl_db: hex-like), so the same
/// figure drawn after other figures gets other ids and the file differs. Renumbering the ids in
/// order of appearance makes a figure a function of its data alone.
/// </summary>
public static partial class DeterministicSvg
{
    [GeneratedRegex(@"\bcl_[0-9A-Za-z]+\b")]
    private static partial Regex ClipId();

    public static string Normalize(string svg)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        return ClipId().Replace(svg, m =>
        {
            if (!ids.TryGetValue(m.Value, out var id)) ids[m.Value] = id = "cl_" + ids.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return id;
        });
    }

    /// <summary>The plot as SVG with stable ids.</summary>
    public static string Of(Plot plot, int width, int height) => Normalize(plot.GetSvgXml(width, height));

    /// <summary>Writes the plot's SVG with stable ids, atomically.</summary>
    public static void Save(Plot plot, string path, int width, int height) =>
        AtomicFile.WriteAllText(path, Of(plot, width, height));

    /// <summary>Writes DIRECTORY/NAME.png and NAME.svg (stable ids) in the house font, each atomically; returns both full paths.</summary>
    public static IReadOnlyList<string> SaveFigure(Plot plot, string directory, string name, int width, int height)
    {
        plot.Font.Set("DejaVu Sans");
        Directory.CreateDirectory(directory);
        var png = Path.Combine(directory, name + ".png");
        var svg = Path.Combine(directory, name + ".svg");
        AtomicFile.Write(png, tmp => plot.SavePng(tmp, width, height));
        Save(plot, svg, width, height);
        return [Path.GetFullPath(png), Path.GetFullPath(svg)];
    }
}
