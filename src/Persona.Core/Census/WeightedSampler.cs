namespace Persona.Census;

/// <summary>Draws rows of a universe with probability proportional to their weights.</summary>
internal static class WeightedSampler
{
    /// <summary>
    /// With replacement, by Vose's alias method: O(N) setup, O(1) per draw, so 100,000 draws from
    /// 2.7 M persons cost milliseconds. <paramref name="weights"/> are per universe position.
    /// </summary>
    public static int[] WithReplacement(ReadOnlySpan<double> weights, int n, DeterministicRng rng, bool uniform)
    {
        var count = weights.Length;
        var result = new int[n];
        if (uniform)
        {
            for (var i = 0; i < n; i++) result[i] = rng.NextInt(count);
            return result;
        }
        var total = 0.0;
        foreach (var w in weights) total += w;
        var prob = new double[count];
        var alias = new int[count];
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (var i = 0; i < count; i++)
        {
            prob[i] = weights[i] * count / total;
            (prob[i] < 1.0 ? small : large).Push(i);
        }
        while (small.Count > 0 && large.Count > 0)
        {
            var s = small.Pop();
            var l = large.Pop();
            alias[s] = l;
            prob[l] = prob[l] + prob[s] - 1.0;
            (prob[l] < 1.0 ? small : large).Push(l);
        }
        // Leftovers are 1 up to rounding error.
        while (large.Count > 0) prob[large.Pop()] = 1.0;
        while (small.Count > 0) prob[small.Pop()] = 1.0;
        for (var i = 0; i < n; i++)
        {
            var k = rng.NextInt(count);
            result[i] = rng.NextDouble() < prob[k] ? k : alias[k];
        }
        return result;
    }

    /// <summary>
    /// Without replacement, by Efraimidis and Spirakis (2006): each row gets key u^(1/w), the n
    /// largest keys win, in decreasing key order, which is the order of successive weighted
    /// draws without replacement. Logs keep small weights from underflowing. Rows of weight 0
    /// are never chosen.
    /// </summary>
    public static int[] WithoutReplacement(ReadOnlySpan<double> weights, int n, DeterministicRng rng, bool uniform)
    {
        var heap = new PriorityQueue<int, double>(n + 1);
        for (var i = 0; i < weights.Length; i++)
        {
            var w = uniform ? 1.0 : weights[i];
            var u = rng.NextDouble();
            if (w <= 0) continue;
            var key = Math.Log(1.0 - u) / w; // 1-u is in (0, 1], so the log is finite.
            if (heap.Count < n) heap.Enqueue(i, key);
            else if (key > PeekPriority(heap)) heap.EnqueueDequeue(i, key);
        }
        var result = new int[heap.Count];
        for (var k = result.Length - 1; k >= 0; k--) result[k] = heap.Dequeue();
        return result;
    }

    private static double PeekPriority(PriorityQueue<int, double> heap)
    {
        heap.TryPeek(out _, out var p);
        return p;
    }
}
