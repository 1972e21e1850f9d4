using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Persona.Survey;

/// <summary>A set of scored predictions to put in an Every Eval Ever record: the mode that made them (persona, none, steer-qa, ..., or predictions) and its results.</summary>
public sealed record SurveyEeeEntry(string Mode, SurveyResults Results);

/// <summary>What <see cref="SurveyEveryEvalEver.WriteAsync"/> wrote.</summary>
public sealed record SurveyEeeFiles(string Aggregate, string Instances, string EvaluationId, int Results, int Rows);

/// <summary>
/// The survey's scores as an Every Eval Ever record (EvalEval Coalition, github.com/evaleval/every_eval_ever,
/// schemas <c>every_eval_ever/schemas/eval.schema.json</c> version 0.2.2 and
/// <c>instance_level_eval.schema.json</c> version instance_level_eval_0.2.2): an aggregate
/// <c>{uuid}.json</c> and a per-instance <c>{uuid}.jsonl</c> beside it, so that their converters' users
/// can put our numbers beside Inspect, HELM and lm-eval results.
/// <para>
/// Mapping. Each mode's overall mean distance and each group's are one <c>evaluation_results</c> entry
/// (score = mean normalised ordinal 1-Wasserstein distance, lower is better, continuous 0 to 1, the
/// bootstrap interval over questions as <c>uncertainty.confidence_interval</c>, the baselines and the
/// verdict against the population prior as string details). An instance is one question x group cell:
/// input = the question and its options, reference = the group's real distribution, output = the
/// predicted one (both JSON arrays in ordinal order), score = the cell's distance, and
/// <c>is_correct</c> = the cell is nearer the real answers than the population prior is.
/// </para>
/// <para>
/// Everything is a function of the results except <c>retrieved_timestamp</c> (when the record was
/// made, Unix seconds, as the schema asks): the uuid and <c>evaluation_id</c> are derived from the
/// content, so the instance file is the same bytes for the same results.
/// </para>
/// </summary>
public static class SurveyEveryEvalEver
{
    public const string Folder = "every-eval-ever";
    public const string SchemaVersion = "0.2.2";
    public const string InstanceSchemaVersion = "instance_level_eval_0.2.2";
    public const string MetricId = "persona.survey.normalised_ordinal_wasserstein";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly JsonWriterOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Writes the record into <paramref name="dir"/> (created if missing). <paramref name="model"/> is the
    /// answering model's identity ("unknown" when the predictions were made elsewhere).
    /// </summary>
    public static async Task<SurveyEeeFiles> WriteAsync(string dir, SurveySet survey, IReadOnlyList<SurveyEeeEntry> entries, string model, string? elicitation,
        bool simulated, DateTimeOffset retrieved, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(survey);
        if (entries.Count == 0) throw new ArgumentException("No results to record.", nameof(entries));
        var modelId = model.Replace(':', '/');
        var evalName = "persona-survey/" + Path.GetFileNameWithoutExtension(survey.Source);

        // The instance rows first: their bytes (with a placeholder-free id derived from the results) name the record.
        var fingerprint = Fingerprint(survey, entries, modelId, elicitation, simulated);
        var uuid = Uuid(fingerprint);
        var evaluationId = $"{evalName}/{modelId}/{Convert.ToHexStringLower(fingerprint)[..16]}";
        var rows = new MemoryStream();
        var count = 0;
        foreach (var e in entries)
            foreach (var c in e.Results.Cells)
            {
                ct.ThrowIfCancellationRequested();
                WriteInstance(rows, survey, e, c, evaluationId, modelId, evalName, elicitation, simulated);
                count++;
            }
        var rowBytes = rows.ToArray();

        Directory.CreateDirectory(dir);
        var instancesPath = Path.Combine(dir, uuid + ".jsonl");
        var aggregatePath = Path.Combine(dir, uuid + ".json");
        await AtomicFile.WriteAsync(instancesPath, (s, c) => s.WriteAsync(rowBytes, c).AsTask(), ct).ConfigureAwait(false);
        var results = 0;
        await AtomicFile.WriteAsync(aggregatePath, (s, _) =>
        {
            results = WriteAggregate(s, survey, entries, evaluationId, evalName, model, modelId, elicitation, simulated, retrieved,
                Path.GetFileName(instancesPath), Convert.ToHexStringLower(SHA256.HashData(rowBytes)), count);
            return Task.CompletedTask;
        }, ct).ConfigureAwait(false);
        return new SurveyEeeFiles(aggregatePath, instancesPath, evaluationId, results, count);
    }

