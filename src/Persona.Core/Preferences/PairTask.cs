using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Engine;

namespace Persona.Preferences;

/// <summary>How the pair chain runs.</summary>
public sealed record PairChainOptions
{
    /// <summary>Critique + revision attempts per pair while a check fails (each with a new sample index).</summary>
    public int Attempts { get; init; } = 3;
    /// <summary>"shared": one generic answer per prompt for every persona (the original release); "per-pair": one sampled per pair.</summary>
    public string BaseAnswer { get; init; } = PairTask.BaseShared;
    public float Temperature { get; init; } = 0.7f;
    public int MaxAnswerTokens { get; init; } = 700;
    public int MaxCritiqueTokens { get; init; } = 500;
    public int MaxJudgeTokens { get; init; } = 200;
    /// <summary>The roles: who answers and revises (`pairs build`: --model; `persona run`: the writer), who critiques, who role-plays the persona.</summary>
    /// <remarks>Null is --model; left out of the shard fingerprint then, so shards of earlier builds still merge.</remarks>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Answerer { get; init; }
    [System.Text.Json.Serialization.JsonIgnore]
    public string AnswerRole => Answerer ?? LlmRuntime.DefaultRole;
    public string CriticRole { get; init; } = "critic";
    public string JudgeRole { get; init; } = "judge";

    public void Validate()
    {
        if (Attempts < 1) throw new PersonaException($"--attempts must be at least 1 (got {Attempts}).");
        if (BaseAnswer is not (PairTask.BaseShared or PairTask.BasePerPair)) throw new PersonaException($"--base-answer must be '{PairTask.BaseShared}' or '{PairTask.BasePerPair}' (got '{BaseAnswer}').");
    }
}

/// <summary>What the checks found in one revision.</summary>
public sealed record PairChecks(bool NotShorter, string? QuotesAttribute, bool Truncated, bool Empty)
{
    public bool Passed => !NotShorter && QuotesAttribute is null && !Truncated && !Empty;

    public IEnumerable<string> Names()
    {
        if (NotShorter) yield return "not_shorter";
        if (QuotesAttribute is not null) yield return "quotes_attribute";
        if (Truncated) yield return "truncated";
        if (Empty) yield return "empty";
    }
}

/// <summary>
/// The Direct Principle Feedback chain as a task of the engine (method.md section 3): the generic
/// answer without the persona (rejected), a critique from the persona's point of view (critic
/// role), a revision (chosen) that must be shorter, never quote the persona's attributes, and be
/// complete, retried with a new sample index while a check fails; and the verification scorer,
/// where the judge role-plays the persona and picks the answer it prefers in both orders.
/// </summary>
public static partial class PairTask
{
    public const string TaskName = "pairs";
    public const string VerifyScoreSet = "verify";
    public const string BaseShared = "shared", BasePerPair = "per-pair";

    /// <param name="verify">Which pairs (by pair id) the judge verifies; null: no verification scorer.</param>
    /// <param name="personas">The population by persona id: the verifier's judge reads the typed persona from it, never the logged text.</param>
    public static EvalTask<ScheduledPair> Create(IAsyncEnumerable<ScheduledPair> schedule, PairTemplates templates, PairChainOptions options, Func<string, bool>? verify,
        IReadOnlyDictionary<string, Personas.PersonaInput> personas)
    {
        options.Validate();
        return new EvalTask<ScheduledPair>
        {
            Name = TaskName,
            Version = templates.Version + ";base=" + options.BaseAnswer + ";attempts=" + options.Attempts.ToString(CultureInfo.InvariantCulture),
            Dataset = schedule,
            Inputs = p => new Dictionary<string, string> { ["persona_id"] = p.Persona.Id, ["prompt_id"] = p.Prompt.Id, ["split"] = p.Split },
            Solver = (p, ctx, ct) => SolveAsync(p, ctx, templates, options, ct),
            Scorers = verify is null ? [] : [Verifier(templates, options, verify, personas)],
            Roles = [options.AnswerRole, options.CriticRole],
        };
    }

