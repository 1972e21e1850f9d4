using System.Text.Json;
using System.Text.Json.Nodes;
using Persona.Benchmark;
using Persona.Core.Tests.Census;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Prompts;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Personas;

/// <summary>
/// The persona travels typed from the census to the statistics: the attributes come from the record
/// (not from parsing its rendered text), and a bench sample logs them, so its groups and census
/// weight never depend on the text an LM was shown.
/// </summary>
public sealed class PersonaMetadataTests
{
    [Fact]
    public async Task A_records_attributes_are_exactly_what_its_rendered_text_shows()
    {
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(new LlmRuntimeOptions { Model = "offline", RunDirectory = Path.Combine(dir, "run"), Environment = _ => null });
        var built = await PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(25, Path.Combine(dir, "out")) with { ModelLabel = rt.ModelIdentity }, rt.ChatClient);
        // LM-written text with line breaks, and a field left blank, as a served writer may return them.
        var odd = built.Personas[0] with { Lifestyle = "  gardens at dawn\r\n\r\nand reads at night ", DetailedJobDescription = "   " };
        foreach (var p in built.Personas.Append(odd))
        {
            var typed = PersonaRenderer.Attributes(p);
            var parsed = PersonaInputs.ParseText(PersonaRenderer.Render(p), "test");
            Assert.Equal(parsed.ToList(), typed.ToList());
        }
        Assert.Equal("gardens at dawn and reads at night", PersonaRenderer.Attributes(odd)["lifestyle"]);
        Assert.False(PersonaRenderer.Attributes(odd).ContainsKey("detailed job description"));
    }

    [Fact]
    public async Task Bench_groups_and_weights_come_from_the_logged_metadata_and_old_logs_still_read()
    {
        var dir = TempDir();
        var personas = await Benchmark.BenchKit.Personas(dir, 6);
        var questions = Benchmark.BenchKit.Questions(dir, 2);
        var pairs = BenchTask.Pair(personas, questions, new BenchSampling { Pairing = "zip", PerPersona = 1, Seed = 2 });
        var prompts = BenchPrompts.Load();
        await using var rt = LlmRuntime.Open(Benchmark.BenchKit.Offline(dir));
        var samples = await Benchmark.BenchKit.RunAsync(BenchTask.Create(BenchTask.Items(pairs, [BenchModes.Baseline], 1), prompts, [BenchTask.Critic(prompts)]), rt);
        Assert.Equal(6, samples.Count);
        foreach (var s in samples)
        {
            var persona = personas.Single(p => p.Id == s.Input("persona_id"));
            var meta = PersonaMetadata.Read(s)!;
            Assert.Equal(persona.Id, meta.Id);
            Assert.Equal(persona.Attributes.ToList(), meta.Attributes.ToList());
            Assert.Equal(persona.Weight, meta.Weight);

            // The text the critic was shown is not what the statistics read: scrambling it changes no group.
            var data = JsonNode.Parse(s.Data!.Value.GetRawText())!.AsObject();
            data["persona"] = "not: the persona\nage: 999\n";
            var scrambled = s with { Data = JsonSerializer.SerializeToElement(data) };
            var o = BenchObservation.From(scrambled, BenchTask.DefaultScoreSet);
            Assert.Equal(persona.Attributes["age"], o.Attributes["age"]);
            Assert.False(o.Attributes.ContainsKey("not"));

            // A sample logged before the metadata existed: only its text and weight, read the old way.
            data.Remove(PersonaMetadata.Field);
            data["persona"] = persona.Text;
            data["persona_weight"] = 2.5;
            var old = BenchObservation.From(s with { Data = JsonSerializer.SerializeToElement(data) }, BenchTask.DefaultScoreSet);
            Assert.Equal(persona.Attributes.ToList(), old.Attributes.ToList());
            Assert.Equal(2.5, old.Weight);
        }
    }
}
