using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using static Persona.Core.Tests.Llm.LlmTestKit;

using Persona.Simulation;

namespace Persona.Core.Tests.Simulation;

public sealed class OfflineSimulatorTests
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {"type":"object","properties":{
          "id":{"type":"string"},"name":{"type":"string"},"agree":{"type":"boolean"},
          "stance":{"type":"string","enum":["support","oppose","neutral"]},
          "score":{"type":"integer","minimum":1,"maximum":7},"weight":{"type":"number","minimum":0.5,"maximum":0.75},
          "rationale":{"type":"string","minLength":20},"tags":{"type":"array","items":{"type":"string"},"minItems":2,"maxItems":4},
          "detail":{"type":["object","null"],"properties":{"note":{"type":"string"}},"required":["note"]}},
         "required":["id","name","agree","stance","score","weight","rationale","tags","detail"],"additionalProperties":false}
        """).RootElement.Clone();

    private static List<ChatMessage> PersonaChat(int persona, int question) =>
    [
        new(ChatRole.System, $"You are this person:\nage: {20 + persona % 50}\nstate: S{persona % 7}\noccupation: job{persona}\nincome: {1000 * persona}"),
        new(ChatRole.User, $"Question: Should the town fund project {question}? Answer for yourself."),
    ];

    [Fact]
    public async Task Answers_are_schema_valid_deterministic_and_labelled_simulated()
    {
        var sim = new OfflineSimulator(seed: 3);
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "x") };
        for (var i = 0; i < 50; i++)
        {
            var a = await sim.GetResponseAsync(PersonaChat(i, i), options);
            var b = await new OfflineSimulator(3).GetResponseAsync(PersonaChat(i, i), options);
            Assert.Equal(a.Text, b.Text);
            Assert.Empty(JsonSchemaValidator.Validate(JsonDocument.Parse(a.Text).RootElement, Schema));
            Assert.Equal(OfflineSimulator.SimulatorModelId, a.ModelId);
            Assert.True(a.CallInfo().Simulated);
        }
        var other = await new OfflineSimulator(4).GetResponseAsync(PersonaChat(1, 1), options);
        Assert.NotEqual((await sim.GetResponseAsync(PersonaChat(1, 1), options)).Text, other.Text);
    }

    private static readonly JsonElement JudgeSchema = JsonDocument.Parse("""
        {"type":"object","properties":{"reason":{"type":"string"},"preferred":{"type":"string","enum":["A","B"]}},"required":["reason","preferred"]}
        """).RootElement.Clone();

    private static readonly JsonElement CriticSchema = JsonDocument.Parse("""
        {"type":"object","properties":{"conclusion":{"type":"string"},"needs_revision":{"type":"boolean"}},"required":["conclusion","needs_revision"]}
        """).RootElement.Clone();

    private static ChatOptions Hinted(JsonElement schema, SimulationHint hint) =>
        new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "x") }.WithRunMetadata(hint: hint);

    [Fact]
    public async Task A_judge_without_fidelity_shows_exactly_the_planted_position_bias()
    {
        // Fidelity 0: every verdict comes from the position/length rule, so the share of "first" is the planted bias.
        var world = WorldFile("""{"format":"persona-world/1","fidelity":{"default":0},"judge":{"position_bias":0.8,"length_preference":0}}""");
        var sim = new OfflineSimulator(0, world);
        var first = 0;
        const int n = 2000;
        for (var i = 0; i < n; i++)
        {
            var hint = new SimulationHint("preference_judge", new Dictionary<string, string> { ["age"] = "40" },
                new Dictionary<string, string> { ["persona_key"] = $"p{i}", ["prompt_key"] = "q", ["order"] = "0", ["first"] = "personalised", ["first_length"] = "100", ["second_length"] = "100" });
            var said = JsonDocument.Parse((await sim.GetResponseAsync([new ChatMessage(ChatRole.User, "which?")], Hinted(JudgeSchema, hint))).Text).RootElement;
            if (said.GetProperty("preferred").GetString() == "A") first++;
        }
        Assert.InRange(first / (double)n, 0.77, 0.83);
    }

    [Fact]
    public async Task A_faithful_judge_follows_the_planted_preference_weights()
    {
        // Fidelity 1: the judge reports the persona's true preference, whose probability the weights set (logit 2 for the young, -2 for the old).
        var world = WorldFile("""{"format":"persona-world/1","preference":{"intercept":0,"weights":{"age":{"0-40":2,"41+":-2}}},"fidelity":{"default":1}}""");
        var sim = new OfflineSimulator(0, world);
        async Task<double> ShareChosen(string age)
        {
            var chosen = 0;
            for (var i = 0; i < 1000; i++)
            {
                var hint = new SimulationHint("preference_judge", new Dictionary<string, string> { ["age"] = age },
                    new Dictionary<string, string> { ["persona_key"] = $"p{i}", ["prompt_key"] = "q", ["order"] = "1", ["first"] = "generic" });
                var said = JsonDocument.Parse((await sim.GetResponseAsync([new ChatMessage(ChatRole.User, "which?")], Hinted(JudgeSchema, hint))).Text).RootElement;
                if (said.GetProperty("preferred").GetString() == "B") chosen++; // the personalised answer was second
            }
            return chosen / 1000.0;
        }
        Assert.InRange(await ShareChosen("25"), 0.85, 0.91);   // sigmoid(2) = 0.881
        Assert.InRange(await ShareChosen("70"), 0.09, 0.15);   // sigmoid(-2) = 0.119
    }

    [Fact]
    public async Task The_critic_passes_each_mode_at_its_planted_rate_and_groups_by_their_offsets()
    {
        var world = WorldFile("""{"format":"persona-world/1","bench":{"pass":{"baseline":0.1,"output_only":0.6},"offsets":{"age":{"65+":-0.3}}}}""");
        var sim = new OfflineSimulator(0, world);
        async Task<double> PassRate(string mode, string age)
        {
            var pass = 0;
            for (var i = 0; i < 1000; i++)
            {
                var hint = new SimulationHint("bench_critic", new Dictionary<string, string> { ["age"] = age },
                    new Dictionary<string, string> { ["persona_key"] = $"p{i}", ["prompt_key"] = "q", ["mode"] = mode });
                var said = JsonDocument.Parse((await sim.GetResponseAsync([new ChatMessage(ChatRole.User, "critique")], Hinted(CriticSchema, hint))).Text).RootElement;
                if (!said.GetProperty("needs_revision").GetBoolean()) pass++;
            }
            return pass / 1000.0;
        }
        Assert.InRange(await PassRate("baseline", "30"), 0.07, 0.13);
        Assert.InRange(await PassRate("output_only", "30"), 0.56, 0.64);
        Assert.InRange(await PassRate("output_only", "70"), 0.26, 0.34);
    }

    [Fact]
    public async Task Plain_text_is_bounded_by_max_tokens_and_follows_a_requested_length()
    {
        var sim = new OfflineSimulator();
        var shortOne = await sim.GetResponseAsync([new ChatMessage(ChatRole.User, "Summarize the debate.")], new ChatOptions { MaxOutputTokens = 10 });
        Assert.InRange(shortOne.Text.Split(' ').Length, 1, 8);
        var sized = await sim.GetResponseAsync([new ChatMessage(ChatRole.User, "Answer.")],
            new ChatOptions().WithRunMetadata(hint: new SimulationHint("answer", Options: new Dictionary<string, string> { ["words"] = "25" })));
        Assert.Equal(25, sized.Text.Split(' ').Length);
    }

    [Fact]
    public void A_bad_world_file_names_the_field()
    {
        var bad = WorldFile("""{"format":"persona-world/1","judge":{"position_bias":1.5}}""", load: false);
        var ex = Assert.Throws<PersonaException>(() => SimulatedWorld.Load(bad.Source));
        Assert.Contains("judge.position_bias", ex.Message);
        Assert.Contains("outside [0, 1]", ex.Message);
        Assert.Contains("format", Assert.Throws<PersonaException>(() => SimulatedWorld.Load(WorldFile("""{"x":1}""", load: false).Source)).Message);
    }

    private static SimulatedWorld WorldFile(string json, bool load = true)
    {
        var path = Path.Combine(TempDir(), "world.json");
        File.WriteAllText(path, json);
        return load ? SimulatedWorld.Load(path) : new SimulatedWorld { Source = path, Sha256 = "", Description = "" };
    }

    [Fact]
    public async Task Offline_runs_through_the_whole_pipeline_and_the_store_marks_them_simulated()
    {
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(Options(dir, "offline") with { OfflineSeed = 5 });
        Assert.True(rt.Simulated);
        var r = await rt.ChatClient.GetResponseAsync(PersonaChat(1, 2), new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema) });
        Assert.Empty(JsonSchemaValidator.Validate(JsonDocument.Parse(r.Text).RootElement, Schema));
        Assert.True(r.CallInfo().Simulated);
        await rt.WriteManifestAsync("completed");
        Assert.True(Assert.Single(rt.Store.Cache.ReadCalls()).Simulated);
        Assert.True(JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json"))).RootElement.GetProperty("simulated").GetBoolean());
    }
}