    private static async ValueTask<SolverResult> SolveAsync(ScheduledPair pair, SampleContext ctx, PairTemplates t, PairChainOptions o, CancellationToken ct)
    {
        var c = await ChainAsync(pair, t, o, (role, messages, options, step) => ctx.CallAsync(role, messages, options, ct, step)).ConfigureAwait(false);
        var data = new PairData(pair.Persona.Id, pair.Prompt.Id, pair.Split, pair.Prompt.Topic, pair.Slot, pair.Persona.Text, pair.Prompt.Text,
            c.Original, c.Critique, c.Revision, c.OriginalTokens, c.RevisionTokens, c.Attempts,
            c.Checks.NotShorter, c.Checks.QuotesAttribute, c.Checks.Truncated, c.Checks.Empty, ctx.Role(o.AnswerRole).Identity.Identity,
            ctx.Role(o.CriticRole).Identity.Identity, t.Version);
        return new SolverResult(c.Revision, JsonSerializer.SerializeToElement(data, SampleRecord.Json));
    }

    /// <summary>What one pair's chain produced.</summary>
    public sealed record ChainResult(string Original, string Critique, string Revision, int OriginalTokens, int RevisionTokens, int Attempts, PairChecks Checks);

    /// <summary>
    /// The chain of one pair, with the calls made through <paramref name="call"/> (role, messages, options, step):
    /// the engine's context in a run; a model directly when the dry run measures how often the checks send a pair
    /// back (its retry rate), so the two can never ask different things.
    /// </summary>
    public static async Task<ChainResult> ChainAsync(ScheduledPair pair, PairTemplates t, PairChainOptions o, Func<string, IList<ChatMessage>, ChatOptions, string, Task<ChatResponse>> call)
    {
        var persona = pair.Persona;
        var question = pair.Prompt.Text;
        var keys = Keys(pair);

        // 1. The generic answer: shared by every persona on this prompt (temperature 0, no persona in the messages, so the cache makes it one call per prompt).
        var generic = GenericAnswer(pair, t, o);
        var original = await call(generic.Role, generic.Messages, generic.Options, "answer").ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(original.Text) || original.FinishReason == ChatFinishReason.Length)
            throw new ItemFailedException(ItemFailure.Refused, string.IsNullOrWhiteSpace(original.Text) ? "the generic answer is empty" : "the generic answer was cut off (finish_reason length)", original.Text);
        var originalTokens = Tokens(original);
        var originalWords = original.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