    private static int WriteAggregate(Stream stream, SurveySet survey, IReadOnlyList<SurveyEeeEntry> entries, string evaluationId, string evalName, string model, string modelId,
        string? elicitation, bool simulated, DateTimeOffset retrieved, string instancesFile, string checksum, int rows)
    {
        using var w = new Utf8JsonWriter(stream, Indented);
        w.WriteStartObject();
        w.WriteString("schema_version", SchemaVersion);
        w.WriteString("evaluation_id", evaluationId);
        w.WriteString("retrieved_timestamp", retrieved.ToUnixTimeSeconds().ToString(Inv));
        w.WriteStartObject("source_metadata");
        w.WriteString("source_name", simulated ? "Persona testbed survey fidelity (SIMULATED: offline simulator, not a finding)" : "Persona testbed survey fidelity");
        w.WriteString("source_type", "evaluation_run");
        w.WriteString("source_organization_name", "Persona testbed");
        w.WriteString("evaluator_relationship", "third_party");
        w.WriteStartObject("additional_details");
        w.WriteString("simulated", simulated ? "true" : "false");
        w.WriteString("survey", Path.GetFileName(survey.Source));
        if (elicitation is not null) w.WriteString("elicitation", elicitation);
        w.WriteString("modes", string.Join(",", entries.Select(e => e.Mode)));
        w.WriteEndObject();
        w.WriteEndObject();

        w.WriteStartObject("model_info");
        w.WriteString("name", model);
        w.WriteString("id", modelId);
        if (simulated)
        {
            w.WriteStartObject("additional_details");
            w.WriteString("simulated", "true");
            w.WriteEndObject();
        }
        w.WriteEndObject();

        w.WriteStartObject("eval_library");
        w.WriteString("name", "persona");
        w.WriteString("version", typeof(SurveyEveryEvalEver).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");
        w.WriteEndObject();

        var n = 0;
        w.WriteStartArray("evaluation_results");
        foreach (var e in entries)
        {
            var r = e.Results;
            Result(w, survey, r, e.Mode, ResultId(e.Mode, null), $"{evalName} ({e.Mode}): overall", r.Overall, r.OverallBaselines, null, simulated, elicitation);
            n++;
            foreach (var g in r.Groups)
            {
                Result(w, survey, r, e.Mode, ResultId(e.Mode, g.Group), $"{evalName} ({e.Mode}): {g.Group}", g.Score, g.Baselines, g.VersusPrior, simulated, elicitation);
                n++;
            }
        }
        w.WriteEndArray();

        w.WriteStartObject("detailed_evaluation_results");
        w.WriteString("format", "jsonl");
        w.WriteString("file_path", instancesFile);
        w.WriteString("hash_algorithm", "sha256");
        w.WriteString("checksum", checksum);
        w.WriteNumber("total_rows", rows);
        w.WriteEndObject();
        w.WriteEndObject();
        return n;
    }

    private static void Result(Utf8JsonWriter w, SurveySet survey, SurveyResults r, string mode, string id, string name, SurveyMean score, SurveyBaselines b,
        SurveyVersusPrior? versus, bool simulated, string? elicitation)
    {
        w.WriteStartObject();
        w.WriteString("evaluation_result_id", id);
        w.WriteString("evaluation_name", name);
        SourceData(w, survey);
        w.WriteStartObject("metric_config");
        w.WriteString("evaluation_description",
            "Mean normalised ordinal 1-Wasserstein distance between the predicted and the real answer distributions per question " +
            "(OpinionQA/SubPOP convention: options off the scale dropped, both sides renormalised, divided by the ordinal range); 0 = same answers, 1 = opposite ends.");
        w.WriteString("metric_id", MetricId);
        w.WriteString("metric_name", "normalised ordinal 1-Wasserstein distance");
        w.WriteString("metric_kind", "distance");
        w.WriteString("metric_unit", "proportion");
        w.WriteBoolean("lower_is_better", true);
        w.WriteString("score_type", "continuous");
        w.WriteNumber("min_score", 0);
        w.WriteNumber("max_score", 1);
        w.WriteStartObject("additional_details");
        w.WriteString("mode", mode);
        if (elicitation is not null) w.WriteString("elicitation", elicitation);
        w.WriteString("metric", r.Metric);
        w.WriteString("simulated", simulated ? "true" : "false");
        w.WriteEndObject();
        w.WriteEndObject();

        w.WriteStartObject("score_details");
        w.WriteNumber("score", Math.Round(score.MeanDistance, 10));
        w.WriteStartObject("details");
        w.WriteString("representativeness", S(score.Representativeness));
        w.WriteString("baseline_uniform_mean_distance", S(b.Uniform));
        w.WriteString("baseline_population_prior_mean_distance", S(b.PopulationPrior));
        if (b.OpposingGroup is not null)
        {
            w.WriteString("baseline_opposing_group", b.OpposingGroup);
            w.WriteString("baseline_opposing_group_mean_distance", S(b.Opposing));
        }
        if (versus is not null)
        {
            w.WriteString("gain_versus_prior", S(versus.Gain));
            w.WriteString("verdict_versus_prior", versus.Verdict);
        }
        w.WriteString("cells", score.N.ToString(Inv));
        w.WriteEndObject();
        w.WriteStartObject("uncertainty");
        if (score.Interval is { } ci && double.IsFinite(ci.Lower) && double.IsFinite(ci.Upper))
        {
            w.WriteStartObject("confidence_interval");
            w.WriteNumber("lower", Math.Round(ci.Lower, 10));
            w.WriteNumber("upper", Math.Round(ci.Upper, 10));
            w.WriteNumber("confidence_level", r.Level);
            w.WriteString("method", "percentile bootstrap over questions");
            w.WriteEndObject();
            w.WriteNumber("num_bootstrap_samples", r.Resamples);
        }
        w.WriteNumber("num_samples", score.N);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void SourceData(Utf8JsonWriter w, SurveySet survey)
    {
        w.WriteStartObject("source_data");
        var bundled = survey.Source == SurveySet.BundledSource;
        if (bundled)
        {
            w.WriteString("dataset_name", "GSS 2022 per subgroup (SubPOP-Eval: 133 questions x 22 groups)");
            w.WriteString("source_type", "url");
            w.WriteStartArray("url");
            w.WriteStringValue("https://gss.norc.org/");
            w.WriteStringValue("https://github.com/JosephJeesungSuh/subpop");
            w.WriteEndArray();
            w.WriteStartObject("additional_details");
            w.WriteString("citation", "General Social Survey 2022 (NORC at the University of Chicago); Suh et al. 2025, SubPOP, ACL 2025, arXiv:2502.16761");
            w.WriteEndObject();
        }
        else
        {
            w.WriteString("dataset_name", Path.GetFileName(survey.Source));
            w.WriteString("source_type", "other");
            w.WriteString("source_id", Path.GetFileName(survey.Source));
        }
        w.WriteEndObject();
    }

    private static void WriteInstance(Stream s, SurveySet survey, SurveyEeeEntry e, SurveyCell c, string evaluationId, string modelId, string evalName, string? elicitation, bool simulated)
    {
        var item = survey.Get(c.Qkey, c.Group);
        var raw = new StringBuilder(item.Question);
        for (var k = 0; k < item.Ordinal.Count; k++) raw.Append('\n').Append(SurveyTask.Letter(k)).Append(". ").Append(item.Options[k]);
        var reference = Shares(item.Responses);
        var predicted = Shares(c.Predicted);
        using (var w = new Utf8JsonWriter(s, Compact))
        {
            w.WriteStartObject();
            w.WriteString("schema_version", InstanceSchemaVersion);
            w.WriteString("evaluation_id", evaluationId);
            w.WriteString("model_id", modelId);
            w.WriteString("evaluation_name", $"{evalName} ({e.Mode}): {c.Group}");
            w.WriteString("evaluation_result_id", ResultId(e.Mode, c.Group));
            w.WriteString("sample_id", c.Qkey);
            w.WriteString("sample_hash", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(raw + "\n" + reference))));
            w.WriteString("interaction_type", "single_turn");
            w.WriteStartObject("input");
            w.WriteString("raw", raw.ToString());
            w.WriteStartArray("reference");
            w.WriteStringValue(reference);
            w.WriteEndArray();
            w.WriteStartArray("choices");
            foreach (var o in item.Options.Take(item.Ordinal.Count)) w.WriteStringValue(o);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartObject("output");
            w.WriteStartArray("raw");
            w.WriteStringValue(predicted);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartArray("answer_attribution");
            w.WriteStartObject();
            w.WriteNumber("turn_idx", 0);
            w.WriteString("source", "output.raw");
            w.WriteString("extracted_value", predicted);
            w.WriteString("extraction_method", e.Mode == SurveyModes.Persona
                ? "census-weighted mean of the group's personas' answer distributions"
                : "the answer distribution as scored");
            w.WriteBoolean("is_terminal", true);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartObject("evaluation");
            w.WriteNumber("score", Math.Round(c.Distance, 10));
            // "Correct" has no meaning for a distribution; nearer than the population prior is the claim a cell supports.
            w.WriteBoolean("is_correct", double.IsFinite(c.Prior) && c.Distance < c.Prior);
            w.WriteEndObject();
            w.WriteStartObject("metadata");
            w.WriteString("qkey", c.Qkey);
            w.WriteString("attribute", c.Group.Attribute);
            w.WriteString("group", c.Group.Group);
            w.WriteString("mode", e.Mode);
            if (elicitation is not null) w.WriteString("elicitation", elicitation);
            w.WriteString("ordinal", Shares(item.Ordinal));
            w.WriteString("prior_distance", S(c.Prior));
            w.WriteString("uniform_distance", S(c.Uniform));
            w.WriteString("is_correct_means", "distance below the population prior's");
            w.WriteString("simulated", simulated ? "true" : "false");
            w.WriteEndObject();
            w.WriteEndObject();
        }
        s.WriteByte((byte)'\n');
    }

