using Persona.Census;
using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Persona.Personas;

/// <summary>
/// The canonical JSON form of a persona (contract 2): keys in contract order, compact, UTF-8,
/// numbers formatted invariantly. The id is the hash of exactly the bytes written without it.
/// </summary>
public static class PersonaJson
{
    // Labels are plain text for people and LMs; only JSON-mandatory characters are escaped (no
    // HTML escaping of '+' or non-ASCII letters), which keeps files readable and byte-stable.
    private static readonly JsonWriterOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };

    /// <summary>"p_" + first 16 hex chars of SHA-256 over the canonical JSON of everything but the id.</summary>
    public static string ComputeId(PersonaRecord persona)
    {
        // Every decoded persona is hashed, so the scratch buffer and writer are reused per thread.
        var buffer = t_scratch ??= new ArrayBufferWriter<byte>(2048);
        buffer.ResetWrittenCount();
        WriteBody(buffer, persona);
        return IdOf(buffer.WrittenSpan);
    }

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_scratch;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    // Keys are written for every persona; encoding them once saves transcoding and escaping checks.
    private static readonly JsonEncodedText[] CensusLabelKeys = PersonaRecord.CensusLabels.Select(l => JsonEncodedText.Encode(l.Key)).ToArray();
    private static readonly JsonEncodedText[] AfterIncomeKeys = PersonaRecord.CensusLabelsAfterIncome.Select(l => JsonEncodedText.Encode(l.Key)).ToArray();
    private static readonly JsonEncodedText[] TraitKeys = PersonaRecord.TraitLabels.Select(l => JsonEncodedText.Encode(l.Key)).ToArray();

    private static string IdOf(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(body, hash);
        return "p_" + Convert.ToHexStringLower(hash[..8]);
    }

    /// <summary>Returns the persona with its id recomputed from its content.</summary>
    public static PersonaRecord WithId(PersonaRecord persona) => persona with { Id = ComputeId(persona) };

    /// <summary>
    /// Writes one JSON object (no newline). The id is taken from <paramref name="persona"/>; use
    /// <see cref="WriteWithComputedId"/> to hash and write in one pass.
    /// </summary>
    public static void Write(IBufferWriter<byte> output, PersonaRecord persona)
    {
        var body = t_scratch ??= new ArrayBufferWriter<byte>(2048);
        body.ResetWrittenCount();
        WriteBody(body, persona);
        Splice(output, persona.Id, body.WrittenSpan);
    }

    /// <summary>Computes the id from the body bytes and writes the full object; returns the id.</summary>
    public static string WriteWithComputedId(IBufferWriter<byte> output, PersonaRecord persona, ArrayBufferWriter<byte> scratch)
    {
        scratch.ResetWrittenCount();
        WriteBody(scratch, persona);
        var id = IdOf(scratch.WrittenSpan);
        Splice(output, id, scratch.WrittenSpan);
        return id;
    }

    public static string Serialize(PersonaRecord persona)
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        Write(buffer, persona);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // {"id":"p_...",  +  the body without its opening brace. Ids are ASCII hex, so no escaping.
    private static void Splice(IBufferWriter<byte> output, string id, ReadOnlySpan<byte> body)
    {
        if (body.Length < 2 || body[0] != (byte)'{')
            throw new InvalidOperationException("persona body must be a JSON object");
        output.Write("{\"id\":\""u8);
        var idBytes = output.GetSpan(id.Length);
        var written = Encoding.ASCII.GetBytes(id, idBytes);
        output.Advance(written);
        output.Write(body.Length > 2 ? "\","u8 : "\""u8);
        output.Write(body[1..]);
    }

    private static void WriteBody(IBufferWriter<byte> output, PersonaRecord p)
    {
        var w = t_writer;
        if (w is null) t_writer = w = new Utf8JsonWriter(output, Options);
        else w.Reset(output);
        w.WriteStartObject();
        w.WriteNumber("age"u8, p.Age);
        WriteStrings(w, PersonaRecord.CensusLabels, CensusLabelKeys, p);
        if (p.Income is { } income) w.WriteNumber("income"u8, income); else w.WriteNull("income"u8);
        WriteStrings(w, PersonaRecord.CensusLabelsAfterIncome, AfterIncomeKeys, p);
        w.WritePropertyName("big_five_scores"u8);
        WriteBigFive(w, p.BigFiveScores);
        WriteStrings(w, PersonaRecord.TraitLabels, TraitKeys, p);
        w.WritePropertyName("census"u8);
        WriteCensus(w, p.Census);
        w.WritePropertyName("traits"u8);
        WriteTraits(w, p.Traits);
        if (p.Enrichment is { } en)
        {
            w.WritePropertyName("enrichment");
            WriteEnrichment(w, en);
        }
        w.WriteEndObject();
        w.Flush();
    }

    private static void WriteStrings(Utf8JsonWriter w,
        (string Key, Func<PersonaRecord, string?> Get, Func<PersonaRecord, string?, PersonaRecord> With)[] fields,
        JsonEncodedText[] keys, PersonaRecord p)
    {
        for (var i = 0; i < fields.Length; i++)
        {
            if (fields[i].Get(p) is { } value) w.WriteString(keys[i], value); else w.WriteNull(keys[i]);
        }
    }

    internal static void WriteEnrichment(Utf8JsonWriter w, PersonaEnrichment e)
    {
        w.WriteStartObject();
        w.WriteString("model", e.Model);
        w.WriteString("template_version", e.TemplateVersion);
        w.WriteStartArray("categories");
        foreach (var c in e.Categories) w.WriteStringValue(c);
        w.WriteEndArray();
        w.WriteStartArray("fields");
        foreach (var f in e.Fields) w.WriteStringValue(f);
        w.WriteEndArray();
        w.WriteNumber("attempt", e.Attempt);
        w.WriteBoolean("simulated", e.Simulated);
        WriteString(w, "check_model", e.CheckModel);
        WriteString(w, "check_template_version", e.CheckTemplateVersion);
        w.WriteEndObject();
    }

    internal static PersonaEnrichment? ReadEnrichment(JsonElement? e, string where)
    {
        if (e is not { } x) return null;
        if (x.ValueKind != JsonValueKind.Object) throw Bad(where, "enrichment", "an object or null");
        static IReadOnlyList<string> Strings(JsonElement o, string key, string where) =>
            Required(o, key, where) is { ValueKind: JsonValueKind.Array } a
                ? a.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? Shared(v.GetString()!) : throw Bad(where, "enrichment." + key, "an array of strings")).ToArray()
                : throw Bad(where, "enrichment." + key, "an array of strings");
        return new PersonaEnrichment(
            Shared(RequiredString(x, "model", where)),
            Shared(RequiredString(x, "template_version", where)),
            Strings(x, "categories", where),
            Strings(x, "fields", where),
            TryInt32(Required(x, "attempt", where), out var at) ? at : throw Bad(where, "enrichment.attempt", "an integer"),
            Required(x, "simulated", where).ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Bad(where, "enrichment.simulated", "a boolean"),
            },
            Shared(OptionalString(x, "check_model", where)),
            Shared(OptionalString(x, "check_template_version", where)));
    }

    private static void WriteString(Utf8JsonWriter w, string key, string? value)
    {
        if (value is null) w.WriteNull(key); else w.WriteString(key, value);
    }

    internal static void WriteBigFive(Utf8JsonWriter w, BigFive? b)
    {
        if (b is null) { w.WriteNullValue(); return; }
        w.WriteStartObject();
        w.WriteString("openness", b.Openness);
        w.WriteString("conscientiousness", b.Conscientiousness);
        w.WriteString("extraversion", b.Extraversion);
        w.WriteString("agreeableness", b.Agreeableness);
        w.WriteString("neuroticism", b.Neuroticism);
        w.WriteEndObject();
    }

    internal static void WriteCensus(Utf8JsonWriter w, PersonaCensus c)
    {
        w.WriteStartObject();
        w.WriteString("vintage", c.Vintage);
        w.WriteString("serialno", c.SerialNo);
        w.WriteNumber("sporder", c.SpOrder);
        w.WriteString("state", c.State);
        WriteString(w, "puma", c.Puma);
        w.WritePropertyName("weight");
        w.WriteRawValue(FormatDouble(c.Weight), skipInputValidation: true);
        w.WritePropertyName("codes");
        w.WriteStartObject();
        var codes = c.Codes;
        for (var i = 0; i < codes.Count; i++)
        {
            var code = codes[i];
            if (code.Number is { } n) w.WriteNumber(code.Variable, n);
            else if (code.Text is { } t) w.WriteString(code.Variable, t);
            else w.WriteNull(code.Variable);
        }
        w.WriteEndObject();
        if (c.Derived is { Count: > 0 } derived)
        {
            w.WritePropertyName("derived"u8);
            w.WriteStartObject();
            foreach (var (attribute, how) in derived) w.WriteString(attribute, how);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    internal static void WriteTraits(Utf8JsonWriter w, PersonaTraits t)
    {
        w.WriteStartObject();
        WriteString(w, "source", t.Source);
        w.WriteNumber("seed", t.Seed);
        w.WriteEndObject();
    }

    /// <summary>Shortest round-trip form, always with a decimal point ("123.0") so weights read as doubles.</summary>
    internal static string FormatDouble(double d)
    {
        if (!double.IsFinite(d))
            throw new ArgumentOutOfRangeException(nameof(d), d, "weights are finite");
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') ? s : s + ".0";
    }

    internal static string ToJson(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, Options)) write(w);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // ---- reading ----

    /// <summary>Parses one persona object; <paramref name="where"/> names the file and line for errors.</summary>
    public static PersonaRecord Parse(ReadOnlySpan<byte> json, string where)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            return FromElement(doc.RootElement, where);
        }
        catch (JsonException ex)
        {
            throw new PersonaException($"{where}: not a valid JSON persona: {ex.Message}", ex);
        }
    }

    internal static PersonaRecord FromElement(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new PersonaException($"{where}: expected a JSON object per persona.");
        var p = new PersonaRecord
        {
            Id = RequiredString(e, "id", where),
            Age = TryInt32(Required(e, "age", where), out var age) ? age : throw Bad(where, "age", "an integer"),
            Income = Optional(e, "income") is { } inc
                ? TryInt64(inc, out var i) ? i : throw Bad(where, "income", "an integer or null")
                : null,
            BigFiveScores = ReadBigFive(Optional(e, "big_five_scores"), where),
            Census = ReadCensus(Required(e, "census", where), where),
            Traits = ReadTraits(Required(e, "traits", where), where),
            Enrichment = ReadEnrichment(Optional(e, "enrichment"), where),
        };
        foreach (var (key, _, with) in PersonaRecord.CensusLabels.Concat(PersonaRecord.CensusLabelsAfterIncome).Concat(PersonaRecord.TraitLabels))
            p = with(p, PersonaEnricher.FieldKeys.Contains(key) ? OptionalString(e, key, where) : Shared(OptionalString(e, key, where)));
        return p;
    }

    internal static BigFive? ReadBigFive(JsonElement? e, string where)
    {
        if (e is not { } b) return null;
        if (b.ValueKind != JsonValueKind.Object) throw Bad(where, "big_five_scores", "an object or null");
        return new BigFive(Shared(RequiredString(b, "openness", where)), Shared(RequiredString(b, "conscientiousness", where)),
            Shared(RequiredString(b, "extraversion", where)), Shared(RequiredString(b, "agreeableness", where)), Shared(RequiredString(b, "neuroticism", where)));
    }

    internal static PersonaCensus ReadCensus(JsonElement c, string where)
    {
        if (c.ValueKind != JsonValueKind.Object) throw Bad(where, "census", "an object");
        var codesEl = Required(c, "codes", where);
        if (codesEl.ValueKind != JsonValueKind.Object) throw Bad(where, "census.codes", "an object");
        var codes = new List<PumsCode>();
        foreach (var prop in codesEl.EnumerateObject())
        {
            codes.Add(prop.Value.ValueKind switch
            {
                JsonValueKind.Number when TryInt64(prop.Value, out var n) => new PumsCode(Shared(prop.Name), n, null),
                JsonValueKind.String => new PumsCode(Shared(prop.Name), null, Shared(prop.Value.GetString())),
                JsonValueKind.Null => PumsCode.Blank(Shared(prop.Name)),
                _ => throw Bad(where, "census.codes." + prop.Name, "an integer, a string or null"),
            });
        }
        List<KeyValuePair<string, string>>? derived = null;
        if (Optional(c, "derived") is { } d)
        {
            if (d.ValueKind != JsonValueKind.Object) throw Bad(where, "census.derived", "an object of strings or null");
            derived = new();
            foreach (var prop in d.EnumerateObject())
                derived.Add(new(Shared(prop.Name), prop.Value.ValueKind == JsonValueKind.String
                    ? Shared(prop.Value.GetString()!)
                    : throw Bad(where, "census.derived." + prop.Name, "a string")));
        }
        return new PersonaCensus(
            Shared(RequiredString(c, "vintage", where)),
            RequiredString(c, "serialno", where),
            TryInt32(Required(c, "sporder", where), out var sp) ? sp : throw Bad(where, "census.sporder", "an integer"),
            Shared(RequiredString(c, "state", where)),
            Shared(OptionalString(c, "puma", where)),
            TryDouble(Required(c, "weight", where), out var w) ? w : throw Bad(where, "census.weight", "a number"),
            codes,
            derived);
    }

    internal static PersonaTraits ReadTraits(JsonElement t, string where)
    {
        if (t.ValueKind != JsonValueKind.Object) throw Bad(where, "traits", "an object");
        return new PersonaTraits(Shared(OptionalString(t, "source", where)),
            TryInt64(Required(t, "seed", where), out var s) ? s : throw Bad(where, "traits.seed", "an integer"));
    }

    // Labels, code names, provenance notes and model names repeat across personas (a census
    // dictionary has a few thousand labels): one string each instead of one per persona keeps a
    // population read back small (about a third of a read persona was repeated text). Bounded,
    // so an odd file of free text in label fields cannot grow it without end.
    private static readonly StringPool s_shared = new(limit: 1 << 16);

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(s))]
    internal static string? Shared(string? s) => s_shared.Get(s);

    private static JsonElement Required(JsonElement e, string key, string where) =>
        e.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null
            ? v
            : throw new PersonaException($"{where}: missing field \"{key}\".");

    // JsonElement.TryGet* throw on non-numbers; these fail instead, so callers can report the field.
    private static bool TryInt32(JsonElement e, out int v)
    {
        v = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out v);
    }

    private static bool TryInt64(JsonElement e, out long v)
    {
        v = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out v);
    }

    private static bool TryDouble(JsonElement e, out double v)
    {
        v = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out v);
    }

    private static JsonElement? Optional(JsonElement e, string key) =>
        e.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static string RequiredString(JsonElement e, string key, string where) =>
        Required(e, key, where) is { ValueKind: JsonValueKind.String } v ? v.GetString()! : throw Bad(where, key, "a string");

    private static string? OptionalString(JsonElement e, string key, string where) =>
        Optional(e, key) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } v => v.GetString(),
            _ => throw Bad(where, key, "a string or null"),
        };

    private static PersonaException Bad(string where, string key, string expected) =>
        new($"{where}: field \"{key}\" must be {expected}.");
}
