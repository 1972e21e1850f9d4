using System.Text.Json;
using System.Text.Json.Serialization;
using Parquet;
using Parquet.Schema;
using Persona.Engine;

namespace Persona.Preferences;

/// <summary>
/// One row of pairs.jsonl / pairs.parquet: the original release's columns (<c>persona</c>,
/// <c>instruction</c>, <c>original</c> = rejected, <c>critique</c>, <c>data</c> = chosen,
/// <c>question type</c>) followed by ids, split, topic, each role's model, the template version,
/// token lengths, check flags and the verification verdict.
/// </summary>
public sealed record PairRecord
{
    [JsonPropertyName("persona")] public required string Persona { get; init; }
    [JsonPropertyName("instruction")] public required string Instruction { get; init; }
    [JsonPropertyName("original")] public string? Original { get; init; }
    [JsonPropertyName("critique")] public string? Critique { get; init; }
    [JsonPropertyName("data")] public string? Data { get; init; }
    [JsonPropertyName("question type")] public required string QuestionType { get; init; }
    [JsonPropertyName("pair_id")] public required string PairId { get; init; }
    [JsonPropertyName("persona_id")] public required string PersonaId { get; init; }
    [JsonPropertyName("prompt_id")] public required string PromptId { get; init; }
    [JsonPropertyName("split")] public required string Split { get; init; }
    [JsonPropertyName("prompt_topic")] public int? PromptTopic { get; init; }
    [JsonPropertyName("slot")] public int Slot { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("failure")] public string? Failure { get; init; }
    [JsonPropertyName("answer_model")] public string? AnswerModel { get; init; }
    [JsonPropertyName("critic_model")] public string? CriticModel { get; init; }
    [JsonPropertyName("judge_model")] public string? JudgeModel { get; init; }
    [JsonPropertyName("template_version")] public required string TemplateVersion { get; init; }
    [JsonPropertyName("original_tokens")] public int OriginalTokens { get; init; }
    [JsonPropertyName("revision_tokens")] public int RevisionTokens { get; init; }
    [JsonPropertyName("attempts")] public int Attempts { get; init; }
    [JsonPropertyName("flag_not_shorter")] public bool FlagNotShorter { get; init; }
    [JsonPropertyName("flag_quotes_attribute")] public string? FlagQuotesAttribute { get; init; }
    [JsonPropertyName("flag_truncated")] public bool FlagTruncated { get; init; }
    [JsonPropertyName("flag_empty")] public bool FlagEmpty { get; init; }
    [JsonPropertyName("flagged")] public bool Flagged { get; init; }
    /// <summary>agree (chosen preferred in both orders), disagree, flip, not_verified, or null when the judge's verdict was unreadable.</summary>
    [JsonPropertyName("verification")] public string? Verification { get; init; }
    [JsonPropertyName("verify_chosen_first")] public string? VerifyChosenFirst { get; init; }
    [JsonPropertyName("verify_chosen_second")] public string? VerifyChosenSecond { get; init; }
    [JsonPropertyName("verify_failure")] public string? VerifyFailure { get; init; }
    [JsonPropertyName("simulated")] public bool Simulated { get; init; }

    public bool Ok => Status == SampleRecord.StatusOk;

