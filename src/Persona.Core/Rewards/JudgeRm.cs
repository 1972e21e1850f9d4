using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;
using Persona.Choice;
using Persona.Llm;
using Persona.Engine;

namespace Persona.Rewards;

/// <summary>
/// The judge role as a generative reward model, for the track's reference row: the runtime it calls
/// through (the run's fan-out, failure rule, budget and cache), the role, and how many pairs it judges
/// per persona (it pays two calls a pair, one per order).
/// </summary>
public sealed record RmJudge(LlmRuntime Runtime, string Role, int PairsPerPersona, StepProgress Progress, CancellationToken Abort)
{
    public const int DefaultPairsPerPersona = 1;
}

/// <summary>What the judge's row adds to a model's result: how many pairs it judged and how its two orders agreed.</summary>
/// <param name="Model">The judge's model identity (the row is this model's, not a trained one's).</param>
/// <param name="Pairs">Pairs judged in both orders (seen test + unseen evaluation).</param>
/// <param name="Inconsistent">Pairs whose two orders named different answers (position-following): each counts as half right.</param>
/// <param name="Failed">Pairs left out because an order failed (unparsable, refused) under the run's failure rule.</param>
public sealed record RmJudgeStats(string Model, int Pairs, int Inconsistent, int Failed);

/// <summary>
/// The one role-play choice task (<see cref="RolePlayChoice"/>) asked of the judge on the track's test
/// pairs, in both orders: A shown first, then B shown first. Its verdict on a pair is the answer both
/// orders name; when they disagree the judge followed the position, not the persona, and the pair counts
/// as a tie, half right (a coin flip's expectation), the count reported beside it. It reads nothing of
/// a new persona but the persona's text, so its few-shot curve is flat by construction.
/// </summary>
/// <remarks>
/// The pairs' labels are themselves role-play verdicts in both orders (pair verification). This task
/// has its own wording and order labels, so none of its calls is a cache hit of the verification's and
/// the simulator draws it afresh; but where the judge role is the model that verified the pairs, its
/// accuracy is that model's self-consistency under a new wording, an upper reference rather than an
/// independent reward model.
/// </remarks>
public static class JudgeRm
{
    public const string ModelName = "judge", TaskName = "rm-judge", Version = "rm-judge/1";

    public const string System =
        "You are role-playing the person described by the user. Read the description, the question and the two answers, " +
        "and say which answer this person would prefer, as they would see it. " +
        "Reply with JSON only: {\"reasoning\": \"one sentence\", \"preferred\": \"A\" or \"B\"}.";

    public const string UserTemplate = "The person:\n{persona}\n\nThe question:\n{question}\n\nAnswer A:\n{a}\n\nAnswer B:\n{b}";

    /// <summary>One call: a pair in one order (0: the pair's A shown first; 1: its B shown first).</summary>
    public sealed record Item(RmPair Pair, IReadOnlyDictionary<string, string> Attributes, int Order);

