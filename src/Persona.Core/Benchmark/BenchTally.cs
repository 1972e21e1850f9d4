using Persona.Engine;
using Persona.Llm;

namespace Persona.Benchmark;

/// <summary>
/// Bench samples reduced, as they come, to what the bench statistics read (<see cref="BenchReport"/>,
/// <see cref="BestOfNReport"/>, <see cref="Intersections"/>): one small observation per sample, the
/// persona's metadata once per persona, and the few facts about the log (simulated, critic, model under
/// test, the best-of-n reward models and N). No sample is kept: at 100,000 personas the bench makes a
/// million of them, and the clustered bootstrap needs only each one's persona, question and score.
/// Not thread-safe: the collector calls <see cref="Add"/> in turn.
/// </summary>
public sealed class BenchTally(string scoreSet)
{
    private readonly List<BenchObservation> _observations = [];
    private readonly PersonaMetadataCache _personas = new();
    // Bounded: prompt ids and modes repeat. Persona ids are one each, as many as the metadata.
    private readonly StringPool _strings = new(1 << 14), _personaIds = new();
    private readonly SortedSet<string> _rewardModels = new(StringComparer.Ordinal);

    public string ScoreSet => scoreSet;
    public IReadOnlyList<BenchObservation> Observations => _observations;
    public bool Simulated { get; private set; }
    /// <summary>The critic's model: the first scored sample's.</summary>
    public string? Critic { get; private set; }
    /// <summary>The model under test: the first sample's answering turn's.</summary>
    public string? Model { get; private set; }
    /// <summary>The reward models that picked the rm_best_of_n answers (without their fit notes), in order.</summary>
    public IReadOnlyCollection<string> RewardModels => _rewardModels;
    /// <summary>The largest N of the rm_best_of_n samples (0 without any).</summary>
    public int BestOfNDraws { get; private set; }

    public static BenchTally Of(IEnumerable<SampleRecord> samples, string scoreSet)
    {
        var t = new BenchTally(scoreSet);
        foreach (var s in samples) t.Add(s);
        return t;
    }

    public void Add(SampleRecord s)
    {
        Model ??= s.Turns.FirstOrDefault(t => t.Role == LlmRuntime.DefaultRole)?.Model;
        var o = BenchObservation.From(s, scoreSet, _personas);
        _observations.Add(o with
        {
            PersonaId = _personaIds.Get(o.PersonaId),
            PromptId = _strings.Get(o.PromptId),
            Mode = _strings.Get(o.Mode),
        });
        Simulated |= s.Simulated;
        if (Critic is null && s.Scores?.GetValueOrDefault(scoreSet) is { Model: { } m }) Critic = m;
        if (o.Mode == BenchModes.RmBestOfN)
        {
            if (s.Field(BestOfN.DataField) is { ValueKind: System.Text.Json.JsonValueKind.Object } pick
                && pick.TryGetProperty("reward_model", out var rm) && rm.GetString() is { } name)
                _rewardModels.Add(name.Split(" (")[0]);
            if (int.TryParse(s.Input("n"), out var n)) BestOfNDraws = Math.Max(BestOfNDraws, n);
        }
    }
}
