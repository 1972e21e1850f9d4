using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.AI;
using Persona.Store;

namespace Persona.Llm;

/// <summary>
/// Outermost middleware: the content-addressed cache in the run's store, and the provenance log.
/// A hit returns the stored answer without touching anything below (so it costs nothing and never
/// counts against a budget). A miss is forwarded once: identical requests in flight at the same
/// time share that one call. Only completed answers are stored; failures are logged with their raw
/// text and stay uncached, so a rerun tries them again. With <c>refresh</c>, reads are skipped and
/// fresh answers overwrite the old ones.
/// </summary>
public sealed class PersistentCacheChatClient : DelegatingChatClient
{
    private readonly RunStore _store;
    private readonly ModelSpec _model;
    private readonly bool _refresh;
    private readonly bool _simulated;
    private readonly string _role;
    private readonly RoleUsage? _usage;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<ChatResponse>> _inFlight = new(StringComparer.Ordinal);

    /// <summary>The model is the <see cref="Llm.ModelIdentity"/> the layers below expose through GetService.</summary>
    public PersistentCacheChatClient(IChatClient inner, RunStore store, bool refresh, RoleUsage? usage = null)
        : base(inner)
    {
        var identity = inner.GetService<ModelIdentity>()
            ?? throw new ArgumentException("The pipeline below the cache exposes no ModelIdentity (wrap the provider in IdentifiedChatClient).", nameof(inner));
        _store = store;
        _model = identity.Spec;
        _refresh = refresh;
        _simulated = identity.Simulated;
        _role = identity.Role;
        _usage = usage;
        ModelIdentity = identity.Identity;
    }

