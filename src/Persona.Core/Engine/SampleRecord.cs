using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Persona.Engine;

/// <summary>One message of a turn as it was sent.</summary>
public sealed record TurnMessage(string Role, string Content);

/// <summary>
/// One LM call made for a sample by one role: what was sent, what came back, who answered and
/// what it cost. Enough to re-score or audit without calling again. Whether the call was a cache
/// hit is not part of it: that depends on earlier runs and on which of several identical calls in
/// flight came first, so it would make the same answers log differently (the store's calls table
/// keeps it per invocation).
/// </summary>
public sealed record Turn(
    string Role,
    string Model,
    string? Step,
    IReadOnlyList<TurnMessage> Messages,
    string? Output,
    long PromptTokens,
    long CompletionTokens,
    [property: JsonIgnore] bool Cached,
    string? CacheKey,
    string? FinishReason,
    bool Simulated);

/// <summary>A score of one sample under a named score set (e.g. "critic", "judge@openai:gpt-4o").</summary>
public sealed record Score(
    double? Value,
    string? Label,
    string? Explanation,
    string Scorer,
    string? Model,
    JsonElement? Data,
    ItemFailure? Failure);

/// <summary>
/// A task sample as logged (the idea of Inspect AI's eval-log samples): a stable id (content hash
/// of the task, its version and the inputs' ids), the inputs' ids (persona, prompt, mode, epoch,
/// ...), every role's turns, the solver's output and structured data, a failure when the item
/// failed, and any number of named score sets (attached when read back).
/// </summary>
public sealed record SampleRecord(
    string Id,
    string Task,
    string TaskVersion,
    long Seq,
    IReadOnlyDictionary<string, string> Inputs,
    string Status,
    string? Output,
    JsonElement? Data,
    IReadOnlyList<Turn> Turns,
    ItemFailure? Failure,
    bool Simulated) : IItemResult
{
    public const string StatusOk = "ok", StatusFailed = "failed", StatusDeferred = "deferred";

    /// <summary>The batch file a deferred sample's pending call went to (never logged: a deferred sample is not finished).</summary>
    [JsonIgnore]
    public string? Deferred { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, Score>? Scores { get; init; }

    /// <summary>A data field of the solver's output, or null.</summary>
    public JsonElement? Field(string name) => Data is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty(name, out var v) ? v : null;

    public string? Input(string key) => Inputs.TryGetValue(key, out var v) ? v : null;

    /// <summary>The content hash that identifies a sample: same task, version and inputs, same id, in any run.</summary>
    public static string ComputeId(string task, string version, IReadOnlyDictionary<string, string> inputs)
    {
        var sb = new StringBuilder();
        sb.Append(task).Append('\u0001').Append(version);
        foreach (var (k, v) in inputs.OrderBy(kv => kv.Key, StringComparer.Ordinal)) sb.Append('\u0001').Append(k).Append('\u0002').Append(v);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..32];
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>
    /// The sample without its transcripts (each turn keeps its role, model, tokens and cache key):
    /// what the statistics read, for callers that hold a whole task's samples in memory. The
    /// transcripts stay in the store and the sample log; at paper scale they were a gigabyte of
    /// the 105,600 leave-one-out samples' prompts.
    /// </summary>
    public SampleRecord WithoutTranscripts() => this with { Turns = [.. Turns.Select(t => t with { Messages = [], Output = null })] };

    public static SampleRecord FromJson(string json) => JsonSerializer.Deserialize<SampleRecord>(json, Json)
        ?? throw new PersonaException("A sample record in the run store is empty.");
}
