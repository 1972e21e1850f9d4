using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Persona.Rewards;

/// <summary>One preference pair as the reward-model track reads it: the personalised answer (A), the generic one (B) and which the persona preferred.</summary>
/// <param name="Label">+1: the persona preferred A (the judge picked it in both orders); -1: B; 0: no preference known (a flip, not verified, unreadable).</param>
/// <param name="Split">The pair's prompt split: train, test-seen or test-heldout.</param>
public sealed record RmPair(string PairId, string PersonaId, string PromptId, string Split, string PersonaText, string Prompt, string A, string B, int Label);

/// <summary>A persona: its attributes, census weight and text.</summary>
public sealed record RmPersonaInfo(string Id, IReadOnlyDictionary<string, string> Attributes, double Weight, string Text);

/// <summary>Where a pair goes in the canonical persona split.</summary>
public enum RmRole { SeenTrain, SeenTest, UnseenAdapt, UnseenEval }

/// <summary>How personas are held out: the share of unseen personas, the share of each unseen persona's pairs kept for evaluation, the seed and the attribute the draw is stratified on.</summary>
public sealed record HoldoutOptions
{
    public double UnseenShare { get; init; } = 0.2;
    public double EvalShare { get; init; } = 0.3;
    public long Seed { get; init; } = 1;
    public string Stratify { get; init; } = "political views";

    public void Validate()
    {
        if (!(UnseenShare > 0 && UnseenShare < 1)) throw new PersonaException($"--unseen-share {UnseenShare.ToString(CultureInfo.InvariantCulture)}: expected a share strictly between 0 and 1.");
        if (!(EvalShare > 0 && EvalShare < 1)) throw new PersonaException($"--eval-share {EvalShare.ToString(CultureInfo.InvariantCulture)}: expected a share strictly between 0 and 1.");
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"unseen share {UnseenShare:0.###} of personas (stratified by '{Stratify}', every group of {string.Join(", ", PersonaGroups.Attributes)} keeps a seen member), each unseen persona's pairs split {1 - EvalShare:0.###} adaptation pool / {EvalShare:0.###} evaluation, seed {Seed}");
}

/// <summary>
/// The canonical persona split of the reward-model track: a seeded share of personas is held out
/// entirely (unseen), drawn within strata of one attribute so every stratum gives its share, and
/// moved back when it would leave a reported group with no seen member (the models could not learn
/// that group at all). Each unseen persona's pairs are split into an adaptation pool (in a seeded
/// order: its first k pairs are the k a new person gives) and an evaluation set. Everything is a pure
/// function of the ids and the seed, so the export and the track agree on the split.
/// </summary>
public sealed class PersonaHoldout
{
    private readonly HashSet<string> _unseen;
    private readonly Dictionary<string, (RmRole Role, int Order)> _pairs = new(StringComparer.Ordinal);

    public HoldoutOptions Options { get; }
    public IReadOnlySet<string> Unseen => _unseen;

    private PersonaHoldout(HoldoutOptions o, HashSet<string> unseen) { Options = o; _unseen = unseen; }

