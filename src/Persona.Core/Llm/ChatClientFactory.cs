using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Persona.Llm;

/// <summary>
/// A provider that lives outside Persona.Core (e.g. <c>local:</c>, in-process LLamaSharp in
/// Persona.Llm.Local) and registers itself with <see cref="ChatClientFactory.RegisterProvider"/>.
/// The runtime wraps what it returns in the same cache, budget, structured-output, retry and
/// concurrency layers as any server.
/// </summary>
public interface IChatClientProvider
{
    /// <summary>The PROVIDER part of --model, lower case (e.g. "local").</summary>
    string Name { get; }

    /// <summary>
    /// Creates the client for <paramref name="spec"/>. Must throw <see cref="PersonaException"/> for bad
    /// input (a missing model file, say) before anything runs.
    /// </summary>
    IChatClient Create(ModelSpec spec, LlmRuntimeOptions options);

    /// <summary>Whether the provider honours ChatOptions.ResponseFormat with a JSON schema.</summary>
    bool SupportsJsonSchema => false;
}

/// <summary>How a model spec turns into the provider-level client (below the runtime's middleware).</summary>
public static class ChatClientFactory
{
    public const string DefaultOpenAiBaseUrl = "https://api.openai.com/v1";
    public const string DefaultOllamaBaseUrl = "http://localhost:11434/v1";

    /// <summary>Registers (or replaces) an in-process provider such as <c>local</c> under its name (see <see cref="ModelProviders"/>).</summary>
    public static void RegisterProvider(IChatClientProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ModelProviders.Register(new ModelProviders.InProcess(provider));
    }

    /// <summary>The base URLs a spec will use: --base-url (comma-separated), else OPENAI_BASE_URL for openai, else the provider default.</summary>
    public static IReadOnlyList<string> ResolveBaseUrls(ModelSpec spec, IReadOnlyList<string>? given, Func<string, string?> env)
    {
        IEnumerable<string> raw = given is { Count: > 0 } ? given
            : spec.Provider == "openai" && env("OPENAI_BASE_URL") is { Length: > 0 } fromEnv ? fromEnv.Split(',')
            : [spec.Provider == "ollama" ? DefaultOllamaBaseUrl : DefaultOpenAiBaseUrl];
        var urls = new List<string>();
        foreach (var r in raw.SelectMany(x => x.Split(',')))
        {
            var u = r.Trim().TrimEnd('/');
            if (u.Length == 0) continue;
            if (!Uri.TryCreate(u, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                throw new PersonaException($"--base-url '{r.Trim()}' is not an http(s) URL: expected e.g. http://localhost:8000/v1.");
            if (!urls.Contains(u, StringComparer.OrdinalIgnoreCase)) urls.Add(u);
        }
        if (urls.Count == 0) throw new PersonaException("--base-url is empty: expected one or more comma-separated http(s) URLs.");
        return urls;
    }

    internal static bool IsHostedOpenAi(string baseUrl) => Uri.TryCreate(baseUrl, UriKind.Absolute, out var u) && u.Host.EndsWith("api.openai.com", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// One endpoint speaking the OpenAI chat-completions protocol. One SocketsHttpHandler per
    /// endpoint, sized for the concurrency, shared by all its calls. The SDK's own retries are
    /// switched off (ClientRetryPolicy(0)): ours must be the only retry loop, or a 429 would be
    /// retried by two layers, hidden from the adaptive limiter, and multiply the wait. Errors come
    /// back as ClientResultException whose raw response still carries Retry-After headers, so no
    /// custom transport handler is needed to read them.
    /// </summary>
    public static LlmEndpoint CreateOpenAiEndpoint(string baseUrl, string modelName, string? apiKey, ResilienceOptions resilience)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(16, resilience.Concurrency + 8),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = TimeSpan.FromSeconds(Math.Min(15, Math.Max(1, resilience.Timeout.TotalSeconds))),
            AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate | DecompressionMethods.Brotli,
            EnableMultipleHttp2Connections = true,
        };
        var http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(baseUrl),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            Transport = new HttpClientPipelineTransport(http),
            NetworkTimeout = resilience.Timeout + TimeSpan.FromSeconds(30), // ours fires first and is classified as a timeout
        };
        // Local servers ignore the key; the SDK insists on a non-empty one.
        var chat = new OpenAI.Chat.ChatClient(modelName, new ApiKeyCredential(string.IsNullOrEmpty(apiKey) ? "no-key" : apiKey), options);
        var modelsUrl = new Uri(baseUrl + "/models");
        async Task<string?> Probe(CancellationToken ct)
        {
            try
            {
                using var req = new HttpRequestMessage(HttpMethod.Get, modelsUrl);
                if (!string.IsNullOrEmpty(apiKey)) req.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
                using var resp = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
                return null; // any HTTP answer means the server is there
            }
            catch (HttpRequestException ex)
            {
                return ex.InnerException?.Message ?? ex.Message;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return "no answer to GET /models within the preflight timeout";
            }
        }
        return new LlmEndpoint(SecretScrubber.Scrub(baseUrl), new LogprobsChatClient(chat.AsIChatClient(), SecretScrubber.Scrub(baseUrl)), resilience.Concurrency, Probe, http);
    }
}