    /// <summary>Whether a file is a record this class writes ({uuid}.json or {uuid}.jsonl, lower-case hex).</summary>
    public static bool IsRecordFile(string path) =>
        System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(path), "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.jsonl?$");

    /// <summary>The evaluation_result_id of a mode's overall result (group null) or of one group's: the join key of the instance rows.</summary>
    public static string ResultId(string mode, SurveyGroup? g) => g is { } x ? $"{mode}/{x.Attribute}={x.Group}" : $"{mode}/overall";

    private static string Shares(IReadOnlyList<double> v) => "[" + string.Join(",", v.Select(x => Math.Round(x, 6).ToString("R", Inv))) + "]";

    private static string S(double? v) => v is { } x && double.IsFinite(x) ? Math.Round(x, 6).ToString("R", Inv) : "null";

    private static byte[] Fingerprint(SurveySet survey, IReadOnlyList<SurveyEeeEntry> entries, string modelId, string? elicitation, bool simulated)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => h.AppendData(Encoding.UTF8.GetBytes(text + "\u001f"));
        Add(Path.GetFileName(survey.Source));
        Add(modelId);
        Add(elicitation ?? "");
        Add(simulated ? "simulated" : "");
        foreach (var e in entries)
        {
            Add(e.Mode);
            foreach (var c in e.Results.Cells) Add($"{c.Qkey}|{c.Group}|{Shares(c.Predicted)}");
        }
        return h.GetHashAndReset();
    }

    /// <summary>A name-based UUID (RFC 9562 version 8, custom) from the content's SHA-256.</summary>
    private static string Uuid(byte[] hash)
    {
        var b = hash.AsSpan(0, 16).ToArray();
        b[6] = (byte)((b[6] & 0x0F) | 0x80);
        b[8] = (byte)((b[8] & 0x3F) | 0x80);
        var hex = Convert.ToHexStringLower(b);
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }
}
