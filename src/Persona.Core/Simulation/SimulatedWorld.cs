using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

using Persona.Llm;

namespace Persona.Simulation;

/// <summary>
/// A planted world for the offline simulator (data/llm/world.json, format <c>persona-world/1</c>):
/// effects with known sizes, so every analysis built on simulated runs can be checked against the
/// right answer. Tests and analyses read the ground truth from here; the simulator draws its
/// answers from it. Nothing it produces is a finding.
/// <list type="bullet">
/// <item><b>preference</b>: logit P(persona truly prefers the personalised answer) = intercept +
/// the weight of each attribute value the persona shows (absent attributes add 0), so a
/// leave-one-out analysis has a right answer (|weight|).</item>
/// <item><b>markers</b>: words whose appeal depends on the persona: in a pair verification, the
/// preference logit above also gains, per marker word, appeal(persona) x (its count in the
/// personalised answer - its count in the generic one), appeal = the word's base appeal + the
/// offsets of the attribute values the persona shows. Planted so a reward model reading the
/// answers' text has a right answer (one group's appeal is the majority's, reversed).</item>
/// <item><b>fidelity</b>: P(the judge role-plays faithfully) = default + group offsets; otherwise
/// it has no preference and follows <b>judge</b>.position_bias (P(first)) shifted on the logit
/// scale by length_preference x (len(first) - len(second)) / max length.</item>
/// <item><b>revision</b>: a personalised revision's length as a share of the original's
/// (uniform in [length_ratio_min, length_ratio_max]) and the rate at which it quotes an attribute
/// outright, so the pair checks have something known to catch.</item>
/// <item><b>bench</b>: P(critic finds no revision needed) per generation mode + group offsets;
/// marker_strength: how much the judged answer's marker words move that probability for the persona
/// (so a reward model that picks answers by them has a right answer); summary_drop: P(a demographic
/// summary leaves an attribute out).</item>
/// </list>
/// Value keys match a persona's value exactly (case-insensitive) or as a numeric range
/// (<c>18-29</c>, <c>65+</c>) for numbers such as age.
/// </summary>
public sealed class SimulatedWorld
{
    public const string FormatId = "persona-world/1";
    public const string BundledPath = "llm/world.json";

    public required string Source { get; init; }
    public required string Sha256 { get; init; }
    public required string Description { get; init; }
    public ulong Seed { get; init; }
    public double PreferenceIntercept { get; init; }
    public IReadOnlyDictionary<string, IReadOnlyList<(string Match, double Weight)>> PreferenceWeights { get; init; } = new Dictionary<string, IReadOnlyList<(string, double)>>();
    /// <summary>Marker words (lower case) with their base appeal and per-group offsets; empty: no marker effect.</summary>
    public IReadOnlyList<MarkerWord> Markers { get; init; } = [];
    public double FidelityDefault { get; init; } = 1;
    public IReadOnlyDictionary<string, IReadOnlyList<(string Match, double Weight)>> FidelityOffsets { get; init; } = new Dictionary<string, IReadOnlyList<(string, double)>>();
    public double PositionBias { get; init; } = 0.5;
    public double LengthPreference { get; init; }
    public IReadOnlyDictionary<string, double> BenchPass { get; init; } = new Dictionary<string, double>();
    public IReadOnlyDictionary<string, IReadOnlyList<(string Match, double Weight)>> BenchOffsets { get; init; } = new Dictionary<string, IReadOnlyList<(string, double)>>();
    /// <summary>
    /// How much the judged answer's marker words move the critic's pass probability, in [0, 1]: P(pass) =
    /// base + strength x min(base, 1 - base) x tanh(marker term / 2), the marker term being
    /// <see cref="MarkerTerm"/> of the answer alone. Symmetric around the base, so for answers whose marker
    /// words are drawn evenly (the simulator's: "tradition" and "change" equally often, opposite appeals)
    /// every mode's planted accuracy stays its base; an answer picked for its words gains. 0: no effect.
    /// </summary>
    public double BenchMarkerStrength { get; init; }
    /// <summary>Offsets to the critic's pass probability for answers written by the simulated model of that name (offline:NAME).</summary>
    public IReadOnlyDictionary<string, double> BenchModelOffsets { get; init; } = new Dictionary<string, double>();
    /// <summary>A revision's length as a share of the original's, drawn uniformly in [min, max] (above 1: not shorter, the check catches it).</summary>
    public double RevisionLengthMin { get; init; } = 0.6;
    public double RevisionLengthMax { get; init; } = 0.95;
    /// <summary>P(a revision quotes a persona attribute outright, e.g. "As a 53-year-old ...").</summary>
    public double RevisionQuoteRate { get; init; }
    public double SummaryDropDefault { get; init; }
    public IReadOnlyDictionary<string, double> SummaryDropByAttribute { get; init; } = new Dictionary<string, double>();
    /// <summary>Spread of a survey question's base logits (each option's drawn uniformly in [-spread, spread] from the question key).</summary>
    public double SurveySpread { get; init; } = 1;
    /// <summary>A persona's lean along a survey scale: the sum of the shifts of the attribute values it shows.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<(string Match, double Weight)>> SurveyShifts { get; init; } = new Dictionary<string, IReadOnlyList<(string, double)>>();

