using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Parquet;
using Parquet.Serialization;
using Persona.Personas;

namespace Persona.Preferences;

public sealed record PairExportOptions
{
    /// <summary>"trl" (TRL preference rows) or "hf" (a Hugging Face dataset folder with a card).</summary>
    public required string Format { get; init; }
    /// <summary>"explicit" (a prompt column: DPO, ORPO, CPO) or "implicit" (chosen/rejected hold the whole conversation: reward models).</summary>
    public string PromptStyle { get; init; } = "explicit";
    /// <summary>"system": the persona as a system message; "prompt": folded into the user turn.</summary>
    public string PersonaIn { get; init; } = "system";
    public bool VerifiedOnly { get; init; }
    public bool DropFlagged { get; init; }
    /// <summary>hf only: also publish this persona population (a `personas build` parquet) as a second config, `personas`, of the same dataset.</summary>
    public string? PersonasParquet { get; init; }
    /// <summary>The canonical persona holdout written beside the default config (configs seen/unseen; trl: rm-*.jsonl reward-model rows).</summary>
    public Rewards.HoldoutOptions Holdout { get; init; } = new();

    public void Validate()
    {
        if (Format is not ("trl" or "hf")) throw new PersonaException($"--format '{Format}': expected trl or hf.");
        if (PromptStyle is not ("explicit" or "implicit")) throw new PersonaException($"--prompt-style '{PromptStyle}': expected explicit or implicit.");
        if (PersonaIn is not ("system" or "prompt")) throw new PersonaException($"--persona-in '{PersonaIn}': expected system or prompt.");
        Holdout.Validate();
        if (PersonasParquet is { } p && (Format != "hf" || !File.Exists(p)))
            throw new PersonaException(Format != "hf" ? "A persona population is published only with --format hf." : $"Persona file '{p}' does not exist.");
    }
}

public sealed record PairExportResult(long Train, long Test, long Skipped, IReadOnlyList<string> Files);

/// <summary>
/// Exports a pairs folder for training: TRL preference rows (conversational; explicit or implicit
/// prompt; the persona as a system message or folded into the prompt) as JSONL and Parquet, or a
/// Hugging Face dataset folder (data/train-*.parquet, data/test-*.parquet, a README.md dataset card
/// with YAML front matter, and SHA256SUMS). Only completed pairs are exported; filters drop
/// unverified or flagged ones. Rows are streamed in chunks.
/// </summary>
public static partial class PairExport
{
    private const int Chunk = 5_000; // rows per Parquet row group held in memory: 50,000 rows of persona text were ~2 GB at paper scale

    public sealed class Message
    {
        [JsonPropertyName("role")] public string Role { get; set; } = "";
        [JsonPropertyName("content")] public string Content { get; set; } = "";
    }

    public sealed class TrlRow
    {
        [JsonPropertyName("prompt")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<Message>? Prompt { get; set; }
        [JsonPropertyName("chosen")] public List<Message> Chosen { get; set; } = [];
        [JsonPropertyName("rejected")] public List<Message> Rejected { get; set; } = [];
        [JsonPropertyName("pair_id")] public string PairId { get; set; } = "";
        [JsonPropertyName("persona_id")] public string PersonaId { get; set; } = "";
        [JsonPropertyName("prompt_id")] public string PromptId { get; set; } = "";
        [JsonPropertyName("split")] public string Split { get; set; } = "";
    }

    /// <summary>A row of the Hugging Face folder: the original release's columns and this project's ids and verdicts.</summary>
    public sealed class HfRow
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
    }

