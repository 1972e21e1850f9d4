using System.Text.Json;

namespace Persona.Core.Tests.Preferences;

/// <summary>Small persona and prompt files in the formats users bring (the PERSONA release's persona text column; questions with splits).</summary>
internal static class PairFixtures
{
    private static readonly string[] Sexes = ["Female", "Male"];
    private static readonly string[] Races = ["White alone", "Black or African American alone", "Asian alone", "American Indian alone"];
    private static readonly string[] Educations = ["Bachelor's degree", "Regular high school diploma", "Master's degree", "Some college, but less than 1 year"];
    private static readonly string[] Religions = ["Catholic", "Mainline Protestant", "Unaffiliated", "Jewish"];

    public static string Dir()
    {
        var d = Path.Combine(Path.GetTempPath(), "persona-pairs-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    public static string PersonaText(int i) =>
        $"age: {18 + i * 7 % 70}\nsex: {Sexes[i % 2]}\nrace: {Races[i % 4]}\neducation: {Educations[i / 2 % 4]}\n" +
        $"occupation category: {(i % 3 == 0 ? "Registered nurses" : "Software developers")}\nreligion: {Religions[i / 3 % 4]}\n" +
        $"ideology: {(i % 5 == 0 ? "Conservative" : "Moderate")}\n";

    /// <summary>The original release's shape: one row per pair, the persona repeated as a text column.</summary>
    public static string PersonaTextFile(string dir, int n)
    {
        var path = Path.Combine(dir, "persona.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, n).SelectMany(i => new[]
        {
            JsonSerializer.Serialize(new Dictionary<string, string> { ["persona"] = PersonaText(i), ["instruction"] = "q1" }),
            JsonSerializer.Serialize(new Dictionary<string, string> { ["persona"] = PersonaText(i), ["instruction"] = "q2" }),
        }));
        return path;
    }

    public static string Prompts(string dir, int train, int heldOut)
    {
        var path = Path.Combine(dir, "prompts.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, train + heldOut).Select(i => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["id"] = $"p{i:000}", ["question"] = $"Question {i}: should people with different values answer this way?",
            ["split"] = i < train ? "train" : "held_out", ["cluster"] = i % 4,
        })));
        return path;
    }
}
