namespace Persona.Statistics;

/// <summary>What to do when two or more labels share the top vote count.</summary>
public enum TieRule
{
    /// <summary>The item gets no label and is left out of <see cref="Majority.Aggregate{TItem}"/>.</summary>
    Drop,
    /// <summary>The item is kept, marked as a tie with the tied labels.</summary>
    KeepAsTie,
}

/// <summary>
/// The majority label of one item. <see cref="Label"/> is set only when one label has the most
/// votes and at least the required number; <see cref="IsTie"/> marks a shared top count (the
/// tied labels in <see cref="Tied"/>, ordered); otherwise the top label fell short of the threshold.
/// </summary>
public sealed record MajorityOutcome(string? Label, int Votes, int Ratings, bool IsTie, IReadOnlyList<string> Tied)
{
    public bool HasMajority => Label is not null;
}

public static class Majority
{
    /// <summary>
    /// The label chosen by at least <paramref name="minVotes"/> of the item's ratings and by more
    /// raters than any other label (e.g. minVotes 3 for "3 of 4"). A tie for the top count is a
    /// tie whatever the threshold.
    /// </summary>
    public static MajorityOutcome Of(IReadOnlyList<string> labels, int minVotes)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (minVotes < 1) throw new ArgumentOutOfRangeException(nameof(minVotes), minVotes, "At least one vote is needed for a label.");
        if (labels.Count == 0) return new MajorityOutcome(null, 0, 0, false, []);
        var counts = labels.GroupBy(l => l, StringComparer.Ordinal).Select(g => (Label: g.Key, Votes: g.Count())).ToList();
        var top = counts.Max(c => c.Votes);
        var leaders = counts.Where(c => c.Votes == top).Select(c => c.Label).OrderBy(l => l, StringComparer.Ordinal).ToList();
        if (leaders.Count > 1) return new MajorityOutcome(null, top, labels.Count, true, leaders);
        return new MajorityOutcome(top >= minVotes ? leaders[0] : null, top, labels.Count, false, []);
    }

    /// <summary>
    /// Majority labels of many items. Items whose top label falls short of the threshold are left
    /// out; ties are left out under <see cref="TieRule.Drop"/> and kept (IsTie, no Label) under
    /// <see cref="TieRule.KeepAsTie"/>.
    /// </summary>
    public static IReadOnlyList<(TItem Item, MajorityOutcome Outcome)> Aggregate<TItem>(
        IEnumerable<(TItem Item, IReadOnlyList<string> Labels)> items, int minVotes, TieRule ties)
    {
        ArgumentNullException.ThrowIfNull(items);
        var result = new List<(TItem, MajorityOutcome)>();
        foreach (var (item, labels) in items)
        {
            var outcome = Of(labels, minVotes);
            if (outcome.HasMajority || (outcome.IsTie && ties == TieRule.KeepAsTie))
                result.Add((item, outcome));
        }
        return result;
    }
}
