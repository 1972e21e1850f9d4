using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;
using Persona.Prompts;

namespace Persona.Core.Tests.Prompts;

/// <summary>A chat client answering from a function of the user's question; records requests and peak concurrency.</summary>
internal sealed class FakeChatClient(Func<string, string> answer, int delayMs = 0) : IChatClient
{
    private int _inFlight;
    public int MaxInFlight;
    public int Calls;
    public readonly List<ChatOptions?> Options = [];
    public readonly List<IList<ChatMessage>> Requests = [];

    public static string QuestionOf(IEnumerable<ChatMessage> messages)
    {
        var user = messages.Last(m => m.Role == ChatRole.User).Text;
        const string prefix = "Question:\n";
        return user.StartsWith(prefix, StringComparison.Ordinal) ? user[prefix.Length..] : user;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        lock (Options) { Options.Add(options); Requests.Add(list); }
        Interlocked.Increment(ref Calls);
        var now = Interlocked.Increment(ref _inFlight);
        int seen;
        while (now > (seen = Volatile.Read(ref MaxInFlight)) && Interlocked.CompareExchange(ref MaxInFlight, now, seen) != seen) { }
        try
        {
            var q = QuestionOf(list);
            if (delayMs > 0)
            {
                // Vary the latency so completion order differs from input order.
                var jitter = SHA256.HashData(Encoding.UTF8.GetBytes(q))[0] % (delayMs + 1);
                await Task.Delay(jitter, cancellationToken);
            }
            cancellationToken.ThrowIfCancellationRequested();
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, answer(q)));
        }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        => throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;
    public void Dispose() { }

    public static FakeChatClient AlwaysYes() => new(_ => """{"controversial": true, "reason": "values differ"}""");

    /// <summary>Deterministic mix of yes, no and garbage, decided by a hash of the question.</summary>
    public static FakeChatClient HashVerdicts() => new(q =>
    {
        var h = SHA256.HashData(Encoding.UTF8.GetBytes(q))[0];
        return (h % 10) switch
        {
            0 => "I cannot decide.",
            < 6 => $"```json\n{{\"controversial\": true, \"reason\": \"hash {h}\"}}\n```",
            _ => $"Sure. {{\"controversial\": false, \"reason\": \"hash {h}\"}}",
        };
    });
}

/// <summary>
/// Feature-hashing embedder: each normalised word adds ±1 to a bucket picked by its SHA-256, so
/// prompts sharing words are close (a crude stand-in for a sentence model) and results are fully
/// deterministic across processes.
/// </summary>
internal sealed class HashEmbedder(int dimensions = 64) : ITextEmbedder
{
    public int Calls;

    public ValueTask<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct)
    {
        Interlocked.Increment(ref Calls);
        var result = new float[texts.Count][];
        for (int t = 0; t < texts.Count; t++)
        {
            var v = new float[dimensions];
            foreach (var word in PromptText.Normalize(texts[t]).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var h = SHA256.HashData(Encoding.UTF8.GetBytes(word));
                int bucket = (int)(BitConverter.ToUInt32(h, 0) % (uint)dimensions);
                v[bucket] += (h[4] & 1) == 0 ? 1f : -1f;
            }
            v[t % dimensions] += 1e-3f; // no all-zero vectors
            result[t] = v;
        }
        return ValueTask.FromResult(result);
    }
}

internal static class TempDir
{
    public static string Create()
    {
        var d = Path.Combine(Path.GetTempPath(), "persona-prompts-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