    /// <summary>
    /// Refuses a pairs.jsonl that contradicts its folder's shard.json (rows missing or added after the
    /// build), repeats a pair, or holds none: `pairs merge` and `study create` refuse such a folder,
    /// and an export of it would publish a dataset that is not the build's.
    /// </summary>
    internal static void CheckConsistent(string pairsDir, string pairsFile)
    {
        var shardFile = Path.Combine(pairsDir, PairBuilder.ShardFile);
        ShardInfo? info = null;
        if (File.Exists(shardFile))
        {
            try { info = JsonSerializer.Deserialize<ShardInfo>(TextLines.ReadAll(shardFile), PairReport.Json); }
            catch (JsonException ex) { throw new PersonaException($"{shardFile}: unreadable ({JsonErrorText.Describe(ex)}); rebuild the folder with `persona pairs build`."); }
        }
        // 64-bit hashes of the ids, not the ids: 2 M pairs' ids would hold ~400 MB.
        var seen = new HashSet<ulong>();
        long rows = 0;
        foreach (var r in PairFileWriter.Read(pairsFile))
        {
            rows++;
            if (!seen.Add(IdHash(r.PairId)))
                throw new PersonaException($"{pairsFile}: pair '{r.PairId}' appears twice (row {rows.ToString(System.Globalization.CultureInfo.InvariantCulture)}); the file was changed after the build. Rebuild it with `persona pairs build` (or merge the shards again).");
        }
        if (info is not null && rows != info.Pairs)
            throw new PersonaException($"{pairsFile} has {rows} rows but {shardFile} says {info.Pairs}: the folder is incomplete or was changed after the build. Rebuild it with `persona pairs build` (or merge the shards again).");
        if (rows == 0) throw new PersonaException($"{pairsFile} holds no pairs; nothing to export.");
    }

