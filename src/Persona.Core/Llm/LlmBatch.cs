using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Persona.Llm;

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
        foreach (var line in File.ReadLines(path))
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
}

/// <summary>How a batch ended.</summary>
public sealed record BatchOutcome(
    string Status, int ExitCode, long Total, long Completed, long Cached, long Failed, long NotRun,
    BudgetSnapshot Spend, string? StopReason, bool OutputWritten, bool Simulated);

/// <summary>
/// Runs a batch over a runtime: bounded workers pull requests in order, each answer is saved to
/// the run store as it completes, one bad answer becomes an error line, and a run-level stop
/// (budget, circuit breaker) lets in-flight calls finish and starts no new ones. The output file
/// is written only when every request has an outcome, in input order, atomically.
/// </summary>
public static class BatchRunner
{
    public const string StatusCompleted = "completed";

    /// <summary>
    /// Answer text kept in memory for writing the output (chars, all items together). Below it the
    /// output needs no second store lookup per line (half the cost of replaying a cached run); above
    /// it answers are re-read from the store, so a huge batch of long answers still fits in memory.
    /// </summary>
    public const long RetainedCharsCap = 64L << 20;

    /// <summary>Longest answer written to results.jsonl (the JSON writer's limit is about 166 M characters).</summary>
    public const int MaxAnswerChars = 100_000_000;

    private struct ItemState
    {
        public string? Key;
        /// <summary>The answer, kept for the output file while <see cref="RetainedCharsCap"/> allows; else re-read from the store.</summary>
        public string? Content;
        public string? Error;
        public bool Done, Cached, Estimated, Simulated;
        public long Prompt, Completion;
        public string? Finish;
    }

    /// <param name="cancellationToken">Stops the batch gracefully: no new calls start, calls in flight finish and are saved
    /// (a provider bills a call it has started whether or not the client waits), then <see cref="OperationCanceledException"/>.</param>
    /// <param name="abortToken">Abandons calls in flight too (a second Ctrl-C); their cost may be lost.</param>
    public static async Task<BatchOutcome> RunAsync(LlmRuntime runtime, IReadOnlyList<BatchRequest> requests, string outPath,
        BatchCounters? counters = null, CancellationToken cancellationToken = default, CancellationToken abortToken = default)
    {
        counters ??= new BatchCounters();
        counters.Total = requests.Count;
        var states = new ItemState[requests.Count];
        var next = -1;
        RunStoppedException? stop = null;
        Exception? fatal = null;
        using var dispatch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, abortToken);
        var client = runtime.ChatClient;
        long retained = 0;

