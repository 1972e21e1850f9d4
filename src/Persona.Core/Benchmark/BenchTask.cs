using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Prompts;

namespace Persona.Benchmark;

/// <summary>
/// One bench sample to generate: a persona, a question, a mode and a sample index (pass@k draws
/// several). <see cref="CriticPersona"/>: the persona the critic judges against when the solver saw
/// less of it (leave-one-out's dropped attribute), named by <see cref="Variant"/> in the sample id.
/// </summary>
public sealed record BenchItem(PersonaInput Persona, QuestionInput Question, string Mode, int Sample, IReadOnlyList<PreferencePair>? Examples = null,
    PersonaInput? CriticPersona = null, string? Variant = null);

/// <summary>How personas and questions are paired into bench samples.</summary>
public sealed record BenchSampling
{
    /// <summary>zip (persona i gets questions i·K ... i·K+K−1, cycling), random (K seeded questions per persona) or cross (every persona × every question).</summary>
    public string Pairing { get; init; } = "random";
    /// <summary>Questions per persona (zip and random).</summary>
    public int PerPersona { get; init; } = 1;
    /// <summary>Keep only this many (persona, question) pairs, a seeded subset in input order (null: all).</summary>
    public int? Samples { get; init; }
    /// <summary>train, held_out or all: the questions' split to draw from.</summary>
    public string QuestionSplit { get; init; } = "held_out";
    /// <summary>train, test or all: the personas' split.</summary>
    public string PersonaSplit { get; init; } = "all";
    public ulong Seed { get; init; }
}

/// <summary>
/// PERSONA Bench as tasks on the shared engine: the solver answers a question in one of the
/// generation modes (structured output through the runtime's JSON-schema support; only
/// <c>answer_to_question</c> is judged), and the critic scorer, its own role, stages the debate and
/// scores 1 when no revision is needed. The critic reads only the logged sample (question, answer,
/// persona), so any run can be re-scored by another critic without regenerating.
/// </summary>
public static class BenchTask
{
    public const string TaskName = "bench", PassAtKTaskName = "bench-passk";
    public const string CriticRole = "critic";
    public const string DefaultScoreSet = "critic";

    /// <summary>(persona, question) pairs under <paramref name="sampling"/>, in a stable order; errors say what to change.</summary>
    public static IReadOnlyList<(PersonaInput Persona, QuestionInput Question)> Pair(IReadOnlyList<PersonaInput> personas, IReadOnlyList<QuestionInput> questions, BenchSampling sampling)
    {
        var ps = InSplit(personas, sampling).ToList();
        if (ps.Count == 0) throw NoPersona(sampling);
        var qs = QuestionsOf(questions, sampling);
        var pairs = new List<(PersonaInput, QuestionInput)>();
        for (var i = 0; i < ps.Count; i++)
            foreach (var q in QuestionsFor(i, ps[i], qs, sampling)) pairs.Add((ps[i], q));
        if (sampling.Samples is { } n)
        {
            if (n < 1) throw new PersonaException("--samples must be at least 1.");
            if (n < pairs.Count)
            {
                var keep = pairs.Select((x, i) => (i, k: Key(sampling.Seed, "sample", x.Item1.Id, x.Item2.Id)))
                    .OrderBy(x => x.k).Take(n).Select(x => x.i).Order().ToArray();
                pairs = keep.Select(i => pairs[i]).ToList();
            }
        }
        return pairs;
    }

    /// <summary>
    /// <see cref="Pair"/> as the personas come, for a sampling without a <see cref="BenchSampling.Samples"/> subset (that draw
    /// ranks every pair): each persona's questions depend on it and its place alone, so no persona is held past its pairs.
    /// </summary>
    public static async IAsyncEnumerable<(PersonaInput Persona, QuestionInput Question)> PairAsync(IAsyncEnumerable<PersonaInput> personas,
        IReadOnlyList<QuestionInput> questions, BenchSampling sampling, [EnumeratorCancellation] CancellationToken ct = default)
    {
        if (sampling.Samples is not null) throw new ArgumentException("a subset of the pairs needs them all: use Pair", nameof(sampling));
        var qs = QuestionsOf(questions, sampling);
        var i = 0;
        await foreach (var p in personas.WithCancellation(ct).ConfigureAwait(false))
        {
            if (!InSplit(p, sampling)) continue;
            foreach (var q in QuestionsFor(i++, p, qs, sampling)) yield return (p, q);
        }
        if (i == 0) throw NoPersona(sampling);
    }

