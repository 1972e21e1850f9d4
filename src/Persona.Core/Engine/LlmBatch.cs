using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;

namespace Persona.Engine;

/// <summary>One line of a batch input file.</summary>
public sealed record BatchRequest(string Id, IReadOnlyList<ChatMessage> Messages, float? Temperature, int? MaxTokens, long? SampleIndex, int LineNumber)
{
    public ChatOptions ToOptions()
    {
        var o = new ChatOptions { Temperature = Temperature, MaxOutputTokens = MaxTokens };
        if (SampleIndex is { } s) (o.AdditionalProperties ??= new())[LlmMetadata.SampleIndex] = s;
        return o;
    }
}

/// <summary>Reads and validates a whole requests.jsonl before anything is sent.</summary>
public static class BatchRequestReader
{
    private static readonly HashSet<string> Roles = ["system", "user", "assistant", "developer"];

    /// <summary>
    /// Each non-blank line: {"id": string|number, "messages": [{"role","content"}], "temperature"?: number,
    /// "max_tokens"?: integer, "sample_index"?: integer}. Throws <see cref="PersonaException"/> naming the line.
    /// </summary>
    public static IReadOnlyList<BatchRequest> Read(string path)
    {
        if (Directory.Exists(path)) throw new PersonaException($"--in '{path}' is a folder; expected a requests.jsonl file.");
        if (!File.Exists(path)) throw new PersonaException($"Input file '{path}' not found.");
        var list = new List<BatchRequest>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var r = ParseLine(path, lineNo, line);
            if (ids.TryGetValue(r.Id, out var first))
                throw new PersonaException($"{path}:{lineNo}: duplicate id \"{r.Id}\" (first on line {first}); ids must be unique.");
            ids[r.Id] = lineNo;
            list.Add(r);
        }
        if (list.Count == 0) throw new PersonaException($"{path} holds no requests (it is empty or blank); expected one JSON request per line.");
        return list;
    }

    public static BatchRequest ParseLine(string path, int lineNo, string line)
    {
        string Where(string what) => $"{path}:{lineNo}: {what}";
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException ex) { throw new PersonaException(Where($"not valid JSON ({JsonErrorText.Of(ex)}); expected {{\"id\": ..., \"messages\": [{{\"role\": ..., \"content\": ...}}]}}.")); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new PersonaException(Where("expected a JSON object per line."));
            if (!root.TryGetProperty("id", out var idEl) || idEl.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
                throw new PersonaException(Where("missing \"id\" (a string or number)."));
            var id = idEl.ValueKind == JsonValueKind.String ? idEl.GetString()! : idEl.GetRawText();
            if (id.Length == 0) throw new PersonaException(Where("\"id\" is empty."));
            if (!root.TryGetProperty("messages", out var msgs) || msgs.ValueKind != JsonValueKind.Array || msgs.GetArrayLength() == 0)
                throw new PersonaException(Where("\"messages\" must be a non-empty array of {\"role\", \"content\"}."));
            var messages = new List<ChatMessage>(msgs.GetArrayLength());
            var i = 0;
            foreach (var m in msgs.EnumerateArray())
            {
                if (m.ValueKind != JsonValueKind.Object
                    || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
                    || !m.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                    throw new PersonaException(Where($"messages[{i}] must have string \"role\" and \"content\"."));
                var roleName = role.GetString()!;
                if (!Roles.Contains(roleName)) throw new PersonaException(Where($"messages[{i}].role \"{roleName}\" is not one of system, user, assistant, developer."));
                messages.Add(new ChatMessage(roleName == "developer" ? ChatRole.System : new ChatRole(roleName), content.GetString()));
                i++;
            }
            float? temperature = null;
            if (root.TryGetProperty("temperature", out var t) && t.ValueKind != JsonValueKind.Null)
            {
                if (t.ValueKind != JsonValueKind.Number || !t.TryGetDouble(out var td) || td < 0 || td > 2)
                    throw new PersonaException(Where("\"temperature\" must be a number between 0 and 2."));
                temperature = (float)td;
            }
            int? maxTokens = null;
            if (root.TryGetProperty("max_tokens", out var mt) && mt.ValueKind != JsonValueKind.Null)
            {
                if (mt.ValueKind != JsonValueKind.Number || !mt.TryGetInt32(out var mti) || mti < 1)
                    throw new PersonaException(Where("\"max_tokens\" must be a positive integer."));
                maxTokens = mti;
            }
            long? sample = null;
            if (root.TryGetProperty("sample_index", out var si) && si.ValueKind != JsonValueKind.Null)
            {
                if (si.ValueKind != JsonValueKind.Number || !si.TryGetInt64(out var sv) || sv < 0)
                    throw new PersonaException(Where("\"sample_index\" must be a non-negative integer."));
                sample = sv;
            }
            return new BatchRequest(id, messages, temperature, maxTokens, sample, lineNo);
        }
    }
}

