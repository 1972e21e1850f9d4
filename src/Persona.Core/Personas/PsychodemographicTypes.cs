namespace Persona.Personas;

public sealed record BigFive(string Openness, string Conscientiousness, string Extraversion, string Agreeableness, string Neuroticism);

public sealed record Psychodemographics(BigFive BigFive, string Religion, string Ideology, string PoliticalViews);
