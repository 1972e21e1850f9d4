using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace Persona.Web;

/// <summary>
/// Server-rendered HTML. Every value that came from a file, a rater or a URL goes through
/// <see cref="E"/>, so persona texts and answers holding markup or script are shown as text;
/// pages carry no script at all and no inline styles (the CSP forbids both).
/// </summary>
internal static class Html
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    public static string E(string? s) => s is null ? "" : Encoder.Encode(s);

    public static string Page(string title, string body, string? refreshUrl = null)
    {
        var sb = new StringBuilder(4096);
        sb.Append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<meta name=\"referrer\" content=\"no-referrer\">");
        if (refreshUrl is not null)
            sb.Append("<meta http-equiv=\"refresh\" content=\"3;url=").Append(E(refreshUrl)).Append("\">");
        sb.Append("<title>").Append(E(title)).Append("</title><link rel=\"stylesheet\" href=\"/static/study.css\"></head><body>")
          .Append("<main id=\"main\">").Append(body).Append("</main></body></html>");
        return sb.ToString();
    }

    public static string Hidden(string name, string? value) =>
        value is null ? "" : $"<input type=\"hidden\" name=\"{E(name)}\" value=\"{E(value)}\">";

    /// <summary>A persona as a definition list, one attribute per row.</summary>
    public static string PersonaCard(string personaText)
    {
        var sb = new StringBuilder("<dl class=\"persona\">");
        foreach (var (key, value) in Persona.Study.StudyInputs.Attributes(personaText))
            sb.Append("<dt>").Append(E(key)).Append("</dt><dd>").Append(E(Shown(key, value))).Append("</dd>");
        return sb.Append("</dl>").ToString();
    }

    /// <summary>
    /// How a rater reads a value: census income is dollars a year, stored as a bare number ("14400"),
    /// which a rater cannot tell from a count or a code; shown as "$14,400" (a loss as "-$3,000").
    /// </summary>
    public static string Shown(string key, string value)
    {
        if (key.Equals("income", StringComparison.OrdinalIgnoreCase) &&
            long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var dollars))
            return (dollars < 0 ? "-$" : "$") + Math.Abs((decimal)dollars).ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        return value;
    }

    public const string Css = """
        :root { --ink:#1b1b1b; --muted:#5b5b5b; --line:#c8c8c8; --accent:#1f5fa8; --bg:#fafafa; --warn:#a33; }
        * { box-sizing: border-box; }
        body { margin:0; font: 17px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color:var(--ink); background:var(--bg); }
        main { max-width: 70rem; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.5rem; margin: .5rem 0 1rem; } h2 { font-size: 1.2rem; margin: 1.2rem 0 .5rem; }
        a { color: var(--accent); }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        .card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:1rem; margin: .75rem 0; }
        dl.persona { display:grid; grid-template-columns: minmax(8rem, max-content) 1fr; gap: .15rem 1rem; margin:0; }
        dl.persona dt { font-weight:600; color:var(--muted); } dl.persona dd { margin:0; overflow-wrap:anywhere; }
        details.persona-box summary { cursor:pointer; font-weight:600; }
        .question { font-size:1.15rem; font-weight:600; white-space: pre-wrap; overflow-wrap:anywhere; }
        fieldset.choices { border:0; padding:0; margin:0; display:grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
        fieldset.choices legend { font-weight:600; margin-bottom:.5rem; }
        label.answer { display:block; background:#fff; border:2px solid var(--line); border-radius:8px; padding: .75rem 1rem; cursor:pointer; }
        label.answer:has(input:checked) { border-color: var(--accent); background:#eef4fb; }
        label.answer .head { display:flex; gap:.5rem; align-items:center; font-weight:700; margin-bottom:.4rem; }
        label.answer input { width:1.2rem; height:1.2rem; }
        .text { white-space: pre-wrap; overflow-wrap:anywhere; }
        textarea { width:100%; min-height: 7rem; font: inherit; padding:.5rem; border:1px solid var(--line); border-radius:6px; }
        button, .button { display:inline-block; font: inherit; font-weight:600; padding: .6rem 1.4rem; border-radius:6px; border:0; background:var(--accent); color:#fff; cursor:pointer; text-decoration:none; }
        .error { color: var(--warn); font-weight:600; }
        .muted { color: var(--muted); }
        progress { width: 100%; height: .8rem; }
        table { border-collapse: collapse; width:100%; font-size: .95rem; } th, td { border-bottom:1px solid var(--line); padding:.3rem .5rem; text-align:left; }
        .scroll { overflow-x:auto; }
        .code { font: 600 1.6rem/1.2 ui-monospace, "DejaVu Sans Mono", monospace; letter-spacing:.1em; }
        @media (max-width: 720px) {
          body { font-size: 16px; } main { padding: .6rem; }
          fieldset.choices { grid-template-columns: 1fr; }
          dl.persona { grid-template-columns: 1fr; } dl.persona dd { margin-bottom:.3rem; }
        }
        """;
}
