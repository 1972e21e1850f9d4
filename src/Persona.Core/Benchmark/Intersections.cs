using System.Text.Json;
using Persona.Llm;
using Persona.Engine;
using Persona.Statistics;
using Persona.Simulation;

namespace Persona.Benchmark;

/// <summary>One demographic intersection of the original's intersections file: every listed attribute must take one of its values.</summary>
public sealed record Intersection(string Label, IReadOnlyList<(string Attribute, IReadOnlyList<string> Values)> Conditions)
{
    /// <summary>A value matches exactly (case-insensitive), by its census band (age, income), or as a numeric range such as 65+ or 18-29.</summary>
    public bool Matches(IReadOnlyDictionary<string, string> persona)
    {
        foreach (var (attribute, values) in Conditions)
        {
            var value = persona.FirstOrDefault(kv => string.Equals(kv.Key, attribute, StringComparison.OrdinalIgnoreCase)).Value;
            if (value is null) return false;
            var band = BenchReport.GroupLabel(attribute, value);
            if (!values.Any(v => SimulatedWorld.Matches(v, value) || string.Equals(v, band, StringComparison.OrdinalIgnoreCase))) return false;
        }
        return true;
    }
}

public sealed record IntersectionRow(string Intersection, string Mode, int Personas, AccuracyEstimate Accuracy);

public sealed record IntersectionResults(string Format, string ScoreSet, bool Simulated, int Resamples, ulong Seed, IReadOnlyList<IntersectionRow> Rows, string Notes);

public static class Intersections
{
    public const string FormatId = "persona-bench-intersections/1";

    /// <summary>Reads <c>[{"attributes": [{"attribute": ..., "values": [...]}]}]</c>; errors name the file and entry.</summary>
    public static IReadOnlyList<Intersection> Read(string path)
    {
        InputFile.NotAFolder(path, "Intersections file");
        if (!File.Exists(path)) throw new PersonaException($"Intersections file '{path}' does not exist.");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException ex) { throw new PersonaException($"{path}: not valid JSON (line {ex.LineNumber + 1}); expected [{{\"attributes\": [{{\"attribute\": ..., \"values\": [...]}}]}}]."); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new PersonaException($"{path}: expected a JSON array of intersections.");
            var list = new List<Intersection>();
            var i = 0;
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                i++;
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("attributes", out var attrs) || attrs.ValueKind != JsonValueKind.Array || attrs.GetArrayLength() == 0)
                    throw new PersonaException($"{path}: intersection {i} needs a non-empty \"attributes\" array.");
                var conds = new List<(string, IReadOnlyList<string>)>();
                foreach (var a in attrs.EnumerateArray())
                {
                    if (a.ValueKind != JsonValueKind.Object || !a.TryGetProperty("attribute", out var name) || name.ValueKind != JsonValueKind.String
                        || !a.TryGetProperty("values", out var vals) || vals.ValueKind != JsonValueKind.Array || vals.GetArrayLength() == 0
                        || vals.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                        throw new PersonaException($"{path}: intersection {i}: each attribute needs \"attribute\" (a string) and \"values\" (a non-empty array of strings).");
                    conds.Add((name.GetString()!.Trim().ToLowerInvariant().Replace('_', ' '), vals.EnumerateArray().Select(v => v.GetString()!).ToArray()));
                }
                list.Add(new Intersection(string.Join(" & ", conds.Select(c => $"{c.Item1} in [{string.Join(", ", c.Item2)}]")), conds));
            }
            if (list.Count == 0) throw new PersonaException($"{path}: no intersections.");
            return list;
        }
    }

    /// <summary>
    /// Refuses an intersection that names an attribute no persona has: its row would be empty, and a
    /// typo ("ethnicity" for "race") looked like an empty cell instead of an error.
    /// </summary>
    public static void CheckAttributes(IReadOnlyList<Intersection> intersections, IEnumerable<IReadOnlyDictionary<string, string>> personas, string path)
    {
        var known = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in personas) known.UnionWith(p.Keys);
        for (var i = 0; i < intersections.Count; i++)
            foreach (var (attribute, _) in intersections[i].Conditions)
                if (!known.Contains(attribute))
                    throw new PersonaException($"{path}: intersection {i + 1}: no persona has the attribute '{attribute}'. Known attributes: {string.Join(", ", known)}.");
    }

    public static IntersectionResults Compute(IEnumerable<SampleRecord> samples, string scoreSet, IReadOnlyList<Intersection> intersections, int resamples = 1000, ulong seed = 1) =>
        Compute(BenchTally.Of(samples, scoreSet), intersections, resamples, seed);

    public static IntersectionResults Compute(BenchTally tally, IReadOnlyList<Intersection> intersections, int resamples = 1000, ulong seed = 1)
    {
        var (obs, scoreSet, simulated) = (tally.Observations, tally.ScoreSet, tally.Simulated);
        var rows = new List<IntersectionRow>();
        foreach (var x in intersections)
            foreach (var mode in obs.Select(o => o.Mode).Distinct().OrderBy(BenchModes.Order))
            {
                var mine = obs.Where(o => o.Mode == mode && x.Matches(o.Attributes)).ToList();
                rows.Add(new IntersectionRow(x.Label, mode, mine.Select(o => o.PersonaId).Distinct().Count(), BenchReport.Accuracy(mine, resamples, seed)));
            }
        return new IntersectionResults(FormatId, scoreSet, simulated, resamples, seed, rows,
            "Accuracy per intersection and mode with its cell size (samples, personas), Wilson and clustered intervals; empty cells have no estimate." +
            (simulated ? " SIMULATED: nothing here is a finding." : ""));
    }
}
