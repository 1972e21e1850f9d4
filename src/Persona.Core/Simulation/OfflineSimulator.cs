using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

using Persona.Llm;

namespace Persona.Simulation;

/// <summary>
/// The <c>offline</c> provider: a deterministic stand-in for a model, for dry runs and tests. Its
/// output is a pure function of (seed, world, messages, options). Everything it returns is
/// labelled: ModelId "offline-simulator" and AdditionalProperties["simulated"] = true.
///
/// With a JSON schema it returns a value valid for that schema: enums and booleans are choices,
/// numbers fall within minimum/maximum, strings come from a seeded word generator shaped by the
/// property name (names, ids, free-text fields). Without a schema it returns plain filler text
/// built from the prompt's own words, bounded by max_tokens.
///
/// Planted truth: when a stage says what it is doing through a <see cref="SimulationHint"/> in the
/// request metadata, the decision field the hint names is drawn from the <see cref="SimulatedWorld"/>
/// instead of a hash, so analyses can be checked against known effects:
/// <list type="bullet">
/// <item><c>preference_judge</c> (options <c>persona_key</c>, <c>prompt_key</c>, <c>order</c>,
/// <c>first</c> = personalised|generic, <c>first_length</c>, <c>second_length</c>, <c>field</c>): the
/// field's first enum value means "the first answer". Faithful with P = fidelity(persona): the
/// persona's true preference; otherwise position and length bias.</item>
/// <item><c>bench_critic</c> (options <c>mode</c>, <c>persona_key</c>, <c>prompt_key</c>, <c>sample</c>,
/// <c>field</c> = needs_revision, <c>answer_text</c>): false with P = pass(mode, persona, the answer's marker words).</item>
/// <item><c>survey_answer</c> (options <c>qkey</c>, <c>ranks</c>, <c>fields</c>): a distribution over a
/// survey question's options from the world's base and group shifts (<see cref="SimulatedWorld.SurveyDistribution"/>).</item>
/// <item><c>survey_sample</c> (the same options and <c>respondent</c>, <c>sample</c>): one answer drawn from that distribution.</item>
/// <item><c>survey_logprobs</c> (the same options, with log-probabilities asked for): that distribution as the first token's log-probabilities.</item>
/// <item><c>summary_judge</c> (option <c>attributes</c>, comma-separated; <c>field</c>): lists the
/// attributes dropped, each with P = summary_drop(attribute).</item>
/// </list>
/// The simulator never reads the prompt's wording to find out what a call is about.
/// </summary>
public sealed class OfflineSimulator : IChatClient
{
    public const string SimulatorModelId = "offline-simulator";

    private static readonly string[] Vocabulary =
    [
        "community", "family", "work", "income", "health", "education", "neighbors", "policy", "values", "trust",
        "fairness", "cost", "safety", "freedom", "tradition", "change", "local", "public", "private", "balance",
        "experience", "practical", "concern", "support", "responsibility", "future", "evidence", "context", "choice", "respect",
    ];
    private static readonly string[] NameParts = ["Avery", "Jordan", "Morgan", "Riley", "Casey", "Quinn", "Harper", "Rowan", "Sage", "Emerson", "Blake", "Reese"];
    private readonly Lazy<SimulatedWorld> _world;

    /// <param name="name">Empty for `offline`; NAME for `offline:NAME`, a second simulated model with its own
    /// texts (its name joins the seed) and its own planted quality (the world's bench.model_offsets),
    /// so two models under test can be compared without a server.</param>
    public OfflineSimulator(int seed = 0, Lazy<SimulatedWorld>? world = null, string name = "")
    {
        Seed = seed;
        Name = name;
        _seedText = name.Length == 0 ? seed.ToString(CultureInfo.InvariantCulture) : seed.ToString(CultureInfo.InvariantCulture) + ":" + name;
        _world = world ?? new Lazy<SimulatedWorld>(() => SimulatedWorld.Load(null));
    }

    public OfflineSimulator(int seed, SimulatedWorld world, string name = "") : this(seed, new Lazy<SimulatedWorld>(world), name) { }

    public int Seed { get; }
    /// <summary>The simulated model's name (empty for plain `offline`).</summary>
    public string Name { get; }
    private readonly string _seedText;
    public SimulatedWorld World => _world.Value;

