using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Persona.Llm;

namespace Persona.Simulation;

/// <summary>
/// The provider <c>offline</c> (and <c>offline:NAME</c>, a second simulated model with its own seed):
/// answers from the planted world, free, labelled simulated. It registers itself with the runtime's
/// providers when Persona.Core loads, so the runtime (Persona.Llm) never names the simulator.
/// </summary>
internal sealed class OfflineProvider : IModelProvider
{
    public string Name => "offline";

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "The simulator is a built-in provider of this assembly; registering it when the assembly loads keeps Persona.Llm free of Persona.Simulation.")]
    internal static void Register() => ModelProviders.RegisterBuiltIn(new OfflineProvider());

    public ProviderClient Create(ProviderRequest r)
    {
        var world = SimulatedWorld.Shared(r.Options.WorldPath);
        var sim = new OfflineSimulator(r.Options.OfflineSeed, world, r.Spec.Name);
        return new ProviderClient(sim, null, ["offline-simulator"], sim.Identity, Simulated: true, NativeJsonSchema: true,
            World: new Dictionary<string, object?> { ["source"] = world.Source, ["sha256"] = world.Sha256, ["illustration_only"] = true });
    }
}

/// <summary>The world a runtime's simulated roles answer from, for analyses that plant or read its effects.</summary>
public static class RuntimeWorld
{
    public static SimulatedWorld World(this LlmRuntime runtime) => SimulatedWorld.Shared(runtime.Options.WorldPath);
}
