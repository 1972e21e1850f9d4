using ScottPlot;

namespace Persona.Rewards;

/// <summary>Figures of the reward-model track (PNG and SVG, the house style): the few-shot curve on unseen personas and accuracy per group. Every interval drawn is the one rm-results.json reports.</summary>
public static class RmPlots
{
    private static readonly Color[] Palette = [Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e"), Color.FromHex("#2ca02c"), Color.FromHex("#d62728"), Color.FromHex("#9467bd")];
    public const string CurveName = "rm-unseen-curve", GroupsName = "rm-groups";

    private static IReadOnlyList<string> Save(Plot plot, string directory, string name, int width, int height) => DeterministicSvg.SaveFigure(plot, directory, name, width, height);

    private static string Suffix(bool simulated) => simulated ? " (SIMULATED)" : "";

    /// <summary>Accuracy on unseen personas against k, the pairs each gave (k on an even spacing, labelled).</summary>
    public static IReadOnlyList<string> UnseenCurve(RmResults r, string directory)
    {
        var plot = new Plot();
        var ks = r.Models.SelectMany(m => m.UnseenCurve.Select(c => c.K)).Distinct().Order().ToList();
        for (var i = 0; i < r.Models.Count; i++)
        {
            var m = r.Models[i];
            var color = Palette[i % Palette.Length];
            var xs = m.UnseenCurve.Select(c => (double)ks.IndexOf(c.K) + (i - r.Models.Count / 2.0) * 0.05).ToArray();
            var sc = plot.Add.Scatter(xs, m.UnseenCurve.Select(c => c.Accuracy * 100).ToArray());
            sc.Color = color;
            sc.LegendText = m.Name;
            for (var j = 0; j < xs.Length; j++)
            {
                var iv = m.UnseenCurve[j].Interval;
                var line = plot.Add.Line(xs[j], iv.Lower * 100, xs[j], iv.Upper * 100);
                line.Color = color;
            }
        }
        plot.Axes.Bottom.SetTicks([.. ks.Select((_, i) => (double)i)], [.. ks.Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        plot.Axes.Bottom.Label.Text = "k: pairs a new (unseen) persona gave";
        plot.Axes.Left.Label.Text = "Accuracy on its other pairs (%)";
        plot.ShowLegend();
        plot.Title("Reward models on unseen personas" + Suffix(r.Simulated));
        return Save(plot, directory, CurveName, 900, 560);
    }

    /// <summary>Accuracy per group of the attribute with the largest majority tax, one bar per model.</summary>
    public static IReadOnlyList<string> Groups(RmResults r, string directory)
    {
        var plot = new Plot();
        var attribute = r.MajorityTax.OrderByDescending(t => t.Tax).FirstOrDefault()?.Attribute ?? r.Models[0].Groups.FirstOrDefault()?.Attribute ?? "";
        var groups = r.Models[0].Groups.Where(g => g.Attribute == attribute).Select(g => g.Group).ToList();
        var n = r.Models.Count;
        for (var i = 0; i < n; i++)
        {
            var m = r.Models[i];
            var bars = new List<Bar>();
            for (var j = 0; j < groups.Count; j++)
            {
                var g = m.Groups.FirstOrDefault(x => x.Attribute == attribute && x.Group == groups[j]);
                if (g is null || double.IsNaN(g.Accuracy)) continue;
                var pos = j * (n + 1) + i;
                bars.Add(new Bar { Position = pos, Value = g.Accuracy * 100, FillColor = Palette[i % Palette.Length], LineWidth = 0, Size = 0.9 });
                var line = plot.Add.Line(pos, g.Interval.Lower * 100, pos, g.Interval.Upper * 100);
                line.Color = Colors.Black;
            }
            var b = plot.Add.Bars(bars);
            b.LegendText = m.Name;
        }
        plot.Axes.Bottom.SetTicks([.. groups.Select((_, j) => (double)(j * (n + 1) + (n - 1) / 2.0))], [.. groups]);
        plot.Axes.Left.Label.Text = "Accuracy on seen personas' test pairs (%)";
        plot.ShowLegend();
        plot.Title($"Reward-model accuracy by {attribute}" + Suffix(r.Simulated));
        plot.Axes.Margins(bottom: 0);
        return Save(plot, directory, GroupsName, 1100, 560);
    }
}