        async Task Worker()
        {
            while (!dispatch.IsCancellationRequested)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= requests.Count) return;
                var req = requests[i];
                try
                {
                    // In-flight calls see only the abort token: a stop (budget, breaker, cancellation) lets them finish and be saved.
                    var response = await client.GetResponseAsync(req.Messages, req.ToOptions(), abortToken).ConfigureAwait(false);
                    var p = response.AdditionalProperties;
                    ref var s = ref states[i];
                    s.Key = PersistentCacheChatClient.Get<string?>(p, LlmMetadata.CacheKey, null);
                    s.Cached = PersistentCacheChatClient.Get(p, LlmMetadata.Cached, false);
                    s.Estimated = PersistentCacheChatClient.Get(p, LlmMetadata.TokensEstimated, false);
                    s.Simulated = PersistentCacheChatClient.Get(p, LlmMetadata.Simulated, false);
                    s.Prompt = response.Usage?.InputTokenCount ?? 0;
                    s.Completion = response.Usage?.OutputTokenCount ?? 0;
                    s.Finish = response.FinishReason?.Value;
                    if (s.Key is not null)
                    {
                        var text = response.Text;
                        if (Interlocked.Add(ref retained, text.Length) <= RetainedCharsCap) s.Content = text;
                    }
                    s.Done = true;
                    if (s.Cached) Interlocked.Increment(ref counters._cached);
                    Interlocked.Increment(ref counters._done);
                }
                catch (RunStoppedException ex)
                {
                    Interlocked.CompareExchange(ref stop, ex, null);
                    dispatch.Cancel();
                    return;
                }
                catch (PersonaException ex)
                {
                    Interlocked.CompareExchange(ref fatal, ex, null);
                    dispatch.Cancel();
                    return;
                }
                catch (OperationCanceledException) when (abortToken.IsCancellationRequested)
                {
                    dispatch.Cancel();
                    return;
                }
                catch (Exception ex)
                {
                    // One bad answer never ends the run: it becomes this id's error line (and stays uncached).
                    states[i].Error = SecretScrubber.Scrub(ex.Message);
                    states[i].Done = true;
                    Interlocked.Increment(ref counters._failed);
                    Interlocked.Increment(ref counters._done);
                }
            }
        }

        var workers = Math.Max(1, Math.Min(runtime.TotalConcurrency, requests.Count));
        var tasks = new Task[workers];
        for (var w = 0; w < workers; w++) tasks[w] = Task.Run(Worker, CancellationToken.None);
        await Task.WhenAll(tasks).ConfigureAwait(false);
        await runtime.Store.FlushAsync().ConfigureAwait(false);

        long completed = 0, cached = 0, failed = 0, notRun = 0;
        foreach (var s in states)
        {
            if (!s.Done) notRun++;
            else if (s.Error is not null) failed++;
            else { completed++; if (s.Cached) cached++; }
        }
        var counts = new Dictionary<string, object?>
        {
            ["requests"] = requests.Count, ["completed"] = completed, ["cached"] = cached, ["failed"] = failed, ["not_run"] = notRun,
        };

        if (fatal is not null)
        {
            await runtime.WriteManifestAsync("error", counts, fatal.Message).ConfigureAwait(false);
            throw fatal;
        }
        if (cancellationToken.IsCancellationRequested || abortToken.IsCancellationRequested)
        {
            await runtime.WriteManifestAsync("cancelled", counts).ConfigureAwait(false);
            throw new OperationCanceledException("The batch was cancelled; completed calls are saved and a rerun resumes.", cancellationToken.IsCancellationRequested ? cancellationToken : abortToken);
        }
        if (stop is not null)
        {
            var status = stop is BudgetExceededException ? "stopped_budget" : "stopped_circuit_open";
            await runtime.WriteManifestAsync(status, counts, stop.Message).ConfigureAwait(false);
            return new BatchOutcome(status, stop.ExitCode, requests.Count, completed, cached, failed, notRun, runtime.Budget.Snapshot(), stop.Message, false, runtime.Simulated);
        }

        WriteOutput(runtime, requests, states, outPath, abortToken);
        await runtime.WriteManifestAsync(StatusCompleted, counts).ConfigureAwait(false);
        return new BatchOutcome(StatusCompleted, 0, requests.Count, completed, cached, failed, notRun, runtime.Budget.Snapshot(), null, true, runtime.Simulated);
    }

    private static void WriteOutput(LlmRuntime runtime, IReadOnlyList<BatchRequest> requests, ItemState[] states, string outPath, CancellationToken ct)
    {
        var full = Path.GetFullPath(outPath);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        Storage.OutputPaths.CleanStaleTemps(full);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            // Synchronous writes into a large buffer: a million short lines are CPU-bound, and an async
            // flush per line cost more than the JSON itself.
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            using (var writer = new Utf8JsonWriter(fs, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                for (var i = 0; i < requests.Count; i++)
                {
                    if ((i & 4095) == 0) ct.ThrowIfCancellationRequested();
                    ref var s = ref states[i];
                    writer.WriteStartObject();
                    writer.WriteString("id", requests[i].Id);
                    string? content = null;
                    if (s.Error is null && s.Key is not null)
                        content = s.Content ?? (runtime.Store.TryGetResponse(s.Key, out var stored) ? stored.Content : null);
                    if (content is { Length: > MaxAnswerChars })
                    {
                        // Utf8JsonWriter cannot write a string this long; one such answer must not sink the whole file (and every rerun).
                        s.Error = $"the answer has {content.Length:N0} characters, more than one results line can hold ({MaxAnswerChars:N0}); it is kept in the run store";
                        content = null;
                    }
                    if (content is not null)
                    {
                        writer.WriteString("content", content);
                        writer.WriteStartObject("usage");
                        writer.WriteNumber("prompt_tokens", s.Prompt);
                        writer.WriteNumber("completion_tokens", s.Completion);
                        writer.WriteNumber("total_tokens", s.Prompt + s.Completion);
                        if (s.Estimated) writer.WriteBoolean("estimated", true);
                        writer.WriteEndObject();
                        writer.WriteBoolean("cached", s.Cached);
                        if (s.Finish is { } f && f != "stop") writer.WriteString("finish_reason", f);
                    }
                    else
                    {
                        writer.WriteNull("content");
                        writer.WriteNull("usage");
                        writer.WriteBoolean("cached", false);
                        writer.WriteString("error", s.Error ?? "no answer recorded");
                    }
                    if (runtime.Simulated) writer.WriteBoolean("simulated", true);
                    writer.WriteEndObject();
                    writer.Flush();
                    writer.Reset();
                    fs.WriteByte((byte)'\n');
                }
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }
}