    /// <summary>
    /// The pairs judged: of each persona, at most <paramref name="perPersona"/> of its labelled evaluation pairs (a seen persona's
    /// test pairs, an unseen persona's evaluation set), by a seeded hash of the pair id. A per-persona cap keeps the choice a
    /// function of one persona's pairs, so a shard of a sharded run judges exactly its personas' share of what the merge reads.
    /// </summary>
    public static (List<RmPair> Seen, List<RmPair> Unseen) Select(PersonaHoldout holdout, IEnumerable<RmPair> labelled, int perPersona, long seed)
    {
        List<RmPair> Pick(RmRole role) => [.. labelled.Where(p => p.Label != 0 && holdout.RoleOf(p.PairId).Role == role)
            .GroupBy(p => p.PersonaId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .SelectMany(g => g.OrderBy(p => Rank(seed, p.PairId), StringComparer.Ordinal).ThenBy(p => p.PairId, StringComparer.Ordinal).Take(Math.Max(0, perPersona)))];
        return (Pick(RmRole.SeenTest), Pick(RmRole.UnseenEval));
    }

    private static string Rank(long seed, string pairId) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes("rm-judge\n" + seed.ToString(CultureInfo.InvariantCulture) + "\n" + pairId)), 0, 8);

    public static EvalTask<Item> Create(IReadOnlyList<Item> items, string role) => new()
    {
        Name = TaskName,
        Version = Version,
        Dataset = Stream(items),
        Inputs = i => new Dictionary<string, string> { ["pair_id"] = i.Pair.PairId, ["persona_id"] = i.Pair.PersonaId, ["order"] = i.Order.ToString(CultureInfo.InvariantCulture) },
        Solver = (i, ctx, ct) => SolveAsync(i, ctx, role, ct),
        Roles = [role],
    };

    private static async IAsyncEnumerable<T> Stream<T>(IEnumerable<T> items)
    {
        foreach (var i in items) yield return i;
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static async ValueTask<SolverResult> SolveAsync(Item i, SampleContext ctx, string role, CancellationToken ct)
    {
        var p = i.Pair;
        var aFirst = i.Order == 0;
        var (first, second) = aFirst ? (p.A, p.B) : (p.B, p.A);
        // A is the personalised answer (PairRewardRows): the simulator plants the persona's preference on it and its marker words.
        // The order label is this task's own, so the simulated draws are independent of the verification's.
        var ask = new RolePlayChoice.Ask(p.PersonaId, p.PromptId, i.Attributes, "rm-judge-" + i.Order.ToString(CultureInfo.InvariantCulture), aFirst,
            Words(first), Words(second), p.A, p.B);
        var user = UserTemplate.Replace("{persona}", p.PersonaText, StringComparison.Ordinal).Replace("{question}", p.Prompt, StringComparison.Ordinal)
            .Replace("{a}", first, StringComparison.Ordinal).Replace("{b}", second, StringComparison.Ordinal);
        var r = await ctx.CallAsync(role, [new ChatMessage(ChatRole.System, System), new ChatMessage(ChatRole.User, user)],
            RolePlayChoice.Options(Version, ask, schemaName: "rm_preference"), ct, aFirst ? "judge:a-first" : "judge:b-first").ConfigureAwait(false);
        var letter = RolePlayChoice.Parse(r.Text) ?? throw new ItemFailedException(ItemFailure.Unparsable, "the judge's answer names no preferred A or B", r.Text);
        // Output: which of the pair's answers the judge preferred ("A" = the pair's A), whatever side it was shown on.
        return new SolverResult((letter == "A") == aFirst ? "A" : "B");
    }

    private static int Words(string s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>The judge's verdict per pair judged in both orders: the credit against the label (1 right, 0 wrong, 0.5 when the orders disagree), and the counts.</summary>
    public static (Dictionary<string, double> Credit, int Inconsistent, int Failed) Score(IEnumerable<SampleRecord> samples, IReadOnlyDictionary<string, RmPair> pairs)
    {
        var credit = new Dictionary<string, double>(StringComparer.Ordinal);
        int inconsistent = 0, failed = 0;
        foreach (var g in samples.GroupBy(s => s.Input("pair_id") ?? "", StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            if (!pairs.TryGetValue(g.Key, out var pair)) continue;
            var votes = g.Where(s => s.Status == SampleRecord.StatusOk).GroupBy(s => s.Input("order")).Select(o => o.First().Output).ToList();
            if (votes.Count < 2) { failed++; continue; }
            var forA = votes.Count(v => v == "A");
            if (forA == 1) { inconsistent++; credit[g.Key] = 0.5; continue; }
            credit[g.Key] = (forA == 2) == (pair.Label > 0) ? 1 : 0;
        }
        return (credit, inconsistent, failed);
    }

    /// <summary>Judges the pairs in both orders on the run's fan-out and returns the credit per pair.</summary>
    public static async Task<(Dictionary<string, double> Credit, int Inconsistent, int Failed)> RunAsync(RmJudge judge, IReadOnlyList<RmPair> pairs,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> attributes, CancellationToken ct)
    {
        var items = pairs.SelectMany(p => new[] { new Item(p, attributes[p.PersonaId], 0), new Item(p, attributes[p.PersonaId], 1) }).ToList();
        var samples = await TaskCollector.CollectAsync(Create(items, judge.Role), judge.Runtime, judge.Runtime.Role(judge.Role), items.Count, "rm judge",
            judge.Progress, ct, judge.Abort).ConfigureAwait(false);
        return Score(samples, pairs.ToDictionary(p => p.PairId, StringComparer.Ordinal));
    }
}
