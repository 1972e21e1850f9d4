using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Persona.TestSupport;

/// <summary>
/// Gives each test process its own temporary root and removes it when the process ends.
/// Tests (and the `persona` processes they start) write runs, stores and caches under
/// <see cref="Path.GetTempPath"/>; left there, a day of test runs filled the disk and a later run
/// failed with "No space left on device". Redirecting TMPDIR once, here, covers every test without
/// each one remembering to clean up. The root is deleted at process exit when the host gives it
/// time (a host stopped mid-delete leaves the rest), and any root whose process is gone is swept by
/// the next test run, so at most one run's files stay behind.
/// </summary>
internal static class TestScratch
{
    private const string Prefix = "persona-test-";


    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "Runs once per test assembly, before any test, so every temporary path lands in the process's own root.")]
    internal static void Init()
    {
        var system = Path.GetTempPath();
        SweepOrphans(system);
        // Short and free of dots: paths under it appear in the text tests assert on (a wrapped line, a type-name check).
        var root = Path.Combine(system, $"{Prefix}{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        // Path.GetTempPath reads TMPDIR on each call on Unix, and child processes inherit it.
        Environment.SetEnvironmentVariable("TMPDIR", root + Path.DirectorySeparatorChar);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
    }

    private static void SweepOrphans(string system)
    {
        foreach (var dir in Directory.EnumerateDirectories(system, Prefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(dir).AsSpan(Prefix.Length), out var pid) && !IsAlive(pid)) TryDelete(dir);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open (a browser's profile) is left to the next sweep.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
