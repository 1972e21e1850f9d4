using Microsoft.Extensions.AI;
using Persona.Store;

namespace Persona.Llm;

/// <summary>
/// The runtime's middleware as <see cref="ChatClientBuilder"/> extensions, in the style of
/// Microsoft.Extensions.AI's own <c>UseLogging</c>/<c>UseDistributedCache</c>. Each layer finds
/// the model it serves with <c>GetService&lt;ModelIdentity&gt;()</c> on the layers below.
/// </summary>
public static class LlmPipelineBuilderExtensions
{
    /// <summary>The content-addressed cache and provenance log in the run store (outermost: a hit costs nothing).</summary>
    public static ChatClientBuilder UsePersistentCache(this ChatClientBuilder builder, RunStore store, bool refresh = false, RoleUsage? usage = null)
        => builder.Use(inner => new PersistentCacheChatClient(inner, store, refresh, usage));

    /// <summary>JSON-schema answers: extraction, validation, one repair request.</summary>
    public static ChatClientBuilder UseStructuredOutput(this ChatClientBuilder builder, bool nativeSchema)
        => builder.Use(inner => new StructuredOutputChatClient(inner, nativeSchema));

    /// <summary>The shared budget (reserved before a call leaves), token and cost accounting, per-role totals.</summary>
    public static ChatClientBuilder UseAccounting(this ChatClientBuilder builder, Budget budget, PriceTable prices, RoleUsage? usage = null)
        => builder.Use(inner => new AccountingChatClient(inner, budget, prices, usage));
}
