using System.Text.Json;
using Persona.Statistics;

namespace Persona.Survey;

/// <summary>
/// `survey-results.json`. Contract (others read these names): <c>overall.mean_distance</c>,
/// <c>groups[]</c> with <c>attribute</c>, <c>group</c>, <c>mean_distance</c>, <c>interval</c>, <c>n</c>,
/// and <c>baselines.uniform.mean_distance</c>, <c>baselines.population_prior.mean_distance</c>.
/// Undefined values are null, never NaN.
/// </summary>
public static class SurveyResultsJson
{
    public const string FileName = "survey-results.json";
    public const string Format = "persona-survey-results/1";

    public static void Write(Stream stream, SurveyResults r, string? predictions = null, bool simulated = false)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("format", Format);
        w.WriteString("survey", r.Survey);
        if (predictions is not null) w.WriteString("predictions", predictions);
        if (simulated) w.WriteBoolean("simulated", true);
        w.WriteString("metric", r.Metric);
        w.WriteString("interval_method", "percentile bootstrap over questions");
        w.WriteNumber("confidence", r.Level);
        w.WriteNumber("bootstrap_resamples", r.Resamples);
        w.WriteNumber("seed", r.Seed);
        w.WriteNumber("unscorable", r.Unscorable);

        w.WriteStartObject("overall");
        Mean(w, r.Overall);
        w.WriteEndObject();

