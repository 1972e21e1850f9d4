using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// One call failed for good (retries exhausted, a non-retryable HTTP status, an answer that is
/// not valid for the requested schema). It concerns that call only: a batch records it and goes on.
/// </summary>
public class LlmCallException : Exception
{
    public LlmCallException(string message, string? rawText = null, UsageDetails? usage = null, int attempts = 1, Exception? inner = null)
        : base(message, inner)
    {
        RawText = rawText;
        Usage = usage;
        Attempts = attempts;
    }

    /// <summary>What the model said, kept for diagnosis (e.g. the unparseable JSON).</summary>
    public string? RawText { get; }
    public UsageDetails? Usage { get; }
    public int Attempts { get; }
}

/// <summary>The answer could not be turned into JSON valid for the requested schema, even after one repair request.</summary>
public sealed class StructuredOutputException : LlmCallException
{
    public StructuredOutputException(string message, string? rawText, UsageDetails? usage, IReadOnlyList<string> errors)
        : base(message, rawText, usage) => Errors = errors;

    public IReadOnlyList<string> Errors { get; }
}

/// <summary>
/// The whole run must stop cleanly: no new calls start, in-flight calls finish and are saved, and
/// a later run over the same run directory resumes. <see cref="ExitCode"/> is what the CLI returns.
/// </summary>
public abstract class RunStoppedException : Exception
{
    protected RunStoppedException(string message, Exception? inner = null) : base(message, inner) { }
    public abstract int ExitCode { get; }
}

/// <summary>--max-cost or --max-calls reached. CLI exit code 3.</summary>
public sealed class BudgetExceededException(string message) : RunStoppedException(message)
{
    public const int Code = 3;
    public override int ExitCode => Code;
}

/// <summary>Every endpoint failed repeatedly (circuit breaker open). CLI exit code 4.</summary>
public sealed class CircuitOpenException(string message, Exception? inner = null) : RunStoppedException(message, inner)
{
    public const int Code = 4;
    public override int ExitCode => Code;
}

/// <summary>
/// One attempt failed in a way worth retrying (429, 5xx, timeout, dropped connection, unreadable
/// body). Internal currency between the endpoint pool and the retry layer.
/// </summary>
public sealed class TransientLlmException(string kind, string message, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>"rate_limited", "server_error", "timeout", "connection", "bad_response", "empty".</summary>
    public string Kind { get; } = kind;
    public TimeSpan? RetryAfter { get; } = retryAfter;
    public string? Endpoint { get; init; }
}

/// <summary>
/// The server refused the API key (401) or its permission (403). Every later call would be refused
/// too, so the run ends at once with exit code 1 and a message naming where the key came from.
/// </summary>
public sealed class ApiKeyRejectedException(string message, Exception? inner = null) : PersonaException(message, inner ?? new Exception(message));
