using System.ClientModel;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// Bottom of the pipeline: makes ONE attempt of a call on one endpoint of the fleet. It picks the
/// healthy endpoint with the fewest calls in flight, waits for a slot under that endpoint's
/// adaptive limit, applies the per-attempt timeout, and turns every way an attempt can fail into
/// either a <see cref="TransientLlmException"/> (worth retrying, with the server's Retry-After) or
/// an <see cref="LlmCallException"/> (not). Endpoint health (backoff, AIMD, breaker) is updated
/// here because only here is it known which endpoint answered. When every endpoint's breaker is
/// open the run is over: <see cref="CircuitOpenException"/>, latched so the rest stop quickly.
/// </summary>
public sealed class EndpointPoolChatClient : IChatClient
{
    private readonly IReadOnlyList<LlmEndpoint> _endpoints;
    private readonly ResilienceOptions _options;
    private readonly TimeProvider _time;
    private readonly Lazy<Task> _preflight;
    private volatile string? _circuitOpen;
    private volatile ApiKeyRejectedException? _keyRejected;

    /// <summary>Where the key came from, for the message when a server refuses it (e.g. "OPENAI_API_KEY (set)").</summary>
    public string KeySource { get; init; } = "OPENAI_API_KEY";
    private int _roundRobin;
    private long _callIds;
    private volatile string? _notice;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, long> _inFlightSince = new();

    /// <summary>Calls on the wire now, the longest wait among them, and the last capped Retry-After.</summary>
    public WaitState Waiting()
    {
        var now = Stopwatch.GetTimestamp();
        int n = 0;
        long oldest = now;
        foreach (var since in _inFlightSince.Values)
        {
            n++;
            if (since < oldest) oldest = since;
        }
        return new WaitState(n, Stopwatch.GetElapsedTime(oldest, now), _notice);
    }

    public EndpointPoolChatClient(IReadOnlyList<LlmEndpoint> endpoints, ResilienceOptions options, TimeProvider? time = null)
    {
        if (endpoints.Count == 0) throw new ArgumentException("At least one endpoint is needed.", nameof(endpoints));
        _endpoints = endpoints;
        _options = options;
        _time = time ?? TimeProvider.System;
        _preflight = new Lazy<Task>(PreflightAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public IReadOnlyList<LlmEndpoint> Endpoints => _endpoints;

    /// <summary>Checks, once, that some endpoint answers at all; unreachable ones start tripped.</summary>
    public Task EnsureReachableAsync(CancellationToken ct) => _preflight.Value.WaitAsync(ct);

    private async Task PreflightAsync()
    {
        var probes = _endpoints.Where(e => e.Probe is not null).ToList();
        if (probes.Count == 0) return;
        using var cts = new CancellationTokenSource(_options.PreflightTimeout);
        var results = await Task.WhenAll(probes.Select(async e =>
        {
            try { return (e, Error: await e.Probe!(cts.Token).ConfigureAwait(false)); }
            catch (Exception ex) { return (e, Error: (string?)ex.Message); }
        })).ConfigureAwait(false);
        var bad = results.Where(r => r.Error is not null).ToList();
        if (bad.Count == results.Length && probes.Count == _endpoints.Count)
            throw new PersonaException("No model server reachable: " + string.Join("; ", bad.Select(b => $"{b.e.Name}: {b.Error}")) +
                ". Check --base-url and that the server is running; nothing was sent.");
        var now = _time.GetUtcNow();
        foreach (var b in bad) b.e.MarkDown(now, _options);
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        await EnsureReachableAsync(cancellationToken).ConfigureAwait(false);
        options = LlmMetadata.StripRequestKeys(options);
        var endpoint = await SelectAsync(cancellationToken).ConfigureAwait(false);
        await endpoint.Limiter.AcquireAsync(cancellationToken).ConfigureAwait(false);
        var sw = Stopwatch.StartNew();
        ChatResponse response;
        var callId = Interlocked.Increment(ref _callIds);
        _inFlightSince[callId] = Stopwatch.GetTimestamp();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.Timeout);
            try
            {
                response = await endpoint.Client.GetResponseAsync(messages, options, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex) when (ex is not LlmCallException and not RunStoppedException and not PersonaException)
            {
                throw Classify(endpoint, ex, timeout.IsCancellationRequested);
            }
        }
        finally
        {
            _inFlightSince.TryRemove(callId, out _);
            endpoint.Limiter.Release();
        }

        if (string.IsNullOrEmpty(response.Text) && response.FinishReason != ChatFinishReason.Length)
        {
            // The server works (no health penalty) but said nothing; another attempt usually does.
            endpoint.OnSuccess();
            throw new TransientLlmException("empty", $"{endpoint.Name} returned an empty answer (finish_reason {response.FinishReason?.Value ?? "none"})") { Endpoint = endpoint.Name };
        }
        endpoint.OnSuccess();
        var props = response.AdditionalProperties ??= new();
        props[LlmMetadata.Endpoint] = endpoint.Name;
        props[LlmMetadata.LatencyMs] = sw.Elapsed.TotalMilliseconds;
        return response;
    }

    private Exception Classify(LlmEndpoint endpoint, Exception ex, bool timedOut)
    {
        var now = _time.GetUtcNow();
        if (ex is OperationCanceledException && timedOut)
        {
            endpoint.OnFailure(now, null, _options);
            return new TransientLlmException("timeout", $"{endpoint.Name} did not answer within {_options.Timeout.TotalSeconds:0.###} s", null, ex) { Endpoint = endpoint.Name };
        }
        if (ex is ClientResultException cre && cre.Status != 0)
        {
            var raw = cre.GetRawResponse();
            string? ms = null, ra = null;
            raw?.Headers.TryGetValue("retry-after-ms", out ms);
            raw?.Headers.TryGetValue("Retry-After", out ra);
            var wait = RetryAfter.Parse(ms, ra, now);
            if (wait > _options.MaxRetryAfter)
            {
                _notice = $"{endpoint.Name} asked to wait {WaitState.Human(wait.Value)} (Retry-After); capped at {WaitState.Human(_options.MaxRetryAfter)}";
                wait = _options.MaxRetryAfter;
            }
            var body = SecretScrubber.Scrub(Shorten(raw?.Content?.ToString()));
            switch (cre.Status)
            {
                case 429:
                    endpoint.OnRateLimited(now, wait ?? _options.BackoffBase);
                    return new TransientLlmException("rate_limited", $"{endpoint.Name} answered 429 Too Many Requests{(wait is null ? "" : $" (retry after {wait.Value.TotalMilliseconds:0} ms)")}", wait, ex) { Endpoint = endpoint.Name };
                case 408 or >= 500:
                    endpoint.OnFailure(now, wait, _options);
                    return new TransientLlmException("server_error", $"{endpoint.Name} answered HTTP {cre.Status}: {body}", wait, ex) { Endpoint = endpoint.Name };
                case 401 or 403:
                    // Every later call would be refused the same way: end the run now instead of retrying into an "outage".
                    var rejected = new ApiKeyRejectedException(
                        $"{endpoint.Name} refused the API key (HTTP {cre.Status} {(cre.Status == 401 ? "Unauthorized" : "Forbidden")}: {body}). " +
                        $"The key comes from {KeySource}; {(cre.Status == 401 ? "check that it is valid for this server" : "check that it may use this model")}, " +
                        "or unset it for a local server that needs none. No more calls were sent; completed ones are saved.", ex);
                    _keyRejected ??= rejected;
                    return rejected;
                case 404:
                    // Wrong model or URL: every call will fail the same way, so let the breaker see it.
                    endpoint.OnFailure(now, null, _options);
                    return new LlmCallException($"{endpoint.Name} answered HTTP {cre.Status}: {body}", body, inner: ex);
                default:
                    return new LlmCallException($"{endpoint.Name} rejected the request with HTTP {cre.Status}: {body}", body, inner: ex);
            }
        }
        if (IsConnectionFailure(ex))
        {
            endpoint.OnFailure(now, null, _options);
            return new TransientLlmException("connection", $"{endpoint.Name}: connection failed or dropped ({Innermost(ex).Message})", null, ex) { Endpoint = endpoint.Name };
        }
        // Anything else thrown while reading the answer: a malformed or unexpected body.
        endpoint.OnFailure(now, null, _options);
        return new TransientLlmException("bad_response", $"{endpoint.Name} sent an unreadable answer ({SecretScrubber.Scrub(Shorten(ex.Message))})", null, ex) { Endpoint = endpoint.Name };
    }

    private static bool IsConnectionFailure(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
            if (e is HttpRequestException or IOException or SocketException) return true;
        return false;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null) ex = ex.InnerException;
        return ex;
    }

