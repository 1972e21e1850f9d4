using Persona.Engine;

namespace Persona.Benchmark;

/// <summary>rm_best_of_n against baseline within one group: the paired difference on the (persona, question) both scored.</summary>
public sealed record BestOfNGroup(string Attribute, string Group, int N, int Personas, double MeanBestOfN, double MeanBaseline, double Difference,
    Statistics.Interval Interval, double PValue, double PValueHolm);

/// <summary>best-of-n.json: what the reward model's picks changed against the baseline answers (the same prompt, one draw), overall and per group.</summary>
public sealed record BestOfNResults(string Format, bool Simulated, IReadOnlyList<string> RewardModels, int N, Comparison? Overall, IReadOnlyList<BestOfNGroup> Groups, string Notes);

/// <summary>
/// rm_best_of_n against baseline, per group of every attribute (the bench's groups): the one comparison
/// the mode exists for, with intervals per group, because a reward model can help one group and hurt
/// another (the global one picks the majority's taste for everyone).
/// </summary>
public static class BestOfNReport
{
    public const string FormatId = "persona-bench-best-of-n/1", File = "best-of-n.json";

    /// <summary>Null when the samples hold no rm_best_of_n or no baseline to pair with.</summary>
    public static BestOfNResults? Compute(IEnumerable<SampleRecord> samples, string scoreSet, int resamples, ulong seed = 1, double level = 0.95) =>
        Compute(BenchTally.Of(samples, scoreSet), resamples, seed, level);

    /// <summary>Null when the log holds no rm_best_of_n or no baseline to pair with.</summary>
    public static BestOfNResults? Compute(BenchTally tally, int resamples, ulong seed = 1, double level = 0.95)
    {
        var obs = tally.Observations.Where(o => o.Score is not null).ToList();
        var best = obs.Where(o => o.Mode == BenchModes.RmBestOfN).ToDictionary(o => o.PairKey);
        var pairs = obs.Where(o => o.Mode == BenchModes.Baseline && best.ContainsKey(o.PairKey)).Select(o => (X: best[o.PairKey], Y: o)).ToList();
        if (pairs.Count < 2) return null;
        var overall = BenchReport.Paired([(BenchModes.RmBestOfN, BenchModes.Baseline, pairs)], resamples, seed, level)[0];
        var raw = new List<(string A, string B, List<(BenchObservation X, BenchObservation Y)> Pairs)>();
        var keys = new List<(string Attribute, string Group, int Personas)>();
        foreach (var a in pairs.SelectMany(p => p.X.Attributes.Keys).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal))
        {
            var rows = pairs.Where(p => p.X.Attributes.ContainsKey(a)).GroupBy(p => BenchReport.GroupLabel(a, p.X.Attributes[a]), StringComparer.Ordinal).ToList();
            if (rows.Count > BenchReport.MaxGroupLevels) continue; // free text, as in the bench's group tables
            foreach (var g in rows.OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var list = g.ToList();
                if (list.Count < 2) continue;
                raw.Add((a, g.Key, list));
                keys.Add((a, g.Key, list.Select(p => p.X.PersonaId).Distinct().Count()));
            }
        }
        var cmp = BenchReport.Paired(raw, resamples, seed, level);
        var groups = cmp.Select((c, i) => new BestOfNGroup(keys[i].Attribute, keys[i].Group, c.N, keys[i].Personas, c.MeanA, c.MeanB, c.Difference, c.Interval, c.PValue, c.PValueHolm)).ToList();
        var simulated = tally.Simulated;
        return new BestOfNResults(FormatId, simulated, [.. tally.RewardModels], tally.BestOfNDraws, overall, groups,
            "difference = rm_best_of_n - baseline on the (persona, question) both scored; rm_best_of_n draws N answers with the baseline prompt and its reward model " +
            "picks one, so the difference is the pick's alone. Intervals: paired bootstrap clustered by personas and questions; p-values Holm-adjusted across groups." +
            (simulated ? " SIMULATED: nothing here is a finding." : ""));
    }
}
