namespace Persona.Llm.Local.Tests;

/// <summary>
/// A llama-architecture model small enough to write in a test (~0.5 MB of f32 random weights) that
/// llama.cpp loads and runs like any other GGUF.
/// <para>
/// Vocabulary (SentencePiece-style, tokenizer.ggml.model "llama"): &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the
/// 256 byte-fallback tokens &lt;0x00&gt;..&lt;0xFF&gt;, ChatML's two control tokens, then single
/// characters and a few merged pieces so ordinary text tokenises without falling back to bytes.
/// </para>
/// <para>
/// The weights are random except one "bias channel": every token embedding has a large constant in
/// dimension 0, and the output matrix uses that dimension to push control tokens, the end-of-text
/// token and non-printable bytes far below the rest. So the model never ends on its own and only
/// writes printable ASCII: answers run to MaxOutputTokens (FinishReason Length), which is what the
/// tests need to check determinism and token accounting. Which printable tokens it picks still
/// depends on the prompt, the other random weights and the sampling seed.
/// </para>
/// </summary>
public static class TinyGguf
{
    public const int Embd = 64;
    public const int Layers = 2;
    public const int Heads = 4;
    public const int KvHeads = 2; // grouped-query attention, as most current models use
    public const int FeedForward = 128;
    public const int ContextLength = 256;

    public const int Unk = 0, Bos = 1, Eos = 2;
    public const string ChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    private const int TypeNormal = 1, TypeUnknown = 2, TypeControl = 3, TypeByte = 6;

    /// <summary>The vocabulary written to every tiny model, in token-id order, with token types.</summary>
    public static IReadOnlyList<(string Text, int Type)> Vocabulary { get; } = BuildVocabulary();

    /// <summary>
    /// Writes the model to <paramref name="path"/>. Same seed, same bytes. With
    /// <paramref name="chatTemplate"/> the file carries tokenizer.chat_template.
    /// </summary>
    public static void Write(string path, int seed, string? chatTemplate = null)
    {
        var rng = new Random(seed);
        var vocab = Vocabulary;
        var n = vocab.Count;
        const int headDim = Embd / Heads;
        const int kvDim = headDim * KvHeads;

        var w = new GgufWriter()
            .Str("general.architecture", "llama")
            .Str("general.name", $"persona-tiny-{seed}")
            .U32("general.alignment", GgufWriter.Alignment)
            .U32("general.file_type", 0) // all f32
            .U32("llama.context_length", ContextLength)
            .U32("llama.embedding_length", Embd)
            .U32("llama.block_count", Layers)
            .U32("llama.feed_forward_length", FeedForward)
            .U32("llama.attention.head_count", Heads)
            .U32("llama.attention.head_count_kv", KvHeads)
            .F32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
            .U32("llama.rope.dimension_count", headDim)
            .F32("llama.rope.freq_base", 10000f)
            .U32("llama.vocab_size", (uint)n)
            .Str("tokenizer.ggml.model", "llama")
            .Strings("tokenizer.ggml.tokens", vocab.Select(v => v.Text).ToList())
            .Floats("tokenizer.ggml.scores", vocab.Select((v, i) => Score(v, i)).ToList())
            .Ints("tokenizer.ggml.token_type", vocab.Select(v => v.Type).ToList())
            .U32("tokenizer.ggml.bos_token_id", Bos)
            .U32("tokenizer.ggml.eos_token_id", Eos)
            .U32("tokenizer.ggml.unknown_token_id", Unk)
            .Bool("tokenizer.ggml.add_bos_token", true)
            .Bool("tokenizer.ggml.add_eos_token", false);
        if (chatTemplate is not null)
            w.Str("tokenizer.chat_template", chatTemplate);

        // Embeddings: random, plus the constant bias channel in dimension 0.
        var embd = Gaussian(rng, n * Embd, 0.5f);
        for (var t = 0; t < n; t++) embd[t * Embd] = 4f;
        w.Tensor("token_embd.weight", [Embd, n], embd);

        for (var l = 0; l < Layers; l++)
        {
            var p = $"blk.{l}.";
            w.Tensor(p + "attn_norm.weight", [Embd], Ones(Embd));
            w.Tensor(p + "attn_q.weight", [Embd, Embd], Gaussian(rng, Embd * Embd, 0.1f));
            w.Tensor(p + "attn_k.weight", [Embd, kvDim], Gaussian(rng, Embd * kvDim, 0.1f));
            w.Tensor(p + "attn_v.weight", [Embd, kvDim], Gaussian(rng, Embd * kvDim, 0.1f));
            w.Tensor(p + "attn_output.weight", [Embd, Embd], Gaussian(rng, Embd * Embd, 0.1f));
            w.Tensor(p + "ffn_norm.weight", [Embd], Ones(Embd));
            w.Tensor(p + "ffn_gate.weight", [Embd, FeedForward], Gaussian(rng, Embd * FeedForward, 0.1f));
            w.Tensor(p + "ffn_up.weight", [Embd, FeedForward], Gaussian(rng, Embd * FeedForward, 0.1f));
            w.Tensor(p + "ffn_down.weight", [FeedForward, Embd], Gaussian(rng, FeedForward * Embd, 0.1f));
        }

        w.Tensor("output_norm.weight", [Embd], Ones(Embd));
        var output = Gaussian(rng, n * Embd, 0.3f);
        for (var t = 0; t < n; t++) output[t * Embd] = Writable(vocab[t]) ? 0f : -10f;
        w.Tensor("output.weight", [Embd, n], output);

        w.Write(path);
    }

    /// <summary>Tokens the model may produce: ordinary pieces and printable-ASCII bytes except the newline.</summary>
    public static bool Writable((string Text, int Type) token) => token.Type switch
    {
        TypeNormal => true,
        TypeByte => Convert.ToInt32(token.Text[3..5], 16) is >= 0x20 and < 0x7f,
        _ => false,
    };

    private static IReadOnlyList<(string, int)> BuildVocabulary()
    {
        var v = new List<(string, int)> { ("<unk>", TypeUnknown), ("<s>", TypeControl), ("</s>", TypeControl) };
        for (var b = 0; b < 256; b++) v.Add(($"<0x{b:X2}>", TypeByte));
        v.Add(("<|im_start|>", TypeControl));
        v.Add(("<|im_end|>", TypeControl));
        const string space = "\u2581"; // SentencePiece's visible space
        v.Add((space, TypeNormal));
        foreach (var c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?'-")
            v.Add((c.ToString(), TypeNormal));
        foreach (var piece in new[] { "th", "he", "in", "er", "an", "on", "the", "ing", "ll", "lo", "llo", "ello" })
            v.Add((piece, TypeNormal));
        foreach (var word in new[] { "the", "a", "to", "of", "and", "Hello", "is", "you", "I" })
            v.Add((space + word, TypeNormal));
        return v;
    }

    // SentencePiece merges the pair whose result scores highest; longer pieces score higher so
    // words come out whole. Special and byte tokens are never merge results.
    private static float Score((string Text, int Type) token, int id) =>
        token.Type == TypeNormal ? token.Text.Length - id * 1e-4f : 0f;

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();

    private static float[] Gaussian(Random rng, int n, float std)
    {
        var a = new float[n];
        for (var i = 0; i < n; i++)
        {
            // Box-Muller; 1 - NextDouble() avoids log(0).
            var u1 = 1.0 - rng.NextDouble();
            var u2 = rng.NextDouble();
            a[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }
}
