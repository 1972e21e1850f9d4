using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Persona.Personas;
using Persona.Rewards;

namespace Persona.Preferences;

/// <summary>What the export wrote of the canonical persona holdout (configs `seen` and `unseen`).</summary>
public sealed record HoldoutExport(HoldoutOptions Options, int SeenPersonas, int UnseenPersonas, long SeenTrain, long SeenTest, long UnseenAdapt, long UnseenEval, IReadOnlyList<string> Files);

public static partial class PairExport
{
    /// <summary>A Hugging Face row of the holdout configs: the default config's columns, the pair's place in the holdout and, for an adaptation pair, its place in the persona's pool.</summary>
    public sealed class HoldoutHfRow
    {
        [JsonPropertyName("persona")] public string Persona { get; set; } = "";
        [JsonPropertyName("instruction")] public string Instruction { get; set; } = "";
        [JsonPropertyName("original")] public string Original { get; set; } = "";
        [JsonPropertyName("critique")] public string Critique { get; set; } = "";
        [JsonPropertyName("data")] public string Data { get; set; } = "";
        [JsonPropertyName("question type")] public string QuestionType { get; set; } = "";
        [JsonPropertyName("pair_id")] public string PairId { get; set; } = "";
        [JsonPropertyName("persona_id")] public string PersonaId { get; set; } = "";
        [JsonPropertyName("prompt_id")] public string PromptId { get; set; } = "";
        [JsonPropertyName("split")] public string Split { get; set; } = "";
        [JsonPropertyName("prompt_topic")] public int? PromptTopic { get; set; }
        [JsonPropertyName("verification")] public string? Verification { get; set; }
        [JsonPropertyName("flagged")] public bool Flagged { get; set; }
        [JsonPropertyName("simulated")] public bool Simulated { get; set; }
        [JsonPropertyName("holdout")] public string Holdout { get; set; } = "";
        [JsonPropertyName("adapt_order")] public int? AdaptOrder { get; set; }
    }

    /// <summary>
    /// A reward-model row (TRL RewardTrainer): `chosen` is the answer the persona preferred in both
    /// orders (the personalised one when the judge agreed, the generic one when it disagreed), so a
    /// persona that dislikes personalisation teaches the model that; unlabelled pairs are left out.
    /// </summary>
    public sealed class RewardRow
    {
        [JsonPropertyName("prompt")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<Message>? Prompt { get; set; }
        [JsonPropertyName("chosen")] public List<Message> Chosen { get; set; } = [];
        [JsonPropertyName("rejected")] public List<Message> Rejected { get; set; } = [];
        [JsonPropertyName("chosen_is_personalised")] public bool ChosenIsPersonalised { get; set; }
        [JsonPropertyName("pair_id")] public string PairId { get; set; } = "";
        [JsonPropertyName("persona_id")] public string PersonaId { get; set; } = "";
        [JsonPropertyName("prompt_id")] public string PromptId { get; set; } = "";
        [JsonPropertyName("split")] public string Split { get; set; } = "";
        [JsonPropertyName("holdout")] public string Holdout { get; set; } = "";
        [JsonPropertyName("adapt_order")] public int? AdaptOrder { get; set; }
    }

    private static readonly (RmRole Role, string Hf, string Trl)[] HoldoutFiles =
    [
        (RmRole.SeenTrain, "seen/train-00000-of-00001.parquet", "rm-seen-train"),
        (RmRole.SeenTest, "seen/test-00000-of-00001.parquet", "rm-seen-test"),
        (RmRole.UnseenAdapt, "unseen/adapt-00000-of-00001.parquet", "rm-unseen-adapt"),
        (RmRole.UnseenEval, "unseen/eval-00000-of-00001.parquet", "rm-unseen-eval"),
    ];

    private const string HoldoutConfigs =
        "- config_name: seen\n  data_files:\n  - split: train\n    path: seen/train-*\n  - split: test\n    path: seen/test-*\n" +
        "- config_name: unseen\n  data_files:\n  - split: adapt\n    path: unseen/adapt-*\n  - split: eval\n    path: unseen/eval-*\n";

