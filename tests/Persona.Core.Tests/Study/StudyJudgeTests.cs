using Microsoft.Extensions.AI;
using Persona.Study;

using Persona.Simulation;

namespace Persona.Core.Tests.Study;

public sealed class StudyJudgeTests : IDisposable
{
    private readonly string _dir = StudyFixtures.TempDir();

    /// <summary>Answers by a rule over the prompt it is shown, and counts its calls.</summary>
    private sealed class RuleClient(Func<string, string> answer) : IChatClient
    {
        public int Calls;
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer(messages.Last().Text))));
        }
        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public object? GetService(Type serviceType, object? serviceKey = null) => null;
        public void Dispose() { }
    }

    /// <summary>Answers only once released, and honours the token its call gets, as an HTTP client does; counts the calls started (paid).</summary>
    private sealed class GatedClient : IChatClient
    {
        public int Started;
        public readonly TaskCompletionSource Release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Started);
            await Release.Task.WaitAsync(cancellationToken);
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, """{"reasoning": "x", "preferred": "A"}"""));
        }
        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public object? GetService(Type serviceType, object? serviceKey = null) => null;
        public void Dispose() { }
    }

    [Fact]
    public async Task Calls_in_flight_at_a_first_ctrl_c_are_stored_and_never_asked_again()
    {
        using var db = Create();
        var gated = new GatedClient();
        using var stop = new CancellationTokenSource();
        var run = new StudyJudge(gated, new Persona.Engine.FanOutOptions { Concurrency = 4 }).RunAsync(db, "m", null, stop.Token);
        while (Volatile.Read(ref gated.Started) < 4) await Task.Delay(10);
        stop.Cancel();                  // the first Ctrl-C: start nothing new
        gated.Release.TrySetResult();   // the calls in flight answer after it
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(gated.Started, db.Judgments().Count); // every call paid before the stop is kept

        var rest = new RuleClient(_ => """{"reasoning": "x", "preferred": "B"}""");
        var summary = await new StudyJudge(rest, 2).RunAsync(db, "m", null, default);
        Assert.Equal(12, gated.Started + rest.Calls); // 6 items x 2 orders, each paid once
        Assert.Equal(12, db.Judgments().Count);
        Assert.Equal(gated.Started, summary.AlreadyJudged);
    }

    private StudyDatabase Create() => StudyDatabase.Create(_dir, StudyPlanner.Plan(StudyFixtures.Pairs(2, 3), null,
        new StudyOptions { Personas = 2, RatersPerPersona = 1, ItemsPerPersona = 3, AttentionChecks = 1 }));

    [Fact]
    public async Task Letters_are_mapped_back_to_the_answer_shown_in_that_position_for_both_orders()
    {
        using var db = Create();
        // Prefers whichever answer is the personalised one ("personalised N/P"), wherever it is shown.
        var client = new RuleClient(prompt =>
            prompt.IndexOf("personalised", StringComparison.Ordinal) < prompt.IndexOf("generic", StringComparison.Ordinal)
                ? """{"reasoning": "first", "preferred": "A"}""" : """{"reasoning": "second", "preferred": "B"}""");
        var summary = await new StudyJudge(client, 2).RunAsync(db, "m", null, default);
        Assert.Equal((6, 12, 0, 0), (summary.Items, summary.Requested, summary.AlreadyJudged, summary.Unparsed));
        var stored = db.Judgments();
        Assert.Equal(12, stored.Count); // attention checks are not judged
        Assert.All(stored, j => Assert.Equal(StudyLabels.Personalised, j.Choice));
        Assert.Equal([true, false], stored.Select(j => j.PersonalisedFirst).Distinct().Order().Reverse());

        // A rerun asks nothing again.
        var again = await new StudyJudge(client, 2).RunAsync(db, "m", null, default);
        Assert.Equal((0, 12), (again.Requested, again.AlreadyJudged));
        Assert.Equal(12, client.Calls);
    }

    [Fact]
    public async Task A_position_biased_judge_is_stored_as_such_and_unreadable_answers_are_kept_raw()
    {
        using var db = Create();
        var summary = await new StudyJudge(new RuleClient(_ => """{"choice":"A"}"""), 1).RunAsync(db, "first", null, default);
        var stored = db.Judgments();
        Assert.All(stored, j => Assert.Equal(j.PersonalisedFirst ? StudyLabels.Personalised : StudyLabels.Generic, j.Choice));
        await new StudyJudge(new RuleClient(_ => "I cannot decide."), 1).RunAsync(db, "vague", null, default);
        var vague = db.Judgments().Where(j => j.Model == "vague").ToList();
        Assert.All(vague, j => Assert.Equal((null, "I cannot decide."), (j.Choice, j.Raw)));
        Assert.Equal(0, summary.Unparsed);
    }

    [Fact]
    public async Task The_offline_judge_follows_the_planted_world_through_the_hint()
    {
        using var db = Create();
        var faithful = new Persona.Simulation.SimulatedWorld { Source = "test", Sha256 = "-", Description = "faithful judge", FidelityDefault = 1, PreferenceIntercept = 0 };
        await new StudyJudge(new Persona.Simulation.OfflineSimulator(0, faithful), 2).RunAsync(db, "faithful", null, default);
        var texts = db.PersonaTexts();
        var items = db.Items().ToDictionary(i => i.ItemId);
        var byItem = db.Judgments().GroupBy(j => j.ItemId).ToList();
        Assert.Equal(6, byItem.Count);
        foreach (var g in byItem)
        {
            var item = items[g.Key];
            var truth = faithful.PrefersPersonalised(Persona.Personas.PersonaInputs.ParseText(texts[item.PersonaId], "test"), item.PersonaId, item.PromptId!);
            Assert.All(g, j => Assert.Equal(truth ? StudyLabels.Personalised : StudyLabels.Generic, j.Choice)); // the same in both orders
        }

        // A judge with no fidelity and full position bias always takes the first answer: it flips on every item.
        var biased = new Persona.Simulation.SimulatedWorld { Source = "test", Sha256 = "-", Description = "first-answer judge", FidelityDefault = 0, PositionBias = 1 };
        await new StudyJudge(new Persona.Simulation.OfflineSimulator(0, biased), 2).RunAsync(db, "biased", null, default);
        Assert.All(db.Judgments().Where(j => j.Model == "biased"), j => Assert.Equal(j.PersonalisedFirst ? StudyLabels.Personalised : StudyLabels.Generic, j.Choice));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
