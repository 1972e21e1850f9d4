using MathNet.Numerics.Distributions;
using Persona.Census;

namespace Persona.Statistics;

/// <summary>
/// Seeded bootstrap intervals. Every resample r draws from its own stream, seeded by (seed, r),
/// so results are the same whatever the number of threads and whatever order resamples run in.
/// </summary>
public static class Bootstrap
{
    /// <summary>Percentile bootstrap of any statistic of i.i.d. observations (runs on one thread: the statistic need not be thread-safe).</summary>
    public static BootstrapResult Percentile<T>(IReadOnlyList<T> data, Func<IReadOnlyList<T>, double> statistic, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        var (estimate, reps) = Replicates(data, statistic, resamples, seed, level);
        return Stat.Percentile(estimate, reps, level, seed, "percentile");
    }

    /// <summary>
    /// Bias-corrected and accelerated (BCa) bootstrap (Efron 1987): bias correction z0 from the
    /// share of replicates below the estimate (ties count half), acceleration from the jackknife.
    /// When every replicate equals the estimate the interval is that single point.
    /// </summary>
    public static BootstrapResult BCa<T>(IReadOnlyList<T> data, Func<IReadOnlyList<T>, double> statistic, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        var (estimate, reps) = Replicates(data, statistic, resamples, seed, level);
        var (_, sd) = Stat.MeanSd(reps);
        Array.Sort(reps);
        if (reps[0] == reps[^1]) return new BootstrapResult(estimate, 0, new Interval(reps[0], reps[0]), level, resamples, seed, "BCa");
        double below = 0;
        foreach (var x in reps) below += x < estimate ? 1 : x == estimate ? 0.5 : 0;
        // Keep z0 finite when the estimate lies outside the replicates.
        var share = Math.Clamp(below / resamples, 0.5 / resamples, 1 - 0.5 / resamples);
        var z0 = Normal.InvCDF(0, 1, share);

        var n = data.Count;
        var jack = new double[n];
        var leaveOut = new List<T>(n - 1);
        for (var i = 0; i < n; i++)
        {
            leaveOut.Clear();
            for (var j = 0; j < n; j++) if (j != i) leaveOut.Add(data[j]);
            jack[i] = statistic(leaveOut);
        }
        var jm = jack.Average();
        double num = 0, den = 0;
        foreach (var t in jack) { var d = jm - t; num += d * d * d; den += d * d; }
        var a = den > 0 ? num / (6 * Math.Pow(den, 1.5)) : 0;

        var za = Stat.Z(level);
        double Adjusted(double z) => Normal.CDF(0, 1, z0 + (z0 + z) / (1 - a * (z0 + z)));
        var lo = Stat.Quantile(reps, Math.Clamp(Adjusted(-za), 0, 1));
        var hi = Stat.Quantile(reps, Math.Clamp(Adjusted(za), 0, 1));
        return new BootstrapResult(estimate, sd, new Interval(lo, hi), level, resamples, seed, "BCa");
    }

