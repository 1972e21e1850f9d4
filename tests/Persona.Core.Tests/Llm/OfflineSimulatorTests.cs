using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Llm;

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
        var sim = new OfflineSimulator(seed: 3, noise: 0.2);
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "x") };
        for (var i = 0; i < 50; i++)
        {
            var a = await sim.GetResponseAsync(PersonaChat(i, i), options);
            var b = await new OfflineSimulator(3, 0.2).GetResponseAsync(PersonaChat(i, i), options);
            Assert.Equal(a.Text, b.Text);
            Assert.Empty(JsonSchemaValidator.Validate(JsonDocument.Parse(a.Text).RootElement, Schema));
            Assert.Equal(OfflineSimulator.SimulatorModelId, a.ModelId);
            Assert.Equal(true, a.AdditionalProperties![LlmMetadata.Simulated]);
        }
        var other = await new OfflineSimulator(4, 0.2).GetResponseAsync(PersonaChat(1, 1), options);
        Assert.NotEqual((await sim.GetResponseAsync(PersonaChat(1, 1), options)).Text, other.Text);
    }

    [Fact]
    public async Task Choices_follow_the_documented_ground_truth_with_the_configured_noise_rate()
    {
        var sim = new OfflineSimulator(seed: 11, noise: 0.15);
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "x") };
        int n = 0, flips = 0, predicted = 0;
        for (var p = 0; p < 40; p++)
            for (var q = 0; q < 25; q++)
            {
                var chat = PersonaChat(p, q);
                var ctx = OfflineSimulator.ReadPersona(chat)!;
                Assert.StartsWith("age:", ctx.PersonaText);
                Assert.StartsWith("Question: Should the town fund", ctx.Question);
                var answer = JsonDocument.Parse((await sim.GetResponseAsync(chat, options)).Text).RootElement;
                string[] stances = ["support", "oppose", "neutral"];
                var truth = OfflineSimulator.TrueChoice(ctx.PersonaText, ctx.Question, "$.stance", 3);
                var said = Array.IndexOf(stances, answer.GetProperty("stance").GetString());
                Assert.Equal(sim.Choose(ctx.PersonaText, ctx.Question, "$.stance", 3), said);
                Assert.Equal(sim.IsFlipped(ctx.PersonaText, ctx.Question, "$.stance"), said != truth);
                var agreeTruth = OfflineSimulator.TrueChoice(ctx.PersonaText, ctx.Question, "$.agree", 2) == 0;
                if (answer.GetProperty("agree").GetBoolean() == agreeTruth) predicted++;
                n++;
                if (said != truth) flips++;
            }
        Assert.InRange(flips / (double)n, 0.12, 0.18);
        Assert.InRange(predicted / (double)n, 0.82, 0.88);
    }

    [Fact]
    public void Ground_truth_depends_on_the_persona_and_not_on_the_seed()
    {
        var truths = Enumerable.Range(0, 200).Select(p => OfflineSimulator.TrueChoice($"age: {p}\nstate: X", "q", "$.c", 2)).ToList();
        Assert.InRange(truths.Count(t => t == 0), 70, 130);
        Assert.Equal(OfflineSimulator.TrueChoice("a: 1\nb: 2", "q", "$.c", 4), OfflineSimulator.TrueChoice("a: 1\nb: 2", "q", "$.c", 4));
        Assert.Null(OfflineSimulator.ReadPersona([new ChatMessage(ChatRole.User, "Question: no persona here")]));
    }

    [Fact]
    public async Task Plain_text_is_framed_by_the_task_and_bounded_by_max_tokens()
    {
        var sim = new OfflineSimulator();
        var critique = await sim.GetResponseAsync([new ChatMessage(ChatRole.User, "Write a critique of this answer about housing policy.")]);
        Assert.StartsWith("Critique: ", critique.Text);
        var shortOne = await sim.GetResponseAsync([new ChatMessage(ChatRole.User, "Summarize the debate.")], new ChatOptions { MaxOutputTokens = 10 });
        Assert.StartsWith("Summary: ", shortOne.Text);
        Assert.InRange(shortOne.Text.Split(' ').Length, 2, 9);
    }

    [Fact]
    public async Task Offline_runs_through_the_whole_pipeline_and_the_store_marks_them_simulated()
    {
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(Options(dir, "offline") with { OfflineSeed = 5 });
        Assert.True(rt.Simulated);
        var r = await rt.ChatClient.GetResponseAsync(PersonaChat(1, 2), new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema) });
        Assert.Empty(JsonSchemaValidator.Validate(JsonDocument.Parse(r.Text).RootElement, Schema));
        Assert.Equal(true, r.AdditionalProperties![LlmMetadata.Simulated]);
        await rt.WriteManifestAsync("completed");
        Assert.True(Assert.Single(rt.Store.ReadCalls()).Simulated);
        Assert.True(JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json"))).RootElement.GetProperty("simulated").GetBoolean());
    }
}