    private static string Shorten(string? s) => s is null ? "" : s.Length <= 300 ? s : s[..297] + "...";

    private async ValueTask<LlmEndpoint> SelectAsync(CancellationToken ct)
    {
        while (true)
        {
            if (_keyRejected is { } refused) throw refused;
            if (_circuitOpen is { } why) throw new CircuitOpenException(why);
            var now = _time.GetUtcNow();
            LlmEndpoint? best = null;
            var earliest = DateTimeOffset.MaxValue;
            var allDown = true;
            var start = (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)_endpoints.Count);
            for (var k = 0; k < _endpoints.Count; k++)
            {
                var e = _endpoints[(start + k) % _endpoints.Count];
                var (down, probeDue, availableAt) = e.State(now);
                if (down)
                {
                    if (probeDue && e.TryClaimProbe(now, _options)) return e;
                    continue;
                }
                allDown = false;
                if (availableAt > now)
                {
                    if (availableAt < earliest) earliest = availableAt;
                    continue;
                }
                if (best is null || e.Limiter.InFlight < best.Limiter.InFlight) best = e;
            }
            if (best is not null) return best;
            if (allDown)
            {
                var reason = "Every endpoint failed repeatedly (" + string.Join(", ", _endpoints.Select(e => e.Name)) +
                             "): circuit open. Completed calls are saved; rerun when the server is back to resume.";
                _circuitOpen = reason;
                throw new CircuitOpenException(reason);
            }
            var wait = earliest - now;
            if (wait > TimeSpan.FromSeconds(1)) wait = TimeSpan.FromSeconds(1); // re-check health while backing off
            if (wait < TimeSpan.FromMilliseconds(1)) wait = TimeSpan.FromMilliseconds(1);
            await Task.Delay(wait, _time, ct).ConfigureAwait(false);
        }
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("Streaming is not used by the Persona runtime.");

    public object? GetService(Type serviceType, object? serviceKey = null)
        => serviceType.IsInstanceOfType(this) ? this : _endpoints[0].Client.GetService(serviceType, serviceKey);

    public void Dispose()
    {
        foreach (var e in _endpoints) e.Dispose();
    }
}
