using Persona.Census;

namespace Persona.Personas;

/// <summary>Draws the procedural fields of a persona; deterministic given the state of <paramref name="rng"/>.</summary>
public interface IPsychodemographicSampler
{
    /// <summary>"conditional" or "independent": recorded in each persona's provenance.</summary>
    string Source { get; }

    Psychodemographics Draw(DemographicProfile profile, Random rng);
}
