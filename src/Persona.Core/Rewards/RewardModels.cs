using System.Globalization;
using System.Text.Json;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace Persona.Rewards;

/// <summary>A labelled pair in feature space: d = features(A) - features(B), label +1 (A preferred) or -1.</summary>
public sealed record RmExample(string PersonaId, SparseVector D, int Label);

/// <summary>Settings of the track's models (saved with each model).</summary>
public sealed record RmTrainOptions
{
    public long Seed { get; init; } = 1;
    /// <summary>L2 strength on the global weights (the loss is a sum over pairs).</summary>
    public double Lambda { get; init; } = 0.5;
    /// <summary>How strongly a persona's own weights are pulled back to the global ones.</summary>
    public double Shrink { get; init; } = 0.02;
    public int Rank { get; init; } = 4;
    public int Prototypes { get; init; } = 4;
    public int MaxIterations { get; init; } = 150;

    public void Validate()
    {
        if (!(Lambda > 0) || !(Shrink > 0)) throw new PersonaException("--lambda and --shrink must be positive.");
        if (Rank is < 1 or > 64) throw new PersonaException($"--rank {Rank}: expected 1 to 64.");
        if (Prototypes is < 1 or > 64) throw new PersonaException($"--prototypes {Prototypes}: expected 1 to 64.");
        if (MaxIterations < 1) throw new PersonaException($"--max-iterations {MaxIterations}: expected at least 1.");
    }
}

/// <summary>
/// A reward model over pairs: the margin score(A) - score(B) for a persona (positive: A preferred).
/// A persona it was not trained on is scored from what the model allows (its features, the
/// population's mixture, the global weights) and, given k of that persona's pairs, adapted.
/// </summary>
public abstract class RewardModel
{
    public abstract string Name { get; }
    public abstract string Description { get; }
    public FeaturiserSpec Featuriser { get; init; } = null!;
    public RmTrainOptions Settings { get; init; } = new();
    /// <summary>Dimension of the answer features.</summary>
    public int Dim { get; init; }

    /// <summary>The margin for a persona (by id; <paramref name="persona"/> holds its features, used by models that read them).</summary>
    public abstract double Margin(string personaId, SparseVector persona, SparseVector d);

    /// <summary>A scorer for a new persona adapted on its first pairs (none: the model's k = 0 answer).</summary>
    public virtual Func<SparseVector, double> Adapt(SparseVector persona, IReadOnlyList<RmExample> pairs) => d => Margin("", persona, d);

    /// <summary>Whether the model uses a new persona's pairs (its few-shot curve can rise).</summary>
    public virtual bool Adapts => false;

    /// <summary>Writes the fitted parameters as one JSON object (streamed: a per-persona model at paper scale is ~10 M numbers).</summary>
    public abstract void WriteParameters(Utf8JsonWriter w);

    // ---- shared numerics ----

    /// <summary>-log sigmoid(y s) and its derivative in s.</summary>
    internal static (double Loss, double Slope) Logistic(double s, int y)
    {
        var m = y * s;
        var loss = m > 0 ? Math.Log(1 + Math.Exp(-m)) : -m + Math.Log(1 + Math.Exp(m));
        return (loss, -y / (1 + Math.Exp(m)));
    }

    /// <summary>
    /// Minimises with MathNet's L-BFGS. The best point seen is kept, so running out of iterations or a
    /// failed line search near the optimum returns that point rather than failing the track.
    /// </summary>
    internal static double[] Minimise(double[] x0, Func<double[], double[], double> valueAndGradient, int maxIterations, CancellationToken ct = default)
    {
        var bestF = double.PositiveInfinity;
        var best = (double[])x0.Clone();
        var objective = ObjectiveFunction.Gradient(v =>
        {
            ct.ThrowIfCancellationRequested(); // checked at every evaluation: a fit of a large model takes minutes
            var x = v.ToArray();
            var g = new double[x.Length];
            var f = valueAndGradient(x, g);
            if (f < bestF) { bestF = f; best = x; }
            return (f, Vector<double>.Build.Dense(g));
        });
        var minimizer = new LimitedMemoryBfgsMinimizer(1e-6, 1e-10, 1e-10, 10, maxIterations);
        try { return minimizer.FindMinimum(objective, Vector<double>.Build.Dense(x0)).MinimizingPoint.ToArray(); }
        catch (MaximumIterationsException) { return best; }
        catch (OptimizationException) { return best; }
    }

