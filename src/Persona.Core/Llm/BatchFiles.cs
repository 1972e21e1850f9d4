using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Store;

namespace Persona.Llm;

/// <summary>
/// The call was written to an OpenAI Batch file instead of being sent. Not a failure: the item
/// is pending until the batch's results are imported (<see cref="BatchImport"/>).
/// </summary>
public sealed class DeferredCallException(string key, string file) : Exception($"deferred to the batch file {file}")
{
    public string Key { get; } = key;
    public string File { get; } = file;
}

/// <summary>
/// A stage has calls waiting in batch files (--batch-export): the run stops after the round, having
/// written every independent request it could; importing the results and running again goes on.
/// CLI exit code 6.
/// </summary>
public sealed class BatchPendingException(string message) : RunStoppedException(message)
{
    public const int Code = 6;
    public override int ExitCode => Code;

    /// <summary>Throws when <paramref name="pending"/> items of <paramref name="what"/> wait for batch results.</summary>
    public static void ThrowIf(long pending, string what)
    {
        if (pending > 0) throw new BatchPendingException($"{pending:N0} {what} wait for batch results.");
    }
}

/// <summary>
/// Writes the requests of the OpenAI Batch API (also the input of <c>vllm run-batch</c>): one
/// <c>{"custom_id", "method", "url", "body"}</c> line per request, one model per file, at most
/// 50,000 lines and 100 MB a file. <c>custom_id</c> is the call's cache key, so a result lands
/// exactly where the next run looks for it. A request already written in this export is written once.
/// </summary>
public sealed class BatchExportWriter : IDisposable
{
    public const int MaxLines = 50_000;
    public const long MaxBytes = 100L * 1024 * 1024;
    private readonly string _dir;
    private readonly object _gate = new();
    private readonly Dictionary<string, (StreamWriter Writer, string Name, int Lines, long Bytes, int Part)> _open = new(StringComparer.Ordinal);
    private readonly HashSet<string> _written = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _perFile = new(StringComparer.Ordinal);

    public BatchExportWriter(string dir)
    {
        _dir = Path.GetFullPath(dir);
        if (File.Exists(_dir)) throw new PersonaException($"--batch-export '{dir}' is a file; expected a folder for the batch request files.");
        Directory.CreateDirectory(_dir);
        foreach (var old in Directory.EnumerateFiles(_dir, "*.requests.jsonl")) File.Delete(old); // a new export replaces the previous stage's files
    }

    public string Directory_ => _dir;
    public long Requests { get { lock (_gate) return _written.Count; } }
    public IReadOnlyDictionary<string, int> Files => _perFile;

    /// <summary>Appends one request; returns the file it went to.</summary>
    public string Add(string role, string model, string customId, JsonElement body)
    {
        var line = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["custom_id"] = customId, ["method"] = "POST", ["url"] = "/v1/chat/completions", ["body"] = body,
        });
        var bytes = Encoding.UTF8.GetByteCount(line) + 1;
        lock (_gate)
        {
            var slot = role + "|" + model;
            _open.TryGetValue(slot, out var f);
            if (_written.Contains(customId)) return f.Name ?? "";
            if (f.Writer is null || f.Lines >= MaxLines || f.Bytes + bytes > MaxBytes)
            {
                f.Writer?.Dispose();
                var part = f.Writer is null ? 1 : f.Part + 1;
                var name = $"{Sanitize(role)}-{Sanitize(model)}-{part:000}.requests.jsonl";
                f = (new StreamWriter(Path.Combine(_dir, name), false, new UTF8Encoding(false)), name, 0, 0, part);
            }
            f.Writer.Write(line);
            f.Writer.Write('\n');
            f = (f.Writer, f.Name, f.Lines + 1, f.Bytes + bytes, f.Part);
            _open[slot] = f;
            _written.Add(customId);
            _perFile.AddOrUpdate(f.Name, 1, (_, n) => n + 1);
            return f.Name;
        }
    }

    private static string Sanitize(string s) => new(s.Select(c => char.IsLetterOrDigit(c) || c is '-' or '.' ? c : '_').ToArray());

    public void Dispose()
    {
        lock (_gate)
            foreach (var f in _open.Values) f.Writer.Dispose();
    }
}

