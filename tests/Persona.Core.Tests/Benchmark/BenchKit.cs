using System.Text.Json;
using Persona.Benchmark;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Prompts;

namespace Persona.Core.Tests.Benchmark;

/// <summary>Personas, questions and offline runtimes over the bench test world (Fixtures/bench-world.json).</summary>
internal static class BenchKit
{
    public static string WorldPath => Path.Combine(AppContext.BaseDirectory, "Fixtures", "bench-world.json");

    private static readonly int[] Ages = [22, 30, 45, 58, 70, 81];
    private static readonly string[] Races = ["White alone", "Black or African American alone", "Asian alone"];
    private static readonly string[] Ideologies = ["Liberal", "Moderate", "Conservative"];
    private static readonly string[] Religions = ["Protestant", "Catholic", "None"];

    /// <summary>Persona text (the PERSONA release's `persona` column format) of persona i; every combination appears, no two texts alike.</summary>
    public static string PersonaText(int i) =>
        $"age: {Ages[i % 6]}\nsex: {(i / 6 % 2 == 0 ? "Female" : "Male")}\nrace: {Races[i / 12 % 3]}\nideology: {Ideologies[i / 36 % 3]}\n" +
        $"religion: {Religions[(i * 7 + 1) % 3]}\neducation: {(i % 5 < 2 ? "Bachelor's degree" : "High school diploma")}\nlifestyle: keeps bees, garden plot {i}\n";

    /// <summary>Writes n personas as a JSONL file with a `persona` column and loads them.</summary>
    public static async Task<IReadOnlyList<PersonaInput>> Personas(string dir, int n)
    {
        var path = Path.Combine(dir, "personas.jsonl");
        await File.WriteAllLinesAsync(path, Enumerable.Range(0, n).Select(i => JsonSerializer.Serialize(new { persona = PersonaText(i) })));
        return await PersonaInputs.LoadAsync(path);
    }

    /// <summary>Writes a pairs.jsonl of the given pairs (pair id = persona id + question id) in the columns the bench's few-shot reader takes.</summary>
    public static void WritePairs(string dir, IEnumerable<(string PersonaId, PersonaInput Persona, QuestionInput Question, string Original, string Data, string Split)> pairs) =>
        File.WriteAllLines(Path.Combine(dir, "pairs.jsonl"), pairs.Select(x => JsonSerializer.Serialize(new
        {
            pair_id = x.PersonaId + x.Question.Id, persona_id = x.PersonaId, prompt_id = x.Question.Id, persona = x.Persona.Text,
            instruction = x.Question.Text, original = x.Original, data = x.Data, split = x.Split,
        })));

    public static IReadOnlyList<QuestionInput> Questions(string dir, int n, string split = "held_out")
    {
        var path = Path.Combine(dir, "questions.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, n).Select(i => JsonSerializer.Serialize(new { id = $"q{i}", question = $"What should I think about topic number {i}?", split })));
        return QuestionInputs.Load(path);
    }

    public static LlmRuntimeOptions Offline(string dir, string criticModel = "offline") => new()
    {
        Model = "offline",
        RunDirectory = dir,
        WorldPath = WorldPath,
        Environment = _ => null,
        Roles = new Dictionary<string, RoleOptions>
        {
            [BenchTask.CriticRole] = new() { Model = criticModel },
            [LeaveOneOut.JudgeRole] = new() { Model = "offline" },
        },
    };

    public static async Task<List<SampleRecord>> RunAsync<T>(EvalTask<T> task, LlmRuntime rt)
    {
        var samples = new List<SampleRecord>();
        await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(task, rt, new TaskRunOptions { FanOut = new FanOutOptions { Concurrency = 16, MaxFailureRate = 1 } }), task.Name, samples.Add);
        return samples;
    }

    /// <summary>The critic's logged turn (what it was shown and answered), kept in the score's data.</summary>
    public static JsonElement CriticTurn(SampleRecord s, string scoreSet = "critic") => s.Scores![scoreSet].Data!.Value.GetProperty("turn");

    public static bool Contains(Persona.Statistics.Interval? i, double x) => i is { } v && v.Lower - 1e-12 <= x && x <= v.Upper + 1e-12;
}