        w.WriteStartObject("baselines");
        w.WriteStartObject("uniform");
        Number(w, "mean_distance", r.OverallBaselines.Uniform);
        w.WriteEndObject();
        w.WriteStartObject("population_prior");
        Number(w, "mean_distance", r.OverallBaselines.PopulationPrior);
        w.WriteEndObject();
        w.WriteStartArray("opposing_groups");
        foreach (var p in r.OpposingPairs)
        {
            w.WriteStartObject();
            w.WriteString("a", p.A.ToString());
            w.WriteString("b", p.B.ToString());
            Number(w, "mean_distance", p.MeanDistance);
            w.WriteNumber("n", p.N);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartArray("attributes");
        foreach (var a in r.Attributes)
        {
            w.WriteStartObject();
            w.WriteString("attribute", a.Attribute);
            Mean(w, a.Score);
            w.WriteNumber("groups", a.Groups);
            Baselines(w, a.Baselines);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("groups");
        foreach (var g in r.Groups)
        {
            w.WriteStartObject();
            w.WriteString("attribute", g.Group.Attribute);
            w.WriteString("group", g.Group.Group);
            Mean(w, g.Score);
            Baselines(w, g.Baselines);
            w.WriteStartObject("versus_prior");
            Number(w, "gain", g.VersusPrior.Gain);
            IntervalOf(w, g.VersusPrior.Interval);
            w.WriteString("verdict", g.VersusPrior.Verdict);
            w.WriteEndObject();
            w.WriteStartObject("refusal_rate");
            Number(w, "real", g.RealRefusalRate);
            Number(w, "predicted", g.PredictedRefusalRate);
            w.WriteEndObject();
            w.WriteStartObject("spread");
            Number(w, "predicted", r.Dispersion.Predicted.TryGetValue(g.Group, out var sp) ? sp : null);
            Number(w, "real", r.Dispersion.Real.TryGetValue(g.Group, out var sr) ? sr : null);
            w.WriteEndObject();
            w.WriteNumber("unscorable", g.Unscorable);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartObject("dispersion");
        Number(w, "predicted_mean_distance_to_group_mean", r.Dispersion.PredictedMean);
        Number(w, "real_mean_distance_to_group_mean", r.Dispersion.RealMean);
        Number(w, "ratio", r.Dispersion.Ratio);
        w.WriteEndObject();

        w.WriteStartArray("withheld");
        foreach (var x in r.Withheld)
        {
            w.WriteStartObject();
            w.WriteString("attribute", x.Group.Attribute);
            w.WriteString("group", x.Group.Group);
            w.WriteNumber("personas", x.Personas);
            w.WriteString("reason", x.Reason);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        // Every scored cell, so the heat map and per-question reading need nothing but this file.
        w.WriteStartArray("cells");
        foreach (var c in r.Cells)
        {
            w.WriteStartObject();
            w.WriteString("qkey", c.Qkey);
            w.WriteString("attribute", c.Group.Attribute);
            w.WriteString("group", c.Group.Group);
            Number(w, "distance", c.Distance);
            Number(w, "prior", c.Prior);
            Number(w, "uniform", c.Uniform);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// `survey-modes.json`: the overall distance per mode beside the baselines, and per steering mode
    /// its steerability (distance minus the unsteered model's, per group; mean and spread across groups).
    /// </summary>
    public static void WriteModes(Stream stream, SurveyStageResult r, bool simulated)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("format", "persona-survey-modes/1");
        if (simulated) w.WriteBoolean("simulated", true);
        w.WriteNumber("questions", r.Questions.Count);
        w.WriteNumber("panelists", r.Panelists);
        w.WriteNumber("failed", r.Failed);
        w.WriteStartArray("modes");
        void Mode(string name, string file, SurveyResults? x)
        {
            if (x is null) return;
            w.WriteStartObject();
            w.WriteString("mode", name);
            w.WriteString("file", file);
            Number(w, "mean_distance", x.Overall.MeanDistance);
            IntervalOf(w, x.Overall.Interval);
            w.WriteNumber("groups", x.Groups.Count);
            Number(w, "uniform", x.OverallBaselines.Uniform);
            Number(w, "population_prior", x.OverallBaselines.PopulationPrior);
            Number(w, "dispersion_ratio", x.Dispersion.Ratio);
            var s = r.Steerability.FirstOrDefault(t => t.Mode == name);
            if (s is not null)
            {
                w.WriteStartObject("steerability");
                Number(w, "mean_gain", s.MeanGain);
                Number(w, "sd_gain_across_groups", s.SdGain);
                w.WriteStartArray("groups");
                foreach (var (g, gain) in s.Gain)
                {
                    w.WriteStartObject();
                    w.WriteString("attribute", g.Attribute);
                    w.WriteString("group", g.Group);
                    Number(w, "gain", gain);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        Mode(SurveyModes.Persona, SurveyStage.ResultsFile, r.Panel);
        Mode(SurveyModes.None, SurveyStage.UnsteeredFile, r.Unsteered);
        foreach (var (mode, x) in r.Steered) Mode(mode, SurveyStage.SteeredFile(mode), x);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Mean(Utf8JsonWriter w, SurveyMean m)
    {
        Number(w, "mean_distance", m.MeanDistance);
        Number(w, "representativeness", m.Representativeness);
        IntervalOf(w, m.Interval);
        w.WriteNumber("n", m.N);
    }

    private static void Baselines(Utf8JsonWriter w, SurveyBaselines b)
    {
        w.WriteStartObject("baselines");
        w.WriteStartObject("uniform");
        Number(w, "mean_distance", b.Uniform);
        w.WriteEndObject();
        w.WriteStartObject("population_prior");
        Number(w, "mean_distance", b.PopulationPrior);
        w.WriteEndObject();
        if (b.OpposingGroup is not null)
        {
            w.WriteStartObject("opposing_group");
            w.WriteString("group", b.OpposingGroup);
            Number(w, "mean_distance", b.Opposing);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void IntervalOf(Utf8JsonWriter w, Interval? i)
    {
        if (i is { } ci)
        {
            w.WriteStartObject("interval");
            Number(w, "lower", ci.Lower);
            Number(w, "upper", ci.Upper);
            w.WriteEndObject();
        }
        else w.WriteNull("interval");
    }

    private static void Number(Utf8JsonWriter w, string name, double? v)
    {
        if (v is { } x && double.IsFinite(x)) w.WriteNumber(name, Math.Round(x, 10));
        else w.WriteNull(name);
    }
}