    public static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The row of a logged pair sample.</summary>
    public static PairRecord From(SampleRecord s, ScheduledPair? scheduled, string templateVersion)
    {
        var verify = s.Scores is { } sc && sc.TryGetValue(PairTask.VerifyScoreSet, out var v) ? v : null;
        string? first = null, second = null;
        if (verify?.Data is { ValueKind: JsonValueKind.Object } vd)
        {
            first = vd.TryGetProperty("chosen_first", out var f) ? f.GetString() : null;
            second = vd.TryGetProperty("chosen_second", out var g) ? g.GetString() : null;
        }
        if (s.Status != SampleRecord.StatusOk || s.Data is null)
        {
            var p = scheduled ?? throw new InvalidOperationException("A failed pair needs its schedule entry.");
            return new PairRecord
            {
                Persona = p.Persona.Text, Instruction = p.Prompt.Text, QuestionType = PairSplit.QuestionType(p.Split),
                PairId = p.PairId, PersonaId = p.Persona.Id, PromptId = p.Prompt.Id, Split = p.Split, PromptTopic = p.Prompt.Topic, Slot = p.Slot,
                Status = s.Status, Failure = s.Failure?.Message, TemplateVersion = templateVersion, Flagged = true, Simulated = s.Simulated,
            };
        }
        var d = s.Data.Value.Deserialize<PairData>(SampleRecord.Json)!;
        return new PairRecord
        {
            Persona = d.PersonaText, Instruction = d.Question, Original = d.Original, Critique = d.Critique, Data = d.Revision,
            QuestionType = PairSplit.QuestionType(d.Split), PairId = PairSchedule.PairIdOf(d.PersonaId, d.PromptId),
            PersonaId = d.PersonaId, PromptId = d.PromptId, Split = d.Split, PromptTopic = d.PromptTopic, Slot = d.Slot,
            Status = s.Status, AnswerModel = d.Answerer, CriticModel = d.Critic, JudgeModel = verify?.Model, TemplateVersion = d.TemplateVersion,
            OriginalTokens = d.OriginalTokens, RevisionTokens = d.RevisionTokens, Attempts = d.Attempts,
            FlagNotShorter = d.NotShorter, FlagQuotesAttribute = d.QuotesAttribute, FlagTruncated = d.Truncated, FlagEmpty = d.Empty,
            Flagged = d.NotShorter || d.QuotesAttribute is not null || d.Truncated || d.Empty,
            Verification = verify is null ? "not_verified" : verify.Failure is not null ? null : verify.Label,
            VerifyChosenFirst = first, VerifyChosenSecond = second, VerifyFailure = verify?.Failure?.Message,
            Simulated = s.Simulated,
        };
    }
}

/// <summary>
/// Streams pair rows into pairs.jsonl and pairs.parquet through temporary files that replace the
/// outputs only on <see cref="CommitAsync"/>: memory holds one row group, never the dataset, and a
/// killed run leaves the previous files (or none).
/// </summary>
public sealed class PairFileWriter : IAsyncDisposable
{
    public const string JsonlFile = "pairs.jsonl", ParquetFile = "pairs.parquet";
    private const int RowGroup = 10_000;

    private static readonly DataField[] Fields =
    [
        new DataField<string>("persona"), new DataField<string>("instruction"), new DataField<string>("original", true),
        new DataField<string>("critique", true), new DataField<string>("data", true), new DataField<string>("question type"),
        new DataField<string>("pair_id"), new DataField<string>("persona_id"), new DataField<string>("prompt_id"), new DataField<string>("split"),
        new DataField<int?>("prompt_topic"), new DataField<int>("slot"), new DataField<string>("status"), new DataField<string>("failure", true),
        new DataField<string>("answer_model", true), new DataField<string>("critic_model", true), new DataField<string>("judge_model", true),
        new DataField<string>("template_version"), new DataField<int>("original_tokens"), new DataField<int>("revision_tokens"), new DataField<int>("attempts"),
        new DataField<bool>("flag_not_shorter"), new DataField<string>("flag_quotes_attribute", true), new DataField<bool>("flag_truncated"),
        new DataField<bool>("flag_empty"), new DataField<bool>("flagged"), new DataField<string>("verification", true),
        new DataField<string>("verify_chosen_first", true), new DataField<string>("verify_chosen_second", true), new DataField<string>("verify_failure", true),
        new DataField<bool>("simulated"),
    ];

    private readonly string _dir, _jsonlTmp, _parquetTmp;
    private readonly FileStream _jsonl;
    private readonly Utf8JsonWriter _json;
    private readonly FileStream _parquetStream;
    private ParquetWriter? _parquet;
    private readonly List<PairRecord> _group = new(RowGroup);
    private bool _committed;

    public long Rows { get; private set; }

