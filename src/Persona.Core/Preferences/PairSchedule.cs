using System.Security.Cryptography;
using System.Text;
using Persona.Personas;
using Persona.Prompts;

namespace Persona.Preferences;

/// <summary>Where a pair goes: the train set, or the test set on a prompt the persona also trains on, or on a held-out prompt.</summary>
public static class PairSplit
{
    public const string Train = "train", TestSeen = "test-seen", TestHeldOut = "test-heldout";

    /// <summary>The original release's `question type` column.</summary>
    public static string QuestionType(string split) => split == Train ? "train" : "test";
}

/// <summary>The schedule's counts; the defaults are the original's (150 train-pool prompts, 100 of them train pairs, 50 held-out).</summary>
public sealed record ScheduleOptions
{
    public int TrainPrompts { get; init; } = 150;
    public int HeldOutPrompts { get; init; } = 50;
    public int TrainPairs { get; init; } = 100;
    public long Seed { get; init; } = 1;

    public int PairsPerPersona => TrainPrompts + HeldOutPrompts;

    public void Validate()
    {
        if (TrainPrompts < 0 || HeldOutPrompts < 0) throw new PersonaException("--train-prompts and --heldout-prompts must be 0 or more.");
        if (TrainPairs < 0 || TrainPairs > TrainPrompts) throw new PersonaException($"--train-pairs ({TrainPairs}) must lie between 0 and --train-prompts ({TrainPrompts}).");
        if (PairsPerPersona == 0) throw new PersonaException("The schedule is empty: --train-prompts and --heldout-prompts are both 0.");
    }
}

/// <summary>One scheduled pair: persona, prompt, split and its place in the persona's list.</summary>
public sealed record ScheduledPair(int PersonaIndex, PersonaInput Persona, QuestionInput Prompt, string Split, int Slot)
{
    /// <summary>Stable id of the pair: a content hash of persona and prompt (one pair per persona and prompt).</summary>
    public string PairId => PairSchedule.PairIdOf(Persona.Id, Prompt.Id);
}

/// <summary>
/// The seeded schedule (method.md section 3): per persona, TrainPrompts prompts drawn without
/// replacement from the train pool (the first TrainPairs are train pairs, the rest test pairs on
/// seen prompts) and HeldOutPrompts from the held-out pool (test pairs). Each persona's draw
/// depends only on the seed and the persona's id, never on its attributes or on the other
/// personas, so any partition of the personas (shards) gives the same pairs.
/// </summary>
public static class PairSchedule
{
    public static (IReadOnlyList<QuestionInput> Train, IReadOnlyList<QuestionInput> HeldOut) Pools(IReadOnlyList<QuestionInput> prompts, ScheduleOptions o, string source)
    {
        if (prompts.Any(p => p.Split is null))
            throw new PersonaException($"'{source}': {prompts.Count(p => p.Split is null)} prompts have no split. Pairs need a train and a held-out pool: use the output of `persona prompts curate`, or a file with a 'split' column of train / held_out.");
        var train = prompts.Where(p => p.Split == PromptSplit.Train).ToArray();
        var held = prompts.Where(p => p.Split == PromptSplit.HeldOut).ToArray();
        if (train.Length < o.TrainPrompts || held.Length < o.HeldOutPrompts)
            throw new PersonaException($"'{source}' has {train.Length} train and {held.Length} held-out prompts, but the schedule needs {o.TrainPrompts} and {o.HeldOutPrompts} per persona " +
                                       "(prompts are drawn without replacement). Lower --train-prompts / --heldout-prompts, or curate more prompts.");
        return (train, held);
    }

    public static IEnumerable<ScheduledPair> ForPersona(int personaIndex, PersonaInput persona, IReadOnlyList<QuestionInput> train, IReadOnlyList<QuestionInput> held, ScheduleOptions o)
    {
        var rng = new SplitMixRng(Seed(o.Seed, persona.Id));
        var slot = 0;
        foreach (var i in Draw(rng, train.Count, o.TrainPrompts))
            yield return new ScheduledPair(personaIndex, persona, train[i], slot < o.TrainPairs ? PairSplit.Train : PairSplit.TestSeen, slot++);
        foreach (var i in Draw(rng, held.Count, o.HeldOutPrompts))
            yield return new ScheduledPair(personaIndex, persona, held[i], PairSplit.TestHeldOut, slot++);
    }

    public static string PairIdOf(string personaId, string promptId)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(personaId + "\u0001" + promptId)))[..24];

    /// <summary>k distinct indices of [0, n) in random order (partial Fisher-Yates on an index map, O(k) memory).</summary>
    private static IEnumerable<int> Draw(SplitMixRng rng, int n, int k)
    {
        var swapped = new Dictionary<int, int>();
        for (var i = 0; i < k; i++)
        {
            var j = i + (int)(rng.Next() % (ulong)(n - i));
            var vi = swapped.TryGetValue(i, out var a) ? a : i;
            var vj = swapped.TryGetValue(j, out var b) ? b : j;
            swapped[j] = vi;
            yield return vj;
        }
    }

    private static ulong Seed(long seed, string personaId)
    {
        Span<byte> h = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"pairs-schedule\u0001{seed}\u0001{personaId}"), h);
        return BitConverter.ToUInt64(h[..8]);
    }
}