    /// <summary>Loads a world file; null loads the bundled default. Errors name the file and field.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string File, bool Bundled, long Length, DateTime Written), SimulatedWorld> s_shared = new();

    /// <summary>The world of a file, read once per process while the file is unchanged (every simulated role of a run shares it).</summary>
    public static SimulatedWorld Shared(string? path)
    {
        var file = Path.GetFullPath(path ?? BundledData.Path(BundledPath));
        var info = new FileInfo(file);
        if (!info.Exists) return Load(path); // its error
        return s_shared.GetOrAdd((file, path is null, info.Length, info.LastWriteTimeUtc), _ => Load(path)); // the bundled world's Source names no machine path
    }

    public static SimulatedWorld Load(string? path)
    {
        var file = path ?? BundledData.Path(BundledPath);
        if (!File.Exists(file)) throw new PersonaException($"World file '{file}' not found: expected a {FormatId} JSON file (see data/llm/world.json).");
        var bytes = File.ReadAllBytes(file);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException ex) { throw new PersonaException($"{file}: not valid JSON (line {ex.LineNumber + 1}): {JsonErrorText.Describe(ex)}."); }
        using (doc)
        {
            var root = doc.RootElement;
            string Where(string field) => $"{file}: field '{field}'";
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var fmt) || fmt.GetString() != FormatId)
                throw new PersonaException($"{file}: expected \"format\": \"{FormatId}\".");
            double Num(JsonElement parent, string name, string path, double fallback, double lo = double.NegativeInfinity, double hi = double.PositiveInfinity)
            {
                if (!parent.TryGetProperty(name, out var v)) return fallback;
                if (v.ValueKind != JsonValueKind.Number) throw new PersonaException($"{Where(path)}: expected a number.");
                var d = v.GetDouble();
                if (d < lo || d > hi) throw new PersonaException($"{Where(path)}: {d.ToString(CultureInfo.InvariantCulture)} is outside [{lo.ToString(CultureInfo.InvariantCulture)}, {hi.ToString(CultureInfo.InvariantCulture)}].");
                return d;
            }
            IReadOnlyDictionary<string, IReadOnlyList<(string, double)>> Table(JsonElement parent, string name, string path)
            {
                var result = new Dictionary<string, IReadOnlyList<(string, double)>>(StringComparer.OrdinalIgnoreCase);
                if (!parent.TryGetProperty(name, out var t)) return result;
                if (t.ValueKind != JsonValueKind.Object) throw new PersonaException($"{Where(path)}: expected an object of attribute -> {{value: number}}.");
                foreach (var attr in t.EnumerateObject())
                {
                    if (attr.Value.ValueKind != JsonValueKind.Object) throw new PersonaException($"{Where(path + "." + attr.Name)}: expected an object of value -> number.");
                    var list = new List<(string, double)>();
                    foreach (var v in attr.Value.EnumerateObject())
                    {
                        if (v.Value.ValueKind != JsonValueKind.Number) throw new PersonaException($"{Where(path + "." + attr.Name + "." + v.Name)}: expected a number.");
                        list.Add((v.Name, v.Value.GetDouble()));
                    }
                    result[attr.Name] = list;
                }
                return result;
            }
            var empty = default(JsonElement);
            JsonElement Obj(string name) => root.TryGetProperty(name, out var o) && o.ValueKind == JsonValueKind.Object ? o : empty;
            bool Has(JsonElement e) => e.ValueKind == JsonValueKind.Object;
            var pref = Obj("preference");
            var rev = Obj("revision");
            var fid = Obj("fidelity");
            var judge = Obj("judge");
            var bench = Obj("bench");
            var survey = Obj("survey");
            var markers = new List<MarkerWord>();
            if (root.TryGetProperty("markers", out var mk))
            {
                if (mk.ValueKind != JsonValueKind.Object || !mk.TryGetProperty("words", out var words) || words.ValueKind != JsonValueKind.Object)
                    throw new PersonaException($"{Where("markers")}: expected {{\"words\": {{word: {{\"appeal\": number, \"offsets\": {{attribute: {{value: number}}}}}}}}}}.");
                foreach (var word in words.EnumerateObject())
                {
                    if (word.Value.ValueKind != JsonValueKind.Object) throw new PersonaException($"{Where("markers.words." + word.Name)}: expected an object with appeal and offsets.");
                    if (word.Name.Length == 0 || !word.Name.All(char.IsLetter)) throw new PersonaException($"{Where("markers.words." + word.Name)}: a marker is one word of letters.");
                    markers.Add(new MarkerWord(word.Name.ToLowerInvariant(), Num(word.Value, "appeal", "markers.words." + word.Name + ".appeal", 0, -10, 10),
                        Table(word.Value, "offsets", "markers.words." + word.Name + ".offsets")));
                }
            }
            var pass = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
            var drop = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
            double dropDefault = 0;
            var models = new Dictionary<string, double>(StringComparer.Ordinal);
            if (Has(bench))
            {
                if (bench.TryGetProperty("model_offsets", out var mo) && mo.ValueKind == JsonValueKind.Object)
                    foreach (var m in mo.EnumerateObject().Where(m => m.Name != "comment")) models[m.Name] = Num(mo, m.Name, "bench.model_offsets." + m.Name, 0, -1, 1);
                if (bench.TryGetProperty("pass", out var p) && p.ValueKind == JsonValueKind.Object)
                    foreach (var m in p.EnumerateObject()) pass[m.Name] = Num(p, m.Name, "bench.pass." + m.Name, 0, 0, 1);
                if (bench.TryGetProperty("summary_drop", out var sd) && sd.ValueKind == JsonValueKind.Object)
                {
                    dropDefault = Num(sd, "default", "bench.summary_drop.default", 0, 0, 1);
                    if (sd.TryGetProperty("by_attribute", out var ba) && ba.ValueKind == JsonValueKind.Object)
                        foreach (var m in ba.EnumerateObject()) drop[m.Name] = Num(ba, m.Name, "bench.summary_drop.by_attribute." + m.Name, 0, 0, 1);
                }
            }
            return new SimulatedWorld
            {
                Source = path is null ? "bundled:" + BundledPath : Path.GetFullPath(file),
                Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
                Description = root.TryGetProperty("description", out var d) ? d.GetString() ?? "" : "",
                Seed = root.TryGetProperty("seed", out var s) && s.TryGetUInt64(out var seed) ? seed : 0,
                PreferenceIntercept = Has(pref) ? Num(pref, "intercept", "preference.intercept", 0) : 0,
                PreferenceWeights = Has(pref) ? Table(pref, "weights", "preference.weights") : new Dictionary<string, IReadOnlyList<(string, double)>>(),
                Markers = markers,
                FidelityDefault = Has(fid) ? Num(fid, "default", "fidelity.default", 1, 0, 1) : 1,
                FidelityOffsets = Has(fid) ? Table(fid, "offsets", "fidelity.offsets") : new Dictionary<string, IReadOnlyList<(string, double)>>(),
                PositionBias = Has(judge) ? Num(judge, "position_bias", "judge.position_bias", 0.5, 0, 1) : 0.5,
                LengthPreference = Has(judge) ? Num(judge, "length_preference", "judge.length_preference", 0) : 0,
                BenchPass = pass,
                BenchOffsets = Has(bench) ? Table(bench, "offsets", "bench.offsets") : new Dictionary<string, IReadOnlyList<(string, double)>>(),
                BenchModelOffsets = models,
                BenchMarkerStrength = Has(bench) ? Num(bench, "marker_strength", "bench.marker_strength", 0, 0, 1) : 0,
                RevisionLengthMin = Has(rev) ? Num(rev, "length_ratio_min", "revision.length_ratio_min", 0.6, 0.05, 3) : 0.6,
                RevisionLengthMax = Has(rev) ? Num(rev, "length_ratio_max", "revision.length_ratio_max", 0.95, 0.05, 3) : 0.95,
                RevisionQuoteRate = Has(rev) ? Num(rev, "quote_attribute_rate", "revision.quote_attribute_rate", 0, 0, 1) : 0,
                SummaryDropDefault = dropDefault,
                SummaryDropByAttribute = drop,
                SurveySpread = Has(survey) ? Num(survey, "spread", "survey.spread", 1, 0, 10) : 1,
                SurveyShifts = Has(survey) ? Table(survey, "shifts", "survey.shifts") : new Dictionary<string, IReadOnlyList<(string, double)>>(),
            };
        }
    }

    // ---- ground truth ----

    /// <summary>Sum of the table's weights over the persona's attributes (an attribute absent from the persona adds 0).</summary>
    public static double Effect(IReadOnlyDictionary<string, IReadOnlyList<(string Match, double Weight)>> table, IReadOnlyDictionary<string, string>? persona)
    {
        if (persona is null) return 0;
        var sum = 0.0;
        foreach (var (attribute, entries) in table)
        {
            if (!TryGet(persona, attribute, out var value)) continue;
            foreach (var (match, weight) in entries)
                if (Matches(match, value)) { sum += weight; break; }
        }
        return sum;
    }

    /// <summary>P(the persona truly prefers the personalised answer); <paramref name="markerTerm"/> is <see cref="MarkerTerm"/> of the two answers (0 without texts).</summary>
    public double PreferenceProbability(IReadOnlyDictionary<string, string>? persona, double markerTerm = 0) => Sigmoid(PreferenceIntercept + Effect(PreferenceWeights, persona) + markerTerm);

    /// <summary>Whether this persona truly prefers the personalised answer on this prompt (a seeded draw per persona and prompt).</summary>
    public bool PrefersPersonalised(IReadOnlyDictionary<string, string>? persona, string personaKey, string promptKey, double markerTerm = 0)
        => Unit("pref", personaKey, promptKey) < PreferenceProbability(persona, markerTerm);

    /// <summary>A marker word's appeal to this persona (logit per occurrence).</summary>
    public static double Appeal(MarkerWord m, IReadOnlyDictionary<string, string>? persona) => m.Appeal + Effect(m.Offsets, persona);

    /// <summary>Sum over marker words of appeal(persona) x (count in the personalised answer - count in the generic one).</summary>
    public double MarkerTerm(IReadOnlyDictionary<string, string>? persona, string personalised, string generic)
    {
        if (Markers.Count == 0) return 0;
        var sum = 0.0;
        foreach (var m in Markers)
        {
            var diff = CountWord(personalised, m.Word) - CountWord(generic, m.Word);
            if (diff != 0) sum += diff * Appeal(m, persona);
        }
        return sum;
    }

    /// <summary>Occurrences of a word (case-insensitive, whole words of letters).</summary>
    public static int CountWord(string text, string word)
    {
        var n = 0;
        for (var i = text.IndexOf(word, StringComparison.OrdinalIgnoreCase); i >= 0; i = text.IndexOf(word, i + word.Length, StringComparison.OrdinalIgnoreCase))
        {
            var end = i + word.Length;
            if ((i == 0 || !char.IsLetter(text[i - 1])) && (end == text.Length || !char.IsLetter(text[end]))) n++;
        }
        return n;
    }

    /// <summary>P(the judge role-plays this persona faithfully).</summary>
    public double Fidelity(IReadOnlyDictionary<string, string>? persona) => Math.Clamp(FidelityDefault + Effect(FidelityOffsets, persona), 0, 1);

    /// <summary>P(a judge without a preference picks the first answer), given the answers' lengths.</summary>
    public double FirstPickProbability(double firstLength, double secondLength)
    {
        var max = Math.Max(1, Math.Max(firstLength, secondLength));
        var p = Math.Clamp(PositionBias, 1e-6, 1 - 1e-6);
        return Sigmoid(Math.Log(p / (1 - p)) + LengthPreference * (firstLength - secondLength) / max);
    }

    /// <summary>P(the critic finds no revision needed) for a generation mode and persona (and, given, the judged answer: its marker words, see <see cref="BenchMarkerStrength"/>).</summary>
    public double PassProbability(string mode, IReadOnlyDictionary<string, string>? persona, string? simulatedModel = null, string? answer = null)
    {
        var p = Math.Clamp((BenchPass.TryGetValue(mode, out var b) ? b : 0.5) + Effect(BenchOffsets, persona)
                           + (simulatedModel is { Length: > 0 } && BenchModelOffsets.TryGetValue(simulatedModel, out var m) ? m : 0), 0.001, 0.999);
        if (answer is null || BenchMarkerStrength == 0 || Markers.Count == 0) return p;
        return Math.Clamp(p + BenchMarkerStrength * Math.Min(p, 1 - p) * Math.Tanh(MarkerTerm(persona, answer, "") / 2), 0.001, 0.999);
    }

    /// <summary>P(a demographic summary drops this attribute).</summary>
    public double SummaryDropProbability(string attribute) => SummaryDropByAttribute.TryGetValue(attribute, out var p) ? p : SummaryDropDefault;

    /// <summary>
    /// The planted answer distribution of a persona to a survey question: softmax of a base logit per
    /// option (drawn from the question key alone, so every persona shares it) plus the persona's lean
    /// (<see cref="SurveyShifts"/>) times the option's place on the scale, from -1 (lowest) to +1
    /// (highest), in a direction drawn per question. Options off the scale (rank -1) get no lean and a
    /// logit one lower. A persona with no shifted attribute (or no persona at all) answers the base
    /// distribution, so the group with the largest shift is the one farthest from the panel's mean.
    /// Drawn from the world alone: no survey file is read.
    /// </summary>
    /// <param name="ranks">Per option, its rank on the scale (0 = lowest) or -1 for an option off the scale.</param>
    public double[] SurveyDistribution(string questionKey, IReadOnlyList<int> ranks, IReadOnlyDictionary<string, string>? persona)
    {
        var lean = Effect(SurveyShifts, persona) * (Unit("survey-direction", questionKey) < 0.5 ? -1 : 1);
        var top = Math.Max(1, ranks.Max());
        var logits = new double[ranks.Count];
        for (var i = 0; i < ranks.Count; i++)
        {
            var b = (2 * Unit("survey-base", questionKey, i.ToString(CultureInfo.InvariantCulture)) - 1) * SurveySpread;
            logits[i] = ranks[i] < 0 ? b - 1 : b + lean * (2.0 * ranks[i] / top - 1);
        }
        var max = logits.Max();
        var p = logits.Select(l => Math.Exp(l - max)).ToArray();
        var sum = p.Sum();
        for (var i = 0; i < p.Length; i++) p[i] /= sum;
        return p;
    }

    // ---- draws (deterministic in the world seed and the given keys) ----

    /// <summary>A uniform [0, 1) draw from the world seed and the parts.</summary>
    public double Unit(params string[] parts)
    {
        var sb = new StringBuilder(Seed.ToString(CultureInfo.InvariantCulture));
        foreach (var p in parts) sb.Append('\u0000').Append(p);
        Span<byte> h = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString()), h);
        return (BitConverter.ToUInt64(h[..8]) >> 11) * (1.0 / (1UL << 53));
    }

    public static bool Matches(string match, string value)
    {
        if (string.Equals(match, value, StringComparison.OrdinalIgnoreCase)) return true;
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x)) return false;
        if (match.EndsWith('+') && double.TryParse(match[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var lo)) return x >= lo;
        var dash = match.IndexOf('-', 1);
        return dash > 0
               && double.TryParse(match[..dash], NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
               && double.TryParse(match[(dash + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var b)
               && x >= a && x <= b;
    }

    private static bool TryGet(IReadOnlyDictionary<string, string> persona, string attribute, out string value)
    {
        if (persona.TryGetValue(attribute, out value!)) return true;
        foreach (var (k, v) in persona)
            if (string.Equals(k.Replace('_', ' '), attribute.Replace('_', ' '), StringComparison.OrdinalIgnoreCase)) { value = v; return true; }
        value = "";
        return false;
    }

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}

/// <summary>A planted marker word: its base appeal (logit per occurrence) and offsets per attribute value.</summary>
public sealed record MarkerWord(string Word, double Appeal, IReadOnlyDictionary<string, IReadOnlyList<(string Match, double Weight)>> Offsets);
