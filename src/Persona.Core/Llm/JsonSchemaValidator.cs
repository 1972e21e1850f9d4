using System.Text.Json;

namespace Persona.Llm;

/// <summary>
/// Validates a JSON value against the subset of JSON Schema the pipeline uses: type (or a list of
/// types), properties, required, additionalProperties: false, enum, const, items, minItems/maxItems,
/// minLength/maxLength, minimum/maximum, anyOf. Unknown keywords are ignored (not rejected).
/// </summary>
public static class JsonSchemaValidator
{
    /// <summary>Errors as "path: what is wrong"; empty when valid.</summary>
    public static IReadOnlyList<string> Validate(JsonElement value, JsonElement schema)
    {
        var errors = new List<string>();
        Check(value, schema, "$", errors);
        return errors;
    }

    private static void Check(JsonElement v, JsonElement s, string path, List<string> errors)
    {
        if (s.ValueKind == JsonValueKind.True || s.ValueKind != JsonValueKind.Object) return;

        if (s.TryGetProperty("anyOf", out var anyOf) && anyOf.ValueKind == JsonValueKind.Array)
        {
            var ok = false;
            foreach (var alt in anyOf.EnumerateArray())
            {
                var sub = new List<string>();
                Check(v, alt, path, sub);
                if (sub.Count == 0) { ok = true; break; }
            }
            if (!ok) errors.Add($"{path}: matches none of the anyOf alternatives");
        }

        if (s.TryGetProperty("type", out var type))
        {
            var matched = false;
            var names = new List<string>();
            if (type.ValueKind == JsonValueKind.String) { names.Add(type.GetString()!); }
            else if (type.ValueKind == JsonValueKind.Array) foreach (var t in type.EnumerateArray()) if (t.ValueKind == JsonValueKind.String) names.Add(t.GetString()!);
            foreach (var n in names) matched |= IsType(v, n);
            if (names.Count > 0 && !matched)
            {
                errors.Add($"{path}: expected {string.Join(" or ", names)}, got {Describe(v)}");
                return;
            }
        }

        if (s.TryGetProperty("enum", out var en) && en.ValueKind == JsonValueKind.Array)
        {
            var found = false;
            foreach (var option in en.EnumerateArray()) if (JsonElement.DeepEquals(option, v)) { found = true; break; }
            if (!found) errors.Add($"{path}: {Truncate(v.GetRawText())} is not one of {Truncate(en.GetRawText())}");
        }
        if (s.TryGetProperty("const", out var cst) && !JsonElement.DeepEquals(cst, v))
            errors.Add($"{path}: expected {Truncate(cst.GetRawText())}");

        switch (v.ValueKind)
        {
            case JsonValueKind.Object:
                var props = s.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
                if (s.TryGetProperty("required", out var req) && req.ValueKind == JsonValueKind.Array)
                    foreach (var r in req.EnumerateArray())
                        if (r.ValueKind == JsonValueKind.String && !v.TryGetProperty(r.GetString()!, out _))
                            errors.Add($"{path}: missing required property '{r.GetString()}'");
                var closed = s.TryGetProperty("additionalProperties", out var ap) && ap.ValueKind == JsonValueKind.False;
                foreach (var prop in v.EnumerateObject())
                {
                    if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(prop.Name, out var ps))
                        Check(prop.Value, ps, $"{path}.{prop.Name}", errors);
                    else if (closed)
                        errors.Add($"{path}: unexpected property '{prop.Name}'");
                    else if (ap.ValueKind == JsonValueKind.Object)
                        Check(prop.Value, ap, $"{path}.{prop.Name}", errors);
                }
                break;
            case JsonValueKind.Array:
                var count = v.GetArrayLength();
                if (s.TryGetProperty("minItems", out var mi) && mi.TryGetInt32(out var min) && count < min) errors.Add($"{path}: {count} items, at least {min} expected");
                if (s.TryGetProperty("maxItems", out var ma) && ma.TryGetInt32(out var max) && count > max) errors.Add($"{path}: {count} items, at most {max} expected");
                if (s.TryGetProperty("items", out var items))
                {
                    var i = 0;
                    foreach (var item in v.EnumerateArray()) Check(item, items, $"{path}[{i++}]", errors);
                }
                break;
            case JsonValueKind.String:
                var len = v.GetString()!.Length;
                if (s.TryGetProperty("minLength", out var mnl) && mnl.TryGetInt32(out var minL) && len < minL) errors.Add($"{path}: string shorter than {minL}");
                if (s.TryGetProperty("maxLength", out var mxl) && mxl.TryGetInt32(out var maxL) && len > maxL) errors.Add($"{path}: string longer than {maxL}");
                break;
            case JsonValueKind.Number:
                var d = v.GetDouble();
                if (s.TryGetProperty("minimum", out var mn) && mn.ValueKind == JsonValueKind.Number && d < mn.GetDouble()) errors.Add($"{path}: {d} is below the minimum {mn.GetDouble()}");
                if (s.TryGetProperty("maximum", out var mx) && mx.ValueKind == JsonValueKind.Number && d > mx.GetDouble()) errors.Add($"{path}: {d} is above the maximum {mx.GetDouble()}");
                break;
        }
    }

    private static bool IsType(JsonElement v, string type) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && Math.Floor(d) == d,
        _ => true,
    };

    private static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => v.ValueKind.ToString().ToLowerInvariant(),
    };

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
