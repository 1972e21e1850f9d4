using Persona.Engine;
using Persona.Store;

namespace Persona.Benchmark;

/// <summary>One run's (or one score set's) bench samples, as a column of a comparison.</summary>
public sealed record CompareColumn(string Label, IReadOnlyList<BenchObservation> Observations, BenchResults Results);

/// <summary>Columns side by side and each against the first on the same samples.</summary>
public sealed record BenchComparison(IReadOnlyList<CompareColumn> Columns, IReadOnlyList<string> Modes, IReadOnlyList<Comparison> Comparisons)
{
    /// <summary>The JSON `bench compare --out` writes (format persona-bench-compare/1).</summary>
    public Dictionary<string, object?> ToJson() => new()
    {
        ["format"] = BenchCompare.FormatId,
        ["columns"] = Columns.Select(c => new Dictionary<string, object?> { ["label"] = c.Label, ["modes"] = c.Results.Modes.Select(m => new { m.Mode, m.Accuracy }).ToList() }).ToList(),
        ["comparisons"] = Comparisons,
    };
}

/// <summary>
/// Bench runs compared on the same samples (same persona, question, mode and draw): what `bench
/// compare` prints and what a run made with --dataset shows beside the dataset run's model in its
/// report. Reads the stores read-only; makes no call.
/// </summary>
public static class BenchCompare
{
    public const string FormatId = "persona-bench-compare/1";

    /// <summary>The score sets of a run's bench samples as columns labelled "FOLDER:SET" (only <paramref name="scoreSet"/> when given).</summary>
    public static IReadOnlyList<CompareColumn> Load(string runDir, string? scoreSet, int resamples, string? label = null)
    {
        var store = Path.Combine(runDir, "store.sqlite");
        if (!File.Exists(store))
            throw new PersonaException($"'{runDir}' is not a bench run folder (no store.sqlite); give the --out (or --run-dir) folder of `persona bench run` or `persona run`.");
        var log = RunStore.OpenReadOnly(store);
        try
        {
            var info = log.Samples.ListTasks().FirstOrDefault(t => t.Task == BenchTask.TaskName);
            if (info.Task is null) throw new PersonaException($"'{runDir}' holds no bench samples.");
            var samples = SampleLogExport.Read(log, BenchTask.TaskName).ToList();
            var name = label ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDir)));
            return [.. info.ScoreSets.Where(s => scoreSet is null || s == scoreSet)
                .Select(set => new CompareColumn($"{name}:{set}", samples.Select(s => BenchObservation.From(s, set)).ToList(), BenchReport.Compute(samples, set, resamples)))];
        }
        finally
        {
            log.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Each column against the first, per mode, on the samples both scored (paired bootstrap, Holm-adjusted).</summary>
    public static BenchComparison Compare(IReadOnlyList<CompareColumn> columns, int resamples)
    {
        if (columns.Count < 2) throw new PersonaException("bench compare needs at least two runs or score sets to compare (check --score-set).");
        var modes = columns.SelectMany(c => c.Results.Modes.Select(m => m.Mode)).Distinct().OrderBy(BenchModes.Order).ToList();
        var raw = new List<(string A, string B, List<(BenchObservation X, BenchObservation Y)> Pairs)>();
        foreach (var c in columns.Skip(1))
            foreach (var m in modes)
            {
                var first = columns[0].Observations.Where(o => o.Mode == m && o.Score is not null).ToDictionary(o => o.PairKey);
                var pairs = c.Observations.Where(o => o.Mode == m && o.Score is not null && first.ContainsKey(o.PairKey)).Select(o => (first[o.PairKey], o)).ToList();
                if (pairs.Count >= 2) raw.Add(($"{columns[0].Label} {m}", $"{c.Label} {m}", pairs));
            }
        return new BenchComparison(columns, modes, BenchReport.Paired(raw, resamples, 1, 0.95));
    }
}
