using System.Runtime.CompilerServices;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Exceptions;
using LLama.Native;
using LLama.Sampling;
using Microsoft.Extensions.AI;

namespace Persona.Llm.Local;

/// <summary>How a conversation is turned into the prompt text.</summary>
public enum LocalPromptFormat
{
    /// <summary>The chat template stored in the GGUF (<c>tokenizer.chat_template</c>), applied by llama.cpp.</summary>
    ModelTemplate,

    /// <summary>
    /// The model has no template, or one llama.cpp does not recognise: plain "Role: text" lines ending
    /// with "Assistant:" (see <see cref="LocalChatClient.RenderFallback"/>).
    /// </summary>
    Fallback,
}

/// <summary>
/// In-process inference on a GGUF model through LLamaSharp (llama.cpp), as an <see cref="IChatClient"/>.
/// <para>
/// Concurrency: one llama.cpp context is reused for every call and calls run one at a time (a
/// semaphore; extra callers wait, cancellably). LLamaSharp already serialises <c>llama_decode</c>
/// process-wide, and llama.cpp spreads each decode over <see cref="LocalModelOptions.Threads"/>, so a
/// second context would cost another KV cache without adding throughput on a CPU. Run the runtime
/// with concurrency 1 for <c>local:</c> models.
/// </para>
/// <para>
/// Sampling is llama.cpp's default chain (top-k, typical, top-p, min-p, temperature, then a seeded
/// draw); temperature 0 is greedy. The same seed, model and messages give the same text.
/// </para>
/// </summary>
public sealed class LocalChatClient : IChatClient
{
    /// <summary>Stop sequences added in <see cref="LocalPromptFormat.Fallback"/> so a base model does not write the next turn.</summary>
    public static readonly IReadOnlyList<string> FallbackStopSequences = ["\nUser:", "\nSystem:"];

    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LocalModelOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly LLamaBatch _batch = new();
    private readonly ChatClientMetadata _metadata;
    private bool _disposed;

    internal LocalChatClient(GgufInfo model, LLamaWeights weights, LLamaContext context, LocalModelOptions options)
    {
        Model = model;
        _weights = weights;
        _context = context;
        _options = options;
        ModelId = Path.GetFileName(model.Path);
        ContextSize = (int)context.ContextSize;
        (PromptFormat, PromptFormatNote) = ChoosePromptFormat(model);
        _metadata = new ChatClientMetadata("local", new Uri(model.Path), ModelId);
    }

    /// <summary>The GGUF file's header as read before loading.</summary>
    public GgufInfo Model { get; }

    /// <summary>The model file's name (what <c>ChatResponse.ModelId</c> reports).</summary>
    public string ModelId { get; }

    /// <summary>Tokens of context available to prompt plus answer.</summary>
    public int ContextSize { get; }

    public LocalPromptFormat PromptFormat { get; }

    /// <summary>Why <see cref="PromptFormat"/> was chosen, for logs and provenance.</summary>
    public string PromptFormatNote { get; }

