using Persona.Benchmark;
using Persona.Preferences;
using Persona.Rewards;

namespace Persona.Run;

/// <summary>Wires a saved reward model into the bench's rm_best_of_n (the Benchmark room never depends on the Rewards room; this one composes both).</summary>
public static class BenchRm
{
    /// <param name="rmPath">A `persona rm train` output folder, its models/ folder or one model's folder.</param>
    /// <param name="choice">auto or a model's name (see <see cref="AnswerRewardScorer"/>).</param>
    /// <param name="pairsPath">Preference pairs (folder or pairs.jsonl) whose train-prompt pairs adapt a model to personas it never saw; null: none.</param>
    public static BestOfN Open(string rmPath, string choice, string? pairsPath, int n, float temperature)
    {
        var pairs = pairsPath is null ? null : PairRewardRows.Load(PairRewardRows.FileOf(pairsPath)).Pairs;
        var scorer = AnswerRewardScorer.Open(rmPath, choice, pairs);
        var b = new BestOfN(n, temperature, scorer.Description, scorer.Identity, async (p, answers, ct) =>
        {
            var (scores, model) = await scorer.ScoreAsync(p.Id, p.Attributes, p.Text, answers, ct).ConfigureAwait(false);
            return new RewardScores(scores, model);
        });
        b.Validate();
        return b;
    }
}
