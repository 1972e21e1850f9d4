using LLama.Native;

namespace Persona.Llm.Local;

/// <summary>
/// One-time setup of llama.cpp's native library. Its log goes to stderr by default, which would
/// interleave with the CLI's progress display, so it is captured instead: warnings and errors are kept
/// in a short ring so a failed load can quote what llama.cpp said.
/// </summary>
internal static class NativeRuntime
{
    private const int Keep = 20;
    private static readonly Queue<string> Recent = new();
    private static readonly Lock Gate = new();
    private static bool _configured;

    public static void EnsureConfigured()
    {
        lock (Gate)
        {
            if (_configured) return;
            _configured = true;
            if (NativeLibraryConfig.LLama.LibraryHasLoaded)
                return; // someone else configured it first; their logging choice stands
            NativeLibraryConfig.All.WithLogCallback(OnLog);
        }
    }

    /// <summary>Warnings and errors llama.cpp logged since the last call, oldest first.</summary>
    public static IReadOnlyList<string> TakeRecentProblems()
    {
        lock (Recent)
        {
            var list = Recent.ToList();
            Recent.Clear();
            return list;
        }
    }

    private static void OnLog(LLamaLogLevel level, string message)
    {
        if (level is not (LLamaLogLevel.Warning or LLamaLogLevel.Error))
            return;
        var line = message.TrimEnd();
        if (line.Length == 0) return;
        lock (Recent)
        {
            Recent.Enqueue(line);
            while (Recent.Count > Keep) Recent.Dequeue();
        }
    }
}
