using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Benchmark;
using Persona.Llm;
using Persona.Engine;

namespace Persona.Survey;

/// <summary>How the persona is shown when a survey question is asked.</summary>
public static class SurveyModes
{
    /// <summary>The full persona profile (the testbed's own mode).</summary>
    public const string Persona = "persona";
    /// <summary>No persona: the unsteered model, one answer per question that stands for every group.</summary>
    public const string None = "none";
    /// <summary>Steering by the group attribute alone (OpinionQA/HELM's three contexts, our own wording): as an earlier survey answer,</summary>
    public const string SteerQa = "steer-qa";
    /// <summary>... as a one-line description of the respondent,</summary>
    public const string SteerBio = "steer-bio";
    /// <summary>... or as an instruction to answer as a member of the group.</summary>
    public const string SteerPortray = "steer-portray";

    public static readonly IReadOnlyList<string> All = [Persona, None, SteerQa, SteerBio, SteerPortray];
    public static readonly IReadOnlyList<string> Steering = [SteerQa, SteerBio, SteerPortray];

    /// <summary>Parses a comma-separated list of modes, in <see cref="All"/> order.</summary>
    public static IReadOnlyList<string> Parse(string list)
    {
        var asked = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(m => m.ToLowerInvariant()).ToList();
        if (asked.Contains("all")) return All;
        foreach (var m in asked)
            if (!All.Contains(m)) throw new PersonaException($"--survey-modes: '{m}' is not a mode; expected {string.Join(", ", All)} or all.");
        if (asked.Count == 0) throw new PersonaException($"--survey-modes is empty; expected some of {string.Join(", ", All)}.");
        return All.Where(asked.Contains).ToList();
    }

    private static readonly IReadOnlyDictionary<string, (string Question, string Noun, string PersonaKey)> Attributes = new Dictionary<string, (string, string, string)>(StringComparer.Ordinal)
    {
        ["CREGION"] = ("In which region of the United States do you live?", "region of the United States", "region"),
        ["EDUCATION"] = ("What is the highest level of school you have completed?", "education", "education"),
        ["SEX"] = ("What is your sex?", "sex", "sex"),
        ["POLIDEOLOGY"] = ("In politics, do you think of yourself as liberal, moderate or conservative?", "political ideology", "ideology"),
        ["INCOME"] = ("What was your family's total income last year?", "family income", "income"),
        ["POLPARTY"] = ("Generally speaking, do you think of yourself as a Republican, a Democrat, an independent or something else?", "political party", "political views"),
        ["RACE"] = ("What is your race or ethnicity?", "race or ethnicity", "race"),
        ["RELIG"] = ("What is your religious preference?", "religion", "religion"),
    };

    private static (string Question, string Noun, string PersonaKey) Describe(string attribute) =>
        Attributes.TryGetValue(attribute, out var a) ? a : ($"What is your {attribute.ToLowerInvariant()}?", attribute.ToLowerInvariant(), attribute.ToLowerInvariant());

    /// <summary>The steering context a mode puts before the question, for a group.</summary>
    public static string Context(string mode, SurveyGroup g)
    {
        var (question, noun, _) = Describe(g.Attribute);
        return mode switch
        {
            SteerQa => $"Earlier in this survey you were asked: \"{question}\" You answered: {g.Group}.",
            SteerBio => $"A short description of you: your {noun} is {g.Group}.",
            SteerPortray => $"Answer the following question as if you were a person whose {noun} is {g.Group}.",
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "not a steering mode"),
        };
    }

    /// <summary>What a steered item shows, as persona attributes (the simulator's planted shifts key on these).</summary>
    public static IReadOnlyDictionary<string, string> AsPersonaAttributes(SurveyGroup g) =>
        new Dictionary<string, string> { [Describe(g.Attribute).PersonaKey] = g.Group };
}

