using System.Globalization;
using Persona.Personas;
using ScottPlot;

namespace Persona.Study;

/// <summary>
/// Figures of a study analysis, each as PNG and SVG: a confusion matrix per model (human majority
/// against the model's choice, both orders) and a histogram of per-persona kappas per model.
/// House style of FidelityPlots: DejaVu Sans, legend outside the data, labels large enough to read.
/// </summary>
public static class StudyPlots
{
    private static readonly Color Low = Color.FromHex("#f2f6fb");
    private static readonly Color High = Color.FromHex("#1f77b4");
    private static readonly Color Bars = Color.FromHex("#1f77b4");

    public static IReadOnlyList<string> Write(StudyAnalysisResult r, string directory)
    {
        var written = new List<string>();
        foreach (var m in r.Models)
        {
            written.AddRange(Save(Confusion(m), Path.Combine(directory, $"confusion-{FileNameOf(m.Model)}"), 640, 560));
            written.AddRange(Save(KappaHistogram(m.Model, r.PerPersona), Path.Combine(directory, $"kappa-per-persona-{FileNameOf(m.Model)}"), 900, 480));
        }
        return written;
    }

    private static IEnumerable<string> Save(Plot plot, string stem, int width, int height)
    {
        AtomicFile.Write(stem + ".png", tmp => plot.SavePng(tmp, width, height));
        DeterministicSvg.Save(plot, stem + ".svg", width, height);
        return [Path.GetFullPath(stem + ".png"), Path.GetFullPath(stem + ".svg")];
    }

    private static Plot Confusion(ModelAgreement m)
    {
        var plot = new Plot();
        var max = Math.Max(1, m.Confusion.SelectMany(row => row).Max());
        string[] names = ["personalised", "generic"];
        for (var row = 0; row < 2; row++)
            for (var col = 0; col < 2; col++)
            {
                var count = m.Confusion[row][col];
                double x = col, y = 1 - row;
                var cell = plot.Add.Rectangle(x - 0.48, x + 0.48, y - 0.48, y + 0.48);
                cell.FillColor = Low.MixedWith(High, (float)count / max);
                cell.LineWidth = 0;
                var label = plot.Add.Text(count.ToString("N0", CultureInfo.InvariantCulture), x, y);
                label.LabelFontSize = 28;
                label.LabelBold = true;
                label.LabelAlignment = Alignment.MiddleCenter;
                label.LabelFontColor = count > max / 2 ? Colors.White : Colors.Black;
                label.LabelFontName = "DejaVu Sans";
            }
        plot.Axes.Bottom.SetTicks([0, 1], names);
        plot.Axes.Left.SetTicks([1, 0], names);
        plot.Axes.Bottom.Label.Text = $"{m.Model}: choice (both answer orders)";
        plot.Axes.Left.Label.Text = "Human majority";
        plot.Axes.Bottom.TickLabelStyle.FontSize = 14;
        plot.Axes.Left.TickLabelStyle.FontSize = 14;
        var k = m.KappaVsHumans;
        plot.Title(k.Value is { } v
            ? $"Cohen's κ {v.ToString("0.00", CultureInfo.InvariantCulture)} [{F(k.Lower)}, {F(k.Upper)}], n = {k.N}"
            : $"Cohen's κ undefined ({k.Undefined})");
        plot.Axes.Title.Label.FontSize = 16;
        plot.Axes.SetLimits(-0.5, 1.5, -0.5, 1.5);
        plot.Grid.IsVisible = false;
        plot.Font.Set("DejaVu Sans");
        return plot;
    }

    private static Plot KappaHistogram(string model, IReadOnlyList<SubsetResult> perPersona)
    {
        var kappas = perPersona.Select(p => p.KappaVsHumans.GetValueOrDefault(model)?.Value).Where(v => v is not null).Select(v => v!.Value).ToList();
        var plot = new Plot();
        const double width = 0.1;
        var bins = Enumerable.Range(0, 20).Select(i => -1 + i * width).ToArray();
        var bars = bins.Select(lo => new Bar
        {
            Position = lo + width / 2,
            Value = kappas.Count(k => k >= lo && (k < lo + width || (lo + width >= 1 && k <= 1))),
            Size = width * 0.9, FillColor = Bars, LineWidth = 0,
        }).ToList();
        plot.Add.Bars(bars);
        plot.Axes.Bottom.Label.Text = "Cohen's κ of the model against the human majority, per persona";
        plot.Axes.Left.Label.Text = "Personas";
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Title($"{model}: {kappas.Count} of {perPersona.Count} personas with a defined κ");
        plot.Axes.Title.Label.FontSize = 16;
        plot.Axes.SetLimitsX(-1.05, 1.05);
        plot.Axes.Margins(bottom: 0);
        plot.Font.Set("DejaVu Sans");
        return plot;
    }

    private static string F(double? v) => v?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-";

    public static string FileNameOf(string s)
    {
        var name = new string(s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
        return name.Length == 0 ? "model" : name;
    }
}
