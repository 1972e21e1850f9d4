using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Prompts;
using Persona.Statistics;

namespace Persona.Benchmark;

/// <summary>One role-play choice of the leave-one-out study: a persona of a few attributes, with or without the studied one.</summary>
public sealed record LooItem(string Attribute, PersonaInput Persona, IReadOnlyList<string> Keys, bool WithAttribute, QuestionInput Question, bool PersonalisedFirst, int Order = 0);

public sealed record LooOptions
{
    public int Personas { get; init; } = 40;
    public int Questions { get; init; } = 20;
    public int BaseAttributes { get; init; } = 3;
    /// <summary>1: one seeded answer order per choice; 2: both orders, and a choice that flips with the order counts as "inconsistent" (position bias).</summary>
    public int Orders { get; init; } = 2;
    public ulong Seed { get; init; }
}

public sealed record LooAttribute(string Attribute, int Personas, int Pairs, int Failures, double? Kappa, Interval? KappaInterval, double? Influence, Interval? InfluenceInterval,
    double Disagreement, Interval DisagreementInterval, double ChosePersonalisedWith, double ChosePersonalisedWithout, double InconsistentShare, string? Undefined);

public sealed record LooResults(string Format, string? JudgeModel, bool Simulated, LooOptions Options, IReadOnlyList<LooAttribute> Ranking, IReadOnlyList<string> SkippedAttributes, string Notes);

/// <summary>
/// Leave-one-attribute-out as in the original study: for each attribute a, personas of a few
/// random attributes without a and the same personas with a added (only personas where a
/// applies), a set of questions, and the judge role-playing each persona choosing between a
/// generic and a personalised answer. Cohen's kappa between the with-a and without-a choices; the
/// influence of a is 1 − kappa, and attributes are ranked by it.
/// </summary>
public static class LeaveOneOut
{
    public const string TaskName = "bench-loo", JudgeRole = "judge", FormatId = "persona-bench-loo/1", Inconsistent = "inconsistent";

    private static readonly HashSet<string> NotApplicable = new(StringComparer.OrdinalIgnoreCase) { "not applicable", "n/a", "na", "(not in universe)", "not in universe", "" };

    public static bool Applies(PersonaInput p, string attribute) => p.Attribute(attribute) is { } v && !NotApplicable.Contains(v.Trim());

    /// <summary>The items (both conditions of each persona x question next to each other); the skipped attributes have too few personas.</summary>
    public static (IReadOnlyList<LooItem> Items, IReadOnlyList<string> Skipped) Plan(IReadOnlyList<PersonaInput> personas, IReadOnlyList<QuestionInput> questions, IReadOnlyList<string> attributes, LooOptions o)
    {
        if (o.Personas < 2 || o.Questions < 1 || o.BaseAttributes < 1) throw new PersonaException("bench loo needs --loo-personas >= 2, --loo-questions >= 1 and --base-attributes >= 1.");
        if (o.Orders is not (1 or 2)) throw new PersonaException($"--orders must be 1 or 2 (got {o.Orders}).");
        var qs = questions.OrderBy(q => BenchTask.Key(o.Seed, "loo-q", q.Id)).Take(o.Questions).ToList();
        var items = new List<LooItem>();
        var skipped = new List<string>();
        foreach (var a in attributes)
        {
            var eligible = personas.Where(p => Applies(p, a) && p.Attributes.Keys.Count(k => !k.Equals(a, StringComparison.OrdinalIgnoreCase)) >= o.BaseAttributes).ToList();
            if (eligible.Count < 2) { skipped.Add(a); continue; }
            foreach (var p in eligible.OrderBy(p => BenchTask.Key(o.Seed, "loo-p", a, p.Id)).Take(o.Personas))
            {
                var keys = p.Attributes.Keys.Where(k => !k.Equals(a, StringComparison.OrdinalIgnoreCase))
                    .OrderBy(k => BenchTask.Key(o.Seed, "loo-k", a, p.Id, k)).Take(o.BaseAttributes).ToList();
                foreach (var q in qs)
                {
                    var first = BenchTask.Key(o.Seed, "loo-order", a, p.Id, q.Id) % 2 == 0;
                    for (var order = 0; order < o.Orders; order++)
                    {
                        // The same orders in both conditions, so a change of choice is never a change of position.
                        items.Add(new LooItem(a, p, keys, false, q, first ^ (order == 1), order));
                        items.Add(new LooItem(a, p, keys, true, q, first ^ (order == 1), order));
                    }
                }
            }
        }
        return (items, skipped);
    }

