using Persona.Engine;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;

namespace Persona.Core.Tests.Llm;

/// <summary>Shared helpers: temp run dirs, fast resilience options, request files.</summary>
internal static class LlmTestKit
{
    public static ResilienceOptions Fast(int concurrency = 8) => new()
    {
        Concurrency = concurrency,
        // Tests that need a call to time out set their own, short, timeout; for the rest it is only a safety net, and at
        // 1.5 s a stalled in-process server (the whole suite runs in parallel) made a 429 test count 5 attempts instead of 2.
        Timeout = TimeSpan.FromSeconds(10),
        MaxAttempts = 8,
        MaxTimeoutAttempts = 8, // fault-mix tests let a call time out more than twice before it succeeds
        BackoffBase = TimeSpan.FromMilliseconds(5),
        BackoffMax = TimeSpan.FromMilliseconds(50),
        MaxRetryAfter = TimeSpan.FromSeconds(2),
        BreakerFailures = 1000,
        BreakerMinDuration = TimeSpan.FromSeconds(30),
        BreakerProbeInterval = TimeSpan.FromMilliseconds(200),
        PreflightTimeout = TimeSpan.FromSeconds(20), // a loaded CI machine can take seconds to answer the first GET /models
    };

    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "persona-llm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    public static LlmRuntimeOptions Options(string runDir, string model, params string[] baseUrls) => new()
    {
        Model = model,
        RunDirectory = runDir,
        BaseUrls = baseUrls,
        Resilience = Fast(),
        Environment = _ => null,
    };

    public static List<BatchRequest> Requests(int n, string prefix = "q", float? temperature = 0) =>
        Enumerable.Range(0, n).Select(i => new BatchRequest($"{prefix}{i}",
            [new ChatMessage(ChatRole.User, $"{prefix} question {i}")], temperature, null, null, i + 1)).ToList();

    public static List<JsonElement> ReadOutput(string path) =>
        File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
}
