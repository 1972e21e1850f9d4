namespace Persona.Cli;

/// <summary>
/// Ctrl-C as the house rule has it: the first one (or SIGTERM) stops starting new work and lets
/// calls in flight finish and be saved (the token verbs get); the second aborts calls in flight
/// (<see cref="Abort"/>, which stages pass to the fan-out); if the process has still not ended a
/// few seconds after that, it exits. Ambient per invocation, so in-process tests can run verbs in parallel.
/// </summary>
internal static class Interrupts
{
    private static readonly AsyncLocal<CancellationToken> s_abort = new();

    /// <summary>Cancelled by the second Ctrl-C of this invocation.</summary>
    public static CancellationToken Abort => s_abort.Value;

    internal static void SetAbort(CancellationToken token) => s_abort.Value = token;

    /// <summary>Handles SIGINT/SIGTERM for the real process; returns the registrations to dispose.</summary>
    public static IDisposable Install(CancellationTokenSource stop, CancellationTokenSource abort, Action<string> say)
    {
        var presses = 0;
        void OnSignal(System.Runtime.InteropServices.PosixSignalContext ctx)
        {
            ctx.Cancel = true; // we end the process ourselves, after saving
            switch (Interlocked.Increment(ref presses))
            {
                case 1:
                    say("stopping: no new calls start; calls in flight finish and are saved (Ctrl-C again to abort them)");
                    stop.Cancel();
                    break;
                case 2:
                    say("aborting calls in flight");
                    abort.Cancel();
                    _ = Task.Delay(TimeSpan.FromSeconds(5)).ContinueWith(_ => Environment.Exit(130), TaskScheduler.Default);
                    break;
                default:
                    Environment.Exit(130);
                    break;
            }
        }
        var regs = new[]
        {
            System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, OnSignal),
            System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, OnSignal),
        };
        return new Registrations(regs);
    }

    private sealed class Registrations(IDisposable[] items) : IDisposable
    {
        public void Dispose() { foreach (var i in items) i.Dispose(); }
    }
}
