using ArchUnitNET.Domain;
using ArchUnitNET.Loader;

namespace Persona.Core.Tests.Architecture;

/// <summary>
/// The rooms of Persona.Core (its namespaces under Persona.) and which may use which. The foundation
/// (the root namespace: exceptions, bundled data, strict text reading, JSON error wording) uses no
/// room; Statistics is a leaf; and no cycle between rooms may appear (the remodel of issue 19
/// removed the last ones: census reading built personas, and the run named its report).
/// </summary>
public sealed class LayeringTests
{
    private static readonly Lazy<IReadOnlyDictionary<string, HashSet<string>>> Graph = new(() =>
    {
        var arch = new ArchLoader().LoadAssemblies(typeof(PersonaException).Assembly).Build();
        return RoomGraph(arch.Types.Select(t => (Room(t.Namespace?.FullName), t.Dependencies.Select(d => Room(d.Target?.Namespace?.FullName)))));
    });

    /// <summary>"Persona.Llm" for Persona.Llm and its sub-namespaces; "Persona" for the root; null outside Persona.</summary>
    internal static string? Room(string? ns)
    {
        if (ns is null) return null;
        if (ns == "Persona") return ns;
        if (!ns.StartsWith("Persona.", StringComparison.Ordinal)) return null;
        var dot = ns.IndexOf('.', "Persona.".Length);
        return dot < 0 ? ns : ns[..dot];
    }

    internal static IReadOnlyDictionary<string, HashSet<string>> RoomGraph(IEnumerable<(string? From, IEnumerable<string?> To)> edges)
    {
        var g = new SortedDictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var (from, tos) in edges)
        {
            if (from is null) continue;
            if (!g.TryGetValue(from, out var set)) g[from] = set = new HashSet<string>(StringComparer.Ordinal);
            foreach (var to in tos)
                if (to is not null && to != from) set.Add(to);
        }
        return g;
    }

    /// <summary>The strongly connected groups of more than one room (Tarjan), each sorted by name.</summary>
    internal static IReadOnlyList<IReadOnlyList<string>> Cycles(IReadOnlyDictionary<string, HashSet<string>> g)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<IReadOnlyList<string>>();
        var next = 0;
        void Visit(string v)
        {
            index[v] = low[v] = next++;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in g.TryGetValue(v, out var ws) ? ws : [])
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var scc = new List<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); scc.Add(x); } while (x != v);
            if (scc.Count > 1) result.Add([.. scc.Order(StringComparer.Ordinal)]);
        }
        foreach (var v in g.Keys) if (!index.ContainsKey(v)) Visit(v);
        return result;
    }

    /// <summary>Each cycle of <paramref name="g"/>, its rooms joined by arrows.</summary>
    internal static IReadOnlyList<string> NewCycles(IReadOnlyDictionary<string, HashSet<string>> g) =>
        [.. Cycles(g).Select(c => string.Join(" <-> ", c))];

    [Fact]
    public void No_cycle_between_rooms()
    {
        Assert.Empty(NewCycles(Graph.Value));
    }

    [Fact]
    public void A_new_cycle_is_caught()
    {
        // A test-only edge from the leaf Statistics back to the run closes a loop through every room the run uses.
        var g = Graph.Value.ToDictionary(kv => kv.Key, kv => new HashSet<string>(kv.Value, StringComparer.Ordinal), StringComparer.Ordinal);
        g["Persona.Statistics"].Add("Persona.Run");
        var found = NewCycles(g);
        Assert.Single(found);
        Assert.Contains("Persona.Statistics", found[0]);
        Assert.Contains("Persona.Run", found[0]);
    }

    [Fact]
    public void The_foundation_uses_no_room()
    {
        Assert.Empty(Graph.Value["Persona"]);
    }

    [Theory]
    [InlineData("Persona.Statistics")]
    [InlineData("Persona.Store")]
    public void Leaves_use_only_the_foundation(string room)
    {
        Assert.Equal(["Persona"], Graph.Value[room].Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_run_report_sits_above_the_run_and_the_population_fidelity_below_both()
    {
        // The report reads the run's manifest types; the run gets its report writer from the CLI, never by naming the report room.
        Assert.DoesNotContain("Persona.Report", Graph.Value["Persona.Run"]);
        Assert.Contains("Persona.Run", Graph.Value["Persona.Report"]);
        foreach (var room in new[] { "Persona.Report", "Persona.Run" })
            Assert.DoesNotContain(room, Graph.Value["Persona.Fidelity"]);
    }

    [Fact]
    public void Census_reading_knows_nothing_of_personas()
    {
        // The census room returns census persons; the population room makes personas of them.
        Assert.DoesNotContain("Persona.Personas", Graph.Value["Persona.Census"]);
        Assert.Contains("Persona.Census", Graph.Value["Persona.Personas"]);
    }

    [Fact]
    public void The_choice_judge_and_the_engine_sit_below_every_task()
    {
        foreach (var task in new[] { "Persona.Preferences", "Persona.Benchmark", "Persona.Study" })
            Assert.DoesNotContain(task, Graph.Value["Persona.Choice"].Concat(Graph.Value["Persona.Engine"]));
    }
}