    /// <param name="personas">Every persona (id, attributes); order does not matter.</param>
    /// <param name="pairs">Every pair (pair id, persona id, prompt split); order does not matter. Enumerated once, after the personas are drawn.</param>
    /// <param name="indexSeen">False: seen personas' pairs are not indexed, and their role is asked for with
    /// <see cref="RoleOf(string, string, string)"/> (an export of two million pairs need not hold their ids).</param>
    public static PersonaHoldout Create(IEnumerable<(string Id, IReadOnlyDictionary<string, string> Attributes)> personas,
        IEnumerable<(string PairId, string PersonaId, string Split)> pairs, HoldoutOptions o, bool indexSeen = true)
    {
        o.Validate();
        var list = personas.DistinctBy(p => p.Id).OrderBy(p => p.Id, StringComparer.Ordinal).ToList();
        var unseen = new HashSet<string>(StringComparer.Ordinal);
        var chosenOrder = new List<string>();
        foreach (var stratum in list.GroupBy(p => p.Attributes.TryGetValue(o.Stratify, out var v) ? v : "").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var members = stratum.OrderBy(p => Rank(o.Seed, "persona", p.Id)).ToList();
            var take = (int)Math.Round(o.UnseenShare * members.Count, MidpointRounding.AwayFromZero);
            if (take >= members.Count) take = members.Count - 1; // a stratum keeps a seen member
            foreach (var p in members.Take(take)) { unseen.Add(p.Id); chosenOrder.Add(p.Id); }
        }
        // A reported group left with only unseen members: give it back its most recently drawn member.
        var groups = list.ToDictionary(p => p.Id, p => PersonaGroups.Of(p.Attributes).ToList(), StringComparer.Ordinal);
        var seenCount = new Dictionary<(string, string), int>();
        foreach (var p in list)
            foreach (var g in groups[p.Id])
                seenCount[g] = seenCount.GetValueOrDefault(g) + (unseen.Contains(p.Id) ? 0 : 1);
        for (var i = chosenOrder.Count - 1; i >= 0; i--)
        {
            var id = chosenOrder[i];
            if (!groups[id].Any(g => seenCount[g] == 0)) continue;
            unseen.Remove(id);
            foreach (var g in groups[id]) seenCount[g]++;
        }
        var h = new PersonaHoldout(o, unseen);
        // Enumerated only now, after the draw, so a lazy reader of two million pairs is held to the unseen personas' share.
        foreach (var byPersona in pairs.Where(p => indexSeen || unseen.Contains(p.PersonaId)).GroupBy(p => p.PersonaId, StringComparer.Ordinal))
        {
            if (!unseen.Contains(byPersona.Key))
            {
                if (indexSeen) foreach (var p in byPersona) h._pairs[p.PairId] = (SeenRole(p.Split), 0);
                continue;
            }
            var ordered = byPersona.DistinctBy(p => p.PairId).OrderBy(p => Rank(o.Seed, "pair", p.PairId)).ToList();
            var eval = Math.Clamp((int)Math.Round(o.EvalShare * ordered.Count, MidpointRounding.AwayFromZero), 1, Math.Max(1, ordered.Count - 1));
            for (var i = 0; i < ordered.Count; i++)
                h._pairs[ordered[i].PairId] = i < eval ? (RmRole.UnseenEval, i) : (RmRole.UnseenAdapt, i - eval);
        }
        return h;
    }

    /// <summary>Only the attributes the draw reads (the stratum and the reported groups): what a reader of 100,000 personas need hold for it.</summary>
    public static IReadOnlyDictionary<string, string> DrawnOn(IReadOnlyDictionary<string, string> attributes, HoldoutOptions o)
    {
        var kept = new Personas.PersonaInputs.OrderedAttributes();
        foreach (var (k, v) in attributes)
            if (k.Equals(o.Stratify, StringComparison.OrdinalIgnoreCase) || GroupKeys.Contains(k)) kept.TryAdd(k, v);
        return kept;
    }

    private static readonly HashSet<string> GroupKeys = new(PersonaGroups.Attributes, StringComparer.OrdinalIgnoreCase);

    private static RmRole SeenRole(string split) => split == "train" ? RmRole.SeenTrain : RmRole.SeenTest;

    /// <summary>A pair's role from its persona and split: a seen persona's pairs are not looked up.</summary>
    public (RmRole Role, int Order) RoleOf(string pairId, string personaId, string split) =>
        _unseen.Contains(personaId) ? RoleOf(pairId) : (SeenRole(split), 0);

    /// <summary>The pair's role, and for an adaptation pair its place in the persona's pool (0 first).</summary>
    public (RmRole Role, int Order) RoleOf(string pairId) =>
        _pairs.TryGetValue(pairId, out var r) ? r : throw new PersonaException($"pair '{pairId}' was not in the split's input.");

    public static string RoleName(RmRole r) => r switch
    {
        RmRole.SeenTrain => "seen-train", RmRole.SeenTest => "seen-test", RmRole.UnseenAdapt => "unseen-adapt", _ => "unseen-eval",
    };

    private static ulong Rank(long seed, string what, string id)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"rm-holdout\0{seed.ToString(CultureInfo.InvariantCulture)}\0{what}\0{id}"), hash);
        return BitConverter.ToUInt64(hash[..8]);
    }
}

/// <summary>
/// The groups the track reports: one per value of the categorical attributes below, age in the
/// bands the census tables use. Free-text attributes (lifestyle, quirks) are not groups.
/// </summary>
public static class PersonaGroups
{
    public static readonly IReadOnlyList<string> Attributes =
    [
        "age", "sex", "race", "education", "employment status", "marital status", "citizenship", "veteran status",
        "disability", "ideology", "political views", "religion",
    ];

    public static IEnumerable<(string Attribute, string Group)> Of(IReadOnlyDictionary<string, string> attributes)
    {
        foreach (var a in Attributes)
        {
            if (!attributes.TryGetValue(a, out var v) || string.IsNullOrWhiteSpace(v)) continue;
            yield return (a, a == "age" ? AgeBand(v) : v.Trim());
        }
    }

    public static string AgeBand(string age) =>
        !double.TryParse(age, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? age.Trim()
        : x < 18 ? "0-17" : x < 30 ? "18-29" : x < 50 ? "30-49" : x < 65 ? "50-64" : "65+";
}
