using Persona.Embeddings;
using Persona.Prompts;

namespace Persona.Embeddings.Tests;

/// <summary>Loads the real model (shipped inside the NuGet package, no network) once for the class.</summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmEmbedder Embedder { get; } = new(batchSize: 8);
    public void Dispose() => Embedder.Dispose();
}

public class MiniLmEmbedderTests(MiniLmFixture fixture) : IClassFixture<MiniLmFixture>
{
    private static float Cos(float[] a, float[] b) => VectorMath.Dot(VectorMath.Normalized(a), VectorMath.Normalized(b));

    [Fact]
    public async Task Paraphrases_are_closer_than_unrelated_sentences()
    {
        var v = await fixture.Embedder.EmbedAsync(
        [
            "Should abortion be legal?",
            "Do you think women should have the right to terminate a pregnancy?",
            "What is the best way to bake a chocolate cake?",
            "How do I make a moist chocolate sponge?",
        ], CancellationToken.None);

        Assert.All(v, x => Assert.Equal(MiniLmEmbedder.Dimensions, x.Length));
        float abortionPair = Cos(v[0], v[1]), cakePair = Cos(v[2], v[3]);
        float across = new[] { Cos(v[0], v[2]), Cos(v[0], v[3]), Cos(v[1], v[2]), Cos(v[1], v[3]) }.Max();
        Assert.True(abortionPair > across + 0.2f, $"abortion pair {abortionPair}, best unrelated {across}");
        Assert.True(cakePair > across + 0.2f, $"cake pair {cakePair}, best unrelated {across}");
    }

    [Fact]
    public async Task Vectors_are_unit_length_deterministic_and_independent_of_batching()
    {
        string[] texts = ["Is religion good for society?", "Hi", "What should I cook tonight for my family of five?"];
        var all = await fixture.Embedder.EmbedAsync(texts, CancellationToken.None);
        var again = await fixture.Embedder.EmbedAsync(texts, CancellationToken.None);
        var single = await fixture.Embedder.EmbedAsync([texts[2]], CancellationToken.None);

        Assert.All(all, x => Assert.Equal(1.0, Math.Sqrt(x.Sum(f => (double)f * f)), 3));
        Assert.Equal(all[0], again[0]);
        // Padding within a batch must not change a text's vector (attention mask + masked mean pooling).
        Assert.True(Cos(all[2], single[0]) > 0.9999f);
    }

    [Fact]
    public async Task Long_and_empty_texts_do_not_break_the_model()
    {
        var longText = string.Join(' ', Enumerable.Repeat("Why do people disagree so strongly about politics?", 200));
        var v = await fixture.Embedder.EmbedAsync([longText, "", "   "], CancellationToken.None);
        Assert.Equal(3, v.Length);
        Assert.All(v, x => Assert.All(x, f => Assert.True(float.IsFinite(f))));
    }

    [Fact]
    public async Task Batches_larger_than_the_batch_size_keep_order()
    {
        var texts = Enumerable.Range(0, 19).Select(i => $"Question {i}: is it right to do thing number {i}?").ToArray();
        var v = await fixture.Embedder.EmbedAsync(texts, CancellationToken.None);
        Assert.Equal(19, v.Length);
        var one = await fixture.Embedder.EmbedAsync([texts[13]], CancellationToken.None);
        Assert.True(Cos(v[13], one[0]) > 0.9999f);
    }
}

/// <summary>Issue #8, defect 2: Ctrl-C during an embedding pass is a cancellation, not OnnxRuntime's "terminate flag" error.</summary>
public class MiniLmCancellationTests
{
    [Fact]
    public async Task Cancelling_inside_a_forward_pass_surfaces_as_OperationCanceledException()
    {
        using var embedder = new MiniLmEmbedder(batchSize: 512);
        var texts = Enumerable.Range(0, 512).Select(i => string.Join(' ', Enumerable.Repeat($"word{i} of a long prompt about public policy", 40))).ToList();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        var ex = await Record.ExceptionAsync(async () => await embedder.EmbedAsync(texts, cts.Token));
        Assert.NotNull(ex);
        Assert.IsAssignableFrom<OperationCanceledException>(ex);
    }
}
