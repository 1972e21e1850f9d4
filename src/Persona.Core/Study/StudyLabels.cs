namespace Persona.Study;

/// <summary>The human choices on one study item ("personalised" or "generic"), one per rater session.</summary>
public sealed record ItemRatings(long ItemId, string PersonaId, int Position, string? PairId, IReadOnlyList<string> Choices);

/// <summary>Reads the labels the analysis works on out of the study database.</summary>
public static class StudyLabels
{
    public const string Personalised = "personalised";
    public const string Generic = "generic";
    public static readonly IReadOnlyList<string> Categories = [Personalised, Generic];

    /// <summary>
    /// Human choices per pair item (attention checks excluded). Only completed sessions count by
    /// default: a rater who left halfway is replaced, and their partial answers would let a
    /// persona's items be judged by different sets of people.
    /// </summary>
    /// <param name="excludeSessions">Sessions whose answers leave the labels (the analysis without flagged raters).</param>
    public static IReadOnlyList<ItemRatings> Human(StudyDatabase db, bool completedOnly = true, IReadOnlySet<long>? excludeSessions = null)
    {
        var items = db.Items().Where(i => i.Kind == ItemKind.Pair).ToList();
        var byKey = items.ToDictionary(i => (i.PersonaId, i.Position));
        var choices = items.ToDictionary(i => i.ItemId, _ => new List<string>());
        foreach (var a in db.Answers())
        {
            if (a.ItemKind != "pair") continue;
            if (excludeSessions is not null && excludeSessions.Contains(a.SessionId)) continue;
            if (completedOnly ? a.SessionState != "completed" : a.SessionState is "expired" or "released") continue;
            if (byKey.TryGetValue((a.PersonaId, a.Position), out var item)) choices[item.ItemId].Add(a.Choice);
        }
        return items.Select(i => new ItemRatings(i.ItemId, i.PersonaId, i.Position, i.PairId, choices[i.ItemId])).ToList();
    }
}
