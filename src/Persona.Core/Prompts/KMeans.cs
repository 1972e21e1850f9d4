namespace Persona.Prompts;

/// <summary>A k-means fit; clusters are numbered by decreasing size (ties: earliest member first).</summary>
public sealed record KMeansResult(int K, int[] Labels, float[][] Centroids, double Inertia, int Iterations);

/// <summary>
/// Spherical k-means: cosine distance on unit vectors, centroids re-normalised after each update,
/// k-means++ seeding, several seeded restarts (lowest inertia wins). Fully deterministic for a
/// seed: the assignment step runs in parallel but each point's label depends only on the
/// centroids, and the centroid sums are accumulated sequentially in point order.
/// </summary>
public static class KMeans
{
    /// <param name="points">Unit-length vectors (see <see cref="VectorMath.Normalized"/>).</param>
    public static KMeansResult Fit(IReadOnlyList<float[]> points, int k, int seed, int restarts = 3, int maxIterations = 100, CancellationToken ct = default)
    {
        int n = points.Count;
        if (n == 0) throw new ArgumentException("No points to cluster.", nameof(points));
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"k must be in [1, {n}] (got {k}).");
        KMeansResult? best = null;
        for (int r = 0; r < restarts; r++)
        {
            ct.ThrowIfCancellationRequested();
            var rng = new Random(SeedMix.Derive(seed, "kmeans", r * 1000 + k));
            var fit = FitOnce(points, k, rng, maxIterations, ct);
            if (best is null || fit.Inertia < best.Inertia) best = fit;
        }
        return Canonical(best!);
    }

    private static KMeansResult FitOnce(IReadOnlyList<float[]> points, int k, Random rng, int maxIterations, CancellationToken ct)
    {
        int n = points.Count, d = points[0].Length;
        var centroids = PlusPlusInit(points, k, rng);
        var labels = new int[n];
        Array.Fill(labels, -1);
        var bestSim = new float[n];
        int iter = 0;
        for (; iter < maxIterations; iter++)
        {
            ct.ThrowIfCancellationRequested();
            int changed = Assign(points, centroids, labels, bestSim);
            if (changed == 0 && iter > 0) break;
            // Update: normalised mean of members, summed in point order (deterministic).
            var sums = new double[k][];
            for (int c = 0; c < k; c++) sums[c] = new double[d];
            var counts = new int[k];
            for (int i = 0; i < n; i++)
            {
                var s = sums[labels[i]]; var p = points[i];
                for (int j = 0; j < d; j++) s[j] += p[j];
                counts[labels[i]]++;
            }
            var taken = new HashSet<int>();
            for (int c = 0; c < k; c++)
            {
                if (counts[c] == 0)
                {
                    // Re-seed an empty cluster at the point worst served by its centroid.
                    int far = -1;
                    for (int i = 0; i < n; i++)
                        if (!taken.Contains(i) && (far < 0 || bestSim[i] < bestSim[far])) far = i;
                    taken.Add(far);
                    centroids[c] = (float[])points[far].Clone();
                    continue;
                }
                var mean = new float[d];
                for (int j = 0; j < d; j++) mean[j] = (float)(sums[c][j] / counts[c]);
                centroids[c] = VectorMath.Normalized(mean);
            }
        }
        Assign(points, centroids, labels, bestSim);
        double inertia = 0;
        for (int i = 0; i < n; i++) inertia += Math.Clamp(1.0 - bestSim[i], 0, 2);
        return new KMeansResult(k, labels, centroids, inertia, iter);
    }

    private static int Assign(IReadOnlyList<float[]> points, float[][] centroids, int[] labels, float[] bestSim)
    {
        int changed = 0;
        Parallel.For(0, points.Count, () => 0, (i, _, local) =>
        {
            int best = 0; float bs = float.NegativeInfinity;
            for (int c = 0; c < centroids.Length; c++)
            {
                float s = VectorMath.Dot(points[i], centroids[c]);
                if (s > bs) { bs = s; best = c; } // ties keep the lowest index
            }
            bestSim[i] = bs;
            if (labels[i] != best) { labels[i] = best; local++; }
            return local;
        }, local => Interlocked.Add(ref changed, local));
        return changed;
    }

    private static float[][] PlusPlusInit(IReadOnlyList<float[]> points, int k, Random rng)
    {
        int n = points.Count;
        var centroids = new float[k][];
        centroids[0] = (float[])points[rng.Next(n)].Clone();
        var minDist = new double[n];
        for (int i = 0; i < n; i++) minDist[i] = VectorMath.CosineDistance(points[i], centroids[0]);
        for (int c = 1; c < k; c++)
        {
            double total = 0;
            for (int i = 0; i < n; i++) total += minDist[i] * minDist[i];
            int pick;
            if (total <= 0) pick = rng.Next(n); // all points coincide with chosen centres
            else
            {
                double u = rng.NextDouble() * total, acc = 0;
                pick = n - 1;
                for (int i = 0; i < n; i++)
                {
                    acc += minDist[i] * minDist[i];
                    if (acc > u) { pick = i; break; }
                }
            }
            centroids[c] = (float[])points[pick].Clone();
            for (int i = 0; i < n; i++)
                minDist[i] = Math.Min(minDist[i], VectorMath.CosineDistance(points[i], centroids[c]));
        }
        return centroids;
    }

    /// <summary>Renumbers clusters by decreasing size, ties by first member, so labels do not depend on init order.</summary>
    private static KMeansResult Canonical(KMeansResult r)
    {
        var size = new int[r.K];
        var first = Enumerable.Repeat(int.MaxValue, r.K).ToArray();
        for (int i = 0; i < r.Labels.Length; i++) { size[r.Labels[i]]++; first[r.Labels[i]] = Math.Min(first[r.Labels[i]], i); }
        var order = Enumerable.Range(0, r.K).OrderByDescending(c => size[c]).ThenBy(c => first[c]).ToArray();
        var map = new int[r.K];
        for (int newId = 0; newId < order.Length; newId++) map[order[newId]] = newId;
        return r with
        {
            Labels = r.Labels.Select(l => map[l]).ToArray(),
            Centroids = order.Select(c => r.Centroids[c]).ToArray(),
        };
    }
}