        string critique = "", revision = "";
        var checks = new PairChecks(false, null, false, true);
        var attempt = 0;
        var revisionTokens = 0;
        while (attempt < o.Attempts)
        {
            attempt++;
            var hintOptions = new Dictionary<string, string>(keys) { ["sample"] = attempt.ToString(CultureInfo.InvariantCulture) };
            // 2. The persona's critique of the generic answer.
            var c = await call(o.CriticRole,
                [new(ChatRole.System, t.CritiqueSystem), new(ChatRole.User, PairTemplates.Fill(t.CritiqueUser, ("persona", persona.Text), ("question", question), ("answer", original.Text)))],
                new ChatOptions { Temperature = o.Temperature, MaxOutputTokens = o.MaxCritiqueTokens }
                    .WithRunMetadata(t.Version, attempt, new SimulationHint("critique", persona.Attributes, hintOptions)), $"critique#{attempt}").ConfigureAwait(false);
            critique = c.Text;
            // 3. The revision: subtle, shorter, never naming the persona's attributes.
            var r = await call(o.AnswerRole,
                [new(ChatRole.System, t.RevisionSystem), new(ChatRole.User, PairTemplates.Fill(t.RevisionUser, ("persona", persona.Text), ("question", question), ("answer", original.Text), ("critique", critique)))],
                new ChatOptions { Temperature = o.Temperature, MaxOutputTokens = o.MaxAnswerTokens }
                    .WithRunMetadata(t.Version, attempt, new SimulationHint("revision", persona.Attributes,
                        new Dictionary<string, string>(hintOptions) { ["original_words"] = originalWords.ToString(CultureInfo.InvariantCulture) })), $"revision#{attempt}").ConfigureAwait(false);
            revision = r.Text;
            revisionTokens = Tokens(r);
            checks = Check(original.Text, originalTokens, revision, revisionTokens, r.FinishReason == ChatFinishReason.Length, persona.Attributes);
            if (checks.Passed) break;
        }
        return new ChainResult(original.Text, critique, revision, originalTokens, revisionTokens, attempt, checks);
    }

    /// <summary>The generic answer's call for a pair: with a shared base answer the same for every persona on the prompt, else sampled per pair.</summary>
    private static LlmRequest GenericAnswer(ScheduledPair pair, PairTemplates t, PairChainOptions o)
    {
        var shared = o.BaseAnswer == BaseShared;
        var options = new ChatOptions { Temperature = shared ? 0f : o.Temperature, MaxOutputTokens = o.MaxAnswerTokens }
            .WithRunMetadata(t.Version, shared ? null : StableIndex(pair.PairId), new SimulationHint("answer"));
        return new LlmRequest(o.AnswerRole, [new(ChatRole.System, t.AnswerSystem), new(ChatRole.User, PairTemplates.Fill(t.AnswerUser, ("question", pair.Prompt.Text)))], options);
    }

    /// <summary>
    /// The calls of <paramref name="pairs"/> that no persona enters: one generic answer per prompt when the
    /// base answer is shared (none when it is sampled per pair), in schedule order, each prompt once.
    /// </summary>
    public static IReadOnlyList<LlmRequest> PersonaFreeRequests(IEnumerable<ScheduledPair> pairs, PairTemplates t, PairChainOptions o)
    {
        if (o.BaseAnswer != BaseShared) return [];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return [.. pairs.Where(p => seen.Add(p.Prompt.Id)).Select(p => GenericAnswer(p, t, o))];
    }

    /// <summary>Checks of one revision against the original and the persona.</summary>
    public static PairChecks Check(string original, int originalTokens, string revision, int revisionTokens, bool truncated, IReadOnlyDictionary<string, string> persona)
    {
        var empty = string.IsNullOrWhiteSpace(revision);
        return new PairChecks(!empty && revisionTokens >= originalTokens, empty ? null : QuotedAttribute(revision, persona), truncated, empty);
    }

    /// <summary>
    /// The persona attribute a text names outright, or null: the age as "53-year-old" / "53 years old",
    /// or a value of at least two words and ten characters appearing verbatim ("Bachelor's degree",
    /// "Registered nurses"). One-word values ("Male", "Catholic", "Conservative") are ordinary words
    /// an answer may use without quoting the persona, and are not flagged.
    /// </summary>
    public static string? QuotedAttribute(string text, IReadOnlyDictionary<string, string> persona)
    {
        if (persona.TryGetValue("age", out var age) && int.TryParse(age, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) && NamesAge(text, age))
            return "age";
        foreach (var (key, value) in persona)
        {
            if (key is "age" or "big five scores") continue;
            var v = value.Trim();
            if (v.Length < 10 || !v.Contains(' ')) continue;
            if (v.Length > 120) continue; // LM-written paragraphs are not quotable labels
            if (text.Contains(v, StringComparison.OrdinalIgnoreCase)) return key;
        }
        return null;
    }

    /// <summary>"53-year-old", "53 years old", "53-years-old", "53 year old": a scan, not a regex per age (ages 0-99 would thrash the regex cache).</summary>
    private static bool NamesAge(string text, string age)
    {
        for (var i = text.IndexOf(age, StringComparison.Ordinal); i >= 0; i = text.IndexOf(age, i + 1, StringComparison.Ordinal))
        {
            if (i > 0 && char.IsDigit(text[i - 1])) continue;
            var rest = text.AsSpan(i + age.Length);
            if (rest.Length < 8 || rest[0] is not ('-' or ' ')) continue;
            rest = rest[1..];
            if (!rest.StartsWith("year", StringComparison.OrdinalIgnoreCase)) continue;
            rest = rest[4..];
            if (rest.Length > 0 && rest[0] is 's' or 'S') rest = rest[1..];
            if (rest.Length < 4 || rest[0] is not ('-' or ' ')) continue;
            if (rest[1..].StartsWith("old", StringComparison.OrdinalIgnoreCase) && (rest.Length == 4 || !char.IsLetter(rest[4]))) return true;
        }
        return false;
    }

    /// <summary>
    /// The verification scorer: the judge role-plays the persona and picks an answer with the chosen
    /// one shown first, then shown second. Value 1 when it prefers the chosen answer in both
    /// orders; labels "agree", "disagree" (the rejected one in both) or "flip" (it follows the
    /// position). Pairs not selected by <paramref name="selected"/> get "not_verified" and no value.
    /// The persona (its text for the prompt, its attributes for the simulator's hint) is the population's
    /// typed one, looked up by the sample's persona id: the logged text is never parsed back.
    /// </summary>
    public static Scorer Verifier(PairTemplates t, PairChainOptions o, Func<string, bool> selected, IReadOnlyDictionary<string, Personas.PersonaInput> personas) => new(VerifyScoreSet, async (sample, ctx, ct) =>
    {
        var d = sample.Data!.Value.Deserialize<PairData>(SampleRecord.Json)!;
        var pairId = PairSchedule.PairIdOf(d.PersonaId, d.PromptId);
        var judge = ctx.Role(o.JudgeRole).Identity.Identity;
        if (!selected(pairId)) return new Score(null, "not_verified", null, VerifyScoreSet, judge, null, null);
        var persona = personas.TryGetValue(d.PersonaId, out var found) ? found
            : throw new ItemFailedException(ItemFailure.Invalid, $"pair {pairId}: persona {d.PersonaId} is not in the population this build reads");
        var attributes = persona.Attributes;
        async Task<bool> PrefersChosen(int order)
        {
            var chosenFirst = order == 0;
            var (a, b) = chosenFirst ? (d.Revision, d.Original) : (d.Original, d.Revision);
            var ask = new Choice.RolePlayChoice.Ask(d.PersonaId, d.PromptId, attributes, order.ToString(CultureInfo.InvariantCulture), chosenFirst,
                chosenFirst ? d.RevisionTokens : d.OriginalTokens, chosenFirst ? d.OriginalTokens : d.RevisionTokens, d.Revision, d.Original);
            var r = await ctx.CallAsync(o.JudgeRole,
                [new(ChatRole.System, t.JudgeSystem), new(ChatRole.User, PairTemplates.Fill(t.JudgeUser, ("persona", persona.Text), ("question", d.Question), ("answer_a", a), ("answer_b", b)))],
                Choice.RolePlayChoice.Options(t.Version, ask, o.MaxJudgeTokens), ct, order == 0 ? "judge:chosen-first" : "judge:chosen-second").ConfigureAwait(false);
            return Choice.RolePlayChoice.ChosePersonalised(Choice.RolePlayChoice.Parse(r.Text), chosenFirst)
                ?? throw new ItemFailedException(ItemFailure.Unparsable, "the judge's answer names no preferred A or B", r.Text);
        }
        var first = await PrefersChosen(0).ConfigureAwait(false);
        var second = await PrefersChosen(1).ConfigureAwait(false);
        var label = first && second ? "agree" : !first && !second ? "disagree" : "flip";
        return new Score(label == "agree" ? 1 : 0, label, null, VerifyScoreSet, judge,
            JsonSerializer.SerializeToElement(new { chosen_first = first ? "chosen" : "rejected", chosen_second = second ? "chosen" : "rejected" }), null);
    }, o.JudgeRole);

    /// <summary>The model's own count of an answer's tokens when the server reports it (what "shorter" means for that model), else o200k's.</summary>
    private static int Tokens(ChatResponse r) =>
        r.Usage?.OutputTokenCount is > 0 and var n && !r.CallInfo().TokensEstimated ? (int)n : TokenCounter.Count(r.Text);

    private static Dictionary<string, string> Keys(ScheduledPair p) => new() { ["persona_key"] = p.Persona.Id, ["prompt_key"] = p.Prompt.Id };

    private static long StableIndex(string pairId) => long.Parse(pairId[..12], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}

/// <summary>The chain's result for one pair, as logged in the sample's data.</summary>
public sealed record PairData(
    string PersonaId, string PromptId, string Split, int? PromptTopic, int Slot, string PersonaText, string Question,
    string Original, string Critique, string Revision, int OriginalTokens, int RevisionTokens, int Attempts,
    bool NotShorter, string? QuotesAttribute, bool Truncated, bool Empty, string Answerer, string Critic, string TemplateVersion);