    /// <param name="answerRole">Who writes the generic and personalised answers the judge chooses between: the
    /// verb's --model, or the run's writer (the answers are part of the dataset, not of the model under test).</param>
    public static EvalTask<LooItem> Create(IReadOnlyList<LooItem> items, BenchPrompts prompts, string answerRole = LlmRuntime.DefaultRole) => new()
    {
        Name = TaskName,
        Version = prompts.Version,
        Dataset = BenchTask.Stream(items),
        Inputs = i => new Dictionary<string, string>
        {
            ["attribute"] = i.Attribute, ["persona_id"] = i.Persona.Id, ["prompt_id"] = i.Question.Id, ["condition"] = i.WithAttribute ? "with" : "without",
            ["keys"] = string.Join("|", i.Keys), ["order"] = i.Order.ToString(CultureInfo.InvariantCulture),
        },
        Solver = (i, ctx, ct) => SolveAsync(i, ctx, prompts, answerRole, ct),
        Roles = [answerRole, JudgeRole],
    };

    private static LlmRequest Generic(QuestionInput q, BenchPrompts prompts, string answerRole) => new(answerRole,
        [new ChatMessage(ChatRole.System, prompts.Generic.System), new ChatMessage(ChatRole.User, BenchPrompts.Fill(prompts.Generic.User, new Dictionary<string, string> { ["question"] = q.Text }))],
        new ChatOptions { Temperature = 0 }.WithRunMetadata(prompts.Version));

