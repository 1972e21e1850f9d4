using Microsoft.Extensions.AI;

namespace Persona.Llm.Local.Tests;

public sealed class LocalChatClientTests(TinyModelFixture fx) : IClassFixture<TinyModelFixture>
{
    private static List<ChatMessage> Conversation(string user = "Hello, who are you?") =>
    [
        new(ChatRole.System, "Answer briefly."),
        new(ChatRole.User, user),
    ];

    private static ChatOptions Sampled(long seed, int max = 16) =>
        new() { Temperature = 0.9f, MaxOutputTokens = max, Seed = seed };

    [Fact]
    public async Task Generates_exactly_MaxOutputTokens_and_reports_usage_and_Length()
    {
        var messages = Conversation();
        var response = await fx.Plain.GetResponseAsync(messages, Sampled(seed: 5));

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal("tiny-plain.gguf", response.ModelId);
        Assert.NotEmpty(response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        var usage = Assert.IsType<UsageDetails>(response.Usage);
        Assert.Equal(16, usage.OutputTokenCount);
        Assert.Equal(fx.Plain.CountTokens(fx.Plain.RenderPrompt(messages)), usage.InputTokenCount);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
        // The tiny model only writes printable ASCII by construction; more characters than tokens is
        // impossible to get wrong silently: every generated token is a piece of 1-5 characters.
        Assert.All(response.Text, c => Assert.InRange(c, ' ', '~'));
        Assert.InRange(response.Text.Length, 16, 16 * 5);
    }

    [Fact]
    public async Task Same_seed_same_text_and_seeds_change_the_text()
    {
        var a = await fx.Plain.GetResponseAsync(Conversation(), Sampled(seed: 42));
        var b = await fx.Plain.GetResponseAsync(Conversation(), Sampled(seed: 42));
        Assert.Equal(a.Text, b.Text);

        var texts = new HashSet<string>();
        for (var seed = 1; seed <= 4; seed++)
            texts.Add((await fx.Plain.GetResponseAsync(Conversation(), Sampled(seed))).Text);
        Assert.True(texts.Count >= 3, $"four seeds gave only {texts.Count} distinct answers");
    }

    [Fact]
    public async Task A_fresh_load_of_the_same_file_repeats_the_same_answer()
    {
        var first = await fx.Plain.GetResponseAsync(Conversation(), Sampled(seed: 9));
        using var again = LocalProvider.Load(fx.PlainPath, new LocalModelOptions { Threads = 1 });
        var second = await again.GetResponseAsync(Conversation(), Sampled(seed: 9));
        Assert.Equal(first.Text, second.Text);
    }

    [Fact]
    public async Task Default_seed_comes_from_the_options_so_calls_without_one_repeat()
    {
        var options = new ChatOptions { MaxOutputTokens = 10 };
        var a = await fx.Plain.GetResponseAsync(Conversation(), options);
        var b = await fx.Plain.GetResponseAsync(Conversation(), options);
        Assert.Equal(a.Text, b.Text);
    }

    [Fact]
    public async Task Temperature_zero_is_greedy_whatever_the_seed()
    {
        var a = await fx.Plain.GetResponseAsync(Conversation(), new ChatOptions { Temperature = 0, MaxOutputTokens = 12, Seed = 1 });
        var b = await fx.Plain.GetResponseAsync(Conversation(), new ChatOptions { Temperature = 0, MaxOutputTokens = 12, Seed = 2 });
        Assert.Equal(a.Text, b.Text);
    }

    [Fact]
    public async Task The_prompt_matters()
    {
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        var texts = new HashSet<string>();
        foreach (var q in new[] { "Hello", "What is the capital of France?", "1 2 3 4", "zzz qqq" })
            texts.Add((await fx.Plain.GetResponseAsync(Conversation(q), options)).Text);
        Assert.True(texts.Count >= 2, "greedy answers to four different prompts were all identical");
    }

    [Fact]
    public async Task Streaming_yields_the_same_text_then_finish_reason_and_usage()
    {
        var whole = await fx.Plain.GetResponseAsync(Conversation(), Sampled(seed: 3));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in fx.Plain.GetStreamingResponseAsync(Conversation(), Sampled(seed: 3)))
            updates.Add(u);

        Assert.True(updates.Count > 2);
        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Length, last.FinishReason);
        var usage = Assert.Single(last.Contents.OfType<UsageContent>()).Details;
        Assert.Equal(whole.Usage!.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(16, usage.OutputTokenCount);
        Assert.All(updates, u => Assert.Equal("tiny-plain.gguf", u.ModelId));

        var merged = updates.ToChatResponse();
        Assert.Equal(whole.Text, merged.Text);
        Assert.Equal(ChatFinishReason.Length, merged.FinishReason);
        Assert.Equal(16, merged.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Stop_sequence_cuts_the_answer_before_it_and_finishes_with_Stop()
    {
        var full = (await fx.Plain.GetResponseAsync(Conversation(), Sampled(seed: 21, max: 24))).Text;
        Assert.True(full.Length >= 8, full);
        var stop = full.Substring(full.Length / 2, 2);
        var expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var options = Sampled(seed: 21, max: 24);
        options.StopSequences = [stop];
        var cut = await fx.Plain.GetResponseAsync(Conversation(), options);
        Assert.Equal(expected, cut.Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
        Assert.InRange(cut.Usage!.OutputTokenCount!.Value, 1, 23);

        // Streaming must not leak any part of the stop sequence either.
        var streamed = new List<ChatResponseUpdate>();
        await foreach (var u in fx.Plain.GetStreamingResponseAsync(Conversation(), options))
            streamed.Add(u);
        Assert.Equal(expected, string.Concat(streamed.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Stop, streamed[^1].FinishReason);
    }

    [Fact]
    public async Task MaxOutputTokens_zero_generates_nothing()
    {
        var r = await fx.Plain.GetResponseAsync(Conversation(), new ChatOptions { MaxOutputTokens = 0 });
        Assert.Equal("", r.Text);
        Assert.Equal(0, r.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, r.FinishReason);
    }

    [Fact]
    public async Task The_answer_is_clipped_at_the_context_end()
    {
        var messages = Conversation();
        var promptTokens = fx.Plain.CountTokens(fx.Plain.RenderPrompt(messages));
        var r = await fx.Plain.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 10_000, Seed = 1 });
        Assert.Equal(TinyGguf.ContextLength - promptTokens, r.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, r.FinishReason);
    }

    [Fact]
    public void Without_a_template_the_documented_fallback_format_is_used()
    {
        Assert.Equal(LocalPromptFormat.Fallback, fx.Plain.PromptFormat);
        var prompt = fx.Plain.RenderPrompt(Conversation("hi"));
        Assert.Equal("System: Answer briefly.\nUser: hi\nAssistant:", prompt);

        var withInstructions = fx.Plain.RenderPrompt([new(ChatRole.User, "hi")], new ChatOptions { Instructions = "Be kind." });
        Assert.Equal("System: Be kind.\nUser: hi\nAssistant:", withInstructions);
    }

    [Fact]
    public async Task A_chat_template_in_the_gguf_is_applied()
    {
        Assert.Equal(LocalPromptFormat.ModelTemplate, fx.ChatMl.PromptFormat);
        var prompt = fx.ChatMl.RenderPrompt(Conversation("hi"));
        Assert.Equal("<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", prompt);

        // The control tokens are parsed as single tokens, not spelled out byte by byte.
        var asText = fx.ChatMl.CountTokens(prompt);
        var spelled = fx.ChatMl.CountTokens(prompt.Replace("<|", "< |"));
        Assert.True(asText < spelled - 10, $"{asText} vs {spelled}");

        var r = await fx.ChatMl.GetResponseAsync(Conversation("hi"), Sampled(seed: 5));
        Assert.Equal(asText, r.Usage!.InputTokenCount);
        Assert.Equal("tiny-chatml.gguf", r.ModelId);
    }

    [Fact]
    public void A_prompt_that_starts_with_the_bos_text_gets_one_bos_token()
    {
        Assert.Equal(fx.Plain.CountTokens("Hello"), fx.Plain.CountTokens("<s>Hello"));
        Assert.Equal(fx.Plain.CountTokens("Hello") + 1, fx.Plain.CountTokens("Hello</s>"));
    }

    [Fact]
    public async Task An_unrecognised_template_falls_back_instead_of_failing()
    {
        var path = Path.Combine(fx.Directory, "tiny-odd-template.gguf");
        TinyGguf.Write(path, seed: 3, chatTemplate: "{{ nothing llama.cpp knows }}");
        using var client = LocalProvider.Load(path);
        Assert.Equal(LocalPromptFormat.Fallback, client.PromptFormat);
        Assert.Contains("recognise", client.PromptFormatNote);
        var r = await client.GetResponseAsync(Conversation(), Sampled(seed: 1, max: 4));
        Assert.Equal(4, r.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task A_cancelled_token_stops_before_and_during_generation_and_the_client_stays_usable()
    {
        using var before = new CancellationTokenSource();
        before.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fx.Plain.GetResponseAsync(Conversation(), Sampled(1), before.Token));

        using var during = new CancellationTokenSource();
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var u in fx.Plain.GetStreamingResponseAsync(Conversation(), Sampled(1, max: 200), during.Token))
            {
                received++;
                during.Cancel();
            }
        });
        Assert.Equal(1, received);

        var after = await fx.Plain.GetResponseAsync(Conversation(), Sampled(1, max: 5));
        Assert.Equal(5, after.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Parallel_calls_are_serialised_and_give_the_sequential_answers()
    {
        var seeds = new long[] { 31, 32, 33, 34 };
        var sequential = new List<string>();
        foreach (var s in seeds)
            sequential.Add((await fx.Plain.GetResponseAsync(Conversation(), Sampled(s, max: 8))).Text);
        var parallel = await Task.WhenAll(seeds.Select(s => Task.Run(() => fx.Plain.GetResponseAsync(Conversation(), Sampled(s, max: 8)))));
        Assert.Equal(sequential, parallel.Select(r => r.Text));
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_a_clear_error()
    {
        var longText = string.Join(' ', Enumerable.Repeat("several words here", 120));
        var e = await Assert.ThrowsAsync<PersonaException>(() => fx.Plain.GetResponseAsync(Conversation(longText), Sampled(1)));
        Assert.Contains("context holds 256", e.Message);
        Assert.Contains("tiny-plain.gguf", e.Message);
    }

    [Fact]
    public async Task Non_text_content_and_tools_are_rejected()
    {
        var image = new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1, 2, 3 }, "image/png")]);
        var e = await Assert.ThrowsAsync<PersonaException>(() => fx.Plain.GetResponseAsync([image], Sampled(1)));
        Assert.Contains("text only", e.Message);