    private static (double Estimate, double[] Replicates) Replicates<T>(IReadOnlyList<T> data, Func<IReadOnlyList<T>, double> statistic, int resamples, ulong seed, double level)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(statistic);
        Stat.CheckResamples(resamples);
        Stat.CheckLevel(level);
        if (data.Count < 2) throw new UndefinedStatisticException("A bootstrap interval", "fewer than two observations");
        var estimate = statistic(data);
        var reps = new double[resamples];
        var sample = new T[data.Count];
        for (var r = 0; r < resamples; r++)
        {
            var rng = new DeterministicRng(DeterministicRng.Mix(seed, (ulong)r));
            for (var i = 0; i < sample.Length; i++) sample[i] = data[rng.NextInt(data.Count)];
            reps[r] = statistic(sample);
            if (!double.IsFinite(reps[r])) throw new ArgumentException($"The statistic returned {reps[r]} on bootstrap resample {r}; it must be finite on every resample.");
        }
        return (estimate, reps);
    }

    /// <summary>Percentile bootstrap of a mean (fast path: no statistic delegate, parallel over resamples).</summary>
    public static BootstrapResult Mean(IReadOnlyList<double> values, int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(values);
        var ids = new int[values.Count];
        for (var i = 0; i < ids.Length; i++) ids[i] = i;
        var r = OneWayClustered(values, ids, resamples, seed, level);
        return r with { Method = "percentile" };
    }

    /// <summary>
    /// One-way clustered bootstrap of a mean: whole clusters (e.g. personas) are drawn with
    /// replacement and the mean of all their scores recomputed, so scores that share a cluster
    /// are not treated as independent.
    /// </summary>
    public static BootstrapResult OneWayClustered<TCluster>(IReadOnlyList<double> scores, IReadOnlyList<TCluster> clusters, int resamples = 1000, ulong seed = 1, double level = 0.95)
        where TCluster : notnull
    {
        var (estimate, reps) = OneWayReplicates(scores, clusters, resamples, seed, level);
        return Stat.Percentile(estimate, reps, level, seed, "one-way clustered percentile");
    }

    internal static (double Estimate, double[] Replicates) OneWayReplicates<TCluster>(IReadOnlyList<double> scores, IReadOnlyList<TCluster> clusters, int resamples, ulong seed, double level)
        where TCluster : notnull
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(clusters);
        Stat.CheckResamples(resamples);
        Stat.CheckLevel(level);
        if (scores.Count != clusters.Count) throw new ArgumentException($"{scores.Count} scores but {clusters.Count} cluster ids; give one id per score.");
        if (scores.Count == 0) throw new UndefinedStatisticException("A bootstrap interval", "no scores");
        var idx = Stat.Index(clusters, out var k);
        var sum = new double[k];
        var count = new double[k];
        double total = 0;
        for (var i = 0; i < scores.Count; i++)
        {
            var s = scores[i];
            if (!double.IsFinite(s)) throw new ArgumentException($"Score {i} is {s}; scores must be finite numbers.");
            sum[idx[i]] += s;
            count[idx[i]]++;
            total += s;
        }
        var estimate = total / scores.Count;
        var reps = new double[resamples];
        Parallel.For(0, resamples, () => new int[k], (r, _, draws) =>
        {
            var rng = new DeterministicRng(DeterministicRng.Mix(seed, (ulong)r));
            Array.Clear(draws);
            for (var i = 0; i < k; i++) draws[rng.NextInt(k)]++;
            double num = 0, den = 0;
            for (var c = 0; c < k; c++) { num += draws[c] * sum[c]; den += draws[c] * count[c]; }
            reps[r] = num / den;
            return draws;
        }, _ => { });
        return (estimate, reps);
    }

    /// <summary>
    /// Two-way clustered ("pigeonhole") bootstrap of a mean for crossed designs such as personas ×
    /// prompts (Owen 2007): each resample draws personas and prompts independently with
    /// replacement, and a score counts a_p·b_q times, a_p and b_q being how often its persona and its
    /// prompt were drawn. Known to be somewhat conservative (it adds the interaction variance
    /// twice); it is the standard guard against treating 317,200 correlated scores as independent.
    /// <para>
    /// The scores are summed per (persona, prompt) cell once; a resample then costs one pass over
    /// the non-empty cells, skipping personas not drawn, with no allocation. A resample that
    /// draws no score (possible only in sparse designs) is drawn again from the same stream.
    /// </para>
    /// </summary>
    public static BootstrapResult TwoWayClustered<TPersona, TPrompt>(IReadOnlyList<double> scores, IReadOnlyList<TPersona> personaIds,
        IReadOnlyList<TPrompt> promptIds, int resamples = 1000, ulong seed = 1, double level = 0.95)
        where TPersona : notnull where TPrompt : notnull
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(personaIds);
        ArgumentNullException.ThrowIfNull(promptIds);
        if (scores.Count != personaIds.Count || scores.Count != promptIds.Count)
            throw new ArgumentException($"{scores.Count} scores, {personaIds.Count} persona ids and {promptIds.Count} prompt ids; give one of each per score.");
        var p = Stat.Index(personaIds, out var np);
        var q = Stat.Index(promptIds, out var nq);
        return TwoWayClustered(scores, p, np, q, nq, resamples, seed, level);
    }

    /// <summary>The two-way clustered bootstrap over dense ids (persona in [0, personas), prompt in [0, prompts)).</summary>
    public static BootstrapResult TwoWayClustered(IReadOnlyList<double> scores, int[] persona, int personas, int[] prompt, int prompts,
        int resamples = 1000, ulong seed = 1, double level = 0.95)
    {
        var (estimate, reps) = TwoWayReplicates(scores, persona, personas, prompt, prompts, resamples, seed, level);
        return Stat.Percentile(estimate, reps, level, seed, "two-way clustered percentile");
    }

    internal static (double Estimate, double[] Replicates) TwoWayReplicates<TPersona, TPrompt>(IReadOnlyList<double> scores, IReadOnlyList<TPersona> personaIds,
        IReadOnlyList<TPrompt> promptIds, int resamples, ulong seed, double level)
        where TPersona : notnull where TPrompt : notnull
    {
        if (scores.Count != personaIds.Count || scores.Count != promptIds.Count)
            throw new ArgumentException($"{scores.Count} scores, {personaIds.Count} persona ids and {promptIds.Count} prompt ids; give one of each per score.");
        var p = Stat.Index(personaIds, out var np);
        var q = Stat.Index(promptIds, out var nq);
        return TwoWayReplicates(scores, p, np, q, nq, resamples, seed, level);
    }

    internal static (double Estimate, double[] Replicates) TwoWayReplicates(IReadOnlyList<double> scores, int[] persona, int personas, int[] prompt, int prompts,
        int resamples, ulong seed, double level)
    {
        ArgumentNullException.ThrowIfNull(scores);
        Stat.CheckResamples(resamples);
        Stat.CheckLevel(level);
        if (scores.Count == 0) throw new UndefinedStatisticException("A bootstrap interval", "no scores");
        var cells = Cells.Build(scores, persona, personas, prompt, prompts);
        var reps = new double[resamples];
        Parallel.For(0, resamples, () => (A: new int[personas], B: new int[prompts]), (r, _, buf) =>
        {
            var rng = new DeterministicRng(DeterministicRng.Mix(seed, (ulong)r));
            double num, den;
            do
            {
                Array.Clear(buf.A);
                Array.Clear(buf.B);
                for (var i = 0; i < personas; i++) buf.A[rng.NextInt(personas)]++;
                for (var i = 0; i < prompts; i++) buf.B[rng.NextInt(prompts)]++;
                (num, den) = cells.Weighted(buf.A, buf.B);
            } while (den == 0);
            reps[r] = num / den;
            return buf;
        }, _ => { });
        return (cells.Total / cells.Count, reps);
    }

    /// <summary>Per-(persona, prompt) sums and counts of scores, grouped by persona (CSR).</summary>
    private sealed class Cells
    {
        private int[] _start = [];
        private int[] _prompt = [];
        private double[] _sum = [];
        private double[] _count = [];
        public double Total, Count;

        public static Cells Build(IReadOnlyList<double> scores, int[] persona, int personas, int[] prompt, int prompts)
        {
            if (persona.Length != scores.Count || prompt.Length != scores.Count)
                throw new ArgumentException($"{scores.Count} scores, {persona.Length} persona ids and {prompt.Length} prompt ids; give one of each per score.");
            // Order scores by (persona, prompt) with a counting sort on persona, then merge equal prompts.
            var perPersona = new int[personas + 1];
            for (var i = 0; i < persona.Length; i++)
            {
                if ((uint)persona[i] >= (uint)personas) throw new ArgumentOutOfRangeException(nameof(persona), $"Persona index {persona[i]} at score {i} is outside [0, {personas}).");
                if ((uint)prompt[i] >= (uint)prompts) throw new ArgumentOutOfRangeException(nameof(prompt), $"Prompt index {prompt[i]} at score {i} is outside [0, {prompts}).");
                perPersona[persona[i] + 1]++;
            }
            for (var i = 0; i < personas; i++) perPersona[i + 1] += perPersona[i];
            var order = new int[scores.Count];
            var fill = (int[])perPersona.Clone();
            for (var i = 0; i < persona.Length; i++) order[fill[persona[i]]++] = i;
            var c = new Cells();
            var start = new int[personas + 1];
            var cellPrompt = new List<int>(scores.Count);
            var cellSum = new List<double>(scores.Count);
            var cellCount = new List<double>(scores.Count);
            var slot = new int[prompts];
            Array.Fill(slot, -1);
            for (var pp = 0; pp < personas; pp++)
            {
                var first = cellPrompt.Count;
                for (var j = perPersona[pp]; j < perPersona[pp + 1]; j++)
                {
                    var i = order[j];
                    var s = scores[i];
                    if (!double.IsFinite(s)) throw new ArgumentException($"Score {i} is {s}; scores must be finite numbers.");
                    var qq = prompt[i];
                    if (slot[qq] < first) { slot[qq] = cellPrompt.Count; cellPrompt.Add(qq); cellSum.Add(0); cellCount.Add(0); }
                    cellSum[slot[qq]] += s;
                    cellCount[slot[qq]]++;
                    c.Total += s;
                    c.Count++;
                }
                start[pp + 1] = cellPrompt.Count;
            }
            c._start = start;
            c._prompt = cellPrompt.ToArray();
            c._sum = cellSum.ToArray();
            c._count = cellCount.ToArray();
            return c;
        }

        public (double Num, double Den) Weighted(int[] a, int[] b)
        {
            double num = 0, den = 0;
            var prompt = _prompt;
            var sum = _sum;
            var count = _count;
            for (var p = 0; p < a.Length; p++)
            {
                var ap = a[p];
                if (ap == 0) continue;
                double sn = 0, sd = 0;
                for (var j = _start[p]; j < _start[p + 1]; j++)
                {
                    double bq = b[prompt[j]];
                    sn += bq * sum[j];
                    sd += bq * count[j];
                }
                num += ap * sn;
                den += ap * sd;
            }
            return (num, den);
        }
    }
}