    /// <summary>The canonical persona holdout of the kept pairs (the reward-model track's split), written as configs (hf) or reward-model rows (trl).</summary>
    private static async Task<HoldoutExport> ExportHoldoutAsync(string pairsFile, string outDir, PairExportOptions o, Func<PairRecord, bool> keep, CancellationToken ct)
    {
        var personas = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        // The population published beside the pairs holds each persona typed: its attributes are used as they are.
        Dictionary<string, IReadOnlyDictionary<string, string>>? population = null;
        if (o.PersonasParquet is { } pp)
        {
            // Streamed, and only the attributes the holdout draws on are held: a population of 100,000 is read here whole.
            population = new(StringComparer.Ordinal);
            var compact = new PersonaInputs.AttributeCompactor();
            await foreach (var record in PersonaFiles.StreamAsync(pp, ct).ConfigureAwait(false))
            {
                var p = PersonaJson.WithId(record);
                if (!population.ContainsKey(p.Id)) population[p.Id] = compact.Of(PersonaHoldout.DrawnOn(PersonaRenderer.Attributes(p), o.Holdout));
            }
        }
        foreach (var r in PairFileWriter.Read(pairsFile))
        {
            if (!keep(r) || personas.ContainsKey(r.PersonaId)) continue;
            personas[r.PersonaId] = population is not null && population.TryGetValue(r.PersonaId, out var typed) ? typed
                // Foreign format: without the persona in a population, the pairs.jsonl's `persona` column (the release's text) is all there is.
                : PersonaHoldout.DrawnOn(PersonaInputs.ParseText(r.Persona, $"{pairsFile}, pair {r.PairId}"), o.Holdout);
        }
        population = null;
        // The pairs are read again as the holdout asks for them, once it has drawn its unseen personas: it holds only theirs
        // (a fifth of the ids), and seen personas' pairs take their role from their split as they are written.
        var h = PersonaHoldout.Create(personas.Select(kv => (kv.Key, kv.Value)),
            PairFileWriter.Read(pairsFile).Where(keep).Select(r => (r.PairId, r.PersonaId, r.Split)), o.Holdout, indexSeen: false);
        var counts = new Dictionary<RmRole, long>();
        var files = new List<string>();
        IEnumerable<(PairRecord R, int? Order)> Of(RmRole role) =>
            PairFileWriter.Read(pairsFile).Where(keep).Select(r => (R: r, Place: h.RoleOf(r.PairId, r.PersonaId, r.Split))).Where(x => x.Place.Role == role)
                .Select(x => (x.R, role == RmRole.UnseenAdapt ? x.Place.Order : (int?)null));
        foreach (var (role, hf, trl) in HoldoutFiles)
        {
            var name = PersonaHoldout.RoleName(role);
            if (o.Format == "hf")
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(outDir, hf))!);
                counts[role] = await WriteParquetAsync(Path.Combine(outDir, hf), Of(role).Select(x => new HoldoutHfRow
                {
                    Persona = x.R.Persona, Instruction = x.R.Instruction, Original = x.R.Original!, Critique = x.R.Critique ?? "", Data = x.R.Data!, QuestionType = x.R.QuestionType,
                    PairId = x.R.PairId, PersonaId = x.R.PersonaId, PromptId = x.R.PromptId, Split = x.R.Split, PromptTopic = x.R.PromptTopic,
                    Verification = x.R.Verification, Flagged = x.R.Flagged, Simulated = x.R.Simulated, Holdout = name, AdaptOrder = x.Order,
                }), ct).ConfigureAwait(false);
                files.Add(hf);
            }
            else
            {
                var rows = Of(role).Where(x => x.R.Verification is "agree" or "disagree").Select(x =>
                {
                    var personalised = x.R.Verification == "agree";
                    var t = ToTrl(personalised ? x.R : x.R with { Data = x.R.Original, Original = x.R.Data }, o);
                    return new RewardRow
                    {
                        Prompt = t.Prompt, Chosen = t.Chosen, Rejected = t.Rejected, ChosenIsPersonalised = personalised,
                        PairId = t.PairId, PersonaId = t.PersonaId, PromptId = t.PromptId, Split = t.Split, Holdout = name, AdaptOrder = x.Order,
                    };
                });
                counts[role] = await WriteBothAsync(Path.Combine(outDir, trl + ".jsonl"), Path.Combine(outDir, trl + ".parquet"), rows, ct).ConfigureAwait(false);
                files.Add(trl + ".jsonl");
                files.Add(trl + ".parquet");
            }
        }
        return new HoldoutExport(o.Holdout, personas.Count - h.Unseen.Count, h.Unseen.Count, counts[RmRole.SeenTrain], counts[RmRole.SeenTest],
            counts[RmRole.UnseenAdapt], counts[RmRole.UnseenEval], files);
    }

    private static string HoldoutCard(HoldoutExport h)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("\n## Seen and unseen personas (configs `seen`, `unseen`)\n\n");
        sb.Append(string.Create(inv, $"The canonical persona split of Persona's reward-model track (`persona rm train` uses the same one): {h.Options.Describe()}. "));
        sb.Append(string.Create(inv, $"{h.SeenPersonas:N0} seen personas: `seen` train {h.SeenTrain:N0} / test {h.SeenTest:N0} pairs (their prompt splits as in the default config). "));
        sb.Append(string.Create(inv, $"{h.UnseenPersonas:N0} unseen personas, none of whose pairs is in `seen`: `unseen` adapt {h.UnseenAdapt:N0} pairs (a new person's first k pairs are those with `adapt_order` < k) and eval {h.UnseenEval:N0} pairs.\n"));
        return sb.ToString();
    }
}