/// <summary>Live counters of a batch, read by progress displays.</summary>
public sealed class BatchCounters
{
    internal long _done, _cached, _failed;
    public long Total { get; internal set; }
    public long Done => Interlocked.Read(ref _done);
    public long Cached => Interlocked.Read(ref _cached);
    public long Failed => Interlocked.Read(ref _failed);
    /// <summary>The fan-out's counters (in flight, longest wait).</summary>
    public Persona.Engine.FanOutCounters FanOut { get; } = new();
}

/// <summary>How a batch ended.</summary>
public sealed record BatchOutcome(
    string Status, int ExitCode, long Total, long Completed, long Cached, long Failed, long NotRun,
    BudgetSnapshot Spend, string? StopReason, bool OutputWritten, bool Simulated);

/// <summary>
/// Runs a batch over a runtime on the shared <see cref="Pipeline.FanOut"/>: each answer is saved to
/// the run store as it completes, one bad answer becomes an error line, and a run-level stop
/// (budget, circuit breaker, failure rate, Ctrl-C) lets in-flight calls finish and starts no new
/// ones. Lines stream in input order into a temporary file that replaces the output only when
/// every request has an outcome.
/// </summary>
public static class BatchRunner
{
    public const string StatusCompleted = "completed";

    /// <summary>Longest answer written to results.jsonl (the JSON writer's limit is about 166 M characters).</summary>
    public const int MaxAnswerChars = 100_000_000;

    private sealed record Answer(string Content, long Prompt, long Completion, bool Cached, bool Estimated, string? Finish);

