using System.Text.Json;
using Persona.Benchmark;

namespace Persona.Report;

public sealed partial record RunReportData
{
    public const string BestOfNPath = "bench/" + BestOfNReport.File;

    /// <summary>rm_best_of_n against baseline per group (bench/best-of-n.json), when the bench ran the mode.</summary>
    public Loaded<BestOfNResults> BestOfN { get; init; } = Loaded<BestOfNResults>.Missing;

    internal static Loaded<BestOfNResults> ReadBestOfN(string runDir)
    {
        var path = Path.Combine(runDir, BestOfNPath);
        if (!File.Exists(path)) return Loaded<BestOfNResults>.Missing;
        try { return new Loaded<BestOfNResults>(JsonSerializer.Deserialize<BestOfNResults>(File.ReadAllBytes(path), BenchReport.Json), null); }
        catch (Exception ex) when (ex is JsonException or IOException or NotSupportedException)
        {
            return new Loaded<BestOfNResults>(null, $"{BestOfNPath}: unreadable ({ex.Message}); rerun the stage with `persona run --from bench`");
        }
    }
}

internal sealed partial class RunReportHtml
{
    /// <summary>rm_best_of_n minus baseline: overall and the groups the reward model's pick serves least (all in bench/best-of-n.json).</summary>
    private void BestOfNTable()
    {
        if (d.BestOfN.Value is not { Overall: { } o } b) { if (d.BestOfN.Error is { } e) Para(E(e)); return; }
        Para($"<code>rm_best_of_n</code>: best of {Fmt.Int(b.N)} answers drawn with the baseline prompt, picked by the reward model " +
             $"({E(string.Join(", ", b.RewardModels))}); against baseline {Fmt.Pp(o.Difference)} {Fmt.CiPp(o.Interval)} over {Fmt.Int(o.N)} pairs.");
        var minCell = d.Bench.Value?.MinCell ?? 30; // as the bench's group tables: a handful of pairs says nothing
        Table(["Attribute", "Group", "Pairs", "Personas", "rm_best_of_n − baseline", "Interval", "p (Holm)"],
            b.Groups.Where(g => g.N >= minCell).OrderBy(g => g.Difference).ThenBy(g => g.Attribute, StringComparer.Ordinal).Take(LowestGroups).Select(g => (IReadOnlyList<string>)
                [E(g.Attribute), E(g.Group), Fmt.Int(g.N), Fmt.Int(g.Personas), Fmt.Pp(g.Difference), Fmt.CiPp(g.Interval), Fmt.Num(g.PValueHolm, "0.0000")]),
            caption: $"The reward model's pick against baseline, the {LowestGroups} groups of at least {minCell} pairs it helps least (all groups in {RunReportData.BestOfNPath})");
    }
}