    /// <summary>What identifies the model in cache keys (e.g. the offline simulator adds its seed, noise and world).</summary>
    public string ModelIdentity { get; }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var (key, parameters) = Llm.CacheKey.Compute(ModelIdentity, list, options, includeSimulation: _simulated);
        var started = DateTimeOffset.UtcNow;
        var sw = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!_refresh && _store.Cache.TryGetResponse(key, out var hit))
            {
                _store.Cache.EnqueueCall(new CallRecord(key, _model.Provider, _model.Name, null, parameters, started, sw.Elapsed.TotalMilliseconds,
                    hit.PromptTokens, hit.CompletionTokens, hit.TokensEstimated, hit.CostUsd, Cached: true, Attempts: 0, "ok", null, null, hit.FinishReason, hit.Simulated, _role));
                _usage?.CacheHit();
                return FromStored(hit, cached: true);
            }
            var mine = new TaskCompletionSource<ChatResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            var current = _inFlight.GetOrAdd(key, mine);
            if (!ReferenceEquals(current, mine))
            {
                try
                {
                    var shared = await current.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                    // The twin was paid once; this caller gets it as a cache hit.
                    _store.Cache.EnqueueCall(new CallRecord(key, _model.Provider, _model.Name, null, parameters, started, sw.Elapsed.TotalMilliseconds,
                        shared.Usage?.InputTokenCount ?? 0, shared.Usage?.OutputTokenCount ?? 0, false, 0, Cached: true, Attempts: 0, "ok", null, null,
                        shared.FinishReason?.Value, _simulated, _role));
                    _usage?.CacheHit();
                    return Annotate(Clone(shared), key, cached: true);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    continue; // the leader was cancelled, not us: look again and lead if needed
                }
            }
            try
            {
                // A twin may have finished between our lookup and our claim (it stores its answer
                // before it leaves the in-flight table): look once more rather than pay again.
                if (!_refresh && _store.Cache.TryGetResponse(key, out var late))
                {
                    _store.Cache.EnqueueCall(new CallRecord(key, _model.Provider, _model.Name, null, parameters, started, sw.Elapsed.TotalMilliseconds,
                        late.PromptTokens, late.CompletionTokens, late.TokensEstimated, late.CostUsd, Cached: true, Attempts: 0, "ok", null, null, late.FinishReason, late.Simulated, _role));
                    _usage?.CacheHit();
                    var hitResponse = FromStored(late, cached: true);
                    mine.TrySetResult(hitResponse);
                    return Clone(hitResponse);
                }
                var forwarded = (options?.Clone() ?? new ChatOptions()).WithKey(key);
                var response = await ForwardAsync(list, forwarded, key, parameters, started, sw, cancellationToken).ConfigureAwait(false);
                mine.TrySetResult(response);
                return Annotate(Clone(response), key, cached: false);
            }
            catch (OperationCanceledException oce)
            {
                mine.TrySetCanceled(oce.CancellationToken);
                throw;
            }
            catch (Exception ex)
            {
                mine.TrySetException(ex);
                throw;
            }
            finally
            {
                _inFlight.TryRemove(new KeyValuePair<string, TaskCompletionSource<ChatResponse>>(key, mine));
            }
        }
    }

    private async Task<ChatResponse> ForwardAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, string key, string parameters,
        DateTimeOffset started, Stopwatch sw, CancellationToken cancellationToken)
    {
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch (LlmCallException ex)
        {
            _store.Cache.EnqueueCall(new CallRecord(key, _model.Provider, _model.Name, null, parameters, started, sw.Elapsed.TotalMilliseconds,
                ex.Usage?.InputTokenCount ?? 0, ex.Usage?.OutputTokenCount ?? 0, false, 0, Cached: false, ex.Attempts, "error", ex.Message, ex.RawText, null, _simulated, _role));
            _usage?.Failed();
            throw;
        }
        var info = response.CallInfo();
        var stored = new StoredResponse(
            key, _model.Provider, _model.Name, response.ModelId, response.Text, response.FinishReason?.Value,
            response.Usage?.InputTokenCount ?? 0, response.Usage?.OutputTokenCount ?? 0,
            info.TokensEstimated, info.CostUsd, info.PriceKnown, _simulated || info.Simulated, DateTimeOffset.UtcNow);
        _store.Cache.EnqueueResponse(stored);
        _store.Cache.EnqueueCall(new CallRecord(key, _model.Provider, _model.Name, info.Endpoint, parameters, started,
            sw.Elapsed.TotalMilliseconds, stored.PromptTokens, stored.CompletionTokens, stored.TokensEstimated, stored.CostUsd, Cached: false,
            info.Attempts, "ok", null, null, stored.FinishReason, stored.Simulated, _role));
        return response;
    }

    internal static ChatResponse FromStored(StoredResponse s, bool cached)
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, s.Content))
        {
            ModelId = s.ResponseModelId,
            FinishReason = s.FinishReason is null ? null : new ChatFinishReason(s.FinishReason),
            Usage = new UsageDetails { InputTokenCount = s.PromptTokens, OutputTokenCount = s.CompletionTokens, TotalTokenCount = s.PromptTokens + s.CompletionTokens },
            AdditionalProperties = new AdditionalPropertiesDictionary
            {
                [LlmMetadata.Cached] = cached,
                [LlmMetadata.CacheKey] = s.Key,
                [LlmMetadata.CostUsd] = cached ? 0.0 : s.CostUsd,
                [LlmMetadata.TokensEstimated] = s.TokensEstimated,
                [LlmMetadata.PriceKnown] = s.PriceKnown,
            },
        };
        if (s.Simulated) response.AdditionalProperties[LlmMetadata.Simulated] = true;
        return response;
    }

    private static ChatResponse Clone(ChatResponse r)
    {
        // Callers may mutate what they get; the shared in-flight result must stay intact.
        return new ChatResponse([.. r.Messages])
        {
            ModelId = r.ModelId,
            FinishReason = r.FinishReason,
            Usage = r.Usage,
            ResponseId = r.ResponseId,
            CreatedAt = r.CreatedAt,
            AdditionalProperties = r.AdditionalProperties is null ? new() : new AdditionalPropertiesDictionary(r.AdditionalProperties),
        };
    }

    private ChatResponse Annotate(ChatResponse r, string key, bool cached)
    {
        var p = r.AdditionalProperties ??= new();
        p[LlmMetadata.Cached] = cached;
        p[LlmMetadata.CacheKey] = key;
        if (cached) p[LlmMetadata.CostUsd] = 0.0;
        if (_simulated) p[LlmMetadata.Simulated] = true;
        return r;
    }
}

internal static class RequestKeyExtensions
{
    public static ChatOptions WithKey(this ChatOptions options, string key)
    {
        options.AdditionalProperties = options.AdditionalProperties is null ? new() : new AdditionalPropertiesDictionary(options.AdditionalProperties);
        options.AdditionalProperties[LlmMetadata.RequestCacheKey] = key;
        return options;
    }
}
