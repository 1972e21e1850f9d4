namespace Persona.Llm;

/// <summary>
/// An async semaphore whose limit moves (AIMD): halved on a rate-limit answer, raised by one after
/// a window of successes as large as the current limit, never above <see cref="Max"/> or below 1.
/// </summary>
public sealed class AdaptiveLimiter
{
    private readonly object _gate = new();
    private readonly Queue<TaskCompletionSource<bool>> _waiters = new();
    private double _limit;
    private int _inFlight;
    private int _successesSinceChange;

    public AdaptiveLimiter(int max)
    {
        if (max < 1) throw new PersonaException("--concurrency must be at least 1.");
        Max = max;
        _limit = max;
    }

    public int Max { get; }
    public int Limit { get { lock (_gate) return (int)_limit; } }
    public int InFlight => Volatile.Read(ref _inFlight);

    public ValueTask AcquireAsync(CancellationToken ct)
    {
        TaskCompletionSource<bool> tcs;
        lock (_gate)
        {
            if (_inFlight < (int)_limit && _waiters.Count == 0)
            {
                _inFlight++;
                return ValueTask.CompletedTask;
            }
            tcs = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue(tcs);
        }
        return WaitAsync(tcs, ct);
    }

    private async ValueTask WaitAsync(TaskCompletionSource<bool> tcs, CancellationToken ct)
    {
        using (ct.Register(static s => ((TaskCompletionSource<bool>)s!).TrySetCanceled(), tcs))
        {
            try
            {
                await tcs.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // A slot may have been handed to us in the same instant: give it back.
                lock (_gate)
                {
                    if (tcs.Task.IsCompletedSuccessfully) { _inFlight--; Pump(); }
                }
                throw new OperationCanceledException(ct);
            }
        }
    }

    public void Release()
    {
        lock (_gate)
        {
            _inFlight--;
            Pump();
        }
    }

    /// <summary>A call succeeded: additive increase.</summary>
    public void OnSuccess()
    {
        lock (_gate)
        {
            if (_limit >= Max) return;
            if (++_successesSinceChange >= (int)_limit)
            {
                _limit = Math.Min(Max, _limit + 1);
                _successesSinceChange = 0;
                Pump();
            }
        }
    }

    /// <summary>The server said "too many requests": multiplicative decrease.</summary>
    public void OnRateLimited()
    {
        lock (_gate)
        {
            _limit = Math.Max(1, Math.Floor(_limit / 2));
            _successesSinceChange = 0;
        }
    }

    private void Pump()
    {
        while (_inFlight < (int)_limit && _waiters.Count > 0)
        {
            var next = _waiters.Dequeue();
            if (next.TrySetResult(true)) _inFlight++;
        }
    }
}
