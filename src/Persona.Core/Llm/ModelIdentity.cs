using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// Who answers a role's calls: the parsed model spec, the identity that goes into cache keys and
/// manifests (the offline simulator adds its seed, noise and world hash), whether answers are
/// simulated, and the endpoints (never a key). Middleware finds it with
/// <c>inner.GetService&lt;ModelIdentity&gt;()</c>, the way Microsoft.Extensions.AI exposes
/// <see cref="ChatClientMetadata"/>, instead of reading fields of a concrete class.
/// </summary>
public sealed record ModelIdentity(string Role, ModelSpec Spec, string Identity, bool Simulated, IReadOnlyList<string> Endpoints)
{
    public override string ToString() => Simulated ? Identity + " (simulated)" : Identity;
}

/// <summary>
/// The bottom of every role's pipeline: forwards calls to the provider and answers
/// <see cref="IChatClient.GetService"/> for the role's <see cref="ModelIdentity"/> and
/// <see cref="ChatClientMetadata"/>.
/// </summary>
public sealed class IdentifiedChatClient(IChatClient inner, ModelIdentity identity) : DelegatingChatClient(inner)
{
    private readonly ChatClientMetadata _metadata = new(identity.Spec.Provider,
        Uri.TryCreate(identity.Endpoints.FirstOrDefault(), UriKind.Absolute, out var u) ? u : null, identity.Spec.Name);

    public ModelIdentity Identity { get; } = identity;

    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        if (serviceKey is null && serviceType == typeof(ModelIdentity)) return Identity;
        if (serviceKey is null && serviceType == typeof(ChatClientMetadata)) return _metadata;
        return base.GetService(serviceType, serviceKey);
    }
}

/// <summary>Per-role running totals (paid calls, cache hits, failures, tokens, cost) reported in manifests and summaries.</summary>
public sealed class RoleUsage
{
    private readonly object _gate = new();
    private long _paid, _cached, _failed, _prompt, _completion;
    private double _cost;

    public void Paid(long prompt, long completion, double cost)
    {
        lock (_gate) { _paid++; _prompt += prompt; _completion += completion; _cost += cost; }
    }

    public void CacheHit() => Interlocked.Increment(ref _cached);
    public void Failed() => Interlocked.Increment(ref _failed);

    public RoleUsageSnapshot Snapshot()
    {
        lock (_gate) return new RoleUsageSnapshot(_paid, Interlocked.Read(ref _cached), Interlocked.Read(ref _failed), _prompt, _completion, _cost);
    }
}

public sealed record RoleUsageSnapshot(long PaidCalls, long CacheHits, long FailedCalls, long PromptTokens, long CompletionTokens, double CostUsd);