/// <summary>
/// A provider that sends nothing: every call becomes a line of the role's batch file (the exact
/// body a server would get: model, messages, sampling parameters, response_format) and a
/// <see cref="DeferredCallException"/>. Needs no key and no network.
/// <para>
/// A request without a schema is the cache's own request, so its custom_id is the cache key and an
/// imported answer is a cache hit above. A schema request is the structured-output layer's (its
/// schema instruction added), and a repair it asks for is a second request: each is keyed by its own
/// messages and answered here from the imported results, so the structured-output layer checks an
/// imported answer and repairs it exactly as it does a direct one (the repair going out in the next round).
/// </para>
/// </summary>
public sealed class BatchExportChatClient(BatchExportWriter writer, RunStore store, string role, ModelSpec spec) : IChatClient
{
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var cacheKey = options?.AdditionalProperties is { } ap && ap.TryGetValue(LlmMetadata.RequestCacheKey, out var k) && k is string s ? s
            : throw new InvalidOperationException("A batch export needs the cache layer above it (no cache key on the request).");
        var key = cacheKey;
        if (options?.ResponseFormat is ChatResponseFormatJson { Schema: not null })
        {
            key = SchemaRequestKey(CacheKey.Compute(spec.Identity, list, options, includeSimulation: false).Key);
            if (store.Cache.TryGetResponse(key, out var imported))
                return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, imported.Content))
                {
                    ModelId = imported.ResponseModelId ?? spec.Name,
                    FinishReason = imported.FinishReason is { } f ? new ChatFinishReason(f) : null,
                    // The usage the server reported, as a direct call carries it (the pair checks compare token counts).
                    Usage = imported.TokensEstimated ? null : new UsageDetails { InputTokenCount = imported.PromptTokens, OutputTokenCount = imported.CompletionTokens, TotalTokenCount = imported.PromptTokens + imported.CompletionTokens },
                });
        }
        var file = writer.Add(role, spec.Name, key, Body(spec.Name, list, options));
        store.Batches.EnqueueBatchRequest(new BatchRequestRow(key, role, spec.Provider, spec.Name, file));
        throw new DeferredCallException(key, file);
    }

    /// <summary>
    /// A schema request's custom_id: its own key with a first character no cache key has (they are hex), 64 long like
    /// them, so an import tells it apart: its answer is the structured-output layer's to check, not yet an answer of the run.
    /// </summary>
    public static string SchemaRequestKey(string key) => "j" + key[1..];

    public static bool IsSchemaRequestKey(string key) => key.StartsWith('j');

    /// <summary>
    /// The chat-completions request body for these messages and options: the JSON the OpenAI client of a
    /// direct run sends (its schema made strict, max_completion_tokens, the schema's description), taken from that
    /// client with a transport that keeps the request instead of sending it. A body written by hand differed in all
    /// three, so a batch answer was an answer to another request than the direct run's.
    /// </summary>
    public static JsonElement Body(string model, IEnumerable<ChatMessage> messages, ChatOptions? o)
    {
        var capture = new CapturingHandler();
        var client = new OpenAI.Chat.ChatClient(model, new System.ClientModel.ApiKeyCredential("batch-export"), new OpenAI.OpenAIClientOptions
        {
            Endpoint = new Uri("http://batch-export.invalid/v1"),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
            Transport = new System.ClientModel.Primitives.HttpClientPipelineTransport(new HttpClient(capture)),
        }).AsIChatClient();
        client.GetResponseAsync(messages, o).GetAwaiter().GetResult();
        using var doc = JsonDocument.Parse(capture.Body ?? throw new InvalidOperationException("The OpenAI client sent no request body."));
        return doc.RootElement.Clone();
    }

    /// <summary>Keeps the request body and answers with an empty completion (the handler never blocks: the client completes synchronously).</summary>
    private sealed class CapturingHandler : HttpMessageHandler
    {
        public byte[]? Body { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return new HttpResponseMessage(System.Net.HttpStatusCode.OK)
            {
                Content = new StringContent("""{"id":"x","object":"chat.completion","created":0,"model":"x","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}""",
                    Encoding.UTF8, "application/json"),
            };
        }
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("Streaming is not used by the Persona runtime.");

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}

/// <summary>What an import did.</summary>
public sealed record BatchImportResult(long Imported, long AlreadyCached, long Errors, long Unknown, IReadOnlyDictionary<string, long> ErrorKinds);

