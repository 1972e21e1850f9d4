namespace Persona.Prompts;

/// <summary>
/// Turns texts into dense vectors. Kept as an interface in Core so the curation stage does not
/// drag a 90 MB ONNX model into every consumer: the MiniLM implementation lives in
/// Persona.Embeddings, tests use cheap deterministic fakes.
/// </summary>
public interface ITextEmbedder
{
    /// <summary>One vector per input text, in input order, all of the same length.</summary>
    ValueTask<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct);
}