    /// <summary>The exact prompt text a call with these messages (and instructions) would evaluate.</summary>
    public string RenderPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = ToTurns(messages, options);
        if (PromptFormat == LocalPromptFormat.ModelTemplate)
        {
            var template = new LLamaTemplate(Model.ChatTemplate!) { AddAssistant = true };
            foreach (var (role, text) in turns) template.Add(role, text);
            return Encoding.UTF8.GetString(template.Apply());
        }
        return RenderFallback(turns);
    }

    /// <summary>
    /// The fallback format: each message as "Role: text" on its own line (role capitalised), then
    /// "Assistant:" for the model to continue.
    /// </summary>
    public static string RenderFallback(IEnumerable<(string Role, string Text)> turns)
    {
        var sb = new StringBuilder();
        foreach (var (role, text) in turns)
        {
            sb.Append(char.ToUpperInvariant(role[0])).Append(role.AsSpan(1)).Append(": ").Append(text).Append('\n');
        }
        sb.Append("Assistant:");
        return sb.ToString();
    }

    /// <summary>Number of tokens the model's tokenizer makes of <paramref name="text"/> (special tokens parsed, BOS added as the model asks).</summary>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Tokenize(text).Length;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        Step last = default;
        await foreach (var step in RunAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            if (step.Text is not null) text.Append(step.Text);
            last = step;
        }
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = ModelId,
            FinishReason = last.Finish,
            Usage = last.Usage,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var step in RunAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            if (step.Text is { Length: > 0 })
                yield return new ChatResponseUpdate(ChatRole.Assistant, step.Text) { ModelId = ModelId };
            if (step.Finish is not null)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(step.Usage!)])
                {
                    ModelId = ModelId,
                    FinishReason = step.Finish,
                };
            }
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType == typeof(GgufInfo)) return Model;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>
    /// Frees the native model and context. Waits for a call in flight to finish (it owns the context);
    /// calls still waiting then fail with <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _gate.Wait();
        try
        {
            _context.Dispose();
            _weights.Dispose();
        }
        finally
        {
            // Not disposed: waiters must still be able to enter, see _disposed and leave.
            _gate.Release();
        }
    }

    /// <summary>A piece of answer text, or (last) the finish reason with usage.</summary>
    private readonly record struct Step(string? Text, ChatFinishReason? Finish, UsageDetails? Usage);

    private async IAsyncEnumerable<Step> RunAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (options?.Tools is { Count: > 0 })
            throw new PersonaException($"Local model '{ModelId}' does not support tool calling; call it without tools.");

        var prompt = RenderPrompt(messages, options);
        var maxNew = options?.MaxOutputTokens ?? _options.MaxOutputTokens;
        if (maxNew < 0)
            throw new PersonaException($"MaxOutputTokens must be 0 or more; got {maxNew}.");
        var stops = (options?.StopSequences ?? []).Where(s => s.Length > 0).ToList();
        if (PromptFormat == LocalPromptFormat.Fallback) stops.AddRange(FallbackStopSequences);
        var stopMatcher = new StopMatcher(stops);

        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var promptTokens = Tokenize(prompt);
            if (promptTokens.Length == 0)
                throw new PersonaException($"Local model '{ModelId}': the prompt tokenised to nothing; send at least one non-empty message.");
            if (promptTokens.Length >= ContextSize)
                throw new PersonaException(
                    $"Local model '{ModelId}': the prompt is {promptTokens.Length} tokens but the context holds {ContextSize}. " +
                    "Shorten the prompt or load the model with a larger context size.");
            // The answer may not outgrow the context: a truncated answer then ends with Length, as max tokens would.
            var limit = Math.Min(maxNew, ContextSize - promptTokens.Length);

            _context.NativeHandle.MemoryClear(true);
            using var sampler = CreateSampler(options);
            var vocab = _weights.NativeHandle.Vocab;
            var decoder = new StreamingTokenDecoder(_context);

            var logitIndex = await DecodePromptAsync(promptTokens, ct).ConfigureAwait(false);
            var position = promptTokens.Length;
            var generated = 0;
            ChatFinishReason finish = ChatFinishReason.Length;

            while (generated < limit)
            {
                ct.ThrowIfCancellationRequested();
                var token = sampler.Sample(_context.NativeHandle, logitIndex);
                if (token.IsEndOfGeneration(vocab))
                {
                    finish = ChatFinishReason.Stop;
                    break;
                }
                generated++;
                decoder.Add(token);
                var (emit, stopped) = stopMatcher.Add(decoder.Read());
                if (emit.Length > 0) yield return new Step(emit, null, null);
                if (stopped)
                {
                    finish = ChatFinishReason.Stop;
                    break;
                }
                if (generated == limit) break; // the last token's logits are never needed

                _batch.Clear();
                _batch.Add(token, position++, LLamaSeqId.Zero, true);
                await DecodeAsync(ct).ConfigureAwait(false);
                logitIndex = 0;
            }

            if (finish == ChatFinishReason.Length || !stopMatcher.Stopped)
            {
                var rest = stopMatcher.Flush();
                if (rest.Length > 0) yield return new Step(rest, null, null);
            }
            var usage = new UsageDetails
            {
                InputTokenCount = promptTokens.Length,
                OutputTokenCount = generated,
                TotalTokenCount = promptTokens.Length + generated,
            };
            yield return new Step(null, finish, usage);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Evaluates the prompt in batch-sized chunks; returns the batch index whose logits predict the first answer token.</summary>
    private async Task<int> DecodePromptAsync(LLamaToken[] tokens, CancellationToken ct)
    {
        var chunk = Math.Max(1, Math.Min(_options.BatchSize, (int)_context.BatchSize));
        for (var start = 0; start < tokens.Length; start += chunk)
        {
            ct.ThrowIfCancellationRequested();
            var end = Math.Min(tokens.Length, start + chunk);
            _batch.Clear();
            for (var i = start; i < end; i++)
                _batch.Add(tokens[i], i, LLamaSeqId.Zero, i == tokens.Length - 1);
            await DecodeAsync(ct).ConfigureAwait(false);
        }
        return _batch.TokenCount - 1;
    }

    private async Task DecodeAsync(CancellationToken ct)
    {
        var result = await _context.DecodeAsync(_batch, ct).ConfigureAwait(false);
        if (result != DecodeResult.Ok)
            throw new PersonaException($"Local model '{ModelId}': llama.cpp failed to evaluate tokens ({result}).", new LLamaDecodeError(result));
    }

    /// <summary>
    /// Tokenises with special tokens parsed and BOS added if the model asks for it. Many chat
    /// templates already begin with the BOS text, which would give two BOS tokens; one is dropped.
    /// </summary>
    private LLamaToken[] Tokenize(string text)
    {
        var tokens = _context.Tokenize(text, addBos: true, special: true);
        var bos = _weights.NativeHandle.Vocab.BOS;
        return tokens.Length >= 2 && bos is { } b && tokens[0] == b && tokens[1] == b ? tokens[1..] : tokens;
    }

    private DefaultSamplingPipeline CreateSampler(ChatOptions? options)
    {
        var temperature = options?.Temperature ?? _options.Temperature;
        if (temperature < 0 || float.IsNaN(temperature))
            throw new PersonaException($"Temperature must be 0 or more; got {temperature}.");
        return new DefaultSamplingPipeline
        {
            Temperature = temperature,
            TopK = options?.TopK ?? _options.TopK,
            TopP = options?.TopP ?? _options.TopP,
            MinP = _options.MinP,
            FrequencyPenalty = Math.Clamp(options?.FrequencyPenalty ?? 0f, -2f, 2f),
            PresencePenalty = Math.Clamp(options?.PresencePenalty ?? 0f, -2f, 2f),
            Seed = SamplerSeed(options?.Seed ?? _options.Seed),
            // JSON mode (with or without a schema) constrains sampling to a JSON object; the schema
            // itself is checked by the structured-output middleware, as for any other provider.
            Grammar = options?.ResponseFormat is ChatResponseFormatJson ? JsonGrammar : null,
        };
    }

    /// <summary>
    /// GBNF for one JSON object (RFC 8259 syntax), whitespace between tokens bounded so a weak model
    /// cannot spend its whole budget on blanks.
    /// </summary>
    internal static readonly Grammar JsonGrammar = new("""
        root   ::= object
        value  ::= object | array | string | number | "true" | "false" | "null"
        object ::= "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
        array  ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
        string ::= "\"" ( [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
        number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?
        ws     ::= [ \t\n]{0,4}
        """, "root");

    /// <summary>
    /// Folds a 64-bit seed into llama.cpp's 32-bit one. 0xFFFFFFFF means "pick a random seed" to
    /// llama.cpp, so it is moved to 0xFFFFFFFE to keep every seed deterministic.
    /// </summary>
    internal static uint SamplerSeed(long seed)
    {
        var folded = unchecked((uint)seed ^ (uint)(seed >>> 32));
        return folded == uint.MaxValue ? uint.MaxValue - 1 : folded;
    }

    private static List<(string Role, string Text)> ToTurns(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var turns = new List<(string, string)>();
        if (!string.IsNullOrEmpty(options?.Instructions))
            turns.Add(("system", options.Instructions));
        var index = 0;
        foreach (var m in messages)
        {
            foreach (var c in m.Contents)
            {
                if (c is not TextContent)
                    throw new PersonaException($"Message {index + 1} ({m.Role}) holds {c.GetType().Name}; the local provider takes text only.");
            }
            var role = m.Role.Value.ToLowerInvariant();
            if (role.Length == 0)
                throw new PersonaException($"Message {index + 1} has an empty role; expected system, user or assistant.");
            turns.Add((role, m.Text));
            index++;
        }
        if (turns.Count == 0)
            throw new PersonaException("A chat call needs at least one message.");
        return turns;
    }

    private static (LocalPromptFormat, string) ChoosePromptFormat(GgufInfo model)
    {
        if (string.IsNullOrWhiteSpace(model.ChatTemplate))
            return (LocalPromptFormat.Fallback, "the GGUF has no tokenizer.chat_template; using \"Role: text\" lines");
        try
        {
            var probe = new LLamaTemplate(model.ChatTemplate) { AddAssistant = true };
            probe.Add("system", "s").Add("user", "u");
            _ = probe.Apply();
            return (LocalPromptFormat.ModelTemplate, "the GGUF's tokenizer.chat_template, applied by llama.cpp");
        }
        catch (Exception e) when (e is MissingTemplateException or TemplateNotFoundException or InvalidOperationException)
        {
            return (LocalPromptFormat.Fallback, "llama.cpp does not recognise the GGUF's chat template; using \"Role: text\" lines");
        }
    }

    /// <summary>
    /// Finds stop sequences in the growing answer and holds back any tail that could still become
    /// one, so streamed text never includes (part of) a stop sequence.
    /// </summary>
    private sealed class StopMatcher(IReadOnlyList<string> stops)
    {
        private readonly StringBuilder _text = new();
        private int _emitted;
        public bool Stopped { get; private set; }

        public (string Emit, bool Stopped) Add(string piece)
        {
            _text.Append(piece);
            if (stops.Count == 0)
                return (Take(_text.Length), false);

            var text = _text.ToString();
            var longest = stops.Max(s => s.Length);
            var searchFrom = Math.Max(0, _emitted - longest + 1);
            var cut = -1;
            foreach (var s in stops)
            {
                var at = text.IndexOf(s, searchFrom, StringComparison.Ordinal);
                if (at >= 0 && (cut < 0 || at < cut)) cut = at;
            }
            if (cut >= 0)
            {
                Stopped = true;
                return (Take(cut), true);
            }
            var safe = text.Length - LongestPendingPrefix(text);
            return (Take(safe), false);
        }

        public string Flush() => Take(_text.Length);

        private int LongestPendingPrefix(string text)
        {
            var best = 0;
            foreach (var s in stops)
            {
                for (var len = Math.Min(s.Length - 1, text.Length); len > best; len--)
                {
                    if (text.AsSpan(text.Length - len).SequenceEqual(s.AsSpan(0, len)))
                    {
                        best = len;
                        break;
                    }
                }
            }
            return Math.Min(best, text.Length - _emitted);
        }

        private string Take(int upTo)
        {
            if (upTo <= _emitted) return "";
            var s = _text.ToString(_emitted, upTo - _emitted);
            _emitted = upTo;
            return s;
        }
    }
}
