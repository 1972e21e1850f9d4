using Persona.Census;
using System.Text.Json;
using Persona.Core.Tests.Census;
using Persona.Llm;
using Persona.Personas;

namespace Persona.Core.Tests.Personas;

public sealed class PersonaBuilderTests : IDisposable
{
    private readonly CensusFixtures.TempDir _tmp = new();
    public void Dispose() { if (Environment.GetEnvironmentVariable("PERSONA_KEEP_TEST_OUTPUT") is null) _tmp.Dispose(); }

    internal static PersonaBuildOptions Options(int n, string? outDir, long seed = 5) => new()
    {
        N = n,
        Seed = seed,
        Census = new CensusSampleOptions { N = n, Sources = [CensusFixtures.Wyoming2024Parquet], DictionaryPath = CensusFixtures.Dictionary2023 },
        OutputDirectory = outDir,
        Concurrency = 4,
    };

    private LlmRuntime Offline(string name) => LlmRuntime.Open(new LlmRuntimeOptions
    {
        Model = "offline",
        RunDirectory = _tmp.File(name),
        Environment = _ => null,
    });

    [Fact]
    public async Task Offline_build_end_to_end_writes_every_output_and_reaches_n()
    {
        var outDir = _tmp.File("out");
        PersonaBuildResult result;
        await using (var rt = Offline("run"))
            result = await PersonaBuilder.BuildAsync(Options(30, outDir) with { ModelLabel = rt.ModelIdentity }, rt.ChatClient);

        Assert.Equal(30, result.Personas.Count);
        var fromJsonl = await PersonaFiles.ReadAsync(Path.Combine(outDir, PersonaBuilder.PersonasJsonl));
        var fromParquet = await PersonaFiles.ReadAsync(Path.Combine(outDir, PersonaBuilder.PersonasParquet));
        Assert.Equal(fromJsonl, fromParquet);
        Assert.Equal(result.Personas.Select(p => p.Id), fromJsonl.Select(p => p.Id));
        Assert.All(fromJsonl, p =>
        {
            Assert.False(string.IsNullOrWhiteSpace(p.DetailedJobDescription));
            Assert.False(string.IsNullOrWhiteSpace(p.Lifestyle));
            Assert.NotNull(p.BigFiveScores);
            Assert.NotNull(p.Enrichment);
            Assert.True(p.Enrichment!.Simulated);
            Assert.Equal(3, p.Enrichment.Categories.Count);
            Assert.Equal(PersonaEnricher.FieldKeys, p.Enrichment.Fields);
            Assert.StartsWith("offline-simulator", p.Enrichment.Model);
            Assert.Equal(p.Id, PersonaJson.ComputeId(p));
            Assert.Empty(ConsistencyRules.Check(p));
        });
        // The enrichment key follows traits; the contract keys keep their order.
        using (var doc = JsonDocument.Parse(File.ReadLines(Path.Combine(outDir, PersonaBuilder.PersonasJsonl)).First()))
            Assert.Equal(PersonaRecord.Keys.Append("enrichment"), doc.RootElement.EnumerateObject().Select(p => p.Name));

        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, PersonaBuilder.ReportFile))).RootElement;
        Assert.Equal(30, report.GetProperty("accepted").GetInt32());
        var evaluated = report.GetProperty("evaluated").GetInt32();
        var rejected = report.GetProperty("rejected").GetInt32();
        Assert.Equal(evaluated, 30 + rejected);
        Assert.True(rejected > 0, "the simulator's coin-flip verdicts must reject some personas");
        var log = PersonaBuilder.ReadRejections(Path.Combine(outDir, PersonaBuilder.RejectionsFile));
        Assert.Equal(rejected, log.Count(r => r.Outcome == "replaced"));
        Assert.All(log, r => Assert.NotEmpty(r.Reasons));
        var split = PersonaSplit.Read(Path.Combine(outDir, PersonaSplit.FileName));
        Assert.Equal(19, split.TrainCount); // round(30 x 1000/1586)
        Assert.Equal(11, split.TestCount);
        Assert.Equal(fromJsonl.Select(p => p.Id).Order(), split.Train.Concat(split.Test).Order());
    }

    [Fact]
    public async Task Same_seed_gives_byte_identical_files_whatever_the_concurrency_and_limit_is_a_prefix()
    {
        string a = _tmp.File("a"), b = _tmp.File("b"), c = _tmp.File("c");
        await using (var rt = Offline("ra"))
            await PersonaBuilder.BuildAsync(Options(20, a) with { Concurrency = 1, ModelLabel = rt.ModelIdentity }, rt.ChatClient);
        await using (var rt = Offline("rb"))
            await PersonaBuilder.BuildAsync(Options(20, b) with { Concurrency = 7, ModelLabel = rt.ModelIdentity }, rt.ChatClient);
        foreach (var f in new[] { PersonaBuilder.PersonasJsonl, PersonaBuilder.PersonasParquet, PersonaBuilder.RejectionsFile, PersonaBuilder.ReportFile, PersonaSplit.FileName })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)));

        await using (var rt = Offline("rc"))
            await PersonaBuilder.BuildAsync(Options(20, c) with { Limit = 8, ModelLabel = rt.ModelIdentity }, rt.ChatClient);
        Assert.Equal(File.ReadLines(Path.Combine(a, PersonaBuilder.PersonasJsonl)).Take(8), File.ReadLines(Path.Combine(c, PersonaBuilder.PersonasJsonl)));
    }
}
