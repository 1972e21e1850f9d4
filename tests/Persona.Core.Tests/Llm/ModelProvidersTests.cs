using Microsoft.Extensions.AI;
using Persona.Llm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Llm;

/// <summary>Providers are looked up by name, and a registered one gets the same middleware as the built-in ones.</summary>
public sealed class ModelProvidersTests
{
    private sealed class Echo : IChatClient
    {
        public int Calls;

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "echo: " + messages.Last().Text))
            {
                Usage = new UsageDetails { InputTokenCount = 7, OutputTokenCount = 3 },
            });
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;
        public void Dispose() { }
    }

    private sealed class EchoProvider(string name, Echo client) : IModelProvider
    {
        public string Name => name;
        public ProviderClient Create(ProviderRequest r) => new(client, null, ["echo"], r.Spec.Identity, Simulated: false, NativeJsonSchema: true);
    }

    [Fact]
    public async Task A_provider_registered_by_name_is_used_through_the_runtimes_cache_and_accounting()
    {
        var echo = new Echo();
        ModelProviders.Register(new EchoProvider("echo-test", echo));
        await using var rt = LlmRuntime.Open(new LlmRuntimeOptions { Model = "echo-test:m1", RunDirectory = TempDir(), Environment = _ => null });
        Assert.Equal("echo-test:m1", rt.Default.Identity.Identity);
        var a = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "hello")]);
        var b = await rt.ChatClient.GetResponseAsync([new ChatMessage(ChatRole.User, "hello")]);
        Assert.Equal("echo: hello", a.Text);
        Assert.Equal(a.Text, b.Text);
        Assert.Equal(1, echo.Calls); // the second answer came from the run's cache
        var usage = rt.Default.Usage.Snapshot();
        Assert.Equal(1, usage.PaidCalls);
        Assert.Equal(1, usage.CacheHits);
        Assert.Contains("echo-test", Assert.Throws<PersonaException>(() => ModelSpec.Parse("nope:x")).Message);
    }

    [Fact]
    public void The_built_in_providers_are_registered_and_cannot_be_replaced()
    {
        foreach (var name in ModelSpec.BuiltInProviders)
        {
            Assert.True(ModelProviders.IsRegistered(name));
            Assert.Throws<ArgumentException>(() => ModelProviders.Register(new EchoProvider(name, new Echo())));
        }
        var e = Assert.Throws<PersonaException>(() => ModelProviders.Get(new ModelSpec("local", "m.gguf")));
        Assert.Contains("Persona.Llm.Local", e.Message);
    }
}