/// <summary>Mean silhouette (cosine distance) of a labelling, on a fixed seeded sample of points.</summary>
public sealed class SilhouetteSample
{
    private readonly int[] _indices;
    private readonly float[] _dist; // m x m

    public SilhouetteSample(IReadOnlyList<float[]> points, int sampleSize, int seed)
    {
        int n = points.Count;
        var idx = Enumerable.Range(0, n).ToArray();
        if (n > sampleSize)
        {
            var rng = new Random(SeedMix.Derive(seed, "silhouette"));
            for (int i = 0; i < sampleSize; i++) { int j = i + rng.Next(n - i); (idx[i], idx[j]) = (idx[j], idx[i]); }
            idx = idx[..sampleSize];
            Array.Sort(idx);
        }
        _indices = idx;
        int m = idx.Length;
        _dist = new float[m * m];
        Parallel.For(0, m, a =>
        {
            for (int b = a + 1; b < m; b++)
            {
                var dd = VectorMath.CosineDistance(points[idx[a]], points[idx[b]]);
                _dist[a * m + b] = dd; // each cell written by exactly one (a, b) pair
                _dist[b * m + a] = dd;
            }
        });
    }

    public int Size => _indices.Length;

    /// <summary>Mean silhouette over the sample; points alone in their cluster (within the sample) score 0.</summary>
    public double Score(int[] labels, int k)
    {
        int m = _indices.Length;
        if (m < 2 || k < 2) return 0;
        var lab = _indices.Select(i => labels[i]).ToArray();
        var count = new int[k];
        foreach (var l in lab) count[l]++;
        var scores = new double[m];
        Parallel.For(0, m, i =>
        {
            var sum = new double[k];
            for (int j = 0; j < m; j++) if (j != i) sum[lab[j]] += _dist[i * m + j];
            int own = lab[i];
            if (count[own] <= 1) { scores[i] = 0; return; }
            double a = sum[own] / (count[own] - 1);
            double b = double.PositiveInfinity;
            for (int c = 0; c < k; c++) if (c != own && count[c] > 0) b = Math.Min(b, sum[c] / count[c]);
            if (double.IsPositiveInfinity(b)) { scores[i] = 0; return; }
            double denom = Math.Max(a, b);
            scores[i] = denom == 0 ? 0 : (b - a) / denom;
        });
        double total = 0;
        foreach (var s in scores) total += s; // sequential: fixed summation order
        return total / m;
    }
}
