using System.Text.Json;

namespace Persona.Cli.Tests;

/// <summary>
/// The rules of Every Eval Ever's schema 0.2.2 (evaleval/every_eval_ever, every_eval_ever/schemas/eval.schema.json
/// and instance_level_eval.schema.json) that our records touch, written out by hand from the published schema: the
/// required fields at every level, the enums, the top-level additionalProperties:false, the string-only
/// additional_details maps, the continuous score's min/max, and single_turn's required output. (The schema file
/// itself is not bundled: it is the project's to publish, not ours to copy.) Each rule returns its violation, so a
/// test can also show that a broken record is caught.
/// </summary>
internal static class EveryEvalEverRules
{
    private static readonly string[] AggregateTop =
        ["schema_version", "evaluation_id", "evaluation_timestamp", "retrieved_timestamp", "source_metadata", "eval_library", "model_info", "evaluation_results", "detailed_evaluation_results", "dedupe_identity"];

    public static List<string> Aggregate(JsonElement r)
    {
        var errors = new List<string>();
        void Need(JsonElement o, string where, params string[] names)
        {
            foreach (var n in names)
                if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty(n, out _)) errors.Add($"{where}: required '{n}' missing");
        }
        void Str(JsonElement o, string where, string name)
        {
            if (o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.String) errors.Add($"{where}.{name}: not a string");
        }
        void Enum(JsonElement o, string where, string name, params string[] allowed)
        {
            if (o.TryGetProperty(name, out var v) && (v.ValueKind != JsonValueKind.String || !allowed.Contains(v.GetString()))) errors.Add($"{where}.{name}: '{v}' not in [{string.Join(", ", allowed)}]");
        }
        void StringMap(JsonElement o, string where, string name)
        {
            if (!o.TryGetProperty(name, out var m)) return;
            if (m.ValueKind != JsonValueKind.Object) { errors.Add($"{where}.{name}: not an object"); return; }
            foreach (var p in m.EnumerateObject())
                if (p.Value.ValueKind != JsonValueKind.String) errors.Add($"{where}.{name}.{p.Name}: values must be strings");
        }

