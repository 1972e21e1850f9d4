using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// Retries attempts that failed transiently (see <see cref="TransientLlmException"/>), waiting
/// the server's Retry-After when it gave one, else exponential backoff with seeded jitter. Sits
/// below the budget: one logical call is reserved once, however many attempts it takes. Each
/// attempt re-selects an endpoint, so a retry moves away from a failing server.
/// </summary>
public sealed class RetryingChatClient(IChatClient inner, ResilienceOptions options) : DelegatingChatClient(inner)
{
    private readonly Random _jitter = new(options.JitterSeed);

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? chatOptions = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var timeouts = 0;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var response = await base.GetResponseAsync(list, chatOptions, cancellationToken).ConfigureAwait(false);
                (response.AdditionalProperties ??= new())[LlmMetadata.Attempts] = attempt;
                return response;
            }
            catch (TransientLlmException ex)
            {
                if (ex.Kind == "timeout" && ++timeouts >= options.MaxTimeoutAttempts)
                    throw new LlmCallException(
                        $"Gave up after {attempt} attempts: {ex.Message} ({timeouts} times); the server may be hung or overloaded. Raise --timeout if its answers are just slow.",
                        attempts: attempt, inner: ex);
                if (attempt >= options.MaxAttempts)
                    throw new LlmCallException($"Gave up after {attempt} attempts: {ex.Message}", ex.Kind == "empty" ? "" : null, attempts: attempt, inner: ex);
                await Task.Delay(Delay(attempt, ex.RetryAfter), cancellationToken).ConfigureAwait(false);
            }
            catch (LlmCallException ex) when (ex.Attempts != attempt)
            {
                throw new LlmCallException(ex.Message, ex.RawText, ex.Usage, attempt, ex.InnerException);
            }
        }
    }

    private TimeSpan Delay(int attempt, TimeSpan? retryAfter)
    {
        double u;
        lock (_jitter) u = _jitter.NextDouble();
        if (retryAfter is { } ra)
            return ra + TimeSpan.FromMilliseconds(u * Math.Min(250, options.BackoffBase.TotalMilliseconds)); // spread the herd a little
        var exp = Math.Min(options.BackoffMax.TotalMilliseconds, options.BackoffBase.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(exp * (0.5 + 0.5 * u));
    }
}
