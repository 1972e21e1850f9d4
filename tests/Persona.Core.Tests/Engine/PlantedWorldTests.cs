using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Engine;
using Persona.Statistics;
using static Persona.Core.Tests.Llm.LlmTestKit;

using Persona.Simulation;

namespace Persona.Core.Tests.Engine;

/// <summary>
/// The simulated world's planted effects, run through the real engine (roles, fan-out, cache,
/// sample log) on the offline provider, are recovered by the statistics that use them.
/// </summary>
public sealed class PlantedWorldTests
{
    private sealed record Pair(string PersonaId, string Age, string PromptId, int Order);

    private static readonly JsonElement JudgeSchema = JsonDocument.Parse("""
        {"type":"object","properties":{"reason":{"type":"string"},"preferred":{"type":"string","enum":["A","B"]}},"required":["reason","preferred"]}
        """).RootElement.Clone();

    private static async IAsyncEnumerable<Pair> Pairs(int personas, int prompts)
    {
        string[] ages = ["25", "40", "58", "72"];
        for (var p = 0; p < personas; p++)
            for (var q = 0; q < prompts; q++)
                for (var order = 0; order < 2; order++)
                    yield return new Pair($"p{p}", ages[p % ages.Length], $"q{q}", order);
        await Task.CompletedTask;
    }

    /// <summary>The judge sees the personalised answer first in order 0 and second in order 1; the score is 1 when it picks the personalised one.</summary>
    private static EvalTask<Pair> Verification(int personas, int prompts) => new()
    {
        Name = "verify",
        Version = "verify/test",
        Dataset = Pairs(personas, prompts),
        Inputs = x => new Dictionary<string, string> { ["persona_id"] = x.PersonaId, ["prompt_id"] = x.PromptId, ["order"] = x.Order.ToString() },
        Solver = async (x, ctx, ct) =>
        {
            var personalisedFirst = x.Order == 0;
            var hint = new SimulationHint("preference_judge", new Dictionary<string, string> { ["age"] = x.Age },
                new Dictionary<string, string>
                {
                    ["persona_key"] = x.PersonaId, ["prompt_key"] = x.PromptId, ["order"] = x.Order.ToString(),
                    ["first"] = personalisedFirst ? "personalised" : "generic", ["first_length"] = "100", ["second_length"] = "100",
                });
            var r = await ctx.CallAsync("judge", [new ChatMessage(ChatRole.User, $"persona {x.PersonaId}, age: {x.Age}\nWhich answer to {x.PromptId} do you prefer, A or B? ({x.Order})")],
                new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(JudgeSchema, "choice") }.WithRunMetadata("verify/test", hint: hint), ct);
            var first = JsonDocument.Parse(r.Text).RootElement.GetProperty("preferred").GetString() == "A";
            return new SolverResult(r.Text, JsonSerializer.SerializeToElement(new { picked_first = first, picked_personalised = first == personalisedFirst, age = x.Age }));
        },
    };

    private static string World(string json)
    {
        var path = Path.Combine(TempDir(), "world.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task A_judge_with_no_preference_shows_the_planted_position_bias_inside_its_interval()
    {
        var world = World("""{"format":"persona-world/1","seed":3,"fidelity":{"default":0},"judge":{"position_bias":0.7,"length_preference":0}}""");
        await using var rt = LlmRuntime.Open(Options(TempDir(), "offline") with { WorldPath = world });
        var picks = new List<bool>();
        await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(Verification(60, 10), rt), "verify",
            s => picks.Add(s.Field("picked_first")!.Value.GetBoolean()));
        Assert.Equal(1200, picks.Count);
        var ci = Proportion.Wilson(picks.Count(x => x), picks.Count);
        Assert.True(ci.Lower <= 0.7 && 0.7 <= ci.Upper, $"planted 0.7, interval [{ci.Lower:0.000}, {ci.Upper:0.000}]");
        Assert.True(ci.Upper - ci.Lower < 0.06); // and the interval is informative, not vacuous
    }

    [Fact]
    public async Task The_planted_worst_served_group_is_the_one_per_group_statistics_find()
    {
        // Everyone prefers the personalised answer (logit 4) but the judge role-plays the over-65s faithfully only 40% of the time.
        var world = World("""
            {"format":"persona-world/1","seed":5,"preference":{"intercept":4},
             "fidelity":{"default":0.95,"offsets":{"age":{"65+":-0.55}}},"judge":{"position_bias":0.5}}
            """);
        await using var rt = LlmRuntime.Open(Options(TempDir(), "offline") with { WorldPath = world });
        var values = new List<double>();
        var groups = new List<string>();
        await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(Verification(80, 10), rt), "verify", s =>
        {
            values.Add(s.Field("picked_personalised")!.Value.GetBoolean() ? 1 : 0);
            groups.Add(int.Parse(s.Field("age")!.Value.GetString()!) >= 65 ? "65+" : "under 65");
        });
        var table = GroupTable.Compute(values, null, groups, minCell: 30);
        Assert.Equal("65+", table.Worst!.Group);
        // Expected agreement: fidelity x P(prefers) + (1 - fidelity) x 0.5.
        var expectedOld = 0.4 * SimulatedWorld.Sigmoid(4) + 0.6 * 0.5;
        var old = table.Rows.Single(r => r.Group == "65+");
        Assert.True(old.Interval!.Value.Lower <= expectedOld && expectedOld <= old.Interval.Value.Upper,
            $"planted {expectedOld:0.000}, interval [{old.Interval.Value.Lower:0.000}, {old.Interval.Value.Upper:0.000}]");
        Assert.True(table.Disparity!.MaxMinGap > 0.15);
    }
}
