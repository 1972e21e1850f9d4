using System.Security.Cryptography;
using Persona.Census;

namespace Persona.Study;

/// <summary>
/// The design of a human role-play study. Defaults are the original's: 20 personas, 4 raters per
/// persona (each rater sees one persona), 10 questions per persona, a 3-of-4 majority as the human label.
/// </summary>
public sealed record StudyOptions
{
    public int Personas { get; init; } = 20;
    public int RatersPerPersona { get; init; } = 4;
    public int ItemsPerPersona { get; init; } = 10;
    public int AttentionChecks { get; init; }
    public long Seed { get; init; } = 1;
    /// <summary>Only pairs of these splits are drawn (null: every split).</summary>
    public IReadOnlyList<string>? Splits { get; init; }
    public int MinJustificationChars { get; init; } = 30;
    public int MaxJustificationChars { get; init; } = 3000;
    /// <summary>A claimed place without activity for this long is offered to the next rater.</summary>
    public int SlotTimeoutMinutes { get; init; } = 60;
    public string Title { get; init; } = "Which answer would this person prefer?";
    /// <summary>Shown on the thank-you page; on Prolific the study's completion code.</summary>
    public string? CompletionCode { get; init; }
    /// <summary>Send finished raters to Prolific's completion URL with <see cref="CompletionCode"/>.</summary>
    public bool ProlificRedirect { get; init; }
    /// <summary>
    /// Prolific completion code whose action is "request a return": a participant who does not consent,
    /// fails the screening question or an attention check is sent back with it. Null: they are told to return the submission themselves.
    /// </summary>
    public string? ReturnCode { get; init; }