/// <summary>
/// Reads batch results into the run's cache, joined on <c>custom_id</c> in any order: OpenAI's
/// envelope (<c>{"custom_id", "response": {"status_code", "body"}, "error": null | {code, message}}</c>,
/// expired requests as errors) and vLLM's (<c>error</c> as a string, <c>status_code</c> 400 with a
/// null body, or older versions with the completion directly in <c>response</c>). Errors are
/// counted and not cached, so the next export writes those requests again. Costs are estimated at
/// the price table's rates halved (the Batch API's discount).
/// </summary>
public static class BatchImport
{
    public static async Task<BatchImportResult> ImportAsync(RunStore store, IEnumerable<string> files, PriceTable? prices = null)
    {
        prices ??= PriceTable.LoadDefault();
        await store.FlushAsync().ConfigureAwait(false);
        long imported = 0, cached = 0, errors = 0, unknown = 0;
        var kinds = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            InputFile.NotAFolder(file, "--batch-import");
            if (!File.Exists(file)) throw new PersonaException($"--batch-import '{file}' does not exist.");
            var lineNo = 0;
            foreach (var line in TextLines.Read(file))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                JsonDocument doc;
                try { doc = JsonDocument.Parse(line); }
                catch (JsonException) { throw new PersonaException($"{file}:{lineNo}: not valid JSON; expected one batch result object per line."); }
                using (doc)
                {
                    var r = doc.RootElement;
                    if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("custom_id", out var cid) || cid.ValueKind != JsonValueKind.String)
                        throw new PersonaException($"{file}:{lineNo}: no \"custom_id\" string; expected an OpenAI Batch or vllm run-batch result line.");
                    var key = cid.GetString()!;
                    if (!store.Batches.TryGetBatchRequest(key, out var request)) { unknown++; continue; }
                    if (store.Cache.TryGetResponse(key, out _)) { cached++; continue; }
                    if (ErrorOf(r) is { } kind) { errors++; kinds[kind] = kinds.GetValueOrDefault(kind) + 1; continue; }
                    var body = BodyOf(r);
                    if (body is not { ValueKind: JsonValueKind.Object } b || !b.TryGetProperty("choices", out var choices) || choices.GetArrayLength() == 0)
                    {
                        errors++; kinds["no_choices"] = kinds.GetValueOrDefault("no_choices") + 1; continue;
                    }
                    var choice = choices[0];
                    var content = choice.TryGetProperty("message", out var msg) && msg.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
                    var finish = choice.TryGetProperty("finish_reason", out var fr) && fr.ValueKind == JsonValueKind.String ? fr.GetString() : null;
                    long pt = 0, ct = 0;
                    var estimated = true;
                    if (b.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
                    {
                        pt = u.TryGetProperty("prompt_tokens", out var p) && p.TryGetInt64(out var pv) ? pv : 0;
                        ct = u.TryGetProperty("completion_tokens", out var q) && q.TryGetInt64(out var qv) ? qv : 0;
                        estimated = pt == 0 && ct == 0;
                    }
                    if (estimated) ct = TokenCounter.Count(content);
                    var spec = new ModelSpec(request.Provider, request.Model);
                    var (cost, known) = prices.Estimate(spec, pt, ct);
                    var responseModel = b.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                    var now = DateTimeOffset.UtcNow;
                    store.Cache.EnqueueResponse(new StoredResponse(key, request.Provider, request.Model, responseModel, content, finish, pt, ct, estimated, cost / 2, known, false, now));
                    // A schema request's answer becomes the run's answer (and its call) when the structured-output layer accepts it.
                    if (!BatchExportChatClient.IsSchemaRequestKey(key))
                        store.Cache.EnqueueCall(new CallRecord(key, request.Provider, request.Model, "batch:" + Path.GetFileName(file), "{}", now, 0, pt, ct, estimated, cost / 2,
                            Cached: false, Attempts: 1, "ok", null, null, finish, false, request.Role));
                    imported++;
                }
            }
        }
        await store.FlushAsync().ConfigureAwait(false);
        return new BatchImportResult(imported, cached, errors, unknown, kinds);
    }

    private static string? ErrorOf(JsonElement r)
    {
        if (r.TryGetProperty("error", out var e))
        {
            if (e.ValueKind == JsonValueKind.String) return "error";
            if (e.ValueKind == JsonValueKind.Object) return e.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString() : "error";
        }
        if (r.TryGetProperty("response", out var resp) && resp.ValueKind == JsonValueKind.Object && resp.TryGetProperty("status_code", out var sc)
            && sc.TryGetInt32(out var status) && status != 200)
            return "http_" + status.ToString(CultureInfo.InvariantCulture);
        return null;
    }

    private static JsonElement? BodyOf(JsonElement r)
    {
        if (!r.TryGetProperty("response", out var resp) || resp.ValueKind != JsonValueKind.Object) return null;
        if (resp.TryGetProperty("body", out var body)) return body.ValueKind == JsonValueKind.Object ? body : null;
        return resp.TryGetProperty("choices", out _) ? resp : null; // older vLLM: the completion itself
    }
}
