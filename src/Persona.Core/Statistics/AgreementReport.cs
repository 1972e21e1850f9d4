using System.Text.Json;

namespace Persona.Statistics;

/// <summary>A coefficient that is either defined (value, optional SE and interval) or undefined with the reason.</summary>
public sealed record Coefficient(string Name, double? Value, double? StandardError, Interval? Interval, string? IntervalMethod, string? Undefined, string? Note = null)
{
    public static Coefficient Of(string name, Func<Coefficient> compute)
    {
        try { return compute(); }
        catch (UndefinedStatisticException ex) { return new Coefficient(name, null, null, null, null, ex.Reason); }
        catch (ArgumentException ex) when (ex is not ArgumentNullException) { return new Coefficient(name, null, null, null, null, ex.Message.TrimEnd('.')); }
    }
}

/// <summary>Agreement among the raters of one set of ratings (the whole file, or one group).</summary>
public sealed record AgreementBlock(string? Group, int Items, int PairableItems, int Raters, int Ratings, IReadOnlyList<Coefficient> Coefficients);

public sealed record AgreementReportResult(string Source, MeasurementLevel Level, double Confidence, int Resamples, ulong Seed, int DuplicatesDropped,
    AgreementBlock Overall, IReadOnlyList<AgreementBlock> Groups);

/// <summary>
/// Every agreement coefficient for a long-form ratings file: percent agreement, Krippendorff's
/// alpha at the chosen level with the Hayes-Krippendorff and the unit bootstrap intervals, Fleiss'
/// kappa (when every item has the same number of ratings), and Cohen's kappa (exactly two raters;
/// weighted too for ordered levels). Computed overall and per group when the file has groups.
/// </summary>
public static class AgreementReport
{
    public static AgreementReportResult Compute(RatingsSet set, MeasurementLevel level, IReadOnlyList<string>? order = null,
        int resamples = 1000, ulong seed = 1, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(set);
        var overall = Block(null, set.Ratings, level, order, resamples, seed, confidence);
        var groups = set.HasGroups
            ? set.Ratings.Where(r => r.Group is not null).GroupBy(r => r.Group!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => Block(g.Key, g.ToList(), level, order, resamples, seed, confidence)).ToList()
            : [];
        return new AgreementReportResult(set.Path, level, confidence, resamples, seed, set.DuplicatesDropped, overall, groups);
    }