    private PairFileWriter(string dir)
    {
        _dir = dir;
        Directory.CreateDirectory(dir);
        CleanStale(dir);
        var tag = $"{Environment.ProcessId}.{Guid.NewGuid():N}";
        _jsonlTmp = Path.Combine(dir, $".{JsonlFile}.{tag}.tmp");
        _parquetTmp = Path.Combine(dir, $".{ParquetFile}.{tag}.tmp");
        _jsonl = new FileStream(_jsonlTmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        _json = new Utf8JsonWriter(_jsonl, new JsonWriterOptions { Encoder = PairRecord.Json.Encoder });
        _parquetStream = new FileStream(_parquetTmp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
    }

    public static async Task<PairFileWriter> CreateAsync(string dir, CancellationToken ct = default)
    {
        var w = new PairFileWriter(dir);
        w._parquet = await ParquetWriter.CreateAsync(new ParquetSchema(Fields), w._parquetStream, ParquetDefaults.Options(), cancellationToken: ct);
        return w;
    }

    /// <summary>Temporary files of an earlier, killed run of the same outputs.</summary>
    private static void CleanStale(string dir)
    {
        foreach (var f in Directory.EnumerateFiles(dir, ".pairs.*.tmp"))
            try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public async Task WriteAsync(PairRecord r, CancellationToken ct = default)
    {
        JsonSerializer.Serialize(_json, r, PairRecord.Json);
        _json.Flush();
        _json.Reset();
        _jsonl.WriteByte((byte)'\n');
        _group.Add(r);
        Rows++;
        if (_group.Count == RowGroup) await FlushGroupAsync(ct).ConfigureAwait(false);
    }

    private async Task FlushGroupAsync(CancellationToken ct)
    {
        if (_group.Count == 0 && Rows > 0) return;
        var g = _group;
        using var rg = _parquet!.CreateRowGroup();
        var f = 0;
        async Task S(Func<PairRecord, string?> get) => await rg.WriteAsync(Fields[f++], g.Select(get).ToArray());
        async Task I(Func<PairRecord, int> get) => await rg.WriteAsync<int>(Fields[f++], g.Select(get).ToArray(), null, null, ct);
        async Task B(Func<PairRecord, bool> get) => await rg.WriteAsync<bool>(Fields[f++], g.Select(get).ToArray(), null, null, ct);
        await S(r => r.Persona); await S(r => r.Instruction); await S(r => r.Original); await S(r => r.Critique); await S(r => r.Data);
        await S(r => r.QuestionType); await S(r => r.PairId); await S(r => r.PersonaId); await S(r => r.PromptId); await S(r => r.Split);
        await rg.WriteAsync<int>(Fields[f++], g.Select(r => r.PromptTopic).ToArray(), null, null, ct);
        await I(r => r.Slot); await S(r => r.Status); await S(r => r.Failure);
        await S(r => r.AnswerModel); await S(r => r.CriticModel); await S(r => r.JudgeModel); await S(r => r.TemplateVersion);
        await I(r => r.OriginalTokens); await I(r => r.RevisionTokens); await I(r => r.Attempts);
        await B(r => r.FlagNotShorter); await S(r => r.FlagQuotesAttribute); await B(r => r.FlagTruncated); await B(r => r.FlagEmpty); await B(r => r.Flagged);
        await S(r => r.Verification); await S(r => r.VerifyChosenFirst); await S(r => r.VerifyChosenSecond); await S(r => r.VerifyFailure);
        await B(r => r.Simulated);
        g.Clear();
    }

    /// <summary>Finishes both files and moves them over the outputs.</summary>
    public async Task CommitAsync(CancellationToken ct = default)
    {
        if (_group.Count > 0 || Rows == 0) await FlushGroupAsync(ct).ConfigureAwait(false);
        await _json.DisposeAsync().ConfigureAwait(false);
        await _jsonl.FlushAsync(ct).ConfigureAwait(false);
        await _jsonl.DisposeAsync().ConfigureAwait(false);
        await _parquet!.DisposeAsync().ConfigureAwait(false);
        await _parquetStream.FlushAsync(ct).ConfigureAwait(false);
        await _parquetStream.DisposeAsync().ConfigureAwait(false);
        File.Move(_jsonlTmp, Path.Combine(_dir, JsonlFile), overwrite: true);
        File.Move(_parquetTmp, Path.Combine(_dir, ParquetFile), overwrite: true);
        _committed = true;
    }

    public async ValueTask DisposeAsync()
    {
        if (_committed) return;
        try { await _json.DisposeAsync().ConfigureAwait(false); } catch (ObjectDisposedException) { }
        await _jsonl.DisposeAsync().ConfigureAwait(false);
        try { if (_parquet is not null) await _parquet.DisposeAsync().ConfigureAwait(false); } catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException) { }
        await _parquetStream.DisposeAsync().ConfigureAwait(false);
        foreach (var f in new[] { _jsonlTmp, _parquetTmp })
            try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Reads pairs.jsonl back, streamed; errors name the line.</summary>
    public static IEnumerable<PairRecord> Read(string path)
    {
        if (!File.Exists(path)) throw new PersonaException($"'{path}' does not exist: expected the pairs.jsonl of a `persona pairs build` output.");
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            PairRecord? r;
            try { r = JsonSerializer.Deserialize<PairRecord>(line, PairRecord.Json); }
            catch (JsonException ex) { throw new PersonaException($"{path}:{lineNo}: not a pair row ({JsonErrorText.Describe(ex)}); expected one pair object per line, as `persona pairs build` writes."); }
            yield return r ?? throw new PersonaException($"{path}:{lineNo}: empty row.");
        }
    }
}