        var tools = Sampled(1);
        tools.Tools = [AIFunctionFactory.Create(() => 1, "one")];
        await Assert.ThrowsAsync<PersonaException>(() => fx.Plain.GetResponseAsync(Conversation(), tools));
    }

    [Fact]
    public async Task Json_mode_constrains_the_answer_to_json()
    {
        var options = Sampled(seed: 8, max: 40);
        options.ResponseFormat = ChatResponseFormat.Json;
        var r = await fx.Plain.GetResponseAsync(Conversation(), options);
        var text = r.Text.TrimStart();
        Assert.StartsWith("{", text);
        AssertJsonPrefix(text);

        // Without JSON mode the same seed's answer is not JSON, so the constraint did the work.
        var free = await fx.Plain.GetResponseAsync(Conversation(), Sampled(seed: 8, max: 40));
        Assert.False(free.Text.TrimStart().StartsWith('{'), free.Text);
    }

    /// <summary>Fails if <paramref name="text"/> cannot be the start of a JSON document.</summary>
    private static void AssertJsonPrefix(string text)
    {
        var reader = new System.Text.Json.Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(text), isFinalBlock: false, state: default);
        var tokens = 0;
        while (reader.Read()) tokens++; // throws JsonException on invalid syntax
        Assert.True(tokens >= 1, text);
    }

    [Fact]
    public void Seeds_fold_to_32_bits_and_never_to_llama_cpp_random_seed()
    {
        Assert.Equal(7u, LocalChatClient.SamplerSeed(7));
        Assert.NotEqual(uint.MaxValue, LocalChatClient.SamplerSeed(uint.MaxValue));
        Assert.NotEqual(LocalChatClient.SamplerSeed(1), LocalChatClient.SamplerSeed(1L << 32 | 2));
    }

    [Fact]
    public async Task Dispose_is_idempotent_and_later_calls_fail_clearly()
    {
        var client = LocalProvider.Load(fx.PlainPath, new LocalModelOptions { Threads = 1 });
        client.Dispose();
        client.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetResponseAsync(Conversation()));
    }

    [Fact]
    public void Metadata_and_services_describe_the_model()
    {
        var meta = Assert.IsType<ChatClientMetadata>(fx.Plain.GetService(typeof(ChatClientMetadata)));
        Assert.Equal("local", meta.ProviderName);
        Assert.Equal("tiny-plain.gguf", meta.DefaultModelId);
        Assert.Same(fx.Plain, fx.Plain.GetService(typeof(IChatClient)));
        Assert.Same(fx.Plain.Model, fx.Plain.GetService(typeof(GgufInfo)));
        Assert.Null(fx.Plain.GetService(typeof(IChatClient), "some-key"));
        Assert.Equal(TinyGguf.ContextLength, fx.Plain.ContextSize);
    }
}
