using System.Text;
using System.Text.Json;

namespace Persona.Benchmark;

/// <summary>The generation modes of PERSONA Bench (the original's four, plus few-shot preferences, plus best-of-n picked by a reward model).</summary>
public static class BenchModes
{
    public const string Baseline = "baseline", OutputOnly = "output_only", ChainOfThought = "chain_of_thought",
        DemographicSummary = "demographic_summary", FewShotPreferences = "few_shot_preferences", RmBestOfN = "rm_best_of_n";

    public static readonly IReadOnlyList<string> Original = [Baseline, OutputOnly, ChainOfThought, DemographicSummary];
    /// <summary>The prompting modes ("all"): each has its own prompt in the templates.</summary>
    public static readonly IReadOnlyList<string> All = [.. Original, FewShotPreferences];
    /// <summary>Every mode, in table order: the prompting ones and rm_best_of_n, which needs a trained reward model and so is never in "all".</summary>
    public static readonly IReadOnlyList<string> Known = [.. All, RmBestOfN];

    /// <summary>A mode's place in tables (an unknown mode last).</summary>
    public static int Order(string mode) => Known.ToList().IndexOf(mode) is var i && i >= 0 ? i : int.MaxValue;

    /// <summary>
    /// The templates' mode a mode's answers are asked with: rm_best_of_n samples with the baseline prompt (no persona),
    /// so whatever it gains over baseline is the reward model's pick alone.
    /// </summary>
    public static string PromptOf(string mode) => mode == RmBestOfN ? Baseline : mode;

    /// <summary>Parses --mode: one mode, a comma-separated list, or "all" (the four, plus few_shot_preferences when pairs are given).</summary>
    /// <param name="haveRm">Whether a reward model was given (rm_best_of_n needs one).</param>
    public static IReadOnlyList<string> Parse(string? spec, bool havePairs, bool haveRm = false)
    {
        if (string.IsNullOrWhiteSpace(spec) || spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase))
            return havePairs ? All : Original;
        var modes = new List<string>();
        foreach (var m in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var mode = m.ToLowerInvariant();
            if (mode == "all") { foreach (var x in havePairs ? All : Original) if (!modes.Contains(x)) modes.Add(x); continue; }
            if (!Known.Contains(mode)) throw new PersonaException($"--mode: unknown mode '{m}'; expected {string.Join(", ", Known)} or all (or a comma-separated list).");
            if (mode == RmBestOfN && !haveRm) throw new PersonaException("--mode rm_best_of_n needs a reward model: `persona bench run` takes --rm DIR (a `persona rm train` output folder, or one of its models/NAME folders); `persona run` takes --best-of-n N.");
            if (mode == FewShotPreferences && !havePairs) throw new PersonaException("--mode few_shot_preferences needs --pairs DIR (a preference-pairs folder with pairs.jsonl, or the file itself).");
            if (!modes.Contains(mode)) modes.Add(mode);
        }
        if (modes.Count == 0) throw new PersonaException("--mode is empty; give a mode, a comma-separated list or all.");
        return modes;
    }
}

/// <summary>One mode's solver settings from data/bench/prompts.json.</summary>
public sealed record BenchModePrompt(string Mode, bool ShowsPersona, bool ShowsExamples, string Instruction, string? System, IReadOnlyList<string> Fields);

/// <summary>A system + user template.</summary>
public sealed record PromptPair(string System, string User);

