using Persona.Rewards;

namespace Persona.Preferences;

/// <summary>
/// Pairs as the reward-model track reads them: the personalised answer (`data`) as A, the generic one
/// (`original`) as B, and the persona's preference from the verification in both orders (agree: A,
/// disagree: B; a flip, an unverified or unreadable verdict: no label). Failed pairs are left out.
/// </summary>
public static class PairRewardRows
{
    public static IEnumerable<RmPair> Read(string pairsFile)
    {
        var strings = new StringPool();
        foreach (var r in PairFileWriter.Read(pairsFile))
        {
            if (!r.Ok || r.Data is null || r.Original is null) continue;
            yield return From(r, strings);
        }
    }

    /// <summary>Every completed pair of a file (of the personas kept), and whether the simulator made any pair of the file.</summary>
    /// <param name="keep">Which personas' pairs to hold (null: all); the file is read as it goes, so the others cost no memory.</param>
    public static (List<RmPair> Pairs, bool Simulated) Load(string pairsFile, IReadOnlySet<string>? keep = null)
    {
        var list = new List<RmPair>();
        var simulated = false;
        var strings = new StringPool();
        foreach (var r in PairFileWriter.Read(pairsFile))
        {
            simulated |= r.Simulated;
            if (r.Ok && r.Data is not null && r.Original is not null && (keep is null || keep.Contains(r.PersonaId))) list.Add(From(r, strings));
        }
        return (list, simulated);
    }

    /// <param name="strings">Shares the texts repeated across rows: a persona's text is on each of its ~200 pairs and a prompt's
    /// generic answer on each of its personas' pairs, so at paper scale holding one copy each is most of the rows' memory.</param>
    private static RmPair From(PairRecord r, StringPool strings) =>
        new(r.PairId, strings.Get(r.PersonaId), strings.Get(r.PromptId), strings.Get(r.Split), strings.Get(r.Persona), strings.Get(r.Instruction),
            r.Data ?? "", strings.Get(r.Original ?? ""), r.Verification switch { "agree" => 1, "disagree" => -1, _ => 0 });

    /// <summary>The pairs file of a folder (or the file itself), with an error naming what was expected.</summary>
    public static string FileOf(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, PairFileWriter.JsonlFile) : path;
        if (!File.Exists(file)) throw new PersonaException($"--pairs '{path}': no {PairFileWriter.JsonlFile} there; expected a `persona pairs build` output folder (a run's pairs/).");
        return file;
    }
}
