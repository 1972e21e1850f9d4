using Persona.Engine;
using Persona.Statistics;

namespace Persona.Benchmark;

public sealed record PassAtKPoint(int K, double Estimate, double StandardError, Interval Interval);

public sealed record PassAtKMode(string Mode, int Items, int SamplesPerItemMin, int Samples, int GenerationFailures, int CriticFailures,
    IReadOnlyList<PassAtKPoint> Points, IReadOnlyDictionary<string, double> PassAt);

public sealed record PassAtKResults(string Format, string ScoreSet, int K, bool Simulated, int Resamples, ulong Seed, IReadOnlyList<PassAtKMode> Modes, string Notes);

/// <summary>
/// pass@k by the unbiased estimator of Chen et al. (2021): for an item with n independent samples
/// of which c pass, pass@k = 1 − C(n−c, k)/C(n, k), in the stable product form. Averaged over items
/// (persona × question) with a two-way clustered bootstrap interval.
/// </summary>
public static class PassAtK
{
    public const string FormatId = "persona-bench-passk/1";

    public static double Estimate(int n, int c, int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k is at least 1.");
        if (n < k) throw new ArgumentException($"pass@{k} needs at least {k} samples per item (got {n}).");
        if (c < 0 || c > n) throw new ArgumentOutOfRangeException(nameof(c), c, $"passes must lie in [0, {n}].");
        if (n - c < k) return 1;
        var prod = 1.0;
        for (var i = n - c + 1; i <= n; i++) prod *= 1 - (double)k / i;
        return 1 - prod;
    }

    /// <summary>
    /// pass@1..k per mode. A failed generation or an unreadable verdict counts as a sample that did
    /// not pass (it stays in n; the counts are reported), so failures never inflate pass@k.
    /// </summary>
    public static PassAtKResults Compute(IEnumerable<SampleRecord> samples, string scoreSet, int k, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        var obs = new List<BenchObservation>();
        var simulated = false;
        foreach (var s in samples) { obs.Add(BenchObservation.From(s, scoreSet)); simulated |= s.Simulated; }
        var modes = new List<PassAtKMode>();
        foreach (var byMode in obs.GroupBy(o => o.Mode).OrderBy(g => BenchModes.Order(g.Key)))
        {
            var items = byMode.GroupBy(o => (o.PersonaId, o.PromptId)).Select(g => (g.Key.PersonaId, g.Key.PromptId, N: g.Count(), C: g.Count(o => o.Score >= 0.5))).ToList();
            var tooFew = items.Where(i => i.N < k).ToList();
            if (tooFew.Count > 0)
                throw new PersonaException($"pass@{k} of mode {byMode.Key}: {tooFew.Count} items have fewer than {k} samples (e.g. persona {tooFew[0].PersonaId}, question {tooFew[0].PromptId}: {tooFew[0].N}); draw --n at least --k.");
            var personas = items.Select(i => i.PersonaId).ToArray();
            var prompts = items.Select(i => i.PromptId).ToArray();
            var points = new List<PassAtKPoint>();
            for (var j = 1; j <= k; j++)
            {
                var values = items.Select(i => Estimate(i.N, i.C, j)).ToArray();
                BootstrapResult b = personas.Distinct().Count() > 1 && prompts.Distinct().Count() > 1
                    ? Bootstrap.TwoWayClustered(values, personas, prompts, resamples, seed, level)
                    : Bootstrap.Mean(values, resamples, seed, level);
                points.Add(new PassAtKPoint(j, values.Average(), b.StandardError, b.Interval));
            }
            modes.Add(new PassAtKMode(byMode.Key, items.Count, items.Min(i => i.N), byMode.Count(), byMode.Count(o => !o.Generated), byMode.Count(o => o.CriticFailed),
                points, points.ToDictionary(p => $"pass@{p.K}", p => p.Estimate)));
        }
        return new PassAtKResults(FormatId, scoreSet, k, simulated, resamples, seed, modes,
            "Unbiased estimator of Chen et al. 2021 per item (persona x question), averaged; intervals: two-way clustered bootstrap over items. " +
            "Every sample is its own conversation with its own sample index, critiqued against the real question; failures count as not passing." +
            (simulated ? " SIMULATED: nothing here is a finding." : ""));
    }
}
