namespace Persona;

/// <summary>
/// Reports on the caller's thread. Progress&lt;T&gt; posts to the thread pool, which reorders
/// reports and makes stage timings and forwarded progress unreliable.
/// </summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