    internal static void WriteArray(Utf8JsonWriter w, string name, ReadOnlySpan<double> xs)
    {
        w.WriteStartArray(name);
        foreach (var x in xs) w.WriteNumberValue(Math.Round(x, 7));
        w.WriteEndArray();
    }
}

/// <summary>One Bradley-Terry model for everyone: logistic regression on the feature difference (the majority baseline).</summary>
public sealed class GlobalBt : RewardModel
{
    public const string ModelName = "global";
    public override string Name => ModelName;
    public override string Description => "one Bradley-Terry model for everyone (logistic on the feature difference, L2)";
    public double[] W { get; init; } = [];

    public override double Margin(string personaId, SparseVector persona, SparseVector d) => d.Dot(W);

    public static double[] Fit(IReadOnlyList<RmExample> train, int dim, double lambda, int maxIterations, CancellationToken ct = default) =>
        Minimise(new double[dim], (w, g) =>
        {
            var f = 0.0;
            foreach (var e in train)
            {
                var (loss, slope) = Logistic(e.D.Dot(w), e.Label);
                f += loss;
                e.D.AddTo(g, slope);
            }
            for (var i = 0; i < w.Length; i++) { f += 0.5 * lambda * w[i] * w[i]; g[i] += lambda * w[i]; }
            return f;
        }, maxIterations, ct);

    public override void WriteParameters(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        WriteArray(w, "w", W);
        w.WriteEndObject();
    }
}

/// <summary>
/// Per-persona models: the global weights plus a persona's own offset, fitted on that persona's pairs
/// with an L2 pull back to zero (shrinkage toward the global model). A new persona's offset is fitted
/// on its k pairs the same way; with none it is the global model.
/// </summary>
public sealed class PerPersona : RewardModel
{
    public const string ModelName = "per_persona";
    public override string Name => ModelName;
    public override string Description => "per-persona Bradley-Terry models shrunk toward the global one";
    public override bool Adapts => true;
    public double[] Global { get; init; } = [];
    public IReadOnlyDictionary<string, SparseVector> Offsets { get; init; } = new Dictionary<string, SparseVector>();

    public override double Margin(string personaId, SparseVector persona, SparseVector d) =>
        d.Dot(Global) + (Offsets.TryGetValue(personaId, out var o) ? SparseDot(o, d) : 0);

    public override Func<SparseVector, double> Adapt(SparseVector persona, IReadOnlyList<RmExample> pairs)
    {
        var o = FitOffset(Global, pairs, Settings.Shrink, Settings.MaxIterations);
        return d => d.Dot(Global) + SparseDot(o, d);
    }

    /// <summary>The offset lives in the span of the persona's own feature differences, so it is fitted on their indices only.</summary>
    public static SparseVector FitOffset(double[] global, IReadOnlyList<RmExample> pairs, double shrink, int maxIterations, CancellationToken ct = default)
    {
        if (pairs.Count == 0) return SparseVector.Empty;
        var indices = pairs.SelectMany(p => p.D.Index).Distinct().Order().ToArray();
        var local = new Dictionary<int, int>(indices.Length);
        for (var i = 0; i < indices.Length; i++) local[indices[i]] = i;
        var rows = pairs.Select(p => (Base: p.D.Dot(global), Local: new SparseVector([.. p.D.Index.Select(i => local[i])], p.D.Value), p.Label)).ToList();
        var x = Minimise(new double[indices.Length], (o, g) =>
        {
            var f = 0.0;
            foreach (var (b, d, y) in rows)
            {
                var (loss, slope) = Logistic(b + d.Dot(o), y);
                f += loss;
                d.AddTo(g, slope);
            }
            for (var i = 0; i < o.Length; i++) { f += 0.5 * shrink * o[i] * o[i]; g[i] += shrink * o[i]; }
            return f;
        }, maxIterations, ct);
        return new SparseVector(indices, [.. x.Select(v => (float)v)]);
    }

