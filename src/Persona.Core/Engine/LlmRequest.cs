using Microsoft.Extensions.AI;

namespace Persona.Engine;

/// <summary>
/// One call a task's solver makes, as it makes it (role, messages, options): what a task exposes of
/// its persona-free calls, so a sharded run's first step can pay them once into the shared cache and
/// the shards, asking the same, only read them.
/// </summary>
public sealed record LlmRequest(string Role, IList<ChatMessage> Messages, ChatOptions Options)
{
    /// <summary>Sends the requests through the runtime's role clients, <paramref name="concurrency"/> at a time; returns how many were sent.</summary>
    /// <remarks>A call that fails for good is left to the shard that needs it (it asks again, as an unsharded run would); a stop (--max-calls, Ctrl-C) stops this too.</remarks>
    public static async Task<int> SendAsync(IReadOnlyList<LlmRequest> requests, Persona.Llm.LlmRuntime runtime, int concurrency, CancellationToken ct)
    {
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, concurrency), CancellationToken = ct }, async (r, token) =>
        {
            try { await runtime.Role(r.Role).Client.GetResponseAsync(r.Messages, r.Options, token).ConfigureAwait(false); }
            catch (Persona.Llm.LlmCallException) { }
        }).ConfigureAwait(false);
        return requests.Count;
    }
}
