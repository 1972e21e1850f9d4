using Persona.Rewards;

namespace Persona.Embeddings.Tests;

/// <summary>
/// The reward-model track's embedding featuriser (<c>rm train --features embedding</c>): the bundled MiniLM through
/// <see cref="FeatureStore"/>, whose cache must hand back the same vectors on a rerun without running the model.
/// </summary>
public class EmbeddingFeaturiserTests(MiniLmFixture fixture) : IClassFixture<MiniLmFixture>
{
    private static double Dot(SparseVector a, SparseVector b)
    {
        Assert.Equal(a.Index, b.Index);
        var s = 0.0;
        for (var i = 0; i < a.Value.Length; i++) s += a.Value[i] * (double)b.Value[i];
        return s;
    }

    [Fact]
    public async Task Texts_become_unit_384_dimension_vectors_similar_texts_closer_and_a_rerun_reads_them_from_the_cache()
    {
        var cache = Path.Combine(Path.GetTempPath(), "persona-emb-feat-" + Guid.NewGuid().ToString("N"));
        string[] texts =
        [
            "I think we should keep our community's traditions alive.",
            "Our town's old customs matter and we ought to preserve them.",
            "Compile the kernel with the debug symbols enabled.",
        ];
        try
        {
            var store = new FeatureStore(FeaturiserSpec.Embedding, cache, embedder: fixture.Embedder);
            await store.AddAsync([.. texts, texts[0]], CancellationToken.None);
            Assert.Equal(3, store.Computed); // the repeated text is featurised once
            var v = texts.Select(store.Raw).ToArray();
            Assert.All(v, x => Assert.Equal(MiniLmEmbedder.Dimensions, x.Index.Length));
            Assert.All(v, x => Assert.Equal(1.0, Math.Sqrt(Dot(x, x)), 3));
            Assert.True(Dot(v[0], v[1]) > Dot(v[0], v[2]) + 0.2, $"paraphrase {Dot(v[0], v[1]):0.000} vs unrelated {Dot(v[0], v[2]):0.000}");
            // The spec saved with a model says embedding, and weighing leaves an embedding as it is (TF-IDF is lexical only).
            var spec = store.Spec(store.FitIdf(texts));
            Assert.Equal(FeaturiserSpec.Embedding, spec.Kind);
            Assert.Same(v[0], FeatureStore.Weigh(v[0], spec));

            // A new store over the same cache folder runs the model on nothing and returns the same vectors.
            var again = new FeatureStore(FeaturiserSpec.Embedding, cache, embedder: new ThrowingEmbedder());
            await again.AddAsync(texts, CancellationToken.None);
            Assert.Equal(0, again.Computed);
            Assert.Equal(3, again.CacheHits);
            for (var i = 0; i < texts.Length; i++) Assert.Equal(v[i].Value, again.Raw(texts[i]).Value);
        }
        finally
        {
            if (Directory.Exists(cache)) Directory.Delete(cache, true);
        }
    }

    private sealed class ThrowingEmbedder : Prompts.ITextEmbedder
    {
        public ValueTask<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct) => throw new InvalidOperationException("a cached text was embedded again");
    }
}