    /// <summary>The calls of <paramref name="items"/> that no persona enters: one generic answer per question, each once.</summary>
    public static IReadOnlyList<LlmRequest> PersonaFreeRequests(IEnumerable<LooItem> items, BenchPrompts prompts, string answerRole = LlmRuntime.DefaultRole)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return [.. items.Where(i => seen.Add(i.Question.Id)).Select(i => Generic(i.Question, prompts, answerRole))];
    }

    private static async ValueTask<SolverResult> SolveAsync(LooItem i, SampleContext ctx, BenchPrompts prompts, string answerRole, CancellationToken ct)
    {
        // The two answers depend only on the question and the full persona: both conditions (and every attribute) share them through the cache.
        var g = Generic(i.Question, prompts, answerRole);
        var generic = await ctx.CallAsync(g.Role, g.Messages, g.Options, ct, "generic").ConfigureAwait(false);
        var personalised = await ctx.CallAsync(answerRole,
            [new ChatMessage(ChatRole.System, prompts.Personalised.System), new ChatMessage(ChatRole.User, BenchPrompts.Fill(prompts.Personalised.User, new Dictionary<string, string> { ["question"] = i.Question.Text, ["persona"] = i.Persona.Text }))],
            new ChatOptions { Temperature = 0 }.WithRunMetadata(prompts.Version), ct, "personalised").ConfigureAwait(false);
        var keys = i.WithAttribute ? [.. i.Keys, i.Attribute] : i.Keys;
        var shown = i.Persona.TextOf(keys);
        var attrs = i.Persona.AttributesOf(keys);
        var (first, second) = i.PersonalisedFirst ? (personalised.Text, generic.Text) : (generic.Text, personalised.Text);
        // The hint must follow from the messages alone (the cache key ignores it): two items that send the same
        // messages (the same 4 attributes reached from two studied attributes, in the same order) get one answer.
        var options = Choice.RolePlayChoice.Options(prompts.Version, new Choice.RolePlayChoice.Ask(i.Persona.Id, i.Question.Id, attrs,
            i.PersonalisedFirst ? "personalised-first" : "generic-first", i.PersonalisedFirst, Words(first), Words(second)), schemaName: "choice", schemaDescription: null);
        var r = await ctx.CallAsync(JudgeRole,
            [new ChatMessage(ChatRole.System, prompts.Choice.System), new ChatMessage(ChatRole.User, BenchPrompts.Fill(prompts.Choice.User, new Dictionary<string, string> { ["persona"] = shown, ["question"] = i.Question.Text, ["first"] = first, ["second"] = second }))],
            options, ct, "choice").ConfigureAwait(false);
        var preferred = Choice.RolePlayChoice.Parse(r.Text)
            ?? throw new ItemFailedException(ItemFailure.Unparsable, "the choice has no preferred A or B", r.Text);
        var chosePersonalised = (preferred == "A") == i.PersonalisedFirst;
        return new SolverResult(chosePersonalised ? "personalised" : "generic", JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["attribute"] = i.Attribute, ["condition"] = i.WithAttribute ? "with" : "without", ["shown_keys"] = keys, ["personalised_first"] = i.PersonalisedFirst,
            ["preferred"] = preferred, ["chose"] = chosePersonalised ? "personalised" : "generic",
        }));
    }

    private static int Words(string s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>Kappa per attribute between the with and without choices (pairs where both succeeded), ranked by influence 1 − kappa.</summary>
    public static LooResults Compute(IEnumerable<SampleRecord> samples, LooOptions options, IReadOnlyList<string> skipped, string? judge)
    {
        var simulated = false;
        var rows = new List<(string Attribute, string Persona, string Prompt, string Condition, string Order, string? Choice)>();
        foreach (var s in samples)
        {
            simulated |= s.Simulated;
            judge ??= s.Turns.FirstOrDefault(t => t.Role == JudgeRole)?.Model;
            rows.Add((s.Input("attribute")!, s.Input("persona_id")!, s.Input("prompt_id")!, s.Input("condition")!, s.Input("order") ?? "0", s.Status == SampleRecord.StatusOk ? s.Output : null));
        }
        // Both orders judged: the choice is the one both orders agree on, else "inconsistent" (a failed order leaves no choice).
        var combined = rows.GroupBy(r => (r.Attribute, r.Persona, r.Prompt, r.Condition)).Select(g =>
        {
            var choices = g.Select(r => r.Choice).ToList();
            string? choice = choices.Any(c => c is null) ? null : choices.Distinct().Count() == 1 ? choices[0] : Inconsistent;
            return (g.Key.Attribute, g.Key.Persona, g.Key.Prompt, g.Key.Condition, Choice: choice);
        }).ToList();
        var result = new List<LooAttribute>();
        foreach (var g in combined.GroupBy(r => r.Attribute))
        {
            var without = g.Where(r => r.Condition == "without").ToDictionary(r => (r.Persona, r.Prompt), r => r.Choice);
            var with = g.Where(r => r.Condition == "with").ToDictionary(r => (r.Persona, r.Prompt), r => r.Choice);
            var pairs = without.Where(kv => kv.Value is not null && with.GetValueOrDefault(kv.Key) is not null).Select(kv => (A: kv.Value!, B: with[kv.Key]!)).ToList();
            var failures = without.Count + with.Count - 2 * pairs.Count;
            if (pairs.Count == 0) { result.Add(new LooAttribute(g.Key, 0, 0, failures, null, null, null, null, 0, new Interval(0, 1), 0, 0, 0, "no pair with both choices")); continue; }
            var disagree = pairs.Count(p => p.A != p.B);
            double? kappa = null; Interval? ki = null, ii = null; string? undefined = null;
            try
            {
                var k = Agreement.CohensKappa(pairs.Select(p => p.A).ToArray(), pairs.Select(p => p.B).ToArray(), categories: ["personalised", "generic", Inconsistent]);
                if (double.IsFinite(k.Kappa)) { kappa = k.Kappa; ki = k.Interval; ii = new Interval(1 - k.Interval.Upper, 1 - k.Interval.Lower); }
                else undefined = "kappa undefined (every choice in one category)";
            }
            catch (UndefinedStatisticException ex) { undefined = ex.Message; }
            if (kappa is null && disagree == 0) { kappa = 1; ki = new Interval(1, 1); ii = new Interval(0, 0); undefined += "; no choice changed: influence 0"; }
            result.Add(new LooAttribute(g.Key, g.Select(r => r.Persona).Distinct().Count(), pairs.Count, failures, kappa, ki, kappa is { } kv ? 1 - kv : null, ii,
                (double)disagree / pairs.Count, Proportion.Wilson(disagree, pairs.Count),
                pairs.Count(p => p.B == "personalised") / (double)pairs.Count, pairs.Count(p => p.A == "personalised") / (double)pairs.Count,
                pairs.Sum(p => (p.A == Inconsistent ? 1 : 0) + (p.B == Inconsistent ? 1 : 0)) / (2.0 * pairs.Count), undefined));
        }
        var ranked = result.OrderByDescending(r => r.Influence ?? double.NegativeInfinity).ThenByDescending(r => r.Disagreement).ThenBy(r => r.Attribute, StringComparer.Ordinal).ToList();
        return new LooResults(FormatId, judge, simulated, options, ranked, skipped,
            "Influence = 1 - Cohen's kappa between the role-played choices (personalised, generic, or inconsistent when the choice flips with the answer order) with and without the attribute, on the same persona, question and answer orders; " +
            "disagreement = share of choices that changed (Wilson interval)." + (simulated ? " SIMULATED: nothing here is a finding." : ""));
    }
}

public sealed record DropAttributeChange(string Attribute, int Pairs, double AccuracyFull, double AccuracyDropped, double Change, Statistics.Interval Interval,
    double PValue, double PValueHolm, string Method);

public sealed record DropResults(string Format, string Mode, string ScoreSet, bool Simulated, LooOptions Options, IReadOnlyList<DropAttributeChange> Ranking, IReadOnlyList<string> SkippedAttributes, string Notes);