    /// <param name="cancellationToken">Stops the batch gracefully: no new calls start, calls in flight finish and are saved
    /// (a provider bills a call it has started whether or not the client waits), then <see cref="OperationCanceledException"/>.</param>
    /// <param name="abortToken">Abandons calls in flight too (a second Ctrl-C); their cost may be lost.</param>
    public static async Task<BatchOutcome> RunAsync(LlmRuntime runtime, IReadOnlyList<BatchRequest> requests, string outPath,
        BatchCounters? counters = null, CancellationToken cancellationToken = default, CancellationToken abortToken = default)
    {
        counters ??= new BatchCounters();
        counters.Total = requests.Count;
        var client = runtime.ChatClient;
        var simulated = runtime.Simulated;
        long completed = 0, cached = 0, failed = 0, reported = 0;
        var full = Path.GetFullPath(outPath);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        OutputPaths.CleanStaleTemps(full);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        var options = new Persona.Engine.FanOutOptions
        {
            Concurrency = Math.Max(1, Math.Min(runtime.TotalConcurrency, Math.Max(1, requests.Count))),
            MaxFailureRate = runtime.Options.MaxFailureRate,
            Abort = abortToken,
            Counters = counters.FanOut,
        };

        async ValueTask<Answer> Call(BatchRequest req, long _, CancellationToken abort)
        {
            var response = await client.GetResponseAsync(req.Messages, req.ToOptions(), abort).ConfigureAwait(false);
            var info = response.CallInfo();
            return new Answer(response.Text, response.Usage?.InputTokenCount ?? 0, response.Usage?.OutputTokenCount ?? 0,
                info.Cached, info.TokensEstimated, response.FinishReason?.Value);
        }

        Exception? stop = null;
        try
        {
            // Synchronous writes into a large buffer: a million short lines are CPU-bound, and an async
            // flush per line cost more than the JSON itself.
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            using (var writer = new Utf8JsonWriter(fs, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                try
                {
                    await foreach (var o in Persona.Engine.FanOut.RunAsync(requests, Call, options, cancellationToken).ConfigureAwait(false))
                    {
                        reported++;
                        var answer = o.Result;
                        var error = o.Failure?.Message is { } m ? SecretScrubber.Scrub(m) : null;
                        if (answer is { Content.Length: > MaxAnswerChars })
                        {
                            // Utf8JsonWriter cannot write a string this long; one such answer must not sink the whole file (and every rerun).
                            error = $"the answer has {answer.Content.Length:N0} characters, more than one results line can hold ({MaxAnswerChars:N0}); it is kept in the run store";
                            answer = null;
                        }
                        WriteLine(writer, fs, o.Item.Id, answer, error, simulated);
                        if (answer is { } a)
                        {
                            completed++;
                            if (a.Cached) { cached++; Interlocked.Increment(ref counters._cached); }
                        }
                        else
                        {
                            failed++;
                            Interlocked.Increment(ref counters._failed);
                        }
                        Interlocked.Increment(ref counters._done);
                    }
                }
                catch (Exception ex) when (ex is RunStoppedException or OperationCanceledException or PersonaException)
                {
                    stop = ex;
                }
            }
            var notRun = requests.Count - reported;
            var counts = new Dictionary<string, object?>
            {
                ["requests"] = requests.Count, ["completed"] = completed, ["cached"] = cached, ["failed"] = failed, ["not_run"] = notRun,
            };
            switch (stop)
            {
                case null:
                    File.Move(tmp, full, overwrite: true);
                    await runtime.WriteManifestAsync(StatusCompleted, counts).ConfigureAwait(false);
                    return new BatchOutcome(StatusCompleted, 0, requests.Count, completed, cached, failed, 0, runtime.Budget.Snapshot(), null, true, simulated);
                case OperationCanceledException oce:
                    await runtime.WriteManifestAsync("cancelled", counts).ConfigureAwait(false);
                    throw new OperationCanceledException("The batch was cancelled; completed calls are saved and a rerun resumes.", oce, oce.CancellationToken);
                case RunStoppedException rs:
                {
                    var status = rs switch
                    {
                        BudgetExceededException => "stopped_budget",
                        Persona.Engine.FailureRateExceededException => "stopped_failure_rate",
                        _ => "stopped_circuit_open",
                    };
                    await runtime.WriteManifestAsync(status, counts, rs.Message).ConfigureAwait(false);
                    return new BatchOutcome(status, rs.ExitCode, requests.Count, completed, cached, failed, notRun, runtime.Budget.Snapshot(), rs.Message, false, simulated);
                }
                default:
                    await runtime.WriteManifestAsync("error", counts, stop.Message).ConfigureAwait(false);
                    throw stop;
            }
        }
        finally
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static void WriteLine(Utf8JsonWriter writer, FileStream fs, string id, Answer? a, string? error, bool simulated)
    {
        writer.WriteStartObject();
        writer.WriteString("id", id);
        if (a is not null)
        {
            writer.WriteString("content", a.Content);
            writer.WriteStartObject("usage");
            writer.WriteNumber("prompt_tokens", a.Prompt);
            writer.WriteNumber("completion_tokens", a.Completion);
            writer.WriteNumber("total_tokens", a.Prompt + a.Completion);
            if (a.Estimated) writer.WriteBoolean("estimated", true);
            writer.WriteEndObject();
            writer.WriteBoolean("cached", a.Cached);
            if (a.Finish is { } f && f != "stop") writer.WriteString("finish_reason", f);
        }
        else
        {
            writer.WriteNull("content");
            writer.WriteNull("usage");
            writer.WriteBoolean("cached", false);
            writer.WriteString("error", error ?? "no answer recorded");
        }
        if (simulated) writer.WriteBoolean("simulated", true);
        writer.WriteEndObject();
        writer.Flush();
        writer.Reset();
        fs.WriteByte((byte)'\n');
    }
}
