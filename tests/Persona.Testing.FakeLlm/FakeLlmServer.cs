using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Persona.Testing.FakeLlm;

/// <summary>A chat-completions request as the fake server saw it.</summary>
public sealed record FakeRequest(
    long Sequence,
    string Model,
    IReadOnlyList<(string Role, string Content)> Messages,
    double? Temperature,
    int? MaxTokens,
    string? ResponseFormat,
    int CallNumberForContent)
{
    /// <summary>The last user message: what calls are counted by.</summary>
    public string LastUserContent => Messages.LastOrDefault(m => m.Role == "user").Content ?? "";

    /// <summary>The request's top_logprobs when it asked for log-probabilities (logprobs: true), else null.</summary>
    public int? TopLogprobs { get; init; }
}

/// <summary>A fault the server injects instead of (or before) a normal answer.</summary>
public abstract record FakeFault
{
    /// <summary>429 with optional Retry-After (seconds), retry-after-ms, or Retry-After as an HTTP date.</summary>
    public sealed record RateLimit(int? RetryAfterSeconds = null, int? RetryAfterMs = null, DateTimeOffset? RetryAt = null) : FakeFault;
    /// <summary>An HTTP error status with a JSON error body (500, 503, 401, 400...).</summary>
    public sealed record Status(int Code) : FakeFault;
    /// <summary>Waits this long, then answers normally (if the client is still there).</summary>
    public sealed record Slow(TimeSpan Delay) : FakeFault;
    /// <summary>Aborts the connection without an answer.</summary>
    public sealed record Drop : FakeFault;
    /// <summary>200 with a body that is not valid JSON.</summary>
    public sealed record MalformedJson : FakeFault;
    /// <summary>200 with empty content.</summary>
    public sealed record EmptyContent : FakeFault;
    /// <summary>200 with the answer cut short and finish_reason "length".</summary>
    public sealed record Truncated : FakeFault;
    /// <summary>200 with this exact content (e.g. prose around JSON, or invalid JSON for a schema).</summary>
    public sealed record Content(string Text) : FakeFault;
    /// <summary>
    /// An authentication or permission error (401, 403) whose body echoes the bearer key it received, as
    /// some servers and proxies do ("Incorrect API key provided: sk-...").
    /// </summary>
    public sealed record RejectKey(int Code = 401) : FakeFault;
    /// <summary>Never answers: holds the request until the client gives up.</summary>
    public sealed record Hang : FakeFault;
}

