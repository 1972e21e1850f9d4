using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Engine;
using Persona.Survey;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Survey;

/// <summary>
/// Elicitation logprobs: the first answer token's top log-probabilities, asked of an OpenAI-compatible server
/// (logprobs: true, top_logprobs: 20) and read from the raw completion; the offline simulator returns its planted
/// distribution as log-probabilities; a server that returns none stops the run with a clear error.
/// </summary>
public sealed class SurveyLogprobsTests
{
    private static readonly Lazy<SurveySet> Gss = new(() => SurveySetFile.Read(SurveySet.BundledPath));

    private static async Task<List<SampleRecord>> AskAsync(LlmRuntime rt, IReadOnlyList<string> questions, IReadOnlyList<string> modes, string elicitation)
    {
        var samples = new List<SampleRecord>();
        await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(SurveyTask.Create(SurveyStage.Items([], Gss.Value, questions, modes, elicitation), "judge"), rt), SurveyTask.TaskName, samples.Add);
        return samples;
    }

    [Fact]
    public void Option_letters_among_the_candidates_share_the_mass_and_other_tokens_are_ignored()
    {
        var text = Logprobs.Format(new LogprobAnswer("A", [new("A", Math.Log(0.5)), new(" b", Math.Log(0.2)), new("(C", Math.Log(0.1)), new("D.", Math.Log(0.1)), new("Sure", Math.Log(0.1))]));
        var p = SurveyTask.FromLogprobs(text, ["A", "B", "C"]);
        // 0.5, 0.2, 0.1 of 0.8 (D is not an option of this question, "Sure" is no letter).
        Assert.Equal([0.625, 0.25, 0.125], p.Select(x => Math.Round(x, 9)));
        var none = Assert.Throws<ItemFailedException>(() => SurveyTask.FromLogprobs(Logprobs.Format(new LogprobAnswer("I", [new("I", -0.1), new("The", -2)])), ["A", "B"]));
        Assert.Contains("no option letter", none.Message);
        // Plain text (a provider that ignored the request) is not a distribution: the run stops, it does not guess.
        Assert.Throws<LogprobsUnavailableException>(() => SurveyTask.FromLogprobs("B", ["A", "B"]));
    }

    [Fact]
    public void Logprobs_is_an_elicitation() => Assert.Equal("logprobs", SurveyElicitation.Parse(" LogProbs "));

    [Fact]
    public void The_logprob_request_is_part_of_the_cache_key()
    {
        ChatMessage[] m = [new(ChatRole.User, "q")];
        var plain = CacheKey.Compute("openai:x", m, new ChatOptions { Temperature = 0, MaxOutputTokens = 1 }).Key;
        var with20 = CacheKey.Compute("openai:x", m, new ChatOptions { Temperature = 0, MaxOutputTokens = 1 }.WithTopLogprobs(20)).Key;
        var with5 = CacheKey.Compute("openai:x", m, new ChatOptions { Temperature = 0, MaxOutputTokens = 1 }.WithTopLogprobs(5)).Key;
        Assert.NotEqual(plain, with20);
        Assert.NotEqual(with5, with20);
        Assert.Equal(with20, CacheKey.Compute("openai:x", m, new ChatOptions { Temperature = 0, MaxOutputTokens = 1 }.WithTopLogprobs(20)).Key);
    }

    [Fact]
    public async Task The_simulator_states_its_planted_distribution_as_logprobs()
    {
        var world = Path.Combine(TempDir(), "world.json");
        File.WriteAllText(world, """{"format":"persona-world/1","seed":5,"survey":{"spread":1.0,"shifts":{"political views":{"Republican":1.6}}}}""");
        var questions = SurveyStage.Questions(Gss.Value, 4, 3);
        string[] modes = [SurveyModes.None, SurveyModes.SteerQa];
        await using var a = LlmRuntime.Open(Options(TempDir(), "offline") with { WorldPath = world });
        var stated = await AskAsync(a, questions, modes, SurveyElicitation.Verbalized);
        await using var b = LlmRuntime.Open(Options(TempDir(), "offline") with { WorldPath = world });
        var logprobs = await AskAsync(b, questions, modes, SurveyElicitation.Logprobs);
        Assert.Equal(stated.Count, logprobs.Count);
        Assert.All(logprobs, s => { Assert.Equal(SampleRecord.StatusOk, s.Status); Assert.True(s.Simulated); Assert.Equal("logprobs", s.Input("elicitation")); });
        foreach (var s in stated)
        {
            var l = logprobs.Single(x => x.Input("mode") == s.Input("mode") && x.Input("steer") == s.Input("steer") && x.Input("qkey") == s.Input("qkey"));
            var p = SurveyTask.DistributionOf(s)!;
            var q = SurveyTask.DistributionOf(l)!;
            for (var k = 0; k < p.Length; k++) Assert.True(Math.Abs(p[k] - q[k]) < 2e-6, $"{s.Input("qkey")} option {k}: stated {p[k]}, from logprobs {q[k]}"); // the stated shares have 6 decimals
        }
    }

    [Fact]
    public async Task An_OpenAI_server_is_asked_for_top_logprobs_and_its_candidates_become_the_distribution_cached_apart()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = _ => "A";
        server.LogprobResponder = (_, _) => [("A", Math.Log(0.6)), (" B", Math.Log(0.3)), ("C", Math.Log(0.05)), ("The", Math.Log(0.05))];
        var dir = TempDir();
        var question = "natspac"; // three options
        await using (var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl)))
        {
            var samples = await AskAsync(rt, [question], [SurveyModes.None], SurveyElicitation.Logprobs);
            var s = Assert.Single(samples);
            Assert.Equal(SampleRecord.StatusOk, s.Status);
            Assert.Equal([0.6 / 0.95, 0.3 / 0.95, 0.05 / 0.95], SurveyTask.DistributionOf(s)!.Select(x => Math.Round(x, 6)), new RoundedEquality());
            var req = Assert.Single(server.Requests);
            Assert.Equal(SurveyElicitation.TopLogprobs, req.TopLogprobs);
            Assert.Equal(1, req.MaxTokens);
            Assert.Equal(0, req.Temperature);
            Assert.EndsWith("Reply with the letter of your answer only.", req.LastUserContent);
        }
        // The same question again in the same store: the cached answer, with its log-probabilities, costs nothing.
        await using (var rt = LlmRuntime.Open(Options(dir, "openai:fake-model", server.BaseUrl)))
        {
            var again = Assert.Single(await AskAsync(rt, [question], [SurveyModes.None], SurveyElicitation.Logprobs));
            Assert.Equal(0.6 / 0.95, SurveyTask.DistributionOf(again)![0], 6);
            Assert.Equal(1, server.TotalReceived);
            // A plain answer to the very same messages is another call: neither is taken for the other.
            var m = SurveyTask.Messages(new SurveyAskItem(null, null, new Dictionary<string, string>(), Gss.Value.RowsOf(question).First(), SurveyModes.None, SurveyElicitation.Logprobs));
            var plain = await rt.ChatClient.GetResponseAsync(m, new ChatOptions { Temperature = 0, MaxOutputTokens = 1 }.WithRunMetadata(SurveyTask.Version));
            Assert.Equal("A", plain.Text);
            Assert.Equal(2, server.TotalReceived);
            Assert.Null(server.Requests.Last().TopLogprobs);
        }
    }

    [Fact]
    public async Task A_server_that_returns_no_logprobs_stops_the_run_with_a_clear_error()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = _ => "B";
        server.ReturnLogprobs = false;
        await using var rt = LlmRuntime.Open(Options(TempDir(), "openai:fake-model", server.BaseUrl));
        var ex = await Assert.ThrowsAsync<LogprobsUnavailableException>(() => AskAsync(rt, ["natspac"], [SurveyModes.None], SurveyElicitation.Logprobs));
        Assert.Contains("returned no log-probabilities", ex.Message);
        Assert.Contains(server.BaseUrl, ex.Message);
        Assert.Contains("use verbalized or sample:N", ex.Message);
        Assert.Equal(1, server.TotalReceived); // not retried as if it were a passing fault
    }

    private sealed class RoundedEquality : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) < 1e-6;
        public int GetHashCode(double obj) => 0;
    }
}