    private static IEnumerable<PersonaInput> InSplit(IEnumerable<PersonaInput> personas, BenchSampling sampling) => personas.Where(p => InSplit(p, sampling));

    private static bool InSplit(PersonaInput p, BenchSampling sampling) => sampling.PersonaSplit switch
    {
        "all" => true,
        "train" or "test" => string.Equals(p.Split, sampling.PersonaSplit, StringComparison.OrdinalIgnoreCase),
        var s => throw new PersonaException($"--persona-split '{s}': expected train, test or all."),
    };

    private static PersonaException NoPersona(BenchSampling sampling) =>
        new($"No persona is in split '{sampling.PersonaSplit}'; use --persona-split all, or personas with a split (a `personas build` folder).");

    /// <summary>The questions of the sampling's split, checked along with the sampling's other settings.</summary>
    private static IReadOnlyList<QuestionInput> QuestionsOf(IReadOnlyList<QuestionInput> questions, BenchSampling sampling)
    {
        if (sampling.PersonaSplit is not ("all" or "train" or "test")) throw new PersonaException($"--persona-split '{sampling.PersonaSplit}': expected train, test or all.");
        var qs = sampling.QuestionSplit switch
        {
            "all" => questions,
            PromptSplit.Train or PromptSplit.HeldOut => questions.Where(q => q.Split == sampling.QuestionSplit).ToList(),
            var s => throw new PersonaException($"--split '{s}': expected train, held_out or all."),
        };
        if (qs.Count == 0)
            throw new PersonaException(questions.All(q => q.Split is null)
                ? $"The questions have no split column, so none is in '{sampling.QuestionSplit}'; use --split all."
                : $"No question is in split '{sampling.QuestionSplit}'; use --split train, held_out or all.");
        if (sampling.PerPersona < 1) throw new PersonaException("--per-persona must be at least 1.");
        if (sampling.Pairing is not ("cross" or "zip" or "random")) throw new PersonaException($"--pairing '{sampling.Pairing}': expected zip, random or cross.");
        return qs;
    }

    /// <summary>The questions of the <paramref name="index"/>th persona in the split: all (cross), the next K in turn (zip) or K seeded ones (random).</summary>
    private static IEnumerable<QuestionInput> QuestionsFor(int index, PersonaInput p, IReadOnlyList<QuestionInput> qs, BenchSampling sampling) => sampling.Pairing switch
    {
        "cross" => qs,
        "zip" => Enumerable.Range(0, Math.Min(sampling.PerPersona, qs.Count)).Select(j => qs[(int)(((long)index * sampling.PerPersona + j) % qs.Count)]),
        _ => qs.OrderBy(q => Key(sampling.Seed, "pair", p.Id, q.Id)).Take(sampling.PerPersona),
    };

    /// <summary>A planned list as a task's dataset.</summary>
    public static async IAsyncEnumerable<T> Stream<T>(IEnumerable<T> items)
    {
        foreach (var x in items) yield return x;
        await Task.CompletedTask;
    }

    /// <summary>What every bench sample logs about its item: the critic reads the persona it judges against (leave-one-out's full one), not the solver's.</summary>
    internal static Dictionary<string, object?> SampleData(BenchItem item)
    {
        var judged = item.CriticPersona ?? item.Persona;
        return new Dictionary<string, object?>
        {
            ["question"] = item.Question.Text,
            ["persona"] = judged.Text,
            ["mode"] = item.Mode,
            [PersonaMetadata.Field] = PersonaMetadata.Of(judged).ToJson(),
        };
    }

    /// <summary>A stable pseudo-random sort key (same on every platform and .NET version).</summary>
    internal static ulong Key(ulong seed, params string[] parts)
    {
        var bytes = Encoding.UTF8.GetBytes(seed.ToString(CultureInfo.InvariantCulture) + "\u0000" + string.Join('\u0000', parts));
        Span<byte> h = stackalloc byte[32];
        SHA256.HashData(bytes, h);
        return BitConverter.ToUInt64(h[..8]);
    }