        Need(r, "$", "schema_version", "evaluation_id", "retrieved_timestamp", "source_metadata", "model_info", "eval_library", "evaluation_results");
        foreach (var p in r.EnumerateObject())
            if (!AggregateTop.Contains(p.Name)) errors.Add($"$: additional property '{p.Name}' not allowed");
        foreach (var s in new[] { "schema_version", "evaluation_id", "retrieved_timestamp" }) Str(r, "$", s);
        if (r.TryGetProperty("source_metadata", out var sm))
        {
            Need(sm, "source_metadata", "source_type", "source_organization_name", "evaluator_relationship");
            Enum(sm, "source_metadata", "source_type", "documentation", "evaluation_run");
            Enum(sm, "source_metadata", "evaluator_relationship", "first_party", "third_party", "collaborative", "other");
            StringMap(sm, "source_metadata", "additional_details");
        }
        if (r.TryGetProperty("eval_library", out var el)) { Need(el, "eval_library", "name", "version"); StringMap(el, "eval_library", "additional_details"); }
        if (r.TryGetProperty("model_info", out var mi)) { Need(mi, "model_info", "name", "id"); Str(mi, "model_info", "name"); Str(mi, "model_info", "id"); StringMap(mi, "model_info", "additional_details"); }
        if (r.TryGetProperty("evaluation_results", out var results))
        {
            if (results.ValueKind != JsonValueKind.Array) errors.Add("evaluation_results: not an array");
            else
            {
                var i = 0;
                foreach (var e in results.EnumerateArray())
                {
                    var where = $"evaluation_results[{i++}]";
                    Need(e, where, "evaluation_name", "source_data", "metric_config", "score_details");
                    if (e.TryGetProperty("source_data", out var sd))
                    {
                        var type = sd.TryGetProperty("source_type", out var st) ? st.GetString() : null;
                        switch (type)
                        {
                            case "url":
                                Need(sd, where + ".source_data", "dataset_name", "url");
                                if (!sd.TryGetProperty("url", out var u) || u.ValueKind != JsonValueKind.Array || u.GetArrayLength() < 1) errors.Add(where + ".source_data.url: needs 1+ URLs");
                                break;
                            case "hf_dataset": Need(sd, where + ".source_data", "dataset_name", "hf_repo"); break;
                            case "other": Need(sd, where + ".source_data", "dataset_name"); break;
                            default: errors.Add($"{where}.source_data: source_type '{type}' matches none of url, hf_dataset, other"); break;
                        }
                        StringMap(sd, where + ".source_data", "additional_details");
                    }
                    if (e.TryGetProperty("metric_config", out var mc))
                    {
                        Need(mc, where + ".metric_config", "lower_is_better");
                        if (mc.TryGetProperty("lower_is_better", out var lib) && lib.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) errors.Add(where + ".metric_config.lower_is_better: not a boolean");
                        Enum(mc, where + ".metric_config", "score_type", "binary", "continuous", "levels");
                        if (mc.TryGetProperty("score_type", out var sct) && sct.GetString() == "continuous") Need(mc, where + ".metric_config", "min_score", "max_score");
                        if (mc.TryGetProperty("score_type", out var sct2) && sct2.GetString() == "levels") Need(mc, where + ".metric_config", "level_names", "has_unknown_level");
                        StringMap(mc, where + ".metric_config", "additional_details");
                    }
                    if (e.TryGetProperty("score_details", out var sc))
                    {
                        Need(sc, where + ".score_details", "score");
                        if (sc.TryGetProperty("score", out var v) && v.ValueKind != JsonValueKind.Number) errors.Add(where + ".score_details.score: not a number");
                        StringMap(sc, where + ".score_details", "details");
                        if (sc.TryGetProperty("uncertainty", out var un))
                        {
                            if (un.TryGetProperty("confidence_interval", out var ci))
                            {
                                Need(ci, where + ".uncertainty.confidence_interval", "lower", "upper");
                                if (ci.TryGetProperty("confidence_level", out var cl) && cl.GetDouble() is < 0 or > 1) errors.Add(where + ".confidence_level: outside 0..1");
                            }
                            foreach (var n in new[] { "num_samples", "num_bootstrap_samples" })
                                if (un.TryGetProperty(n, out var x) && (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out _))) errors.Add($"{where}.uncertainty.{n}: not an integer");
                        }
                    }
                }
            }
        }
        if (r.TryGetProperty("detailed_evaluation_results", out var der))
        {
            Need(der, "detailed_evaluation_results", "format", "file_path");
            Enum(der, "detailed_evaluation_results", "format", "jsonl");
            Enum(der, "detailed_evaluation_results", "hash_algorithm", "sha256", "md5");
        }
        return errors;
    }

    private static readonly string[] InstanceTop =
        ["schema_version", "evaluation_id", "model_id", "evaluation_name", "evaluation_result_id", "sample_id", "sample_hash", "interaction_type", "input", "output",
         "messages", "answer_attribution", "evaluation", "token_usage", "performance", "error", "metadata"];

    public static List<string> Instance(JsonElement r)
    {
        var errors = new List<string>();
        foreach (var n in new[] { "schema_version", "evaluation_id", "model_id", "evaluation_name", "sample_id", "interaction_type", "input", "answer_attribution", "evaluation" })
            if (!r.TryGetProperty(n, out _)) errors.Add($"required '{n}' missing");
        foreach (var p in r.EnumerateObject())
            if (!InstanceTop.Contains(p.Name)) errors.Add($"additional property '{p.Name}' not allowed");
        foreach (var n in new[] { "schema_version", "evaluation_id", "model_id", "evaluation_name", "sample_id" })
            if (r.TryGetProperty(n, out var v) && v.ValueKind != JsonValueKind.String) errors.Add($"{n}: not a string");
        var type = r.TryGetProperty("interaction_type", out var it) ? it.GetString() : null;
        if (type is not ("single_turn" or "multi_turn" or "agentic")) errors.Add($"interaction_type '{type}' not allowed");
        if (r.TryGetProperty("input", out var input))
        {
            if (!input.TryGetProperty("raw", out var raw) || raw.ValueKind != JsonValueKind.String) errors.Add("input.raw: required string");
            if (!input.TryGetProperty("reference", out var reference) || reference.ValueKind != JsonValueKind.Array || reference.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                errors.Add("input.reference: required array of strings");
            if (input.TryGetProperty("choices", out var ch) && ch.ValueKind == JsonValueKind.Array && ch.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String)) errors.Add("input.choices: strings only");
        }
        if (type == "single_turn")
        {
            if (!r.TryGetProperty("output", out var o) || o.ValueKind != JsonValueKind.Object) errors.Add("single_turn: output must be an object");
            else if (!o.TryGetProperty("raw", out var oraw) || oraw.ValueKind != JsonValueKind.Array || oraw.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String)) errors.Add("output.raw: required array of strings");
            if (r.TryGetProperty("messages", out var m) && m.ValueKind != JsonValueKind.Null) errors.Add("single_turn: messages must be null");
        }
        if (r.TryGetProperty("answer_attribution", out var aa))
        {
            if (aa.ValueKind != JsonValueKind.Array) errors.Add("answer_attribution: not an array");
            else foreach (var a in aa.EnumerateArray())
                    foreach (var n in new[] { "turn_idx", "source", "extracted_value", "extraction_method", "is_terminal" })
                        if (!a.TryGetProperty(n, out _)) errors.Add($"answer_attribution: required '{n}' missing");
        }
        if (r.TryGetProperty("evaluation", out var ev))
        {
            if (!ev.TryGetProperty("score", out var s) || s.ValueKind != JsonValueKind.Number) errors.Add("evaluation.score: required number");
            if (!ev.TryGetProperty("is_correct", out var c) || c.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) errors.Add("evaluation.is_correct: required boolean");
        }
        if (r.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object)
            foreach (var p in md.EnumerateObject())
                if (p.Value.ValueKind != JsonValueKind.String) errors.Add($"metadata.{p.Name}: values must be strings");
        return errors;
    }
}
