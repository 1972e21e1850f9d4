using Persona.Personas;
using Persona.Preferences;
using Persona.Rewards;

namespace Persona.Run;

/// <summary>The rm stage of `persona run`: `persona rm train` on the run's population and pairs, with its figures.</summary>
internal static class RmStage
{
    internal static async Task<StageResult> RunAsync(StageContext c)
    {
        var dir = c.Folder(TestbedStages.Rm);
        c.Progress("rm", 0, 1);
        var (rows, simulated) = PairRewardRows.Load(Path.Combine(c.Folder(TestbedStages.Pairs), PairFileWriter.JsonlFile));
        var personas = await PersonaInputs.LoadAsync(c.Folder(TestbedStages.Population), c.Stop).ConfigureAwait(false);
        var o = c.Options;
        var r = await RmTrack.RunAsync([.. personas.Select(p => new RmPersonaInfo(p.Id, p.Attributes, p.Weight, p.Text))], rows, simulated, dir, new RmOptions
        {
            Holdout = new HoldoutOptions { Seed = o.Seed }, Train = new RmTrainOptions { Seed = o.Seed }, Resamples = o.Resamples,
        }, null, null, c.Stop).ConfigureAwait(false);
        c.Progress("rm", 1, 1);
        var best = r.Models.OrderByDescending(m => m.Seen.Accuracy).First();
        return new RmStageResult(r.Models.Count, best.Name, best.Seen.Accuracy, r.Models[0].Seen.Accuracy, r.UnseenPersonas, simulated);
    }
}