/// <summary>How a distribution is obtained from the model: recorded on every sample (an experimental factor).</summary>
public static class SurveyElicitation
{
    /// <summary>The model states a probability per option as JSON (one call, temperature 0).</summary>
    public const string Verbalized = "verbalized";
    /// <summary>Prefix of sample:N: N separate answers (one option each) at temperature 1, counted.</summary>
    public const string SamplePrefix = "sample:";
    /// <summary>Most answers per item sample:N draws (each is a paid call).</summary>
    public const int MaxSamples = 1000;
    /// <summary>The first answer token's top log-probabilities (one call, temperature 0, one output token): OpenAI and vLLM return them.</summary>
    public const string Logprobs = "logprobs";
    /// <summary>How many top log-probabilities logprobs asks for (OpenAI's most): every option letter of a GSS question fits.</summary>
    public const int TopLogprobs = Llm.Logprobs.MaxTop;

    /// <summary>"verbalized", "logprobs" or "sample:N" (1 &lt;= N &lt;= 1000).</summary>
    public static string Parse(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t is Verbalized or Logprobs) return t;
        if (t.StartsWith(SamplePrefix, StringComparison.Ordinal) && int.TryParse(t[SamplePrefix.Length..], System.Globalization.NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxSamples)
            return SamplePrefix + n.ToString(CultureInfo.InvariantCulture);
        throw new PersonaException($"--survey-elicitation '{text}': expected verbalized, logprobs or sample:N with N from 1 to {MaxSamples} (e.g. sample:20).");
    }

    /// <summary>N of sample:N, or 0 for verbalized.</summary>
    public static int Samples(string elicitation) =>
        elicitation.StartsWith(SamplePrefix, StringComparison.Ordinal) ? int.Parse(elicitation[SamplePrefix.Length..], CultureInfo.InvariantCulture) : 0;
}

/// <summary>One question put to one persona (or to no persona, in mode none).</summary>
/// <param name="PersonaText">The rendered persona (`key: value` lines), null in mode none.</param>
/// <param name="PersonaAttributes">What the persona shows, for the simulator's planted answers; empty in mode none.</param>
/// <param name="Steer">The group a steering mode speaks for (null in modes persona and none).</param>
/// <param name="Sample">Which of the N answers of sample:N this is (0 for verbalized).</param>
public sealed record SurveyAskItem(string? PersonaId, string? PersonaText, IReadOnlyDictionary<string, string> PersonaAttributes, SurveyItem Question, string Mode, string Elicitation,
    SurveyGroup? Steer = null, int Sample = 0)
{
    /// <summary>Who answers: the persona, the steered group, or nobody (mode none); the unit a distribution belongs to.</summary>
    public string Respondent => PersonaId ?? Steer?.ToString() ?? "none";
}

/// <summary>
/// The survey as an Inspect-style task: each item is one multiple-choice question put to one
/// persona by the answering role, which states its distribution over the options as JSON
/// (elicitation <c>verbalized</c>). The sample's data carries the normalised distribution, qkey,
/// mode and elicitation, so the log re-aggregates without the model.
/// </summary>
public static class SurveyTask
{
    public const string TaskName = "survey";
    /// <summary>Bumped when the prompt or the parsing changes: part of every sample id.</summary>
    public const string Version = "survey-prompts/1";

    public static EvalTask<SurveyAskItem> Create(IEnumerable<SurveyAskItem> items, string role) => new()
    {
        Name = TaskName,
        Version = Version,
        Dataset = BenchTask.Stream(items),
        Inputs = i => new Dictionary<string, string>
        {
            ["persona_id"] = i.PersonaId ?? "", ["qkey"] = i.Question.Qkey, ["mode"] = i.Mode, ["elicitation"] = i.Elicitation,
            ["steer"] = i.Steer?.ToString() ?? "", ["sample"] = i.Sample.ToString(CultureInfo.InvariantCulture),
        },
        Solver = (i, ctx, ct) => SolveAsync(i, ctx, role, ct),
    };

    /// <summary>Option letters A, B, ... for the options that carry a share (a trailing "Refused" has none and is not offered).</summary>
    public static string Letter(int i) => ((char)('A' + i)).ToString();

