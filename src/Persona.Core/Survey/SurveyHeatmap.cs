using System.Globalization;
using System.Text;

namespace Persona.Survey;

/// <summary>
/// The question x group heat map of a survey's scored cells: one row per question, one column per
/// group, the cell's shade its distance from the group's real answers (white 0, dark red at the
/// largest distance shown), a dot where the cell is farther than the population prior. Written as
/// plain SVG by hand (no plotting library): every number is formatted invariantly and nothing else
/// enters, so the same results give the same bytes.
/// </summary>
public static class SurveyHeatmap
{
    public const string FileName = "survey-heatmap.svg";
    public const string Folder = "figures";

    private const int Cell = 16, RowHeight = 9, Left = 150, Top = 150, Legend = 40;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The SVG; <paramref name="title"/> is drawn at the top (e.g. "SIMULATED ..." for the offline simulator).</summary>
    public static string Svg(SurveyResults r, string title)
    {
        ArgumentNullException.ThrowIfNull(r);
        var questions = r.Cells.Select(c => c.Qkey).Distinct(StringComparer.Ordinal).ToList();
        var groups = r.Groups.Select(g => g.Group).ToList();
        var byCell = r.Cells.ToDictionary(c => (c.Qkey, c.Group));
        var max = r.Cells.Select(c => c.Distance).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        if (max <= 0) max = 1;
        var width = Left + groups.Count * Cell + 90; // room for the last column's slanted label
        var height = Top + questions.Count * RowHeight + Legend;
        string F(double v) => v.ToString("0.###", Inv);
        var sb = new StringBuilder();
        sb.Append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").Append(width).Append("\" height=\"").Append(height)
          .Append("\" viewBox=\"0 0 ").Append(width).Append(' ').Append(height).Append("\" font-family=\"sans-serif\" font-size=\"9\">\n");
        sb.Append("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
        sb.Append("<text x=\"4\" y=\"12\" font-size=\"11\" font-weight=\"bold\">").Append(Esc(title)).Append("</text>\n");
        sb.Append("<text x=\"4\" y=\"26\">distance per question (rows) and group (columns); dot: farther than the population prior</text>\n");
        for (var j = 0; j < groups.Count; j++)
        {
            var x = Left + j * Cell + Cell / 2;
            // The group's name alone (columns run attribute by attribute; the cells' titles carry ATTRIBUTE=group).
            sb.Append("<text transform=\"translate(").Append(x + 3).Append(',').Append(Top - 4).Append(") rotate(-60)\" font-size=\"8\">")
              .Append(Esc(groups[j].Group)).Append("</text>\n");
        }
        for (var i = 0; i < questions.Count; i++)
        {
            var y = Top + i * RowHeight;
            sb.Append("<text x=\"").Append(Left - 4).Append("\" y=\"").Append(y + RowHeight - 1).Append("\" text-anchor=\"end\" font-size=\"8\">")
              .Append(Esc(questions[i])).Append("</text>\n");
            for (var j = 0; j < groups.Count; j++)
            {
                if (!byCell.TryGetValue((questions[i], groups[j]), out var c)) continue;
                var x = Left + j * Cell;
                sb.Append("<rect x=\"").Append(x).Append("\" y=\"").Append(y).Append("\" width=\"").Append(Cell - 1).Append("\" height=\"").Append(RowHeight - 1)
                  .Append("\" fill=\"").Append(Shade(c.Distance / max)).Append("\"><title>").Append(Esc($"{c.Qkey} / {c.Group}: distance {F(c.Distance)}, prior {F(c.Prior)}"))
                  .Append("</title></rect>\n");
                if (double.IsFinite(c.Prior) && c.Distance > c.Prior)
                    sb.Append("<circle cx=\"").Append((x + (Cell - 1) / 2.0).ToString("0.#", Inv)).Append("\" cy=\"")
                      .Append((y + (RowHeight - 1) / 2.0).ToString("0.#", Inv)).Append("\" r=\"1.5\" fill=\"#000\"/>\n");
            }
        }
        // The legend: the shade scale from 0 to the largest distance shown.
        var ly = Top + questions.Count * RowHeight + 12;
        for (var k = 0; k <= 10; k++)
            sb.Append("<rect x=\"").Append(Left + k * 12).Append("\" y=\"").Append(ly).Append("\" width=\"12\" height=\"10\" fill=\"").Append(Shade(k / 10.0)).Append("\"/>\n");
        sb.Append("<text x=\"").Append(Left - 4).Append("\" y=\"").Append(ly + 9).Append("\" text-anchor=\"end\">0</text>\n");
        sb.Append("<text x=\"").Append(Left + 11 * 12 + 4).Append("\" y=\"").Append(ly + 9).Append("\">").Append(F(max)).Append("</text>\n");
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>White (0) to dark red (1).</summary>
    private static string Shade(double t)
    {
        t = double.IsFinite(t) ? Math.Clamp(t, 0, 1) : 0;
        int Mix(int from, int to) => (int)Math.Round(from + (to - from) * t);
        return $"#{Mix(255, 140):x2}{Mix(255, 20):x2}{Mix(255, 20):x2}";
    }

    private static string Esc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");

    /// <summary>Writes the heat map to <c>dir/figures/survey-heatmap.svg</c>, atomically.</summary>
    public static Task WriteAsync(string dir, SurveyResults r, bool simulated, CancellationToken ct)
    {
        var folder = Path.Combine(dir, Folder);
        Directory.CreateDirectory(folder);
        var title = (simulated ? "SIMULATED (offline simulator) — " : "") + $"survey fidelity: {Path.GetFileName(r.Survey)}";
        var svg = Svg(r, title);
        return AtomicFile.WriteAsync(Path.Combine(folder, FileName), async (s, c) =>
        {
            var bytes = Encoding.UTF8.GetBytes(svg);
            await s.WriteAsync(bytes, c).ConfigureAwait(false);
        }, ct);
    }
}
