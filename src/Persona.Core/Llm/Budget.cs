namespace Persona.Llm;

/// <summary>
/// Running totals of this process's paid calls (cache hits never reach it) and the caps that stop
/// a run. Caps apply per invocation: a resumed run gets its own allowance, and spends it only on
/// what the earlier run had not completed. The cost cap is checked before each call starts, so a
/// run may overshoot by what its in-flight calls cost.
/// </summary>
public sealed class Budget
{
    private readonly object _gate = new();
    private long _started, _completed, _failed, _promptTokens, _completionTokens;
    private double _cost;
    private bool _unpriced;
    private volatile string? _stopReason;

    public Budget(double? maxCostUsd = null, long? maxCalls = null)
    {
        if (maxCostUsd is < 0) throw new PersonaException("--max-cost must be 0 or more (USD).");
        if (maxCalls is < 0) throw new PersonaException("--max-calls must be 0 or more.");
        MaxCostUsd = maxCostUsd;
        MaxCalls = maxCalls;
    }

    public double? MaxCostUsd { get; }
    public long? MaxCalls { get; }
    public string? StopReason => _stopReason;

    public BudgetSnapshot Snapshot()
    {
        lock (_gate) return new BudgetSnapshot(_started, _completed, _failed, _promptTokens, _completionTokens, _cost, _unpriced, _stopReason);
    }

    /// <summary>Reserves one call or throws <see cref="BudgetExceededException"/> (and stays stopped).</summary>
    public void StartCall()
    {
        lock (_gate)
        {
            if (_stopReason is null)
            {
                if (MaxCalls is { } mc && _started >= mc) _stopReason = $"--max-calls {mc} reached";
                else if (MaxCostUsd is { } max && _cost >= max) _stopReason = $"--max-cost {max.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)} USD reached (spent {_cost.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)})";
            }
            if (_stopReason is not null) throw new BudgetExceededException($"Budget exhausted: {_stopReason}. Completed calls are saved; rerun with a larger budget to resume.");
            _started++;
        }
    }

    public void Completed(long promptTokens, long completionTokens, double cost, bool priceKnown)
    {
        lock (_gate)
        {
            _completed++;
            _promptTokens += promptTokens;
            _completionTokens += completionTokens;
            _cost += cost;
            _unpriced |= !priceKnown;
        }
    }

    public void Failed()
    {
        lock (_gate) _failed++;
    }

    /// <summary>A reserved call that was never sent (deferred to a batch file): the reservation is given back.</summary>
    public void Released()
    {
        lock (_gate) _started--;
    }
}

public sealed record BudgetSnapshot(long Started, long Completed, long Failed, long PromptTokens, long CompletionTokens, double CostUsd, bool UnpricedCalls, string? StopReason);