    private static AgreementBlock Block(string? group, IReadOnlyList<Rating> ratings, MeasurementLevel level, IReadOnlyList<string>? order,
        int resamples, ulong seed, double confidence)
    {
        var byItem = ratings.GroupBy(r => r.Item, StringComparer.Ordinal).Select(g => g.ToList()).ToList();
        var labels = byItem.Select(g => (IReadOnlyList<string>)g.Select(r => r.Label).ToList()).ToList();
        var raters = ratings.Select(r => r.Rater).Distinct(StringComparer.Ordinal).ToList();
        var coefficients = new List<Coefficient>
        {
            Coefficient.Of("percent agreement", () =>
            {
                var p = Agreement.PercentAgreementInterval(labels, resamples, seed, confidence);
                return new Coefficient("percent agreement", p.Estimate, p.StandardError, p.Interval, p.Method, null,
                    "agreeing pairs within an item, mean over items with 2+ ratings");
            }),
        };
        var lvl = level.ToString().ToLowerInvariant();
        ReliabilityData? data = null;
        var alpha = Coefficient.Of($"Krippendorff's alpha ({lvl})", () =>
        {
            data = ReliabilityData.FromLabels(labels, level, order, raters.Count);
            var a = Krippendorff.Alpha(data);
            var hk = Krippendorff.HayesKrippendorffBootstrap(data, resamples, seed, confidence);
            return new Coefficient($"Krippendorff's alpha ({lvl})", a.Alpha, hk.StandardError, hk.Interval, hk.Method, null,
                $"D_o {a.ObservedDisagreement:G6}, D_e {a.ExpectedDisagreement:G6}, {a.PairableValues} pairable values; P(alpha < 0.667) = {hk.ProbabilityBelow[0.667]:0.###}, P(alpha < 0.8) = {hk.ProbabilityBelow[0.8]:0.###}");
        });
        coefficients.Add(alpha);
        if (data is not null)
            coefficients.Add(Coefficient.Of($"Krippendorff's alpha ({lvl}), unit bootstrap", () =>
            {
                var u = Krippendorff.UnitBootstrap(data, resamples, seed, confidence);
                return new Coefficient($"Krippendorff's alpha ({lvl}), unit bootstrap", u.Alpha, u.StandardError, u.Interval, u.Method, null,
                    u.UndefinedResamples > 0 ? $"{u.UndefinedResamples} of {u.Resamples} resamples had no variation and were left out" : null);
            }));

        coefficients.Add(Coefficient.Of("Fleiss' kappa", () =>
        {
            var rated = labels.Where(l => l.Count >= 2).ToList();
            var sizes = rated.Select(l => l.Count).Distinct().ToList();
            if (sizes.Count > 1)
                throw new UndefinedStatisticException("Fleiss' kappa", $"items have different numbers of ratings ({sizes.Min()} to {sizes.Max()}); Fleiss' kappa needs the same number on every item (alpha does not)");
            var counts = Agreement.CategoryCounts(rated.Count == 0 ? labels : rated, order ?? Labels.Ordered(labels.SelectMany(x => x)));
            var f = Agreement.Fleiss(counts);
            var note = $"{f.RatersPerItem} ratings per item; test of kappa = 0 (Fleiss, Nee & Landis 1979): SE0 {f.StandardErrorUnderNull:0.####}, z = {f.Z:0.###}, p = {f.PValue:G3}";
            try
            {
                var b = Agreement.FleissInterval(counts, resamples, seed, confidence);
                return new Coefficient("Fleiss' kappa", f.Kappa, b.StandardError, b.Interval, b.Method, null, note);
            }
            catch (UndefinedStatisticException ex)
            {
                return new Coefficient("Fleiss' kappa", f.Kappa, null, null, null, null, $"{note}; no interval: {ex.Reason}");
            }
        }));

        KappaWeights[] weightings = level == MeasurementLevel.Nominal ? [KappaWeights.Unweighted] : [KappaWeights.Unweighted, KappaWeights.Linear, KappaWeights.Quadratic];
        foreach (var w in weightings)
        {
            var name = w == KappaWeights.Unweighted ? "Cohen's kappa" : $"Cohen's kappa ({w.ToString().ToLowerInvariant()} weights)";
            coefficients.Add(Coefficient.Of(name, () =>
            {
                if (raters.Count != 2)
                    throw new UndefinedStatisticException(name, $"it compares exactly two raters and there are {raters.Count}");
                var both = byItem.Where(g => g.Count == 2).ToList();
                if (both.Count == 0) throw new UndefinedStatisticException(name, "no item was rated by both raters");
                var a = both.Select(g => g.Single(r => r.Rater == raters[0]).Label).ToList();
                var b = both.Select(g => g.Single(r => r.Rater == raters[1]).Label).ToList();
                var k = Agreement.CohensKappa(a, b, w, order, confidence);
                return new Coefficient(name, k.Kappa, k.StandardError, k.Interval, "asymptotic (Fleiss, Cohen & Everitt 1969)", null,
                    $"{k.N} items rated by both ({raters[0]}, {raters[1]})");
            }));
        }
        return new AgreementBlock(group, byItem.Count, labels.Count(l => l.Count >= 2), raters.Count, ratings.Count, coefficients);
    }

    /// <summary>The report as JSON; undefined values are null beside their reason, never NaN.</summary>
    public static void WriteJson(Stream stream, AgreementReportResult r)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("ratings", r.Source);
        w.WriteString("level", r.Level.ToString().ToLowerInvariant());
        w.WriteNumber("confidence", r.Confidence);
        w.WriteNumber("bootstrap_resamples", r.Resamples);
        w.WriteNumber("seed", r.Seed);
        w.WriteNumber("duplicate_rows_dropped", r.DuplicatesDropped);
        w.WritePropertyName("overall");
        Write(w, r.Overall);
        w.WriteStartArray("groups");
        foreach (var g in r.Groups) Write(w, g);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Write(Utf8JsonWriter w, AgreementBlock b)
    {
        w.WriteStartObject();
        if (b.Group is not null) w.WriteString("group", b.Group);
        w.WriteNumber("items", b.Items);
        w.WriteNumber("pairable_items", b.PairableItems);
        w.WriteNumber("raters", b.Raters);
        w.WriteNumber("ratings", b.Ratings);
        w.WriteStartArray("coefficients");
        foreach (var c in b.Coefficients)
        {
            w.WriteStartObject();
            w.WriteString("name", c.Name);
            Number(w, "value", c.Value);
            Number(w, "standard_error", c.StandardError);
            if (c.Interval is { } ci)
            {
                w.WriteStartObject("interval");
                Number(w, "lower", ci.Lower);
                Number(w, "upper", ci.Upper);
                w.WriteString("method", c.IntervalMethod);
                w.WriteEndObject();
            }
            else w.WriteNull("interval");
            if (c.Undefined is not null) w.WriteString("undefined", c.Undefined);
            if (c.Note is not null) w.WriteString("note", c.Note);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double? v)
    {
        if (v is { } x && double.IsFinite(x)) w.WriteNumber(name, Math.Round(x, 10));
        else w.WriteNull(name);
    }
}
