namespace Persona.Personas;

/// <summary>Raw ACS PUMS codes of one person: what the procedural traits are conditioned on.</summary>
public sealed record DemographicProfile(int Age, int Sex, int Race, int Hispanic, int? Education, int StateFips);

public sealed record BigFive(string Openness, string Conscientiousness, string Extraversion, string Agreeableness, string Neuroticism);

public sealed record Psychodemographics(BigFive BigFive, string Religion, string Ideology, string PoliticalViews);