/// <summary>
/// The versioned prompt templates of PERSONA Bench (format persona-bench-prompts/1, bundled in
/// data/bench/prompts.json). The version is part of every sample id and cache key, so editing a
/// template can never reuse answers to the old wording.
/// </summary>
public sealed record BenchPrompts(
    string Version, string Source, string SolverSystem, string PersonaBlock, string ExamplesBlock, string Example, string SolverUser,
    IReadOnlyDictionary<string, BenchModePrompt> Modes, PromptPair Critic, PromptPair SummaryJudge, PromptPair Choice, PromptPair Generic, PromptPair Personalised)
{
    public const string FormatId = "persona-bench-prompts/1";
    public const string BundledPath = "bench/prompts.json";

    public static BenchPrompts Load(string? path = null)
    {
        var file = path ?? BundledData.Path(BundledPath);
        if (!File.Exists(file)) throw new PersonaException($"Bench prompt file '{file}' not found (expected a {FormatId} JSON file like data/bench/prompts.json).");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(file)); }
        catch (JsonException ex) { throw new PersonaException($"{file}: not valid JSON (line {ex.LineNumber + 1})."); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var f) || f.GetString() != FormatId)
                throw new PersonaException($"{file}: expected \"format\": \"{FormatId}\".");
            JsonElement Obj(JsonElement parent, string name, string where) =>
                parent.TryGetProperty(name, out var o) && o.ValueKind == JsonValueKind.Object ? o : throw new PersonaException($"{file}: field '{where}' must be an object.");
            string Str(JsonElement parent, string name, string where) =>
                parent.TryGetProperty(name, out var s) && s.ValueKind == JsonValueKind.String && s.GetString() is { Length: > 0 } v ? v : throw new PersonaException($"{file}: field '{where}' must be a non-empty string.");
            PromptPair Pair(string name) { var o = Obj(root, name, name); return new PromptPair(Str(o, "system", name + ".system"), Str(o, "user", name + ".user")); }
            var solver = Obj(root, "solver", "solver");
            var modes = new Dictionary<string, BenchModePrompt>(StringComparer.Ordinal);
            foreach (var m in Obj(solver, "modes", "solver.modes").EnumerateObject())
            {
                var where = "solver.modes." + m.Name;
                var fields = m.Value.TryGetProperty("fields", out var fs) && fs.ValueKind == JsonValueKind.Array ? fs.EnumerateArray().Select(x => x.GetString() ?? "").ToArray() : [];
                if (!fields.Contains("answer_to_question")) throw new PersonaException($"{file}: field '{where}.fields' must list answer_to_question (the judged field).");
                modes[m.Name] = new BenchModePrompt(m.Name,
                    m.Value.TryGetProperty("persona", out var p) && p.ValueKind == JsonValueKind.True,
                    m.Value.TryGetProperty("examples", out var e) && e.ValueKind == JsonValueKind.True,
                    Str(m.Value, "instruction", where + ".instruction"),
                    m.Value.TryGetProperty("system", out var sys) ? sys.GetString() : null, fields);
            }
            foreach (var mode in BenchModes.All)
                if (!modes.ContainsKey(mode)) throw new PersonaException($"{file}: field 'solver.modes' has no '{mode}'.");
            return new BenchPrompts(Str(root, "version", "version"), path is null ? "bundled:" + BundledPath : Path.GetFullPath(file),
                Str(solver, "system", "solver.system"), Str(solver, "persona_block", "solver.persona_block"), Str(solver, "examples_block", "solver.examples_block"),
                Str(solver, "example", "solver.example"), Str(solver, "user", "solver.user"), modes,
                Pair("critic"), Pair("summary_judge"), Pair("choice"), Pair("generic"), Pair("personalised"));
        }
    }

    /// <summary>Fills {name} placeholders in one pass (a value containing braces is never expanded again).</summary>
    public static string Fill(string template, IReadOnlyDictionary<string, string> values)
    {
        var sb = new StringBuilder(template.Length + 256);
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] == '{')
            {
                var end = template.IndexOf('}', i + 1);
                if (end > i + 1 && values.TryGetValue(template[(i + 1)..end], out var v)) { sb.Append(v); i = end; continue; }
            }
            sb.Append(template[i]);
        }
        return sb.ToString();
    }

    /// <summary>The JSON schema of a mode's structured answer (every listed field a required string).</summary>
    public static JsonElement AnswerSchema(BenchModePrompt mode)
    {
        var props = string.Join(",", mode.Fields.Select(f => $"\"{f}\":{{\"type\":\"string\"}}"));
        var req = string.Join(",", mode.Fields.Select(f => $"\"{f}\""));
        return JsonDocument.Parse($"{{\"type\":\"object\",\"properties\":{{{props}}},\"required\":[{req}],\"additionalProperties\":false}}").RootElement.Clone();
    }

    public static readonly JsonElement CriticSchema = JsonDocument.Parse("""
        {"type":"object","properties":{
          "chain_of_thought":{"type":"string"},
          "personalization_critic":{"type":"string"},
          "helpfulness_critic":{"type":"string"},
          "conclusion":{"type":"string"},
          "needs_revision":{"type":"boolean"}},
         "required":["chain_of_thought","personalization_critic","helpfulness_critic","conclusion","needs_revision"],
         "additionalProperties":false}
        """).RootElement.Clone();

    public static JsonElement SummaryJudgeSchema(IEnumerable<string> attributes)
    {
        var en = JsonSerializer.Serialize(attributes.ToArray());
        return JsonDocument.Parse($"{{\"type\":\"object\",\"properties\":{{\"dropped\":{{\"type\":\"array\",\"minItems\":0,\"items\":{{\"type\":\"string\",\"enum\":{en}}}}}}},\"required\":[\"dropped\"],\"additionalProperties\":false}}").RootElement.Clone();
    }
}
