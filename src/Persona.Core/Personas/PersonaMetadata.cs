using System.Text.Json;
using System.Text.Json.Nodes;
using Persona.Engine;

namespace Persona.Personas;

/// <summary>
/// The persona a sample is about, as typed data logged with the sample: its id, its attributes by
/// display key (in the persona's order), its census weight and its split. Group tables, census
/// weights and simulator hints read this, so nothing parses the persona's text back.
/// </summary>
public sealed record PersonaMetadata(string Id, IReadOnlyDictionary<string, string> Attributes, double Weight, string? Split)
{
    /// <summary>The sample data field that holds it.</summary>
    public const string Field = "persona_metadata";

    public static PersonaMetadata Of(PersonaInput p) => new(p.Id, p.Attributes, p.Weight, p.Split);

    /// <summary>The JSON object logged in the sample's data (attributes as an object in the persona's order).</summary>
    public JsonObject ToJson()
    {
        var attributes = new JsonObject();
        foreach (var (k, v) in Attributes) attributes[k] = v;
        return new JsonObject { ["id"] = Id, ["attributes"] = attributes, ["weight"] = Weight, ["split"] = Split };
    }

    /// <summary>
    /// The sample's persona, or null when it has none. Logs written before the metadata existed
    /// carry only the persona's text and weight: for those (and only those) the text is parsed, so
    /// old stores still open.
    /// </summary>
    public static PersonaMetadata? Read(SampleRecord s)
    {
        if (s.Field(Field) is { ValueKind: JsonValueKind.Object } m) return FromJson(m, s.Input("persona_id") ?? "");
        var text = s.Field("persona")?.GetString();
        if (text is null) return null;
        IReadOnlyDictionary<string, string> attributes;
        // Foreign format: a sample log written before the metadata existed holds the persona only as 'key: value' text.
        try { attributes = PersonaInputs.ParseText(text, "sample " + s.Id); }
        catch (PersonaException) { attributes = new PersonaInputs.OrderedAttributes(); }
        var weight = s.Field("persona_weight") is { ValueKind: JsonValueKind.Number } w ? w.GetDouble() : 1;
        return new PersonaMetadata(s.Input("persona_id") ?? "", attributes, weight, null);
    }

    private static PersonaMetadata FromJson(JsonElement m, string fallbackId)
    {
        var attributes = new PersonaInputs.OrderedAttributes();
        if (m.TryGetProperty("attributes", out var a) && a.ValueKind == JsonValueKind.Object)
            foreach (var p in a.EnumerateObject())
                if (p.Value.ValueKind == JsonValueKind.String) attributes.TryAdd(p.Name, p.Value.GetString()!);
        var id = m.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : fallbackId;
        var weight = m.TryGetProperty("weight", out var w) && w.ValueKind == JsonValueKind.Number ? w.GetDouble() : 1;
        var split = m.TryGetProperty("split", out var sp) && sp.ValueKind == JsonValueKind.String ? sp.GetString() : null;
        return new PersonaMetadata(id, attributes, weight, split);
    }
}