    public void Validate()
    {
        void Positive(int v, string flag) { if (v < 1) throw new PersonaException($"{flag} must be at least 1 (got {v})."); }
        Positive(Personas, "--persona-count");
        Positive(RatersPerPersona, "--raters");
        Positive(ItemsPerPersona, "--items");
        if (AttentionChecks < 0) throw new PersonaException($"--attention-checks must be 0 or more (got {AttentionChecks}).");
        if (MinJustificationChars < 0 || MaxJustificationChars < Math.Max(1, MinJustificationChars))
            throw new PersonaException($"--min-justification must be between 0 and {MaxJustificationChars} characters.");
        Positive(SlotTimeoutMinutes, "--slot-timeout");
        if (ProlificRedirect && string.IsNullOrWhiteSpace(CompletionCode))
            throw new PersonaException("--prolific needs --completion-code (the code Prolific shows under the study's completion settings).");
        if (CompletionCode is { } c && (c.Length > 64 || !c.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_')))
            throw new PersonaException("--completion-code must be 1-64 letters, digits, '-' or '_'.");
        if (ReturnCode is { } rc && (rc.Length is 0 or > 64 || !rc.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_')))
            throw new PersonaException("--return-code must be 1-64 letters, digits, '-' or '_'.");
        if (ReturnCode is not null && ReturnCode == CompletionCode)
            throw new PersonaException("--return-code must differ from --completion-code (Prolific tells the two paths apart by the code).");
    }
}

public enum ItemKind { Pair, Attention }

/// <summary>
/// One question shown to the raters of a persona. For an attention check, <see cref="Personalised"/>
/// holds the answer the instructions ask for and <see cref="Generic"/> the distractor, so "chose the
/// personalised side" means "passed"; attention items never enter the agreement statistics.
/// </summary>
public sealed record PlannedItem(int Position, ItemKind Kind, string? PairId, string? PromptId, string Instruction, string Generic, string Personalised, int Flip);

/// <param name="Attributes">The persona's typed attributes, stored with it so the LM judge and the analysis never parse its text; null when only unparsable text came in.</param>
public sealed record PlannedPersona(string PersonaId, string Text, IReadOnlyList<PlannedItem> Items, IReadOnlyDictionary<string, string>? Attributes = null);

public sealed record StudyPlan(StudyOptions Options, IReadOnlyList<PlannedPersona> Personas)
{
    /// <summary>
    /// Whether rater <paramref name="raterIndex"/> sees the personalised answer on the left. Raters
    /// alternate per item, so with an even number of raters each answer is on the left for exactly half of them.
    /// </summary>
    public static bool PersonalisedLeft(int flip, int raterIndex) => ((flip + raterIndex) & 1) == 0;
}

/// <summary>What choosing a persona needs of its pairs of the asked splits: how many distinct questions, and whether one carries its text.</summary>
public readonly record struct PersonaTally(int Questions, bool PairText);

/// <summary>Draws personas and items from the pairs, reproducibly from the seed.</summary>
public static class StudyPlanner
{
    public const string AttentionQuestion =
        "Attention check: this question tests whether you are reading carefully. Please choose the answer that begins with \"I am reading carefully\".";
    public const string AttentionTarget = "I am reading carefully, and this is the answer I was asked to choose.";
    public const string AttentionDistractor = "Either answer would suit this person equally well; there is little to choose between them.";

    /// <param name="splitsPresent">The splits of the whole pairs file when <paramref name="pairs"/> holds only the asked splits' pairs (null: those of <paramref name="pairs"/>).</param>
    public static StudyPlan Plan(IReadOnlyList<PreferencePair> pairs, IReadOnlyDictionary<string, StudyPersona>? personaTexts, StudyOptions options,
        IReadOnlySet<string>? splitsPresent = null)
    {
        options.Validate();
        var splits = AskedSplits(options);
        CheckSplits(splits, splitsPresent ?? pairs.Select(p => p.Split).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase));
        var byPersona = pairs.Where(p => InSplits(splits, p))
            .GroupBy(p => p.PersonaId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<PreferencePair>)g.ToList(), StringComparer.Ordinal);
        var tallies = byPersona.ToDictionary(kv => kv.Key,
            kv => new PersonaTally(kv.Value.Select(p => p.PromptId).Distinct(StringComparer.Ordinal).Count(), kv.Value.Any(p => !string.IsNullOrWhiteSpace(p.PersonaText))),
            StringComparer.Ordinal);
        return Draw(Choose(tallies, personaTexts, options), byPersona, personaTexts, options);
    }

    /// <summary>The splits <paramref name="options"/> asks for (null: every split), compared as the pairs spell them or not.</summary>
    public static HashSet<string>? AskedSplits(StudyOptions options) =>
        options.Splits is { Count: > 0 } s ? new HashSet<string>(s, StringComparer.OrdinalIgnoreCase) : null;

    public static bool InSplits(IReadOnlySet<string>? splits, PreferencePair p) => splits is null || (p.Split is not null && splits.Contains(p.Split));

    /// <summary>A misspelt split would otherwise read as "no personas": it is named, with the splits <paramref name="present"/>.</summary>
    public static void CheckSplits(IReadOnlySet<string>? splits, IReadOnlySet<string> present)
    {
        if (splits is null) return;
        var unknown = splits.Where(x => !present.Contains(x)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new PersonaException($"--splits: unknown split {string.Join(", ", unknown.Select(u => $"'{u}'"))}; the pairs have " +
                (present.Count == 0 ? "no split field at all (leave --splits out)." : $"{string.Join(", ", present.Order(StringComparer.Ordinal))}."));
    }

    /// <summary>
    /// The personas the study shows, in order: those with enough distinct questions and a text (from a pair or the persona
    /// file), shuffled by the seed. It needs only each persona's <see cref="PersonaTally"/>, so a planner reading a file of
    /// millions of pairs holds a count per persona here and reads the chosen personas' pairs afterwards.
    /// </summary>
    public static IReadOnlyList<string> Choose(IReadOnlyDictionary<string, PersonaTally> tallies, IReadOnlyDictionary<string, StudyPersona>? personaTexts, StudyOptions options)
    {
        // A persona file's texts are looked up only for the personas drawn (it may render them as they are asked for).
        bool HasText(string personaId) => personaTexts?.ContainsKey(personaId) == true || tallies[personaId].PairText;
        var eligible = tallies.Where(kv => kv.Value.Questions >= options.ItemsPerPersona && HasText(kv.Key))
            .Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
        if (eligible.Count < options.Personas)
        {
            var splits = AskedSplits(options);
            var missingText = tallies.Keys.Count(k => !HasText(k));
            throw new PersonaException(
                $"The study needs {options.Personas} personas with at least {options.ItemsPerPersona} distinct questions each, but the pairs " +
                $"{(splits is null ? "" : $"of split(s) {string.Join(",", splits)} ")}have only {eligible.Count} such personas " +
                $"(of {tallies.Count}{(missingText > 0 ? $"; {missingText} without a persona text: give --personas" : "")}). " +
                "Lower --persona-count or --items, or generate more pairs.");
        }
        var rng = new DeterministicRng(unchecked((ulong)options.Seed));
        Shuffle(eligible, rng);
        return eligible.Take(options.Personas).ToList();
    }

    /// <summary>Each chosen persona's items, drawn from its pairs of the asked splits (in any order) by a seed of its own.</summary>
    public static StudyPlan Draw(IReadOnlyList<string> chosen, IReadOnlyDictionary<string, IReadOnlyList<PreferencePair>> pairsOf,
        IReadOnlyDictionary<string, StudyPersona>? personaTexts, StudyOptions options)
    {
        StudyPersona PersonaOf(string personaId, IReadOnlyList<PreferencePair> ps) =>
            personaTexts is not null && personaTexts.TryGetValue(personaId, out var t) ? t : StudyPersona.FromReleaseText(ps.Select(p => p.PersonaText).First(x => !string.IsNullOrWhiteSpace(x))!, $"study persona {personaId}");

        var planned = new List<PlannedPersona>(chosen.Count);
        foreach (var personaId in chosen)
        {
            var ps = pairsOf[personaId];
            var itemRng = new DeterministicRng(DeterministicRng.Mix(unchecked((ulong)options.Seed), StableHash(personaId)));
            var ordered = ps.OrderBy(p => p.PairId, StringComparer.Ordinal).ToList();
            var candidates = ordered.ToList();
            Shuffle(candidates, itemRng);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var drawn = candidates.Where(p => seen.Add(p.PromptId)).Take(options.ItemsPerPersona).ToList();
            var total = drawn.Count + options.AttentionChecks;
            var attentionAt = Enumerable.Range(1, total).ToList();
            Shuffle(attentionAt, itemRng);
            var attentionPositions = attentionAt.Take(options.AttentionChecks).ToHashSet();
            var items = new List<PlannedItem>(total);
            var next = 0;
            for (var pos = 1; pos <= total; pos++)
            {
                var flip = itemRng.NextInt(2);
                if (attentionPositions.Contains(pos))
                    items.Add(new PlannedItem(pos, ItemKind.Attention, null, null, AttentionQuestion, AttentionDistractor, AttentionTarget, flip));
                else
                {
                    var p = drawn[next++];
                    items.Add(new PlannedItem(pos, ItemKind.Pair, p.PairId, p.PromptId, p.Instruction, p.Original, p.Data, flip));
                }
            }
            var persona = PersonaOf(personaId, ordered);
            planned.Add(new PlannedPersona(personaId, persona.Text, items, persona.Attributes));
        }
        return new StudyPlan(options, planned);
    }

    private static void Shuffle<T>(List<T> list, DeterministicRng rng)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    private static ulong StableHash(string s) => BitConverter.ToUInt64(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(s)), 0);
}