/// <summary>
/// Leave-one-out as the original bench does it: the model under test answers with the full
/// persona and with the persona minus one attribute; the critic always judges against the full
/// persona; the accuracy change (full − dropped) per attribute, paired on (persona, question), with
/// clustered intervals and Holm-adjusted p-values.
/// </summary>
public static class DropOneAttribute
{
    public const string TaskName = "bench-drop", FormatId = "persona-bench-drop/1", Full = "full";

    /// <summary>Full-persona items once per (persona, question), then one dropped item per attribute, persona and question.</summary>
    public static (IReadOnlyList<BenchItem> Items, IReadOnlyList<string> Skipped) Plan(IReadOnlyList<PersonaInput> personas, IReadOnlyList<QuestionInput> questions,
        IReadOnlyList<string> attributes, LooOptions o, string mode)
    {
        var qs = questions.OrderBy(q => BenchTask.Key(o.Seed, "loo-q", q.Id)).Take(o.Questions).ToList();
        var full = new Dictionary<(string, string), BenchItem>();
        var dropped = new List<BenchItem>();
        var skipped = new List<string>();
        foreach (var a in attributes)
        {
            var eligible = personas.Where(p => LeaveOneOut.Applies(p, a) && p.Attributes.Count > 1).ToList();
            if (eligible.Count < 2) { skipped.Add(a); continue; }
            foreach (var p in eligible.OrderBy(p => BenchTask.Key(o.Seed, "drop-p", a, p.Id)).Take(o.Personas))
            {
                var keys = p.Attributes.Keys.Where(k => !k.Equals(a, StringComparison.OrdinalIgnoreCase)).ToList();
                var reduced = p with { Text = p.TextOf(keys), Attributes = p.AttributesOf(keys) };
                foreach (var q in qs)
                {
                    full.TryAdd((p.Id, q.Id), new BenchItem(p, q, mode, 0, Variant: Full));
                    dropped.Add(new BenchItem(reduced, q, mode, 0, CriticPersona: p, Variant: "drop:" + a));
                }
            }
        }
        return ([.. full.Values, .. dropped], skipped);
    }

    public static DropResults Compute(IEnumerable<SampleRecord> samples, string mode, string scoreSet, LooOptions options, IReadOnlyList<string> skipped, int resamples = 1000, ulong seed = 1)
    {
        var simulated = false;
        var full = new Dictionary<(string, string), double>();
        var drops = new Dictionary<string, List<(string Persona, string Prompt, double Score)>>(StringComparer.Ordinal);
        foreach (var s in samples)
        {
            simulated |= s.Simulated;
            var o = BenchObservation.From(s, scoreSet);
            if (o.Score is not { } v) continue;
            var variant = s.Input("variant") ?? "";
            if (variant == Full) full[(o.PersonaId, o.PromptId)] = v;
            else if (variant.StartsWith("drop:", StringComparison.Ordinal))
            {
                var a = variant[5..];
                if (!drops.TryGetValue(a, out var list)) drops[a] = list = [];
                list.Add((o.PersonaId, o.PromptId, v));
            }
        }
        var raw = new List<(string Attribute, double[] A, double[] B, string[] P, string[] Q)>();
        foreach (var (a, list) in drops.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var paired = list.Where(x => full.ContainsKey((x.Persona, x.Prompt))).ToList();
            if (paired.Count < 2) continue;
            raw.Add((a, paired.Select(x => full[(x.Persona, x.Prompt)]).ToArray(), paired.Select(x => x.Score).ToArray(), paired.Select(x => x.Persona).ToArray(), paired.Select(x => x.Prompt).ToArray()));
        }
        var diffs = raw.Select(r => (r.Attribute, D: r.P.Distinct().Count() > 1 && r.Q.Distinct().Count() > 1
            ? Statistics.Paired.TwoWayClustered(r.A, r.B, r.P, r.Q, resamples, seed)
            : Statistics.Paired.Bootstrap(r.A, r.B, resamples, seed))).ToList();
        var holm = diffs.Count == 0 ? [] : Statistics.MultipleTesting.Holm(diffs.Select(d => d.D.PValue).ToArray());
        var ranking = diffs.Select((d, i) => new DropAttributeChange(d.Attribute, d.D.N, d.D.MeanA, d.D.MeanB, d.D.Difference, d.D.Interval, d.D.PValue, holm[i], d.D.Method))
            .OrderByDescending(r => r.Change).ThenBy(r => r.Attribute, StringComparer.Ordinal).ToList();
        return new DropResults(FormatId, mode, scoreSet, simulated, options, ranking, skipped,
            "Accuracy with the full persona minus accuracy with one attribute dropped from what the model under test saw (the critic always sees the full persona), " +
            "paired on (persona, question); Holm-adjusted." + (simulated ? " SIMULATED: the offline world plants no effect of what the answerer saw, so every change is 0 by construction." : ""));
    }
}
