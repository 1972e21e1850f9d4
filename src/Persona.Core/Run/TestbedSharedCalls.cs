using Persona.Benchmark;
using Persona.Personas;
using Persona.Engine;
using Persona.Preferences;

namespace Persona.Run;

/// <summary>
/// The per-persona stages' calls that no persona enters (a prompt's generic answer in the pairs and in
/// leave-one-out, a question's baseline answer in the bench): the same for every shard that meets the
/// prompt, so `persona run --shared-only` pays them once into the shared store and each shard, which
/// starts from a copy of it, only reads them. Each list is the stage's own (the task says which of
/// its calls are persona-free), so the shards ask exactly what was paid for.
/// </summary>
public static class TestbedSharedCalls
{
    /// <summary>The persona-free calls of every per-persona stage of a run whose population and prompts are in <paramref name="c"/>'s run folder.</summary>
    public static async Task<IReadOnlyList<LlmRequest>> RequestsAsync(StageContext c)
    {
        var o = c.Options;
        var requests = new List<LlmRequest>();
        var pairOptions = TestbedStageRunner.PairOptions(c);
        var plan = await PairBuilder.PlanAsync(pairOptions, [], c.Stop).ConfigureAwait(false);
        requests.AddRange(PairTask.PersonaFreeRequests(plan.Schedule(pairOptions.Schedule), plan.Templates, pairOptions.Chain));

        var populationDir = c.Folder(TestbedStages.Population);
        var personas = await PersonaInputs.LoadAsync(populationDir, c.Stop).ConfigureAwait(false);
        var questions = Prompts.QuestionInputs.Load(c.Folder(TestbedStages.Prompts));
        var prompts = BenchPrompts.Load(null);
        // A persona-free mode shows no examples either, so the pairs (made by the shards) are not needed to list its calls.
        var modes = BenchModes.Parse("all", havePairs: true).Where(m => prompts.Modes[m] is { ShowsPersona: false, ShowsExamples: false }).ToList();
        requests.AddRange(BenchTask.PersonaFreeRequests(await ListAsync(BenchTask.Items(TestbedStageRunner.BenchPairs(o, personas, questions), modes, 1)).ConfigureAwait(false), prompts, 0));
        requests.AddRange(BenchTask.PersonaFreeRequests(await ListAsync(BenchTask.Items(TestbedStageRunner.PassKPairs(o, personas, questions), BenchModes.Parse(BenchModes.OutputOnly, false), o.PassK)).ConfigureAwait(false), prompts, 1));
        var (loo, _, _) = TestbedStageRunner.LooPlan(o, personas, questions);
        requests.AddRange(LeaveOneOut.PersonaFreeRequests(loo, prompts, TestbedRoles.Writer));
        return requests;
    }

    private static async Task<List<T>> ListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var x in items.ConfigureAwait(false)) list.Add(x);
        return list;
    }
}