    private static ulong IdHash(string id)
    {
        var h = 14695981039346656037UL; // FNV-1a
        foreach (var c in id) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    public static async Task<PairExportResult> ExportAsync(string pairsDir, string outDir, PairExportOptions o, CancellationToken ct = default)
    {
        o.Validate();
        var pairsFile = Path.Combine(pairsDir, PairFileWriter.JsonlFile);
        if (!File.Exists(pairsFile)) throw new PersonaException($"'{pairsDir}' has no {PairFileWriter.JsonlFile}: point it at a `persona pairs build` (or merge) output folder.");
        if (Path.GetFullPath(outDir).TrimEnd('/') == Path.GetFullPath(pairsDir).TrimEnd('/'))
            throw new PersonaException($"--out '{outDir}' is the pairs folder itself: the export would mix with (and could replace) its inputs. Choose another folder.");
        CheckConsistent(pairsDir, pairsFile);
        var reportFile = Path.Combine(pairsDir, PairBuilder.ReportFile);
        var report = File.Exists(reportFile) ? JsonSerializer.Deserialize<PairReportData>(File.ReadAllText(reportFile), PairReport.Json) : null;
        Directory.CreateDirectory(outDir);
        long train = 0, test = 0, skipped = 0;
        var files = new List<string>();
        bool Keep(PairRecord r) => r.Ok && r.Data is not null && r.Original is not null
                                   && (!o.VerifiedOnly || r.Verification == "agree") && (!o.DropFlagged || !r.Flagged);
        IEnumerable<PairRecord> Rows(bool trainSplit)
        {
            foreach (var r in PairFileWriter.Read(pairsFile))
            {
                if ((r.Split == PairSplit.Train) != trainSplit) continue;
                if (Keep(r)) yield return r;
                else skipped++;
            }
        }
        long testSkipped = 0;
        IEnumerable<PairRecord> TestRows()
        {
            foreach (var r in PairFileWriter.Read(pairsFile))
            {
                if (r.Split == PairSplit.Train) continue;
                if (Keep(r)) yield return r; else testSkipped++;
            }
        }

        if (o.Format == "trl")
        {
            foreach (var (name, rows) in new[] { ("train", Rows(true)), ("test", TestRows()) })
            {
                var n = await WriteBothAsync(Path.Combine(outDir, name + ".jsonl"), Path.Combine(outDir, name + ".parquet"), rows.Select(r => ToTrl(r, o)), ct).ConfigureAwait(false);
                if (name == "train") train = n; else test = n;
                files.Add(name + ".jsonl");
                files.Add(name + ".parquet");
            }
            files.AddRange((await ExportHoldoutAsync(pairsFile, outDir, o, Keep, ct).ConfigureAwait(false)).Files);
        }
        else
        {
            var data = Path.Combine(outDir, "data");
            Directory.CreateDirectory(data);
            train = await WriteParquetAsync(Path.Combine(data, "train-00000-of-00001.parquet"), Rows(true).Select(ToHf), ct).ConfigureAwait(false);
            test = await WriteParquetAsync(Path.Combine(data, "test-00000-of-00001.parquet"), TestRows().Select(ToHf), ct).ConfigureAwait(false);
            files.Add("data/train-00000-of-00001.parquet");
            files.Add("data/test-00000-of-00001.parquet");
            long personas = 0;
            if (o.PersonasParquet is { } pp)
            {
                Directory.CreateDirectory(Path.Combine(outDir, "personas"));
                var target = Path.Combine(outDir, PersonasFile);
                await AtomicFile.WriteAsync(target, async (dst, t) => { await using var src = File.OpenRead(pp); await src.CopyToAsync(dst, t).ConfigureAwait(false); }, ct).ConfigureAwait(false);
                personas = await Personas.PersonaParquet.CountAsync(target, ct).ConfigureAwait(false);
                files.Add(PersonasFile);
            }
            var holdout = await ExportHoldoutAsync(pairsFile, outDir, o, Keep, ct).ConfigureAwait(false);
            files.AddRange(holdout.Files);
            AtomicFile.WriteAllText(Path.Combine(outDir, "README.md"), Card(report, train, test, o, personas, holdout));
            files.Add("README.md");
        }
        var sums = new StringBuilder();
        foreach (var f in files.Order(StringComparer.Ordinal))
        {
            await using var s = File.OpenRead(Path.Combine(outDir, f));
            sums.Append(Convert.ToHexStringLower(await SHA256.HashDataAsync(s, ct).ConfigureAwait(false))).Append("  ").Append(f).Append('\n');
        }
        AtomicFile.WriteAllText(Path.Combine(outDir, "SHA256SUMS"), sums.ToString());
        files.Add("SHA256SUMS");
        return new PairExportResult(train, test, skipped + testSkipped, files);
    }

    public static TrlRow ToTrl(PairRecord r, PairExportOptions o)
    {
        var system = o.PersonaIn == "system" ? new Message { Role = "system", Content = "You are talking with this person:\n" + r.Persona.TrimEnd('\n') } : null;
        var user = new Message { Role = "user", Content = o.PersonaIn == "prompt" ? "About me:\n" + r.Persona.TrimEnd('\n') + "\n\n" + r.Instruction : r.Instruction };
        var prompt = system is null ? new List<Message> { user } : [system, user];
        Message Assistant(string text) => new() { Role = "assistant", Content = text };
        var row = new TrlRow { PairId = r.PairId, PersonaId = r.PersonaId, PromptId = r.PromptId, Split = r.Split };
        if (o.PromptStyle == "explicit")
        {
            row.Prompt = prompt;
            row.Chosen = [Assistant(r.Data!)];
            row.Rejected = [Assistant(r.Original!)];
        }
        else
        {
            row.Chosen = [.. prompt, Assistant(r.Data!)];
            row.Rejected = [.. prompt, Assistant(r.Original!)];
        }
        return row;
    }

    private static HfRow ToHf(PairRecord r) => new()
    {
        Persona = r.Persona, Instruction = r.Instruction, Original = r.Original!, Critique = r.Critique ?? "", Data = r.Data!, QuestionType = r.QuestionType,
        PairId = r.PairId, PersonaId = r.PersonaId, PromptId = r.PromptId, Split = r.Split, PromptTopic = r.PromptTopic,
        Verification = r.Verification, Flagged = r.Flagged, Simulated = r.Simulated,
    };

    private static readonly JsonSerializerOptions LineJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static async Task<long> WriteBothAsync<T>(string jsonl, string parquet, IEnumerable<T> rows, CancellationToken ct)
    {
        long n = 0;
        var full = Path.GetFullPath(parquet);
        var tmpParquet = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await AtomicFile.WriteAsync(jsonl, async (s, t) =>
            {
                await using var pq = new FileStream(tmpParquet, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
                await using var w = new StreamWriter(s, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
                var chunk = new List<T>(Chunk);
                async Task FlushChunk()
                {
                    await ParquetSerializer.SerializeAsync(chunk, pq, ParquetDefaults.Options(append: pq.Length > 0), cancellationToken: t);
                    chunk.Clear();
                }
                foreach (var r in rows)
                {
                    await w.WriteAsync(JsonSerializer.Serialize(r, LineJson));
                    await w.WriteAsync('\n');
                    chunk.Add(r);
                    n++;
                    if (chunk.Count == Chunk) await FlushChunk();
                }
                if (chunk.Count > 0 || pq.Length == 0) await FlushChunk();
            }, ct).ConfigureAwait(false);
            File.Move(tmpParquet, full, overwrite: true);
        }
        finally
        {
            try { File.Delete(tmpParquet); } catch (IOException) { }
        }
        return n;
    }

    private static async Task<long> WriteParquetAsync<T>(string path, IEnumerable<T> rows, CancellationToken ct)
    {
        long n = 0;
        await AtomicFile.WriteAsync(path, async (s, t) =>
        {
            // The serializer appends by reading the footer back, so it writes into a seekable temp of its own.
            var tmp = Path.GetTempFileName();
            try
            {
                await using (var pq = new FileStream(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
                {
                    var chunk = new List<T>(Chunk);
                    foreach (var r in rows)
                    {
                        chunk.Add(r);
                        n++;
                        if (chunk.Count == Chunk)
                        {
                            await ParquetSerializer.SerializeAsync(chunk, pq, ParquetDefaults.Options(append: pq.Length > 0), cancellationToken: t);
                            chunk.Clear();
                        }
                    }
                    if (chunk.Count > 0 || pq.Length == 0)
                        await ParquetSerializer.SerializeAsync(chunk, pq, ParquetDefaults.Options(append: pq.Length > 0), cancellationToken: t);
                    pq.Position = 0;
                    await pq.CopyToAsync(s, t);
                }
            }
            finally
            {
                File.Delete(tmp);
            }
        }, ct).ConfigureAwait(false);
        return n;
    }

    private static string SizeCategory(long n) => n switch
    {
        < 1_000 => "n<1K", < 10_000 => "1K<n<10K", < 100_000 => "10K<n<100K", < 1_000_000 => "100K<n<1M", < 10_000_000 => "1M<n<10M", _ => "10M<n<100M",
    };

    public const string PersonasFile = "personas/personas.parquet";

    private static string Card(PairReportData? report, long train, long test, PairExportOptions o, long personas = 0, HoldoutExport? holdout = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var simulated = report?.Simulated == true;
        var sb = new StringBuilder();
        sb.Append("---\n");
        sb.Append("pretty_name: ").Append(simulated ? "Persona preference pairs (SIMULATED, not for training)" : "Persona preference pairs").Append('\n');
        sb.Append("license: cc-by-4.0\n");
        sb.Append("language:\n- en\n");
        sb.Append("task_categories:\n- text-generation\n");
        sb.Append("tags:\n- dpo\n- preference\n- pluralistic-alignment\n- synthetic\n").Append(simulated ? "- simulated\n" : "");
        sb.Append("size_categories:\n- ").Append(SizeCategory(train + test)).Append('\n');
        sb.Append("source_datasets:\n- HannahKirk/prism-alignment\n");
        sb.Append("configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n  - split: test\n    path: data/test-*\n");
        if (personas > 0) sb.Append("- config_name: personas\n  data_files:\n  - split: train\n    path: ").Append(PersonasFile).Append('\n');
        if (holdout is not null) sb.Append(HoldoutConfigs);
        sb.Append("---\n\n");
        sb.Append("# Persona preference pairs\n\n");
        if (simulated)
            sb.Append("> **Simulated.** Every answer, critique, revision and verdict in this dataset was produced by Persona's offline simulator " +
                      "(a planted, invented world), not by a language model. It shows the format and the pipeline; it is not training data and not a finding.\n\n");
        sb.Append("Pairwise preference feedback of synthetic, census-grounded personas on value-laden questions, made with ")
          .Append("the Persona testbed after the PERSONA method (Castricato et al., COLING 2025): for each persona and question, ")
          .Append("the generic answer (`original`, rejected) and a revision personalised for the persona through a critique from its point of view ")
          .Append("(`data`, chosen; never naming the persona's attributes, shorter than the original), checked by the persona itself role-played by a judge model in both answer orders.\n\n");
        sb.Append("## Contents\n\n");
        sb.Append(string.Create(inv, $"- train: {train:N0} pairs; test: {test:N0} pairs (`split` tells test pairs on seen prompts, `test-seen`, from held-out ones, `test-heldout`).\n"));
        sb.Append("- Columns: `persona`, `instruction`, `original`, `critique`, `data`, `question type` (the original release's), plus `pair_id`, `persona_id`, `prompt_id`, `split`, `prompt_topic`, `verification`, `flagged`, `simulated`.\n");
        if (personas > 0)
            sb.Append(string.Create(inv, $"- Config `personas`: the {personas:N0} synthetic personas the pairs were made for (`{PersonasFile}`: the 33 attributes, the census record with its weight and raw codes, and which model wrote which field), joined to the pairs on `persona_id`.\n"));
        if (o.VerifiedOnly) sb.Append("- Filter: only pairs whose chosen answer the persona preferred in both orders.\n");
        if (o.DropFlagged) sb.Append("- Filter: pairs flagged by a check (not shorter, quoting an attribute, truncated, empty) were dropped.\n");
        if (holdout is not null) sb.Append(HoldoutCard(holdout));
        if (report is not null)
        {
            sb.Append("\n## How it was made\n\n");
            sb.Append("- Answer and revision model(s): ").Append(string.Join(", ", report.AnswerModels)).Append('\n');
            sb.Append("- Critic model(s): ").Append(string.Join(", ", report.CriticModels)).Append('\n');
            sb.Append("- Judge model(s): ").Append(report.JudgeModels.Count > 0 ? string.Join(", ", report.JudgeModels) : "(not verified)").Append('\n');
            sb.Append("- Prompt templates: ").Append(string.Join(", ", report.TemplateVersions)).Append('\n');
            var v = report.Verification;
            sb.Append("\n## Verification\n\n");
            if (v.Verified > 0)
            {
                sb.Append(string.Create(inv, $"- Pairs verified: {v.Verified:N0}\n"));
                sb.Append(string.Create(inv, $"- Agreement (chosen preferred in both orders): {v.Agreement.Value:P1} (95% CI {v.Agreement.Lower:P1} to {v.Agreement.Upper:P1}); the original reported 96% in one order.\n"));
                sb.Append(string.Create(inv, $"- Flip rate (the verdict follows the position): {v.FlipRate.Value:P1} (95% CI {v.FlipRate.Lower:P1} to {v.FlipRate.Upper:P1})\n"));
                sb.Append(string.Create(inv, $"- Rejected answer preferred in both orders: {v.Disagreement.Value:P1}\n"));
            }
            else sb.Append("- Not verified.\n");
        }
        sb.Append("\n## Licence and sources\n\n");
        sb.Append("Questions are PRISM opening prompts (Kirk et al. 2024, CC-BY-4.0): attribute PRISM. Personas are drawn from the US Census Bureau's ACS PUMS (public domain). ")
          .Append("Generated text is subject to the terms of the models named above. `SHA256SUMS` lists every file's SHA-256.\n");
        return sb.ToString();
    }
}
