namespace Persona.Prompts;

/// <summary>
/// Train/held-out split stratified by topic cluster (method.md section 2: "both splits cover the
/// distribution of topics"). Rather than assigning whole clusters to one side, which would leave
/// each side missing topics, every cluster contributes its proportional share to held-out. The
/// overall held-out count is round(n x fraction) (868 of 3,868 by default); per-cluster quotas
/// are floor(size x fraction) plus one for the clusters with the largest remainders (ties: lower
/// cluster id) until the total is met. Which members go to held-out is a seeded shuffle per cluster.
/// </summary>
public static class TopicSplit
{
    public static string[] Assign(IReadOnlyList<int> labels, int k, double heldOutFraction, int seed)
    {
        if (!(heldOutFraction >= 0 && heldOutFraction < 1)) throw new ArgumentOutOfRangeException(nameof(heldOutFraction));
        int n = labels.Count;
        var members = new List<int>[k];
        for (int c = 0; c < k; c++) members[c] = [];
        for (int i = 0; i < n; i++) members[labels[i]].Add(i);

        int target = (int)Math.Round(n * heldOutFraction, MidpointRounding.AwayFromZero);
        var quota = new int[k];
        var remainder = new double[k];
        for (int c = 0; c < k; c++)
        {
            double exact = members[c].Count * heldOutFraction;
            quota[c] = Math.Min(members[c].Count, (int)Math.Floor(exact));
            remainder[c] = exact - quota[c];
        }
        int missing = target - quota.Sum();
        foreach (var c in Enumerable.Range(0, k).OrderByDescending(c => remainder[c]).ThenBy(c => c))
        {
            if (missing <= 0) break;
            if (quota[c] < members[c].Count) { quota[c]++; missing--; }
        }

        var split = new string[n];
        for (int c = 0; c < k; c++)
        {
            var m = members[c].ToArray();
            var rng = new Random(SeedMix.Derive(seed, "split", c));
            for (int i = m.Length - 1; i > 0; i--) { int j = rng.Next(i + 1); (m[i], m[j]) = (m[j], m[i]); }
            for (int i = 0; i < m.Length; i++) split[m[i]] = i < quota[c] ? PromptSplit.HeldOut : PromptSplit.Train;
        }
        return split;
    }
}