/// <summary>
/// An in-process OpenAI-compatible server (Kestrel on 127.0.0.1, random port) for tests and
/// benchmarks: POST /v1/chat/completions and GET /v1/models. By default it echoes the last user
/// message. Faults are injected from a schedule (<see cref="Enqueue"/>: the next requests, in
/// order) or a rule (<see cref="FaultRule"/>, per request). It counts requests received and
/// answers delivered ("paid"), per last-user-message content.
/// </summary>
public sealed class FakeLlmServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<FakeFault> _schedule = new();
    private readonly ConcurrentDictionary<string, int> _received = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _paid = new(StringComparer.Ordinal);
    private long _sequence, _totalReceived, _totalPaid;

    private FakeLlmServer(WebApplication app) => _app = app;

    /// <summary>e.g. http://127.0.0.1:41234/v1</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>Fixed delay before every answer (benchmarks).</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Whether answers carry a usage block (false: the client must count tokens itself).</summary>
    public bool ReportUsage { get; set; } = true;

    /// <summary>Produces the answer text; default "echo: {last user message}".</summary>
    public Func<FakeRequest, string> Responder { get; set; } = r => "echo: " + r.LastUserContent;

    /// <summary>
    /// The first token's top candidates (token, log-probability) returned when a request asks for logprobs; by default the
    /// answer's first character, certain. Null candidates (or <see cref="ReturnLogprobs"/> false) return none, as a server without them does.
    /// </summary>
    public Func<FakeRequest, string, IReadOnlyList<(string Token, double Logprob)>?> LogprobResponder { get; set; } =
        (_, content) => content.Length == 0 ? [] : [(content[..1], 0.0)];

    /// <summary>False: a server that ignores logprobs (as some do) and returns none.</summary>
    public bool ReturnLogprobs { get; set; } = true;

    /// <summary>Per-request fault decision, consulted when the schedule is empty. Null: no fault.</summary>
    public Func<FakeRequest, FakeFault?>? FaultRule { get; set; }

    /// <summary>Keep every request in <see cref="Requests"/> (off for benchmarks).</summary>
    public bool RecordRequests { get; set; } = true;

    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    public long TotalReceived => Interlocked.Read(ref _totalReceived);
    /// <summary>Answers delivered with status 200 and content (what a hosted API would bill).</summary>
    public long TotalPaid => Interlocked.Read(ref _totalPaid);
    public int ReceivedFor(string lastUserContent) => _received.TryGetValue(lastUserContent, out var n) ? n : 0;
    public int PaidFor(string lastUserContent) => _paid.TryGetValue(lastUserContent, out var n) ? n : 0;
    public IReadOnlyDictionary<string, int> PaidByContent => _paid;

    /// <summary>Faults for the next requests, in arrival order.</summary>
    public void Enqueue(params FakeFault[] faults)
    {
        foreach (var f in faults) _schedule.Enqueue(f);
    }

    public static async Task<FakeLlmServer> StartAsync(CancellationToken ct = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MaxConcurrentConnections = null;
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        var server = new FakeLlmServer(app);
        app.MapGet("/v1/models", async ctx =>
        {
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync("{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\",\"owned_by\":\"persona-tests\"}]}");
        });
        app.MapPost("/v1/chat/completions", server.HandleAsync);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = address.Replace("[::]", "127.0.0.1").TrimEnd('/') + "/v1";
        return server;
    }

    /// <summary>A base URL where nothing listens (a port bound and released).</summary>
    public static string UnreachableBaseUrl()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return $"http://127.0.0.1:{port}/v1";
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        FakeRequest req;
        using (var doc = await JsonDocument.ParseAsync(ctx.Request.Body, default, ctx.RequestAborted))
        {
            var root = doc.RootElement;
            var messages = new List<(string, string)>();
            foreach (var m in root.GetProperty("messages").EnumerateArray())
            {
                var body = m.GetProperty("content");
                var text = body.ValueKind == JsonValueKind.String ? body.GetString()!
                    : string.Concat(body.EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : ""));
                messages.Add((m.GetProperty("role").GetString()!, text));
            }
            double? temperature = root.TryGetProperty("temperature", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetDouble() : null;
            int? maxTokens = root.TryGetProperty("max_completion_tokens", out var mt) && mt.ValueKind == JsonValueKind.Number ? mt.GetInt32()
                : root.TryGetProperty("max_tokens", out var mt2) && mt2.ValueKind == JsonValueKind.Number ? mt2.GetInt32() : null;
            var format = root.TryGetProperty("response_format", out var rf) ? rf.GetRawText() : null;
            var last = messages.LastOrDefault(m => m.Item1 == "user").Item2 ?? "";
            var n = _received.AddOrUpdate(last, 1, (_, v) => v + 1);
            var wantsLogprobs = root.TryGetProperty("logprobs", out var lp) && lp.ValueKind == JsonValueKind.True;
            req = new FakeRequest(Interlocked.Increment(ref _sequence), root.TryGetProperty("model", out var mo) ? mo.GetString() ?? "" : "",
                messages, temperature, maxTokens, format, n)
            {
                TopLogprobs = !wantsLogprobs ? null : root.TryGetProperty("top_logprobs", out var tl) && tl.ValueKind == JsonValueKind.Number ? tl.GetInt32() : 0,
            };
        }
        Interlocked.Increment(ref _totalReceived);
        if (RecordRequests) Requests.Enqueue(req);

        var fault = _schedule.TryDequeue(out var scheduled) ? scheduled : FaultRule?.Invoke(req);
        if (Latency > TimeSpan.Zero) await Task.Delay(Latency, ctx.RequestAborted);
        string content = Responder(req);
        var finish = "stop";
        switch (fault)
        {
            case FakeFault.RateLimit rl:
                if (rl.RetryAfterSeconds is { } s) ctx.Response.Headers["Retry-After"] = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (rl.RetryAfterMs is { } ms) ctx.Response.Headers["retry-after-ms"] = ms.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (rl.RetryAt is { } at) ctx.Response.Headers["Retry-After"] = at.ToString("r");
                await WriteError(ctx, 429, "rate_limit_exceeded", "Rate limit reached (injected).");
                return;
            case FakeFault.RejectKey rk:
                var auth = ctx.Request.Headers.Authorization.ToString();
                var key = auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth[7..] : auth;
                await WriteError(ctx, rk.Code, rk.Code == 401 ? "invalid_api_key" : "permission_denied",
                    rk.Code == 401 ? $"Incorrect API key provided: {key}. Authorization: {auth}" : $"The key {key} may not use this model.");
                return;
            case FakeFault.Hang:
                try { await Task.Delay(Timeout.InfiniteTimeSpan, ctx.RequestAborted); }
                catch (OperationCanceledException) { }
                return;
            case FakeFault.Status st:
                await WriteError(ctx, st.Code, "server_error", $"Injected HTTP {st.Code}.");
                return;
            case FakeFault.Slow slow:
                try { await Task.Delay(slow.Delay, ctx.RequestAborted); }
                catch (OperationCanceledException) { return; }
                break;
            case FakeFault.Drop:
                ctx.Abort();
                return;
            case FakeFault.MalformedJson:
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync("{\"id\":\"chatcmpl-broken\",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"he");
                return;
            case FakeFault.EmptyContent:
                content = "";
                break;
            case FakeFault.Truncated:
                content = content.Length > 8 ? content[..(content.Length / 2)] : content;
                finish = "length";
                break;
            case FakeFault.Content c:
                content = c.Text;
                break;
        }
        if (ctx.RequestAborted.IsCancellationRequested) return;
        await WriteCompletion(ctx, req, content, finish);
        if (content.Length > 0)
        {
            Interlocked.Increment(ref _totalPaid);
            _paid.AddOrUpdate(req.LastUserContent, 1, (_, v) => v + 1);
        }
    }

    private async Task WriteCompletion(HttpContext ctx, FakeRequest req, string content, string finish)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512 + content.Length * 2);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", "chatcmpl-" + req.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", 1_700_000_000);
            w.WriteString("model", req.Model);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", content);
            w.WriteEndObject();
            if (req.TopLogprobs is { } top && ReturnLogprobs && LogprobResponder(req, content) is { Count: > 0 } candidates)
            {
                // OpenAI's shape: choices[].logprobs.content[] per output token, each with its top_logprobs.
                w.WriteStartObject("logprobs");
                w.WriteStartArray("content");
                w.WriteStartObject();
                w.WriteString("token", candidates[0].Token);
                w.WriteNumber("logprob", candidates[0].Logprob);
                w.WriteNull("bytes");
                w.WriteStartArray("top_logprobs");
                foreach (var (token, logprob) in candidates.Take(Math.Max(1, top)))
                {
                    w.WriteStartObject();
                    w.WriteString("token", token);
                    w.WriteNumber("logprob", logprob);
                    w.WriteNull("bytes");
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteNull("refusal");
                w.WriteEndObject();
            }
            w.WriteString("finish_reason", finish);
            w.WriteEndObject();
            w.WriteEndArray();
            if (ReportUsage)
            {
                var prompt = req.Messages.Sum(m => Words(m.Content)) + 3 * req.Messages.Count;
                var completion = Words(content);
                w.WriteStartObject("usage");
                w.WriteNumber("prompt_tokens", prompt);
                w.WriteNumber("completion_tokens", completion);
                w.WriteNumber("total_tokens", prompt + completion);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        ctx.Response.ContentLength = buffer.WrittenCount;
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory);
    }

    private static int Words(string s) => s.Length == 0 ? 0 : s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    private static async Task WriteError(HttpContext ctx, int status, string code, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync($"{{\"error\":{{\"message\":\"{message}\",\"type\":\"{code}\",\"code\":\"{code}\"}}}}");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