    internal static double SparseDot(SparseVector a, SparseVector b)
    {
        double s = 0;
        int i = 0, j = 0;
        while (i < a.Index.Length && j < b.Index.Length)
        {
            if (a.Index[i] == b.Index[j]) s += a.Value[i++] * (double)b.Value[j++];
            else if (a.Index[i] < b.Index[j]) i++;
            else j++;
        }
        return s;
    }

    public override void WriteParameters(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        WriteArray(w, "global", Global);
        w.WriteStartObject("offsets");
        foreach (var (id, o) in Offsets.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.WriteStartObject(id);
            w.WriteStartArray("index");
            foreach (var i in o.Index) w.WriteNumberValue(i);
            w.WriteEndArray();
            WriteArray(w, "value", [.. o.Value.Select(v => (double)v)]);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

/// <summary>
/// The persona-conditioned model: score(p, x) = w.x + (U psi(p)).(V x), psi the persona's features
/// (attributes one-hot and its text through the same featuriser), U and V of low rank: V's rows are the
/// directions in which the seen personas' own models differ, U maps a persona's features onto them. It
/// scores personas it never saw from their features alone, so it does not adapt on their pairs.
/// </summary>
public sealed class Conditioned : RewardModel
{
    public const string ModelName = "conditioned";
    public override string Name => ModelName;
    public override string Description => "persona-conditioned low-rank model (persona features x answer features)";
    public int PersonaDim { get; init; }
    public double[] W { get; init; } = [];
    /// <summary>Rank x PersonaDim, row-major.</summary>
    public double[] U { get; init; } = [];
    /// <summary>Rank x Dim, row-major.</summary>
    public double[] V { get; init; } = [];

    public override double Margin(string personaId, SparseVector persona, SparseVector d)
    {
        var s = d.Dot(W);
        var r = Settings.Rank;
        for (var j = 0; j < r; j++) s += persona.Dot(U.AsSpan(j * PersonaDim, PersonaDim)) * d.Dot(V.AsSpan(j * Dim, Dim));
        return s;
    }

    /// <summary>
    /// Fits the model in two steps. V's rows are the r leading directions in which the seen personas' own models
    /// (the per-persona offsets from the global model) differ: what tastes vary across people. With V fixed the
    /// margin is linear in w and U, so (w, U) is one convex logistic regression, started at the global model with U = 0,
    /// that learns which persona features move a person along each direction. Fitting U and V together from a
    /// random start instead let V take up any answer n-gram (a bilinear model over thousands of hashed features
    /// with 30 to 150 seen personas): it fitted the training pairs and generalised worse than the global model,
    /// even on seen personas' test pairs.
    /// A persona's U psi is computed once per evaluation for all its pairs and U's gradient gathered per persona: a
    /// persona's features (its text's n-grams) outnumber a pair's, and per pair they dominated the fit's time.
    /// </summary>
    public static (double[] W, double[] U, double[] V) Fit(IReadOnlyList<RmExample> train, IReadOnlyDictionary<string, SparseVector> personas,
        double[] globalW, IReadOnlyDictionary<string, SparseVector> offsets, int dim, int personaDim, RmTrainOptions o, CancellationToken ct = default)
    {
        int r = o.Rank, nw = dim, nu = r * personaDim;
        var v = Directions(offsets.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToList(), dim, r, o.Seed, ct);
        var groups = train.GroupBy(e => e.PersonaId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Psi: personas[g.Key], Rows: g.Select(e => (e.D, e.Label, B: Enumerable.Range(0, r).Select(j => e.D.Dot(v.AsSpan(j * dim, dim))).ToArray())).ToArray())).ToArray();
        var x0 = new double[nw + nu];
        globalW.CopyTo(x0, 0);
        var x = Minimise(x0, (p, g) =>
        {
            var w = p.AsSpan(0, nw);
            var f = 0.0;
            Span<double> a = stackalloc double[r], cu = stackalloc double[r];
            foreach (var (psi, rows) in groups)
            {
                for (var j = 0; j < r; j++) { a[j] = psi.Dot(p.AsSpan(nw + j * personaDim, personaDim)); cu[j] = 0; }
                foreach (var (d, y, b) in rows)
                {
                    var s = d.Dot(w);
                    for (var j = 0; j < r; j++) s += a[j] * b[j];
                    var (loss, slope) = Logistic(s, y);
                    f += loss;
                    d.AddTo(g.AsSpan(0, nw), slope);
                    for (var j = 0; j < r; j++) cu[j] += slope * b[j];
                }
                for (var j = 0; j < r; j++) if (cu[j] != 0) psi.AddTo(g.AsSpan(nw + j * personaDim, personaDim), cu[j]);
            }
            for (var i = 0; i < p.Length; i++) { f += 0.5 * o.Lambda * p[i] * p[i]; g[i] += o.Lambda * p[i]; }
            return f;
        }, o.MaxIterations, ct);
        return (x[..nw], x[nw..], v);
    }

    /// <summary>The r leading right singular vectors of the offsets (rows), unit length, by seeded power iteration with deflation; r x dim, row-major.</summary>
    internal static double[] Directions(IReadOnlyList<SparseVector> rows, int dim, int r, long seed, CancellationToken ct)
    {
        var v = new double[r * dim];
        var rng = new DeterministicRng(unchecked((ulong)seed) ^ 0xD1EC7105UL);
        for (var j = 0; j < r; j++)
        {
            var cur = v.AsSpan(j * dim, dim);
            for (var i = 0; i < dim; i++) cur[i] = rng.NextDouble() - 0.5;
            var next = new double[dim];
            for (var it = 0; it < 60; it++)
            {
                ct.ThrowIfCancellationRequested();
                System.Array.Clear(next);
                foreach (var row in rows) row.AddTo(next, row.Dot(v.AsSpan(j * dim, dim))); // O^T O v
                for (var q = 0; q < j; q++)
                {
                    var prev = v.AsSpan(q * dim, dim);
                    var c = 0.0;
                    for (var i = 0; i < dim; i++) c += next[i] * prev[i];
                    for (var i = 0; i < dim; i++) next[i] -= c * prev[i];
                }
                var norm = Math.Sqrt(next.Sum(z => z * z));
                if (norm == 0) break; // fewer directions than r: the rest stay as drawn, orthogonalised above
                cur = v.AsSpan(j * dim, dim);
                for (var i = 0; i < dim; i++) cur[i] = next[i] / norm;
            }
        }
        return v;
    }

    public override void WriteParameters(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("persona_dim", PersonaDim);
        WriteArray(w, "w", W);
        WriteArray(w, "u", U);
        WriteArray(w, "v", V);
        w.WriteEndObject();
    }
}

/// <summary>
/// A mixture of ideal points in the manner of PAL (Chen et al.): K prototype preference vectors, each
/// person a softmax mixture of them; the prototypes and the seen persons' mixtures are fitted
/// together, starting from a clustering of the per-persona models. A new person's mixture is fitted
/// on their k pairs with the prototypes fixed and an L2 pull toward the seen persons' mean mixture
/// (which is also the k = 0 answer).
/// </summary>
public sealed class IdealPoints : RewardModel
{
    public const string ModelName = "pal_mixture";
    public override string Name => ModelName;
    public override string Description => "mixture of K ideal points in the manner of PAL (a new person's mixture fitted from k pairs)";
    public override bool Adapts => true;
    /// <summary>K x Dim, row-major.</summary>
    public double[] Prototypes { get; init; } = [];
    public IReadOnlyDictionary<string, double[]> Mixtures { get; init; } = new Dictionary<string, double[]>();
    public double[] MeanLogits { get; init; } = [];

    private int K => Settings.Prototypes;

    public override double Margin(string personaId, SparseVector persona, SparseVector d) =>
        Mixed(Mixtures.TryGetValue(personaId, out var a) ? a : MeanLogits, d);

    private double Mixed(double[] logits, SparseVector d)
    {
        var pi = Softmax(logits);
        var s = 0.0;
        for (var k = 0; k < K; k++) s += pi[k] * d.Dot(Prototypes.AsSpan(k * Dim, Dim));
        return s;
    }

    public override Func<SparseVector, double> Adapt(SparseVector persona, IReadOnlyList<RmExample> pairs)
    {
        if (pairs.Count == 0) return d => Mixed(MeanLogits, d);
        var z = pairs.Select(p => (Z: Enumerable.Range(0, K).Select(k => p.D.Dot(Prototypes.AsSpan(k * Dim, Dim))).ToArray(), p.Label)).ToList();
        var prior = Settings.Shrink;
        var a = Minimise((double[])MeanLogits.Clone(), (x, g) =>
        {
            var pi = Softmax(x);
            var f = 0.0;
            foreach (var (zs, y) in z)
            {
                var s = 0.0;
                for (var k = 0; k < K; k++) s += pi[k] * zs[k];
                var (loss, slope) = Logistic(s, y);
                f += loss;
                for (var k = 0; k < K; k++) g[k] += slope * pi[k] * (zs[k] - s);
            }
            for (var k = 0; k < K; k++) { var dx = x[k] - MeanLogits[k]; f += 0.5 * prior * dx * dx; g[k] += prior * dx; }
            return f;
        }, Settings.MaxIterations);
        return d => Mixed(a, d);
    }

    internal static double[] Softmax(ReadOnlySpan<double> x)
    {
        var max = double.NegativeInfinity;
        foreach (var v in x) max = Math.Max(max, v);
        var p = new double[x.Length];
        var sum = 0.0;
        for (var i = 0; i < x.Length; i++) { p[i] = Math.Exp(x[i] - max); sum += p[i]; }
        for (var i = 0; i < p.Length; i++) p[i] /= sum;
        return p;
    }

    /// <param name="offsets">The per-persona models' offsets, clustered (k-means on a seeded random projection) to start the prototypes.</param>
    public static (double[] Prototypes, Dictionary<string, double[]> Mixtures, double[] Mean) Fit(IReadOnlyList<RmExample> train, double[] globalW,
        IReadOnlyDictionary<string, SparseVector> offsets, int dim, RmTrainOptions o, CancellationToken ct = default)
    {
        var K = o.Prototypes;
        var persons = offsets.Keys.Order(StringComparer.Ordinal).ToList();
        var index = persons.Select((p, i) => (p, i)).ToDictionary(t => t.p, t => t.i, StringComparer.Ordinal);
        // Start: cluster the offsets, each prototype = global + its cluster's mean offset, each person leaning to its cluster.
        var assign = Cluster(persons.Select(p => offsets[p]).ToList(), K, o.Seed);
        var x0 = new double[K * dim + persons.Count * K];
        for (var k = 0; k < K; k++) globalW.CopyTo(x0, k * dim);
        var counts = new int[K];
        for (var i = 0; i < persons.Count; i++) counts[assign[i]]++;
        for (var i = 0; i < persons.Count; i++)
        {
            var off = offsets[persons[i]];
            for (var j = 0; j < off.Index.Length; j++) x0[assign[i] * dim + off.Index[j]] += off.Value[j] / counts[assign[i]];
            x0[K * dim + i * K + assign[i]] = 2;
        }
        var rows = train.Where(e => index.ContainsKey(e.PersonaId)).Select(e => (Person: index[e.PersonaId], e.D, e.Label)).ToList();
        var x = Minimise(x0, (p, g) =>
        {
            var f = 0.0;
            var zs = new double[K];
            foreach (var (person, d, y) in rows)
            {
                var pi = Softmax(p.AsSpan(K * dim + person * K, K));
                var s = 0.0;
                for (var k = 0; k < K; k++) { zs[k] = d.Dot(p.AsSpan(k * dim, dim)); s += pi[k] * zs[k]; }
                var (loss, slope) = Logistic(s, y);
                f += loss;
                for (var k = 0; k < K; k++)
                {
                    d.AddTo(g.AsSpan(k * dim, dim), slope * pi[k]);
                    g[K * dim + person * K + k] += slope * pi[k] * (zs[k] - s);
                }
            }
            for (var i = 0; i < K * dim; i++) { f += 0.5 * o.Lambda * p[i] * p[i]; g[i] += o.Lambda * p[i]; }
            for (var i = K * dim; i < p.Length; i++) { f += 0.005 * p[i] * p[i]; g[i] += 0.01 * p[i]; } // keeps mixtures finite
            return f;
        }, o.MaxIterations, ct);
        var mixtures = new Dictionary<string, double[]>(StringComparer.Ordinal);
        var mean = new double[K];
        for (var i = 0; i < persons.Count; i++)
        {
            var a = x[(K * dim + i * K)..(K * dim + (i + 1) * K)];
            mixtures[persons[i]] = a;
            for (var k = 0; k < K; k++) mean[k] += a[k] / persons.Count;
        }
        return (x[..(K * dim)], mixtures, mean);
    }

    /// <summary>k-means (seeded, k-means++ start) of sparse vectors on a 32-dimensional random projection.</summary>
    private static int[] Cluster(IReadOnlyList<SparseVector> vectors, int k, long seed)
    {
        const int dims = 32;
        var rng = new DeterministicRng(unchecked((ulong)seed) ^ 0x9A1UL);
        var proj = vectors.Select(v =>
        {
            var y = new double[dims];
            for (var i = 0; i < v.Index.Length; i++)
                for (var j = 0; j < dims; j++)
                    y[j] += v.Value[i] * (((DeterministicRng.Mix((ulong)v.Index[i], (ulong)j) & 1) == 0) ? 1 : -1);
            return y;
        }).ToList();
        var n = proj.Count;
        var assign = new int[n];
        if (n == 0) return assign;
        double Dist(double[] a, double[] b) { var s = 0.0; for (var j = 0; j < dims; j++) s += (a[j] - b[j]) * (a[j] - b[j]); return s; }
        var centres = new List<double[]> { proj[rng.NextInt(n)] };
        while (centres.Count < k)
        {
            var d = proj.Select(p => centres.Min(c => Dist(p, c))).ToArray();
            var total = d.Sum();
            if (total <= 0) { centres.Add(proj[rng.NextInt(n)]); continue; }
            var u = rng.NextDouble() * total;
            var i = 0;
            for (var acc = d[0]; acc < u && i < n - 1; acc += d[++i]) { }
            centres.Add(proj[i]);
        }
        for (var iter = 0; iter < 50; iter++)
        {
            var changed = false;
            for (var i = 0; i < n; i++)
            {
                var best = 0;
                for (var c = 1; c < k; c++) if (Dist(proj[i], centres[c]) < Dist(proj[i], centres[best])) best = c;
                if (best != assign[i]) { assign[i] = best; changed = true; }
            }
            for (var c = 0; c < k; c++)
            {
                var members = Enumerable.Range(0, n).Where(i => assign[i] == c).ToList();
                if (members.Count == 0) continue;
                centres[c] = Enumerable.Range(0, dims).Select(j => members.Average(i => proj[i][j])).ToArray();
            }
            if (!changed && iter > 0) break;
        }
        return assign;
    }

    public override void WriteParameters(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        WriteArray(w, "prototypes", Prototypes);
        w.WriteStartObject("mixtures");
        foreach (var (id, a) in Mixtures.OrderBy(kv => kv.Key, StringComparer.Ordinal)) WriteArray(w, id, a);
        w.WriteEndObject();
        WriteArray(w, "mean_logits", MeanLogits);
        w.WriteEndObject();
    }
}
