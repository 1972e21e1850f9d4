namespace Persona.Personas;

// These records are contract 1 of CONTRACTS.md (owned by the psychodemographics helper). They
// live here so the census sampler compiles before that work is merged; the integrator keeps one
// copy, with exactly these shapes.

/// <summary>Inputs of a psychodemographic draw, as raw ACS PUMS codes.</summary>
public sealed record DemographicProfile(
    int Age,            // AGEP, 0..99
    int Sex,            // SEX: 1 male, 2 female
    int Race,           // RAC1P 1..9
    int Hispanic,       // HISP: 1 = not Hispanic, 2..24 = Hispanic origins
    int? Education,     // SCHL 1..24, null when not in universe (age < 3)
    int StateFips);     // 1..56

/// <summary>Big Five levels, each one of "Extremely Low", "Low", "Average", "High", "Extremely High".</summary>
public sealed record BigFive(string Openness, string Conscientiousness, string Extraversion,
                             string Agreeableness, string Neuroticism);

public sealed record Psychodemographics(BigFive BigFive, string Religion, string Ideology, string PoliticalViews);
