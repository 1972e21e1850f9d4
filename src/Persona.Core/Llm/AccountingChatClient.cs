using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// Counts every request that may be paid for: reserves it against the budget before it leaves
/// (throwing <see cref="BudgetExceededException"/> when a cap is reached), then records tokens
/// (from the server's usage, or counted locally and flagged when the server reports none) and
/// the estimated cost on the response.
/// </summary>
public sealed class AccountingChatClient(IChatClient inner, Budget budget, PriceTable prices, RoleUsage? roleUsage = null) : DelegatingChatClient(inner)
{
    private readonly ModelSpec _model = (inner.GetService<ModelIdentity>()
        ?? throw new ArgumentException("The pipeline below accounting exposes no ModelIdentity.", nameof(inner))).Spec;

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        budget.StartCall();
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch (DeferredCallException)
        {
            budget.Released(); // written to a batch file, not sent: nothing to count
            throw;
        }
        catch
        {
            budget.Failed();
            throw;
        }
        var estimated = false;
        var usage = response.Usage;
        if (usage?.InputTokenCount is not > 0 && usage?.OutputTokenCount is not > 0)
        {
            estimated = true;
            var prompt = TokenCounter.CountPrompt(messages);
            var completion = TokenCounter.Count(response.Text);
            usage = new UsageDetails { InputTokenCount = prompt, OutputTokenCount = completion, TotalTokenCount = prompt + completion };
            response.Usage = usage;
        }
        long p = usage!.InputTokenCount ?? 0, c = usage.OutputTokenCount ?? 0;
        var (cost, known) = prices.Estimate(_model, p, c);
        budget.Completed(p, c, cost, known);
        roleUsage?.Paid(p, c, cost);
        var props = response.AdditionalProperties ??= new();
        props[LlmMetadata.CostUsd] = cost;
        props[LlmMetadata.PriceKnown] = known;
        props[LlmMetadata.TokensEstimated] = estimated;
        return response;
    }
}
