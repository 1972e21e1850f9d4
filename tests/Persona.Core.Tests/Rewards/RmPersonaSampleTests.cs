using Persona.Rewards;

namespace Persona.Core.Tests.Rewards;

/// <summary>The rm stage's persona cap: a seeded draw, in proportion to the strata, the same whatever order the personas come in.</summary>
public sealed class RmPersonaSampleTests
{
    // 600 Democrats, 300 Republicans, 100 Independents: a 100-persona sample is 60 / 30 / 10.
    private static List<(string Id, IReadOnlyDictionary<string, string> Attributes)> Population() =>
    [
        .. Enumerable.Range(0, 1000).Select(i => ($"p{i:D4}", (IReadOnlyDictionary<string, string>)new Dictionary<string, string>
        {
            ["political views"] = i < 600 ? "Democrat" : i < 900 ? "Republican" : "Independent",
        })),
    ];

    [Fact]
    public void The_sample_is_the_cap_allotted_to_strata_by_size_and_the_same_in_any_order()
    {
        var people = Population();
        var sample = RmPersonaSample.Draw(people, 100, 1, "political views")!;
        Assert.Equal(100, sample.Count);
        int Count(string view) => people.Count(p => sample.Contains(p.Id) && p.Attributes["political views"] == view);
        Assert.Equal((60, 30, 10), (Count("Democrat"), Count("Republican"), Count("Independent")));
        var reversed = RmPersonaSample.Draw(Enumerable.Reverse(people), 100, 1, "political views")!;
        Assert.True(sample.SetEquals(reversed));
        // Not the first ids of each stratum: a seeded draw, and another seed draws another sample.
        Assert.NotEqual(60, Enumerable.Range(0, 60).Count(i => sample.Contains($"p{i:D4}")));
        Assert.False(sample.SetEquals(RmPersonaSample.Draw(people, 100, 2, "political views")!));
    }

    [Fact]
    public void Remainders_go_to_the_largest_fractions_and_no_cap_keeps_everyone()
    {
        var people = Population();
        // 7 seats: quotas 4.2 / 2.1 / 0.7 give 4 + 2 whole seats; the one left goes to the largest remainder, 0.7 (Independent).
        var sample = RmPersonaSample.Draw(people, 7, 1, "political views")!;
        Assert.Equal(7, sample.Count);
        Assert.Single(people, p => sample.Contains(p.Id) && p.Attributes["political views"] == "Independent");
        Assert.Null(RmPersonaSample.Draw(people, 0, 1, "political views"));
        Assert.Null(RmPersonaSample.Draw(people, 1000, 1, "political views"));
        Assert.Equal(999, RmPersonaSample.Draw(people, 999, 1, "political views")!.Count);
        Assert.Throws<PersonaException>(() => RmPersonaSample.Draw(people, -1, 1, "political views"));
    }
}
