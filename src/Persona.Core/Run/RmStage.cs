using Persona.Personas;
using Persona.Preferences;
using Persona.Rewards;

namespace Persona.Run;

/// <summary>
/// The rm stage of `persona run`: `persona rm train` on the run's population and pairs, with its figures, and the
/// run's judge role scored beside the trained models as a generative reward model (on the run's fan-out, failure
/// rule, budget and cache; <see cref="TestbedOptions.RmJudgePairsPerPersona"/> of each persona's test pairs).
/// </summary>
internal static class RmStage
{
    internal static async Task<StageResult> RunAsync(StageContext c)
    {
        var dir = c.Folder(TestbedStages.Rm);
        c.Progress("rm", 0, 1);
        var o = c.Options;
        var holdoutOptions = new HoldoutOptions { Seed = o.Seed };
        var (info, population, sample) = await PersonasAsync(c, holdoutOptions.Stratify).ConfigureAwait(false);
        var (rows, simulated) = PairRewardRows.Load(Path.Combine(c.Folder(TestbedStages.Pairs), PairFileWriter.JsonlFile), sample);
        var judge = o.RmJudgePairsPerPersona > 0
            ? new RmJudge(c.Runtime, TestbedRoles.Judge, o.RmJudgePairsPerPersona, c.Progress.Invoke, c.Abort)
            : null;
        if (c.Shard is { } shard)
        {
            // A shard makes its personas' judge calls only; the merge fits the models and reads the calls from the store. The
            // split is drawn over the whole population, as the merge draws it when every persona has a completed pair.
            if (judge is null || rows.Count == 0) return new ShardStageResult(0, 0);
            var holdout = PersonaHoldout.Create(info.Select(p => (p.Id, p.Attributes)), rows.Select(p => (p.PairId, p.PersonaId, p.Split)), holdoutOptions);
            var (seen, unseen) = JudgeRm.Select(holdout, rows, judge.PairsPerPersona, holdoutOptions.Seed);
            var mine = seen.Concat(unseen).Where(p => shard.Owns(p.PersonaId)).ToList();
            var (credit, _, failed) = await JudgeRm.RunAsync(judge, mine, info.ToDictionary(p => p.Id, p => p.Attributes, StringComparer.Ordinal), c.Stop).ConfigureAwait(false);
            return new ShardStageResult(2 * mine.Count, 2 * failed);
        }
        var r = await RmTrack.RunAsync(info, rows, simulated, dir, new RmOptions
        {
            Holdout = holdoutOptions, Train = new RmTrainOptions { Seed = o.Seed }, Resamples = o.Resamples,
            Sample = sample is null ? null : new RmSampleInfo(sample.Count, population, holdoutOptions.Stratify, o.Seed),
        }, null, null, c.Stop, judge).ConfigureAwait(false);
        c.Progress("rm", 1, 1);
        var best = r.Models.Where(m => m.Judge is null).OrderByDescending(m => m.Seen.Accuracy).First();
        return new RmStageResult(r.Models.Count, best.Name, best.Seen.Accuracy, r.Models[0].Seen.Accuracy, r.UnseenPersonas, simulated);
    }

    /// <summary>The personas the stage fits on: all, or past the cap a seeded stratified sample, the same in every shard and at the merge.</summary>
    private static async Task<(List<RmPersonaInfo> Info, int Population, HashSet<string>? Sample)> PersonasAsync(StageContext c, string stratify)
    {
        var personas = await PersonaInputs.LoadAsync(c.Folder(TestbedStages.Population), c.Stop).ConfigureAwait(false);
        var sample = RmPersonaSample.Draw(personas.Select(p => (p.Id, p.Attributes)), c.Options.RmPersonas, c.Options.Seed, stratify);
        var info = personas.Where(p => sample is null || sample.Contains(p.Id)).Select(p => new RmPersonaInfo(p.Id, p.Attributes, p.Weight, p.Text)).ToList();
        return (info, personas.Count, sample);
    }
}
