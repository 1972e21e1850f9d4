namespace Persona.Personas;

/// <summary>
/// Draws big five, religion, ideology and political views for one persona. The bundled
/// implementation is <c>PsychodemographicSampler</c> (contract 1); the census sampler depends on
/// this interface only, so it can run without it (the four fields are then null).
/// </summary>
public interface IPsychodemographicSampler
{
    /// <summary>Deterministic given the state of <paramref name="rng"/>.</summary>
    Psychodemographics Draw(DemographicProfile profile, Random rng);

    /// <summary>"conditional" (drawn given demographics) or "independent" (unconditional marginals).</summary>
    string Source { get; }
}
