using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Persona.Rewards;

/// <summary>What the rm stage trained on when the population was larger than its cap: recorded in rm-results.json.</summary>
/// <param name="Personas">Personas drawn.</param>
/// <param name="Of">Personas in the population.</param>
public sealed record RmSampleInfo(int Personas, int Of, string Stratify, long Seed);

/// <summary>
/// The personas the reward-model stage fits and scores on when the population is larger than its cap: a seeded draw of
/// at most the cap, allotted to the strata of one attribute in proportion to their size (largest remainders first), each
/// stratum taking its members of smallest seeded hash. The models' cost and memory grow with the pairs they see; the
/// statistics they feed are persona-clustered, so past a few thousand personas more of them narrow no interval that
/// matters and only cost memory (PAL fits on 50 seen personas). A pure function of the ids, attributes and seed: every
/// shard and the merge draw the same sample.
/// </summary>
public static class RmPersonaSample
{
    /// <returns>null when every persona is kept (the population is within the cap, or the cap is 0: no cap).</returns>
    public static HashSet<string>? Draw(IEnumerable<(string Id, IReadOnlyDictionary<string, string> Attributes)> personas, int max, long seed, string stratify)
    {
        if (max < 0) throw new PersonaException($"--rm-personas {max}: expected 0 (every persona) or a positive cap.");
        var list = personas.DistinctBy(p => p.Id).ToList();
        if (max == 0 || list.Count <= max) return null;
        var strata = list.GroupBy(p => p.Attributes.TryGetValue(stratify, out var v) ? v : "")
            .Select(g => (Key: g.Key, Members: g.Select(p => p.Id).OrderBy(id => Rank(seed, id)).ThenBy(id => id, StringComparer.Ordinal).ToList()))
            .OrderBy(s => s.Key, StringComparer.Ordinal).ToList();
        var quota = strata.Select(s => (double)max * s.Members.Count / list.Count).ToArray();
        var take = quota.Select(q => (int)Math.Floor(q)).ToArray();
        // Largest remainders get the seats left; ties go to the stratum first in key order.
        foreach (var i in Enumerable.Range(0, strata.Count).OrderByDescending(i => quota[i] - take[i]).ThenBy(i => i).Take(max - take.Sum())) take[i]++;
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < strata.Count; i++)
            foreach (var id in strata[i].Members.Take(take[i])) chosen.Add(id);
        return chosen;
    }

    private static ulong Rank(long seed, string id)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"rm-sample\0{seed.ToString(CultureInfo.InvariantCulture)}\0{id}"), hash);
        return BitConverter.ToUInt64(hash[..8]);
    }
}
