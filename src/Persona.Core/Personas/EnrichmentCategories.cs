using Persona.Census;

namespace Persona.Personas;

/// <summary>One high-level theme an LM writes about (data/personas/enrichment-categories.csv).</summary>
public sealed record EnrichmentCategory(string Name, string Prompt);

/// <summary>The category list and the per-persona draw.</summary>
public sealed class EnrichmentCategories
{
    public const string BundledPath = "personas/enrichment-categories.csv";
    private const ulong CategoryStream = 0x63617465676F7279UL;

    public EnrichmentCategories(IReadOnlyList<EnrichmentCategory> categories, string source)
    {
        if (categories.Count == 0) throw new PersonaException($"'{source}' lists no enrichment categories.");
        var dup = categories.GroupBy(c => c.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new PersonaException($"'{source}': category '{dup.Key}' is listed twice.");
        All = categories;
        Source = source;
    }

    public IReadOnlyList<EnrichmentCategory> All { get; }
    public string Source { get; }

    public static EnrichmentCategories Load(string? path = null)
    {
        var file = path ?? BundledData.Path(BundledPath);
        var rows = SmallCsv.Read(file, ["category", "prompt"]);
        return new EnrichmentCategories(rows.Select(r => new EnrichmentCategory(r.Fields[0], r.Fields[1])).ToArray(), file);
    }

    /// <summary>
    /// <paramref name="k"/> distinct categories for the persona at <paramref name="drawIndex"/>, from
    /// its own stream (seed, draw index): independent of every other persona and of the run order.
    /// </summary>
    public IReadOnlyList<EnrichmentCategory> Draw(long seed, int drawIndex, int k)
    {
        if (k < 1 || k > All.Count)
            throw new PersonaException($"Cannot draw {k} categories per persona from a list of {All.Count}; use 1 to {All.Count}.");
        var rng = new DeterministicRng(DeterministicRng.Mix(DeterministicRng.Mix((ulong)seed, CategoryStream), (ulong)drawIndex));
        var idx = Enumerable.Range(0, All.Count).ToArray();
        for (var i = 0; i < k; i++)
        {
            var j = i + rng.NextInt(idx.Length - i);
            (idx[i], idx[j]) = (idx[j], idx[i]);
        }
        return idx.Take(k).Select(i => All[i]).ToArray();
    }
}
