using System.Text.Json;
using Persona.Core.Tests.Census;
using Persona.Core.Tests.Llm;
using Persona.Llm;
using Persona.Personas;
using Persona.Testing.FakeLlm;

namespace Persona.Core.Tests.Personas;

/// <summary>The build against an OpenAI-compatible server whose answers the test controls.</summary>
public sealed class PersonaBuildFakeServerTests : IDisposable
{
    private readonly CensusFixtures.TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private const string GoodEnrichment =
        "{\"detailed_job_description\":\"Spends weekdays on a steady routine.\",\"defining_quirks\":\"Keeps lists of everything.\"," +
        "\"mannerisms\":\"Speaks slowly and nods often.\",\"personal_time\":\"Reads local history.\",\"lifestyle\":\"Lives simply and plans ahead.\"}";
    private const string TamperingEnrichment =
        "{\"age\":99,\"occupation_category\":\"MGR-Chief Executives And Legislators\",\"detailed_job_description\":\"Runs a large company.\"," +
        "\"defining_quirks\":\"x\",\"mannerisms\":\"y\",\"personal_time\":\"z\",\"lifestyle\":\"w\"}";

    private static bool IsEnrichment(FakeRequest r) => r.Messages.Any(m => m.Content.Contains("\"persona_enrichment\"") || m.Content.Contains("Write the five fields"));
    private static bool IsRepair(FakeRequest r) => r.LastUserContent.StartsWith("That reply is not valid", StringComparison.Ordinal);

    private static string Answer(FakeRequest r) =>
        IsEnrichment(r) ? GoodEnrichment : "{\"consistent\":true,\"reasons\":[]}";

    private LlmRuntime Open(FakeLlmServer server, string run) => LlmRuntime.Open(
        // A generous per-attempt timeout: on a loaded machine a 1.5 s timeout retried a first answer,
        // and the faults these tests plant are keyed to the call number of each request.
        LlmTestKit.Options(_tmp.File(run), "openai:fake-model", server.BaseUrl) with { Resilience = LlmTestKit.Fast(4) with { Timeout = TimeSpan.FromSeconds(30) } });

    [Fact]
    public async Task An_enrichment_that_sets_census_fields_is_refused_retried_and_logged()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = Answer;
        // The first answer for every persona (and the runtime's repair of it) tries to set age and occupation.
        server.FaultRule = r => IsRepair(r) || (IsEnrichment(r) && r.CallNumberForContent == 1) ? new FakeFault.Content(TamperingEnrichment) : null;
        var outDir = _tmp.File("out");
        PersonaBuildResult result;
        await using (var rt = Open(server, "run"))
            result = await PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(6, outDir) with { ModelLabel = rt.ModelIdentity }, rt.ChatClient);

        Assert.Equal(6, result.Personas.Count);
        Assert.All(result.Personas, p =>
        {
            Assert.NotEqual(99, p.Age);
            Assert.NotEqual("MGR-Chief Executives And Legislators", p.OccupationCategory);
            Assert.Equal("Spends weekdays on a steady routine.", p.DetailedJobDescription);
            Assert.Equal(1, p.Enrichment!.Attempt);
            Assert.False(p.Enrichment.Simulated);
        });
        var census = (await Persona.Personas.CensusSampler.SampleAsync(new Persona.Census.CensusSampleOptions
        {
            N = 6, Seed = 5, Sources = [CensusFixtures.Wyoming2024Parquet], DictionaryPath = CensusFixtures.Dictionary2023,
        }, PsychodemographicSampler.LoadBundled())).Personas;
        Assert.Equal(census.Select(p => (p.Age, p.OccupationCategory, p.Religion)), result.Personas.Select(p => (p.Age, p.OccupationCategory, p.Religion)));

        var log = PersonaBuilder.ReadRejections(Path.Combine(outDir, PersonaBuilder.RejectionsFile));
        Assert.Equal(6, log.Count);
        Assert.All(log, r =>
        {
            Assert.Equal("enrichment", r.Stage);
            Assert.Equal("retried", r.Outcome);
            Assert.Equal(0, r.Attempt);
            Assert.Equal("E2", Assert.Single(r.Reasons).Rule);
            Assert.Contains("age=99", r.Reasons[0].Message);
        });
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, PersonaBuilder.ReportFile))).RootElement;
        Assert.Equal(6, report.GetProperty("enrichment_answers_refused").GetInt32());
        Assert.Equal(0, report.GetProperty("rejected").GetInt32());
    }

    [Fact]
    public async Task A_persona_whose_every_answer_tampers_is_replaced_by_the_next_draw()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = Answer;
        string? victim = null;
        var gate = new object();
        server.FaultRule = r =>
        {
            if (IsRepair(r)) return new FakeFault.Content(TamperingEnrichment);
            if (!IsEnrichment(r)) return null;
            lock (gate) victim ??= r.LastUserContent; // the first persona to ask
            return r.LastUserContent == victim ? new FakeFault.Content(TamperingEnrichment) : null;
        };
        var outDir = _tmp.File("out");
        PersonaBuildResult result;
        await using (var rt = Open(server, "run"))
            result = await PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(5, outDir) with { Concurrency = 1, MaxEnrichmentAttempts = 2 }, rt.ChatClient);
        Assert.Equal(5, result.Personas.Count);
        var replaced = Assert.Single(result.Rejections);
        Assert.Equal(("enrichment", "replaced", 0), (replaced.Stage, replaced.Outcome, replaced.DrawIndex));
        Assert.Equal(["E2", "E2"], replaced.Reasons.Select(r => r.Rule));
        Assert.Equal(1, result.Report.Rejected);
        Assert.Equal(6, result.Report.Evaluated);
        Assert.Equal(2, server.ReceivedFor(victim!)); // two attempts, each with the runtime's repair
    }

    [Fact]
    public async Task A_killed_build_resumes_and_no_call_is_paid_twice()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.Latency = TimeSpan.FromMilliseconds(10);
        using var cts = new CancellationTokenSource();
        server.Responder = r =>
        {
            if (r.Sequence == 12) cts.Cancel(); // "kill" while the 12th call is on the server
            return Answer(r);
        };
        var outDir = _tmp.File("out");
        var options = PersonaBuilderTests.Options(20, outDir);
        await using (var rt = Open(server, "run"))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => PersonaBuilder.BuildAsync(options, rt.ChatClient, null, cts.Token));
        Assert.False(File.Exists(Path.Combine(outDir, PersonaBuilder.PersonasJsonl)));
        var paidFirst = server.TotalPaid;
        Assert.InRange(paidFirst, 12, 20);

        PersonaBuildResult result;
        await using (var rt = Open(server, "run"))
            result = await PersonaBuilder.BuildAsync(options, rt.ChatClient);
        Assert.Equal(20, result.Personas.Count);
        Assert.All(server.PaidByContent, kv => Assert.Equal(1, kv.Value));
        Assert.True(server.TotalPaid > paidFirst, "the second run finished the work");
        Assert.True(server.TotalPaid >= 2 * result.Report.Evaluated, "one enrichment and one verdict per evaluated persona");

        // A third run is free: everything comes from the cache.
        var paid = server.TotalPaid;
        await using (var rt = Open(server, "run"))
            await PersonaBuilder.BuildAsync(options with { OutputDirectory = _tmp.File("again") }, rt.ChatClient);
        Assert.Equal(paid, server.TotalPaid);
        Assert.Equal(File.ReadAllBytes(Path.Combine(outDir, PersonaBuilder.PersonasJsonl)), File.ReadAllBytes(Path.Combine(_tmp.File("again"), PersonaBuilder.PersonasJsonl)));
    }
}
