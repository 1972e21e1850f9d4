using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;

namespace Persona.Engine;

/// <summary>What a solver returns: the final text and any structured data the scorers and analyses read.</summary>
public sealed record SolverResult(string? Output, JsonElement? Data = null);

/// <summary>Generates a sample: a chain of calls by roles through <paramref name="context"/>.</summary>
public delegate ValueTask<SolverResult> Solver<in TItem>(TItem item, SampleContext context, CancellationToken ct);

/// <summary>
/// A named scorer: reads a logged sample (never the dataset item, so a log can be re-scored on its
/// own) and may call its own role. Its scores form the score set <see cref="Name"/>.
/// </summary>
/// <param name="Role">The role the scorer calls, when it calls one: a stored score by another model of that role is not reused.</param>
public sealed record Scorer(string Name, Func<SampleRecord, SampleContext, CancellationToken, ValueTask<Score>> ScoreAsync, string? Role = null);

/// <summary>
/// A task in the Inspect AI sense: dataset + solver + scorers. Each feature (pairs, bench,
/// leave-one-out, pass@k, study judges) is one of these, run by <see cref="TaskRunner"/>.
/// </summary>
public sealed record EvalTask<TItem>
{
    /// <summary>Task name (the sample log's key), e.g. "pairs", "bench".</summary>
    public required string Name { get; init; }
    /// <summary>Bumped when the solver's prompts or logic change: part of every sample id.</summary>
    public required string Version { get; init; }
    public required IAsyncEnumerable<TItem> Dataset { get; init; }
    /// <summary>The ids of an item's inputs (persona, prompt, mode, epoch, ...): they make the sample id.</summary>
    public required Func<TItem, IReadOnlyDictionary<string, string>> Inputs { get; init; }
    public required Solver<TItem> Solver { get; init; }
    public IReadOnlyList<Scorer> Scorers { get; init; } = [];
    /// <summary>
    /// The roles the solver calls, when declared: a logged sample made through another role (an older
    /// run's answers logged under "model" where the writer answers now) is made again, not reused.
    /// </summary>
    public IReadOnlyCollection<string>? Roles { get; init; }
}

/// <summary>
/// What a solver or scorer sees of the run for one sample: role calls that are recorded as turns.
/// Roles are the runtime's (e.g. "model", "critic", "judge").
/// </summary>
public sealed class SampleContext
{
    private readonly Func<string, ModelRole> _roles;
    private readonly List<Turn> _turns = [];
    private readonly bool _logTexts;

    /// <param name="logTexts">Keep each turn's messages and output in the log. Off for runs of 10^5+
    /// samples whose messages are rebuilt from versioned templates: a turn then keeps its cache key
    /// (the output stays in the cache under it), model, step, tokens and finish reason.</param>
    public SampleContext(string sampleId, Func<string, ModelRole> roles, bool logTexts = true)
    {
        SampleId = sampleId;
        _roles = roles;
        _logTexts = logTexts;
    }

    public string SampleId { get; }
    public IReadOnlyList<Turn> Turns { get { lock (_turns) return _turns.ToArray(); } }
    public bool Simulated { get; private set; }

    public ModelRole Role(string name) => _roles(name);

    /// <summary>Calls a role and records the turn (also when the call fails: the failure carries what is known).</summary>
    public async Task<ChatResponse> CallAsync(string role, IList<ChatMessage> messages, ChatOptions? options, CancellationToken ct, string? step = null)
    {
        var r = _roles(role);
        var response = await r.Client.GetResponseAsync(messages, options, ct).ConfigureAwait(false);
        var info = response.CallInfo();
        var turn = new Turn(r.Name, r.Identity.Identity, step,
            _logTexts ? messages.Select(m => new TurnMessage(m.Role.Value, m.Text ?? "")).ToArray() : [],
            _logTexts ? response.Text : null, response.Usage?.InputTokenCount ?? 0, response.Usage?.OutputTokenCount ?? 0,
            info.Cached, info.CacheKey, response.FinishReason?.Value, info.Simulated || r.Identity.Simulated);
        lock (_turns) _turns.Add(turn);
        if (turn.Simulated) Simulated = true;
        return response;
    }
}