    /// <summary>What identifies this simulator in cache keys: its name, seed and the world file's hash (plain `offline` keeps the identity it always had).</summary>
    public string Identity => $"{SimulatorModelId}{(Name.Length == 0 ? "" : ":" + Name)}(seed={Seed.ToString(CultureInfo.InvariantCulture)},world={World.Sha256[..12]})";

    /// <summary>The simulated model's name in an identity this class wrote ("" for plain offline, null for anything else).</summary>
    public static string? NameOf(string? identity)
    {
        if (identity is null || !identity.StartsWith(SimulatorModelId, StringComparison.Ordinal)) return null;
        var rest = identity.AsSpan(SimulatorModelId.Length);
        if (rest.StartsWith("(")) return "";
        var open = rest.IndexOf('(');
        return rest.StartsWith(":") && open > 1 ? rest[1..open].ToString() : null;
    }

    // ---- IChatClient ----

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var inputHash = InputDigest(list, options);
        string text;
        if (Logprobs.Requested(options) is { } top && LlmMetadata.SimulationHintOf(options) is { Task: "survey_logprobs" } logprobHint)
        {
            text = SurveyLogprobs(logprobHint, top);
        }
        else if (options?.ResponseFormat is ChatResponseFormatJson { Schema: { } schema })
        {
            var ctx = new GenContext(this, inputHash, list);
            var node = Generate(schema, "$", null, ctx);
            if (LlmMetadata.SimulationHintOf(options) is { } hint && node is JsonObject obj) Plant(hint, schema, obj);
            text = node?.ToJsonString() ?? "null";
        }
        else
        {
            text = PlainText(list, options, inputHash);
        }
        var promptChars = 0;
        foreach (var m in list) promptChars += m.Text?.Length ?? 0;
        long prompt = Math.Max(1, promptChars / 4), completion = Math.Max(1, text.Length / 4);
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = SimulatorModelId,
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = prompt, OutputTokenCount = completion, TotalTokenCount = prompt + completion },
            AdditionalProperties = new AdditionalPropertiesDictionary { [LlmMetadata.Simulated] = true },
        };
        return Task.FromResult(response);
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("Streaming is not used by the Persona runtime.");

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }

    // ---- generation ----

    private sealed record GenContext(OfflineSimulator Sim, string InputHash, IReadOnlyList<ChatMessage> Messages);

    // ---- planted decisions ----

    private void Plant(SimulationHint hint, JsonElement schema, JsonObject obj)
    {
        var w = World;
        var persona = hint.Persona;
        string personaKey = hint.Option("persona_key") ?? "", promptKey = hint.Option("prompt_key") ?? "";
        switch (hint.Task)
        {
            case "preference_judge":
            {
                var field = hint.Option("field") ?? "preferred";
                if (!TryEnum(schema, field, out var values) || values.Count < 2) return;
                var order = hint.Option("order") ?? "0";
                var personalisedFirst = hint.Option("first") == "personalised";
                bool pickFirst;
                if (w.Unit("fidelity", personaKey, promptKey, order) < w.Fidelity(persona))
                {
                    // Marker words count only when the stage passed both answers (pair verification); other choices keep the attribute-only preference.
                    var marker = hint.Option("personalised_text") is { } pt && hint.Option("generic_text") is { } gt ? w.MarkerTerm(persona, pt, gt) : 0;
                    pickFirst = w.PrefersPersonalised(persona, personaKey, promptKey, marker) == personalisedFirst;
                }
                else
                    pickFirst = w.Unit("position", personaKey, promptKey, order) < w.FirstPickProbability(hint.NumberOption("first_length") ?? 0, hint.NumberOption("second_length") ?? 0);
                obj[field] = JsonNode.Parse(values[pickFirst ? 0 : 1]);
                break;
            }
            case "bench_critic":
            {
                var field = hint.Option("field") ?? "needs_revision";
                var mode = hint.Option("mode") ?? "";
                // The same draw for every model under test: two simulated models differ by their planted offset alone (a paired comparison).
                // The answer's marker words move it by the world's bench.marker_strength (the stage passes the judged answer in the hint).
                var pass = w.Unit("critic", personaKey, promptKey, mode, hint.Option("sample") ?? "0")
                           < w.PassProbability(mode, persona, NameOf(hint.Option("answer_model")), hint.Option("answer_text"));
                obj[field] = JsonValue.Create(!pass);
                break;
            }
            case "survey_answer":
            {
                // Writes the planted distribution, 6 decimals.
                if (SurveyOptions(w, hint) is not { } options) return;
                var (fields, p) = options;
                for (var i = 0; i < fields.Length; i++) obj[fields[i]] = JsonValue.Create(Math.Round(p[i], 6));
                break;
            }
            case "survey_sample":
            {
                // One answer drawn from the same planted distribution: N samples estimate it.
                if (SurveyOptions(w, hint) is not { } options) return;
                var (fields, p) = options;
                var u = w.Unit("survey-sample", hint.Option("qkey") ?? "", hint.Option("respondent") ?? "", hint.Option("sample") ?? "0");
                var k = 0;
                for (var acc = p[0]; k < p.Length - 1 && u >= acc; acc += p[++k]) { }
                obj["answer"] = JsonValue.Create(fields[k]);
                break;
            }
            case "summary_judge":
            {
                var field = hint.Option("field") ?? "dropped";
                var dropped = new JsonArray();
                foreach (var a in (hint.Option("attributes") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    if (w.Unit("summary", personaKey, promptKey, hint.Option("mode") ?? "", a) < w.SummaryDropProbability(a)) dropped.Add(a);
                obj[field] = dropped;
                break;
            }
        }
    }

    /// <summary>
    /// <c>survey_logprobs</c> (options as <c>survey_answer</c>): the first answer token's top log-probabilities are the planted
    /// distribution's logs (options with no mass are not among them, as a server lists only likely tokens); the token is the likeliest option.
    /// </summary>
    private string SurveyLogprobs(SimulationHint hint, int top)
    {
        var ranks = (hint.Option("ranks") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        var fields = (hint.Option("fields") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (ranks.Length == 0 || ranks.Length != fields.Length) return Logprobs.Format(new LogprobAnswer("", []));
        var p = World.SurveyDistribution(hint.Option("qkey") ?? "", ranks, hint.Persona);
        var candidates = Enumerable.Range(0, fields.Length).Where(i => p[i] > 0).OrderByDescending(i => p[i]).ThenBy(i => i).Take(top)
            .Select(i => new TokenLogprob(fields[i], Math.Log(p[i]))).ToList();
        return Logprobs.Format(new LogprobAnswer(candidates.Count > 0 ? candidates[0].Token : "", candidates));
    }

    /// <summary>
    /// A survey hint's options: qkey, ranks (per option its rank on the scale or -1, comma-separated) and fields (the
    /// JSON property of each option, comma-separated); the option fields and the persona's planted distribution over
    /// them, or null when the hint names no options.
    /// </summary>
    private static (string[] Fields, double[] Distribution)? SurveyOptions(SimulatedWorld w, SimulationHint hint)
    {
        var ranks = (hint.Option("ranks") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        var fields = (hint.Option("fields") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (ranks.Length == 0 || ranks.Length != fields.Length) return null;
        return (fields, w.SurveyDistribution(hint.Option("qkey") ?? "", ranks, hint.Persona));
    }

    private static bool TryEnum(JsonElement schema, string field, out List<string> values)
    {
        values = [];
        if (schema.TryGetProperty("properties", out var props) && props.TryGetProperty(field, out var f) && f.TryGetProperty("enum", out var en))
            foreach (var v in en.EnumerateArray()) values.Add(v.GetRawText());
        return values.Count > 0;
    }

    private JsonNode? Generate(JsonElement schema, string path, string? propertyName, GenContext ctx)
    {
        if (schema.ValueKind != JsonValueKind.Object) return JsonValue.Create(Words(ValueRng(ctx, path), 2));
        if (schema.TryGetProperty("const", out var cst)) return JsonNode.Parse(cst.GetRawText());
        if (schema.TryGetProperty("enum", out var en) && en.ValueKind == JsonValueKind.Array && en.GetArrayLength() > 0)
        {
            var options = en.EnumerateArray().ToList();
            return JsonNode.Parse(options[PickChoice(path, options.Count, ctx)].GetRawText());
        }
        if (schema.TryGetProperty("anyOf", out var anyOf) && anyOf.ValueKind == JsonValueKind.Array)
        {
            foreach (var alt in anyOf.EnumerateArray())
                if (!(alt.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "null"))
                    return Generate(alt, path, propertyName, ctx);
        }
        var type = "string";
        if (schema.TryGetProperty("type", out var tp))
        {
            if (tp.ValueKind == JsonValueKind.String) type = tp.GetString()!;
            else if (tp.ValueKind == JsonValueKind.Array)
                type = tp.EnumerateArray().Select(x => x.GetString()).FirstOrDefault(x => x is not null and not "null") ?? "null";
        }
        else if (schema.TryGetProperty("properties", out _)) type = "object";
        else if (schema.TryGetProperty("items", out _)) type = "array";

        var rng = ValueRng(ctx, path);
        switch (type)
        {
            case "object":
                var obj = new JsonObject();
                if (schema.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
                    foreach (var p in props.EnumerateObject())
                        obj[p.Name] = Generate(p.Value, $"{path}.{p.Name}", p.Name, ctx);
                return obj;
            case "array":
                var min = schema.TryGetProperty("minItems", out var mi) && mi.TryGetInt32(out var a) ? a : 1;
                var max = schema.TryGetProperty("maxItems", out var ma) && ma.TryGetInt32(out var b) ? b : min + 2;
                if (max < min) max = min;
                var n = min + (int)(rng.Next() % (ulong)(max - min + 1));
                var arr = new JsonArray();
                var items = schema.TryGetProperty("items", out var it) ? it : default;
                for (var i = 0; i < n; i++) arr.Add(Generate(items, $"{path}[{i}]", propertyName, ctx));
                return arr;
            case "boolean":
                return JsonValue.Create(PickChoice(path, 2, ctx) == 0);
            case "integer":
            {
                var lo = schema.TryGetProperty("minimum", out var mn) && mn.ValueKind == JsonValueKind.Number ? (long)Math.Ceiling(mn.GetDouble()) : 1;
                var hi = schema.TryGetProperty("maximum", out var mx) && mx.ValueKind == JsonValueKind.Number ? (long)Math.Floor(mx.GetDouble()) : Math.Max(lo, 10);
                if (hi < lo) hi = lo;
                return JsonValue.Create(lo + (long)(rng.Next() % (ulong)(hi - lo + 1)));
            }
            case "number":
            {
                var lo = schema.TryGetProperty("minimum", out var mn) && mn.ValueKind == JsonValueKind.Number ? mn.GetDouble() : 0;
                var hi = schema.TryGetProperty("maximum", out var mx) && mx.ValueKind == JsonValueKind.Number ? mx.GetDouble() : lo + 1;
                return JsonValue.Create(Math.Round(lo + (hi - lo) * rng.NextDouble(), 4));
            }
            case "null":
                return null;
            default:
                return JsonValue.Create(StringFor(propertyName, schema, rng, ctx));
        }
    }

    private int PickChoice(string path, int count, GenContext ctx)
    {
        return (int)(Hash("choice", _seedText, ctx.InputHash, path) % (ulong)count);
    }

    private static string StringFor(string? property, JsonElement schema, SplitMixRng rng, GenContext ctx)
    {
        var name = (property ?? "").ToLowerInvariant();
        string s;
        if (name is "id" || name.EndsWith("_id", StringComparison.Ordinal) || name.EndsWith("id", StringComparison.Ordinal) && name.Length <= 4)
            s = rng.Next().ToString("x16", CultureInfo.InvariantCulture)[..8];
        else if (name.Contains("name") || name.Contains("title"))
            s = NameParts[rng.Next() % (ulong)NameParts.Length] + " " + NameParts[rng.Next() % (ulong)NameParts.Length];
        else if (name.Contains("email"))
            s = Vocabulary[rng.Next() % (ulong)Vocabulary.Length] + "@example.org";
        else if (IsFreeText(name))
            s = Sentence(rng, PromptWords(ctx.Messages), 10 + (int)(rng.Next() % 20));
        else
            s = Words(rng, 1 + (int)(rng.Next() % 3));
        var minLen = schema.TryGetProperty("minLength", out var mnl) && mnl.TryGetInt32(out var a) ? a : 0;
        var maxLen = schema.TryGetProperty("maxLength", out var mxl) && mxl.TryGetInt32(out var b) ? b : int.MaxValue;
        while (s.Length < minLen) s += " " + Vocabulary[rng.Next() % (ulong)Vocabulary.Length];
        if (s.Length > maxLen) s = s[..maxLen];
        return s;
    }

    private static bool IsFreeText(string name)
    {
        string[] cues = ["reason", "rational", "explan", "critique", "summary", "feedback", "text", "answer", "response", "revision", "revised", "description", "comment", "justification", "analysis", "background", "story", "bio", "narrative", "content", "message"];
        foreach (var c in cues) if (name.Contains(c, StringComparison.Ordinal)) return true;
        return false;
    }

    private string PlainText(IReadOnlyList<ChatMessage> messages, ChatOptions? options, string inputHash)
    {
        var rng = new SplitMixRng(Hash("text", _seedText, inputHash));
        var frame = "";
        var words = 40 + (int)(rng.Next() % 80);
        var hint = LlmMetadata.SimulationHintOf(options);
        // A stage may ask for a length through the hint; a revision's length follows the world's planted ratio to the original's.
        if (hint?.NumberOption("words") is { } wanted) words = Math.Max(1, (int)wanted);
        if (hint is { Task: "revision" } && hint.NumberOption("original_words") is { } original)
        {
            var w = World;
            var u = w.Unit("revision-length", hint.Option("persona_key") ?? "", hint.Option("prompt_key") ?? "", hint.Option("sample") ?? "0");
            words = Math.Max(3, (int)Math.Round(original * (w.RevisionLengthMin + u * (w.RevisionLengthMax - w.RevisionLengthMin))));
            if (w.Unit("revision-quote", hint.Option("persona_key") ?? "", hint.Option("prompt_key") ?? "", hint.Option("sample") ?? "0") < w.RevisionQuoteRate
                && hint.Persona is { } p && p.TryGetValue("age", out var age))
                frame = $"As a {age}-year-old, ";
        }
        if (options?.MaxOutputTokens is { } mt) words = Math.Max(1, Math.Min(words, (int)(mt * 0.7)));
        var vocabulary = PromptWords(messages);
        var sb = new StringBuilder(frame);
        var remaining = words;
        while (remaining > 0)
        {
            var n = Math.Min(remaining, 8 + (int)(rng.Next() % 10));
            if (sb.Length > frame.Length) sb.Append(' ');
            sb.Append(Sentence(rng, vocabulary, n));
            remaining -= n;
        }
        return sb.ToString();
    }

    private static List<string> PromptWords(IReadOnlyList<ChatMessage> messages)
    {
        var words = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in messages)
        {
            foreach (Match w in Regex.Matches(m.Text ?? "", "[A-Za-z]{4,}"))
            {
                if (w.Length > 30) continue; // not a word (a 5 MB run of letters would be repeated into a 100 MB answer)
                var v = w.Value.ToLowerInvariant();
                if (seen.Add(v)) words.Add(v);
                if (words.Count >= 200) return words;
            }
        }
        return words;
    }

    private static string Sentence(SplitMixRng rng, List<string> promptWords, int n)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            var fromPrompt = promptWords.Count > 0 && rng.Next() % 3 == 0;
            var w = fromPrompt ? promptWords[(int)(rng.Next() % (ulong)promptWords.Count)] : Vocabulary[rng.Next() % (ulong)Vocabulary.Length];
            if (i == 0) w = char.ToUpperInvariant(w[0]) + w[1..];
            if (i > 0) sb.Append(' ');
            sb.Append(w);
        }
        return sb.Append('.').ToString();
    }

    private static string Words(SplitMixRng rng, int n)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            if (i > 0) sb.Append(' ');
            sb.Append(Vocabulary[rng.Next() % (ulong)Vocabulary.Length]);
        }
        return sb.ToString();
    }

    private SplitMixRng ValueRng(GenContext ctx, string path) => new(Hash("value", _seedText, ctx.InputHash, path));

    private static string InputDigest(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        var sb = new StringBuilder();
        foreach (var m in messages) sb.Append(m.Role.Value).Append('\u0001').Append(m.Text).Append('\u0002');
        if (options?.ResponseFormat is ChatResponseFormatJson { Schema: { } s }) sb.Append(s.GetRawText());
        if (options?.AdditionalProperties?.TryGetValue(LlmMetadata.SampleIndex, out var si) == true) sb.Append("\u0003sample=").Append(Convert.ToString(si, CultureInfo.InvariantCulture));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private static ulong Hash(params string[] parts)
    {
        var bytes = Encoding.UTF8.GetBytes(string.Join('\u0000', parts));
        Span<byte> h = stackalloc byte[32];
        SHA256.HashData(bytes, h);
        return BitConverter.ToUInt64(h[..8]);
    }
}
