using Persona.Study;

namespace Persona.Core.Tests.Study;

internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;
    public override DateTimeOffset GetUtcNow() => Now;
}

internal static class StudyFixtures
{
    /// <summary>Made-up pairs: personas x questions, persona text carried by the pairs.</summary>
    public static List<PreferencePair> Pairs(int personas, int questions, string split = "test-seen") =>
        [.. from p in Enumerable.Range(1, personas)
            from q in Enumerable.Range(1, questions)
            select new PreferencePair($"p{p:00}-q{q:00}", $"p{p:00}", $"q{q:00}", $"age: {30 + p}\nsex: {(p % 2 == 0 ? "Female" : "Male")}\n",
                $"Question {q}?", $"generic {q}", $"personalised {q}/{p}", null, "test", split)];

    /// <summary>A place whose rater has consented and passed the screening question, ready for answers.</summary>
    public static async Task<RaterSession?> ClaimConsentedAsync(this StudyDatabase db, ProlificIds ids)
    {
        var s = await db.ClaimAsync(ids, default);
        return s is null ? null : await db.RecordConsentAsync(s.Token, consents: true, passedScreening: true, default);
    }

    public static string TempDir() => Path.Combine(Path.GetTempPath(), "persona-study-tests", Guid.NewGuid().ToString("N"));
}