    /// <summary>Every (pair, mode, sample) item, mode-major within a pair so paired modes sit together in the log.</summary>
    public static IAsyncEnumerable<BenchItem> Items(IReadOnlyList<(PersonaInput Persona, QuestionInput Question)> pairs, IReadOnlyList<string> modes, int samplesPerItem = 1,
        IReadOnlyDictionary<string, IReadOnlyList<PreferencePair>>? examples = null, int shots = 3, CancellationToken ct = default) =>
        Items(Stream(pairs), modes, samplesPerItem, examples, shots, ct);

    /// <summary>Every (pair, mode, sample) item of pairs that come one at a time (<see cref="PairAsync"/>).</summary>
    public static async IAsyncEnumerable<BenchItem> Items(IAsyncEnumerable<(PersonaInput Persona, QuestionInput Question)> pairs, IReadOnlyList<string> modes, int samplesPerItem = 1,
        IReadOnlyDictionary<string, IReadOnlyList<PreferencePair>>? examples = null, int shots = 3, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var (p, q) in pairs.WithCancellation(ct).ConfigureAwait(false))
            foreach (var m in modes)
            {
                IReadOnlyList<PreferencePair>? ex = null;
                if (m == BenchModes.FewShotPreferences)
                {
                    // Never a pair of the question being answered: that would show the chosen answer.
                    ex = examples?.GetValueOrDefault(p.Id)?.Where(e => e.PromptId != q.Id && e.Instruction != q.Text).Take(shots).ToList();
                    if (ex is null or { Count: 0 })
                        throw new PersonaException($"few_shot_preferences: persona {p.Id} has no train pairs in --pairs; build pairs for these personas, or drop the mode.");
                }
                for (var s = 0; s < samplesPerItem; s++)
                {
                    ct.ThrowIfCancellationRequested();
                    yield return new BenchItem(p, q, m, s, ex);
                }
            }
    }

    /// <summary>The bench task: generation by the model under test, graded by <paramref name="scorers"/> (usually one critic).</summary>
    /// <param name="bestOfN">The reward model and draws of rm_best_of_n (null: the mode cannot run; asking for it is an error).</param>
    public static EvalTask<BenchItem> Create(IAsyncEnumerable<BenchItem> items, BenchPrompts prompts, IReadOnlyList<Scorer> scorers, float? temperature = 0, string name = TaskName,
        BestOfN? bestOfN = null) => new()
    {
        Name = name,
        Version = prompts.Version,
        Dataset = items,
        Inputs = i =>
        {
            var inputs = new Dictionary<string, string>
            {
                ["persona_id"] = i.Persona.Id, ["prompt_id"] = i.Question.Id, ["mode"] = i.Mode, ["sample"] = i.Sample.ToString(CultureInfo.InvariantCulture),
            };
            if (i.Variant is not null) inputs["variant"] = i.Variant; // only then: plain bench sample ids stay as they are
            // The reward model and N are part of a best-of-n sample's id: another model's picks are never reused as this one's.
            if (i.Mode == BenchModes.RmBestOfN && bestOfN is not null)
            {
                inputs["rm"] = bestOfN.Identity;
                inputs["n"] = bestOfN.N.ToString(CultureInfo.InvariantCulture);
            }
            return inputs;
        },
        Solver = (i, ctx, ct) => i.Mode == BenchModes.RmBestOfN
            ? (bestOfN ?? throw new PersonaException("rm_best_of_n needs a reward model: give --rm DIR (a `persona rm train` output folder)."))
                .SolveAsync(i, ctx, prompts, ct)
            : SolveAsync(i, ctx, prompts, temperature, ct),
        Scorers = scorers,
    };

    private static ChatOptions SolverOptions(BenchItem item, BenchPrompts prompts, float? temperature) => new ChatOptions
    {
        Temperature = temperature,
        ResponseFormat = ChatResponseFormat.ForJsonSchema(BenchPrompts.AnswerSchema(prompts.Modes[item.Mode]), "bench_answer_" + item.Mode),
    }.WithRunMetadata(prompts.Version, item.Sample);

    /// <summary>
    /// The answer calls of <paramref name="items"/> that no persona enters (a mode that shows neither the
    /// persona nor examples, e.g. the baseline): the same for every persona asked that question, each once.
    /// The critic's calls all see the persona.
    /// </summary>
    public static IReadOnlyList<LlmRequest> PersonaFreeRequests(IEnumerable<BenchItem> items, BenchPrompts prompts, float? temperature = 0)
    {
        var seen = new HashSet<(string, string, int)>();
        return [.. items.Where(i => prompts.Modes[i.Mode] is { ShowsPersona: false } mp && !(mp.ShowsExamples && i.Examples is { Count: > 0 }) && seen.Add((i.Question.Id, i.Mode, i.Sample)))
            .Select(i => new LlmRequest(LlmRuntime.DefaultRole, SolverMessages(i, prompts), SolverOptions(i, prompts, temperature)))];
    }

    /// <summary>The messages a mode sends (the persona in a data block, the mode's instruction).</summary>
    public static List<ChatMessage> SolverMessages(BenchItem item, BenchPrompts prompts)
    {
        var mp = prompts.Modes[BenchModes.PromptOf(item.Mode)];
        var examples = "";
        if (mp.ShowsExamples && item.Examples is { Count: > 0 })
        {
            var sb = new StringBuilder();
            foreach (var e in item.Examples)
                sb.Append(BenchPrompts.Fill(prompts.Example, new Dictionary<string, string> { ["instruction"] = e.Instruction, ["chosen"] = e.Chosen, ["rejected"] = e.Rejected }));
            examples = BenchPrompts.Fill(prompts.ExamplesBlock, new Dictionary<string, string> { ["examples"] = sb.ToString() });
        }
        var user = BenchPrompts.Fill(prompts.SolverUser, new Dictionary<string, string>
        {
            ["persona_block"] = mp.ShowsPersona ? BenchPrompts.Fill(prompts.PersonaBlock, new Dictionary<string, string> { ["persona"] = item.Persona.Text }) : "",
            ["examples_block"] = examples,
            ["question"] = item.Question.Text,
            ["instruction"] = mp.Instruction,
        });
        return [new ChatMessage(ChatRole.System, mp.System ?? prompts.SolverSystem), new ChatMessage(ChatRole.User, user)];
    }

    private static async ValueTask<SolverResult> SolveAsync(BenchItem item, SampleContext ctx, BenchPrompts prompts, float? temperature, CancellationToken ct)
    {
        var mp = prompts.Modes[item.Mode];
        // Each sample is its own conversation: pass@k draws never see each other (a defect of the original).
        var r = await ctx.CallAsync(LlmRuntime.DefaultRole, SolverMessages(item, prompts), SolverOptions(item, prompts, temperature), ct, "answer").ConfigureAwait(false);
        using var doc = JsonDocument.Parse(r.Text);
        var root = doc.RootElement;
        var data = SampleData(item);
        foreach (var f in mp.Fields)
        {
            if (!root.TryGetProperty(f, out var v) || v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString()))
                throw new ItemFailedException(ItemFailure.Unparsable, $"the answer has no non-empty '{f}' string", r.Text);
            data[f] = v.GetString();
        }
        return new SolverResult((string)data["answer_to_question"]!, JsonSerializer.SerializeToElement(data));
    }

    /// <summary>
    /// The debate critic as a scorer of the logged sample: question, answer and the full persona
    /// (also for baseline answers, which never saw it). 1 when no revision is needed; an unreadable
    /// verdict is a score failure (counted by the statistics, never silently dropped).
    /// </summary>
    public static Scorer Critic(BenchPrompts prompts, string scoreSet = DefaultScoreSet, string role = CriticRole) => new(scoreSet, async (sample, ctx, ct) =>
    {
        var question = sample.Field("question")?.GetString() ?? throw new ItemFailedException(ItemFailure.Invalid, $"sample {sample.Id} has no question in its data");
        var persona = sample.Field("persona")?.GetString() ?? throw new ItemFailedException(ItemFailure.Invalid, $"sample {sample.Id} has no persona in its data");
        var answer = sample.Output ?? "";
        var verdict = await CritiqueAsync(ctx, role, prompts, question, answer, persona, PersonaMetadata.Read(sample)?.Attributes,
            sample.Input("persona_id") ?? "", sample.Input("prompt_id") ?? "", sample.Input("mode") ?? "", sample.Input("sample") ?? "0", ct,
            sample.Turns.FirstOrDefault(t => t.Step == "answer")?.Model).ConfigureAwait(false);
        // The score keeps what the critic was shown and said, so a verdict can be audited from the log alone.
        var data = JsonSerializer.SerializeToElement(new Dictionary<string, object?> { ["verdict"] = verdict.Raw, ["turn"] = ctx.Turns.LastOrDefault() }, SampleRecord.Json);
        return new Score(verdict.NeedsRevision ? 0 : 1, verdict.NeedsRevision ? "needs_revision" : "pass", verdict.Conclusion, scoreSet,
            ctx.Role(role).Identity.Identity, data, null);
    }, role);

    public sealed record CriticVerdict(bool NeedsRevision, string? Conclusion, JsonElement Raw);

    /// <summary>One critic call; throws <see cref="ItemFailedException"/> (unparsable, with the raw text) when the verdict has no boolean needs_revision.</summary>
    public static async Task<CriticVerdict> CritiqueAsync(SampleContext ctx, string role, BenchPrompts prompts, string question, string answer, string persona,
        IReadOnlyDictionary<string, string>? attributes, string personaKey, string promptKey, string mode, string sample, CancellationToken ct, string? answerModel = null)
    {
        var messages = CriticMessages(prompts, question, answer, persona);
        var r = await ctx.CallAsync(role, messages, CriticOptions(prompts, attributes, personaKey, promptKey, mode, sample, answerModel, answer), ct, "critic").ConfigureAwait(false);
        return ParseVerdict(r.Text);
    }

    public static List<ChatMessage> CriticMessages(BenchPrompts prompts, string question, string answer, string persona) =>
    [
        new ChatMessage(ChatRole.System, prompts.Critic.System),
        new ChatMessage(ChatRole.User, BenchPrompts.Fill(prompts.Critic.User, new Dictionary<string, string> { ["persona"] = persona, ["question"] = question, ["answer"] = answer })),
    ];

    /// <param name="answerModel">Who wrote the answer (the model under test's identity): the simulator plants per-model quality
    /// from it; a served critic never sees it.</param>
    /// <param name="attributes">The judged persona's attributes, for the simulator's hint (null: the simulator plants no persona effect).</param>
    /// <param name="answer">The judged answer, for the simulator's planted marker words (the world's bench.marker_strength); a served critic reads it in the messages only.</param>
    public static ChatOptions CriticOptions(BenchPrompts prompts, IReadOnlyDictionary<string, string>? attributes, string personaKey, string promptKey, string mode, string sample, string? answerModel = null,
        string? answer = null)
    {
        var options = new Dictionary<string, string>
        {
            ["persona_key"] = personaKey, ["prompt_key"] = promptKey, ["mode"] = mode, ["sample"] = sample, ["field"] = "needs_revision",
        };
        if (answerModel is not null) options["answer_model"] = answerModel;
        if (answer is not null) options["answer_text"] = answer;
        return new ChatOptions
        {
            Temperature = 0,
            ResponseFormat = ChatResponseFormat.ForJsonSchema(BenchPrompts.CriticSchema, "critic_verdict"),
        }.WithRunMetadata(prompts.Version, hint: new SimulationHint("bench_critic", attributes, options));
    }

    public static CriticVerdict ParseVerdict(string text)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException) { throw new ItemFailedException(ItemFailure.Unparsable, "the critic's verdict is not JSON", text); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("needs_revision", out var nr) || nr.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                throw new ItemFailedException(ItemFailure.Unparsable, "the critic's verdict has no boolean needs_revision", text);
            var conclusion = root.TryGetProperty("conclusion", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            return new CriticVerdict(nr.GetBoolean(), conclusion, root.Clone());
        }
    }
}
