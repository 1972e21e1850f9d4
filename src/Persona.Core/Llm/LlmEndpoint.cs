using Microsoft.Extensions.AI;

namespace Persona.Llm;

/// <summary>
/// One server (or in-process model) able to answer calls for the run's model, with its own
/// adaptive concurrency limit and health. <paramref name="probe"/>, when given, tells whether the
/// server answers at all (any HTTP status counts as reachable); it runs once before the first call.
/// </summary>
public sealed class LlmEndpoint(string name, IChatClient client, int concurrency, Func<CancellationToken, Task<string?>>? probe = null, IDisposable? owned = null) : IDisposable
{
    private readonly object _gate = new();
    private int _consecutiveFailures;
    private DateTimeOffset _streakStart;
    private DateTimeOffset _availableAt = DateTimeOffset.MinValue;
    private DateTimeOffset _probeAt;
    private bool _down;

    /// <summary>Display name: the base URL (never carries a key).</summary>
    public string Name { get; } = name;
    public IChatClient Client { get; } = client;
    public AdaptiveLimiter Limiter { get; } = new(concurrency);
    internal Func<CancellationToken, Task<string?>>? Probe { get; } = probe;

    public bool IsDown { get { lock (_gate) return _down; } }
    public int ConsecutiveFailures { get { lock (_gate) return _consecutiveFailures; } }

    internal (bool Down, bool ProbeDue, DateTimeOffset AvailableAt) State(DateTimeOffset now)
    {
        lock (_gate) return (_down, _down && now >= _probeAt, _availableAt);
    }

    /// <summary>Claims the next probe of a tripped endpoint so only one call at a time tests it.</summary>
    internal bool TryClaimProbe(DateTimeOffset now, ResilienceOptions o)
    {
        lock (_gate)
        {
            if (!_down || now < _probeAt) return false;
            _probeAt = now + o.BreakerProbeInterval;
            return true;
        }
    }

    internal void MarkDown(DateTimeOffset now, ResilienceOptions o)
    {
        lock (_gate)
        {
            _down = true;
            _probeAt = now + o.BreakerProbeInterval;
        }
    }

    internal void OnSuccess()
    {
        lock (_gate)
        {
            _consecutiveFailures = 0;
            _down = false;
        }
        Limiter.OnSuccess();
    }

    internal void OnRateLimited(DateTimeOffset now, TimeSpan wait)
    {
        Limiter.OnRateLimited();
        lock (_gate) if (now + wait > _availableAt) _availableAt = now + wait;
    }

    /// <summary>Records a failure; backs the endpoint off after two in a row; trips the breaker when the streak is long enough.</summary>
    internal void OnFailure(DateTimeOffset now, TimeSpan? retryAfter, ResilienceOptions o)
    {
        lock (_gate)
        {
            if (_consecutiveFailures++ == 0) _streakStart = now;
            if (_consecutiveFailures >= 2 || retryAfter is not null)
            {
                var exp = Math.Min(o.BackoffMax.TotalMilliseconds, o.BackoffBase.TotalMilliseconds * Math.Pow(2, Math.Min(_consecutiveFailures - 2, 16)));
                var wait = retryAfter ?? TimeSpan.FromMilliseconds(exp);
                if (now + wait > _availableAt) _availableAt = now + wait;
            }
            if (_consecutiveFailures >= o.BreakerFailures && now - _streakStart >= o.BreakerMinDuration && !_down)
            {
                _down = true;
                _probeAt = now + o.BreakerProbeInterval;
            }
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        owned?.Dispose();
    }
}