    public static IReadOnlyList<ChatMessage> Messages(SurveyAskItem i)
    {
        var system = i.PersonaText is not null
            ? "You are answering a public opinion survey as the person described below. Answer as this person would, " +
              "from their circumstances and views, not as an assistant.\n\n" + i.PersonaText
            : i.Steer is { } g
                ? "You are answering a public opinion survey." + (i.Mode == SurveyModes.SteerBio ? " " + SurveyModes.Context(i.Mode, g) : "")
                : "You are answering a public opinion survey. Answer as a member of the public would.";
        var q = i.Question;
        var sb = new StringBuilder();
        if (i.Steer is { } s && i.Mode is SurveyModes.SteerQa or SurveyModes.SteerPortray) sb.Append(SurveyModes.Context(i.Mode, s)).Append("\n\n");
        sb.Append("Question: ").Append(q.Question).Append("\n\nOptions:\n");
        for (var k = 0; k < q.Ordinal.Count; k++) sb.Append(Letter(k)).Append(". ").Append(q.Options[k]).Append('\n');
        sb.Append(SurveyElicitation.Samples(i.Elicitation) > 0
            ? "\nReply with JSON giving the letter of your answer."
            : i.Elicitation == SurveyElicitation.Logprobs
            ? "\nReply with the letter of your answer only."
            : "\nHow likely would you be to give each answer? Reply with JSON giving a probability (0 to 1) for every option letter; the probabilities sum to 1.");
        return [new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, sb.ToString())];
    }

    public static JsonElement Schema(int options)
    {
        var props = string.Join(",", Enumerable.Range(0, options).Select(k => $"\"{Letter(k)}\":{{\"type\":\"number\",\"minimum\":0,\"maximum\":1}}"));
        var req = string.Join(",", Enumerable.Range(0, options).Select(k => $"\"{Letter(k)}\""));
        return JsonDocument.Parse($"{{\"type\":\"object\",\"properties\":{{{props}}},\"required\":[{req}],\"additionalProperties\":false}}").RootElement.Clone();
    }

    /// <summary>Per option its rank on the question's scale (0 = lowest ordinal), or -1 off the scale: what the simulator's hint carries.</summary>
    public static int[] Ranks(IReadOnlyList<double> ordinal)
    {
        var values = ordinal.Where(o => o != -1).Distinct().Order().ToList();
        return ordinal.Select(o => o == -1 ? -1 : values.IndexOf(o)).ToArray();
    }

    public static JsonElement AnswerSchema(int options)
    {
        var en = string.Join(",", Enumerable.Range(0, options).Select(k => $"\"{Letter(k)}\""));
        return JsonDocument.Parse($"{{\"type\":\"object\",\"properties\":{{\"answer\":{{\"type\":\"string\",\"enum\":[{en}]}}}},\"required\":[\"answer\"],\"additionalProperties\":false}}").RootElement.Clone();
    }

    private static async ValueTask<SolverResult> SolveAsync(SurveyAskItem i, SampleContext ctx, string role, CancellationToken ct)
    {
        var n = i.Question.Ordinal.Count;
        var fields = Enumerable.Range(0, n).Select(Letter).ToArray();
        var ranks = string.Join(",", Ranks(i.Question.Ordinal).Select(r => r.ToString(CultureInfo.InvariantCulture)));
        var sampling = SurveyElicitation.Samples(i.Elicitation) > 0;
        var logprobs = i.Elicitation == SurveyElicitation.Logprobs;
        // The hint follows from the messages alone (persona text or steering context, and question), as the cache key requires;
        // a sampled answer's index is in the cache key through the run metadata, so N answers are N calls.
        var hint = new SimulationHint(sampling ? "survey_sample" : logprobs ? "survey_logprobs" : "survey_answer", i.PersonaAttributes, new Dictionary<string, string>
        {
            ["qkey"] = i.Question.Qkey, ["ranks"] = ranks, ["fields"] = string.Join(",", fields),
            ["respondent"] = i.Respondent, ["sample"] = i.Sample.ToString(CultureInfo.InvariantCulture),
        });
        // logprobs: one output token at temperature 0; what counts is the first token's candidates, not the token drawn.
        var options = logprobs
            ? new ChatOptions { Temperature = 0, MaxOutputTokens = 1 }.WithRunMetadata(Version, hint: hint).WithTopLogprobs(SurveyElicitation.TopLogprobs)
            : sampling
            ? new ChatOptions { Temperature = 1, ResponseFormat = ChatResponseFormat.ForJsonSchema(AnswerSchema(n), "answer") }.WithRunMetadata(Version, i.Sample, hint)
            : new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema(n), "answer_distribution") }.WithRunMetadata(Version, hint: hint);
        var r = await ctx.CallAsync(role, [.. Messages(i)], options, ct, "answer").ConfigureAwait(false);
        var distribution = sampling ? OneAnswer(r.Text, fields) : logprobs ? FromLogprobs(r.Text, fields) : Parse(r.Text, fields);
        return new SolverResult(null, JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["qkey"] = i.Question.Qkey, ["mode"] = i.Mode, ["elicitation"] = i.Elicitation, ["steer"] = i.Steer?.ToString(), ["sample"] = i.Sample,
            ["distribution"] = distribution,
        }));
    }

    /// <summary>
    /// The option letters' shares among the first token's top log-probabilities: a candidate counts for option k when,
    /// stripped of spaces and of brackets or a full stop around it ("A", " B", "(C", "D."), it is k's letter in any case;
    /// the shares are renormalised over the options. An answer without log-probabilities stops the run
    /// (<see cref="LogprobsUnavailableException"/>: the server does not return them); one whose candidates hold no option
    /// letter is a failed item.
    /// </summary>
    public static double[] FromLogprobs(string text, IReadOnlyList<string> fields)
    {
        if (!Llm.Logprobs.TryParse(text, out var answer))
            throw new LogprobsUnavailableException("The answering model returned no log-probabilities (its server or provider does not return them): " +
                "--survey-elicitation logprobs needs an OpenAI-compatible server that does (OpenAI, vLLM); use verbalized or sample:N with this model.");
        var p = new double[fields.Count];
        foreach (var t in answer.Top)
        {
            var token = t.Token.Trim().Trim('(', ')', '.', ':', '*', '"').ToUpperInvariant();
            var k = -1;
            for (var j = 0; j < fields.Count; j++) if (fields[j] == token) { k = j; break; }
            if (k >= 0 && double.IsFinite(t.Logprob)) p[k] += Math.Exp(t.Logprob);
        }
        var sum = p.Sum();
        if (!(sum > 0)) throw new ItemFailedException(ItemFailure.Unparsable, $"no option letter ({string.Join(", ", fields)}) among the first token's top log-probabilities", text);
        for (var k = 0; k < p.Length; k++) p[k] /= sum;
        return p;
    }

    /// <summary>One sampled answer as a distribution with all its mass on the chosen option.</summary>
    public static double[] OneAnswer(string text, IReadOnlyList<string> fields)
    {
        if (!JsonExtraction.TryExtract(text, out var root, out _) || root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("answer", out var a) || a.ValueKind != JsonValueKind.String)
            throw new ItemFailedException(ItemFailure.Unparsable, "the answer has no option letter", text);
        var k = fields.ToList().IndexOf(a.GetString()!.Trim().ToUpperInvariant());
        if (k < 0) throw new ItemFailedException(ItemFailure.Unparsable, $"'{a.GetString()}' is not one of the options {string.Join(", ", fields)}", text);
        var p = new double[fields.Count];
        p[k] = 1;
        return p;
    }

    /// <summary>The stated probabilities, renormalised to sum to 1; a reply without them is a failed item (kept with its text).</summary>
    public static double[] Parse(string text, IReadOnlyList<string> fields)
    {
        if (!JsonExtraction.TryExtract(text, out var root, out _) || root.ValueKind != JsonValueKind.Object)
            throw new ItemFailedException(ItemFailure.Unparsable, "the answer is not a JSON object", text);
        {
            var p = new double[fields.Count];
            for (var k = 0; k < fields.Count; k++)
            {
                if (!root.TryGetProperty(fields[k], out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var x) || !double.IsFinite(x) || x < 0)
                    throw new ItemFailedException(ItemFailure.Unparsable, $"no probability for option {fields[k]}", text);
                p[k] = x;
            }
            var sum = p.Sum();
            if (sum <= 0) throw new ItemFailedException(ItemFailure.Unparsable, "every probability is 0", text);
            for (var k = 0; k < p.Length; k++) p[k] /= sum;
            return p;
        }
    }

    /// <summary>The distribution a logged sample holds, or null for a failed sample.</summary>
    public static double[]? DistributionOf(SampleRecord s)
    {
        if (s.Status != SampleRecord.StatusOk || s.Field("distribution") is not { ValueKind: JsonValueKind.Array } d) return null;
        return d.EnumerateArray().Select(x => x.GetDouble()).ToArray();
    }
}
