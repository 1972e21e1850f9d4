using System.Globalization;
using Persona.Personas;
using ScottPlot;

namespace Persona.Benchmark;

/// <summary>
/// Figures of the bench (PNG and SVG, the house style of Fidelity/FidelityPlots): accuracy by mode,
/// pass@k curves, the per-group heat map, leave-one-out influence and attributes dropped by
/// summaries. Every interval drawn is the one the results JSON reports.
/// </summary>
public static class BenchPlots
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly Color Main = Color.FromHex("#1f77b4");
    private static readonly Color[] Palette = [Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e"), Color.FromHex("#2ca02c"), Color.FromHex("#d62728"), Color.FromHex("#9467bd")];

    /// <summary>Writes NAME.png and NAME.svg into the directory; returns both paths.</summary>
    private static IReadOnlyList<string> Save(Plot plot, string directory, string name, int width, int height) => DeterministicSvg.SaveFigure(plot, directory, name, width, height);

    private static void Interval(Plot plot, double position, Statistics.Interval? i, bool horizontal, Color color)
    {
        if (i is not { } v) return;
        var line = horizontal ? plot.Add.Line(v.Lower, position, v.Upper, position) : plot.Add.Line(position, v.Lower, position, v.Upper);
        line.LineWidth = 2;
        line.Color = color;
    }

    private static string Suffix(bool simulated) => simulated ? " (SIMULATED)" : "";

    public static IReadOnlyList<string> AccuracyByMode(BenchResults r, string directory)
    {
        var plot = new Plot();
        var modes = r.Modes.Where(m => m.Accuracy.Accuracy is not null).ToList();
        var bars = modes.Select((m, i) => new Bar { Position = i, Value = m.Accuracy.Accuracy!.Value * 100, FillColor = Main, LineWidth = 0, Size = 0.6 }).ToList();
        plot.Add.Bars(bars);
        for (var i = 0; i < modes.Count; i++)
        {
            var c = modes[i].Accuracy.Clustered ?? modes[i].Accuracy.Wilson;
            Interval(plot, i, c is { } v ? new Statistics.Interval(v.Lower * 100, v.Upper * 100) : null, false, Colors.Black);
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, modes.Count).Select(i => (double)i).ToArray(), modes.Select(m => m.Mode).ToArray());
        plot.Axes.Left.Label.Text = "Accuracy: no revision needed (%)";
        plot.Title($"PERSONA Bench accuracy by mode, critic {r.CriticModel ?? r.ScoreSet}{Suffix(r.Simulated)}");
        plot.Axes.Margins(bottom: 0);
        return Save(plot, directory, "accuracy-by-mode", 900, 560);
    }

    public static IReadOnlyList<string> PassAtKCurves(PassAtKResults r, string directory)
    {
        var plot = new Plot();
        var i = 0;
        foreach (var m in r.Modes)
        {
            var color = Palette[i++ % Palette.Length];
            var s = plot.Add.Scatter(m.Points.Select(p => (double)p.K).ToArray(), m.Points.Select(p => p.Estimate * 100).ToArray());
            s.Color = color;
            s.LegendText = m.Mode;
            s.LineWidth = 2;
            foreach (var p in m.Points) Interval(plot, p.K, new Statistics.Interval(p.Interval.Lower * 100, p.Interval.Upper * 100), false, color);
        }
        plot.Axes.Bottom.Label.Text = "k";
        plot.Axes.Left.Label.Text = "pass@k (%)";
        plot.Title($"pass@k (unbiased estimator, n >= {r.K} samples per item){Suffix(r.Simulated)}");
        plot.ShowLegend(Edge.Bottom);
        return Save(plot, directory, "pass-at-k", 900, 560);
    }

    /// <summary>Rows: attribute = group (non-suppressed, every mode); columns: modes; cells: accuracy (%).</summary>
    public static IReadOnlyList<string> GroupHeatmap(BenchResults r, string directory, int maxRows = 60)
    {
        var rows = r.Modes.SelectMany(m => m.Groups.SelectMany(g => g.Rows.Where(x => !x.Suppressed).Select(x => (g.Attribute, x.Group))))
            .Distinct().Take(maxRows).ToList();
        var plot = new Plot();
        if (rows.Count == 0 || r.Modes.Count == 0)
        {
            plot.Add.Annotation("No group has enough samples (min cell " + r.MinCell.ToString(Inv) + ")");
            return Save(plot, directory, "accuracy-by-group", 900, 400);
        }
        var data = new double[rows.Count, r.Modes.Count];
        for (var y = 0; y < rows.Count; y++)
            for (var x = 0; x < r.Modes.Count; x++)
            {
                var row = r.Modes[x].Groups.FirstOrDefault(g => g.Attribute == rows[y].Attribute)?.Rows.FirstOrDefault(g => g.Group == rows[y].Group);
                data[y, x] = row?.Mean is { } v ? v * 100 : double.NaN;
            }
        var hm = plot.Add.Heatmap(data);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        // Labels after the heat map, so they are drawn on top of it.
        for (var y = 0; y < rows.Count; y++)
            for (var x = 0; x < r.Modes.Count; x++)
                if (!double.IsNaN(data[y, x]))
                {
                    var t = plot.Add.Text((data[y, x] / 100).ToString("P0", Inv), x, rows.Count - 1 - y);
                    t.LabelFontSize = 10;
                    t.LabelFontColor = data[y, x] > 60 ? Colors.Black : Colors.White;
                    t.LabelAlignment = Alignment.MiddleCenter;
                }
        plot.Add.ColorBar(hm).Label = "accuracy (%)";
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, r.Modes.Count).Select(i => (double)i).ToArray(), r.Modes.Select(m => m.Mode).ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows.Count).Select(i => (double)(rows.Count - 1 - i)).ToArray(), rows.Select(x => Shorten($"{x.Attribute} = {x.Group}")).ToArray());
        plot.Axes.Left.TickLabelStyle.FontSize = 11;
        plot.Title($"Accuracy per group (census-weighted, n >= {r.MinCell}){Suffix(r.Simulated)}");
        return Save(plot, directory, "accuracy-by-group", 1100, Math.Max(420, 120 + 22 * rows.Count));
    }

    public static IReadOnlyList<string> LooInfluence(LooResults r, string directory)
    {
        var rows = r.Ranking.Where(a => a.Influence is not null).ToList();
        var plot = new Plot();
        var k = rows.Count;
        var bars = rows.Select((a, i) => new Bar { Position = k - 1 - i, Value = a.Influence!.Value, FillColor = Main, LineWidth = 0, Size = 0.6 }).ToList();
        var b = plot.Add.Bars(bars);
        b.Horizontal = true;
        for (var i = 0; i < k; i++) Interval(plot, k - 1 - i, rows[i].InfluenceInterval, true, Colors.Black);
        plot.Axes.Left.SetTicks(Enumerable.Range(0, k).Select(i => (double)(k - 1 - i)).ToArray(), rows.Select(a => a.Attribute).ToArray());
        plot.Axes.Bottom.Label.Text = "Influence: 1 - Cohen's kappa (with vs without the attribute)";
        plot.Title($"Leave-one-attribute-out influence{Suffix(r.Simulated)}");
        return Save(plot, directory, "loo-influence", 1000, Math.Max(360, 140 + 36 * k));
    }

    public static IReadOnlyList<string> SummaryDrops(SummaryResults r, string directory)
    {
        var rows = r.Attributes;
        var plot = new Plot();
        var k = rows.Count;
        var b = plot.Add.Bars(rows.Select((a, i) => new Bar { Position = k - 1 - i, Value = a.Rate * 100, FillColor = Main, LineWidth = 0, Size = 0.6 }).ToList());
        b.Horizontal = true;
        for (var i = 0; i < k; i++) Interval(plot, k - 1 - i, new Statistics.Interval(rows[i].Interval.Lower * 100, rows[i].Interval.Upper * 100), true, Colors.Black);
        plot.Axes.Left.SetTicks(Enumerable.Range(0, k).Select(i => (double)(k - 1 - i)).ToArray(), rows.Select(a => a.Attribute).ToArray());
        plot.Axes.Bottom.Label.Text = "Summaries that dropped the attribute (%)";
        plot.Title($"Attributes dropped by demographic summaries (n = {r.Summaries.ToString("N0", Inv)}){Suffix(r.Simulated)}");
        return Save(plot, directory, "summaries-dropped", 1000, Math.Max(360, 140 + 30 * k));
    }

    private static string Shorten(string s) => s.Length <= 48 ? s : s[..47] + "…";
}
