using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Persona.Prompts;

namespace Persona.Rewards;

/// <summary>A sparse vector: indices ascending, one value each.</summary>
public sealed record SparseVector(int[] Index, float[] Value)
{
    public static readonly SparseVector Empty = new([], []);

    public double Dot(ReadOnlySpan<double> w)
    {
        var s = 0.0;
        for (var i = 0; i < Index.Length; i++) s += w[Index[i]] * Value[i];
        return s;
    }

    /// <summary>g += scale * this.</summary>
    public void AddTo(Span<double> g, double scale)
    {
        for (var i = 0; i < Index.Length; i++) g[Index[i]] += scale * Value[i];
    }

    /// <summary>a - b.</summary>
    public static SparseVector Difference(SparseVector a, SparseVector b)
    {
        var idx = new List<int>(a.Index.Length + b.Index.Length);
        var val = new List<float>(idx.Capacity);
        int i = 0, j = 0;
        while (i < a.Index.Length || j < b.Index.Length)
        {
            if (j >= b.Index.Length || i < a.Index.Length && a.Index[i] < b.Index[j]) { idx.Add(a.Index[i]); val.Add(a.Value[i++]); }
            else if (i >= a.Index.Length || b.Index[j] < a.Index[i]) { idx.Add(b.Index[j]); val.Add(-b.Value[j++]); }
            else { var v = a.Value[i] - b.Value[j]; if (v != 0) { idx.Add(a.Index[i]); val.Add(v); } i++; j++; }
        }
        return new SparseVector([.. idx], [.. val]);
    }

    /// <summary>The sum of several sparse vectors (used to join attribute one-hots and text features).</summary>
    public static SparseVector Sum(params SparseVector[] parts)
    {
        var d = new SortedDictionary<int, float>();
        foreach (var p in parts)
            for (var i = 0; i < p.Index.Length; i++) d[p.Index[i]] = d.GetValueOrDefault(p.Index[i]) + p.Value[i];
        return new SparseVector([.. d.Keys], [.. d.Values]);
    }
}

/// <summary>What a featuriser is, as saved with a model so `rm score` featurises new texts the same way.</summary>
/// <param name="L2">Scale each text's TF-IDF vector to unit length (sklearn's default); off, a word's weight stays per occurrence.</param>
public sealed record FeaturiserSpec(string Kind, int Dimensions, int NGrams, double[]? Idf, bool L2 = true)
{
    public const string Lexical = "lexical", Embedding = "embedding";
}

/// <summary>
/// Turns texts into feature vectors, each text once: raw features (hashed n-gram counts, or an
/// embedding) are cached on disk by the text's SHA-256 and the featuriser's settings, so a rerun over
/// the same texts featurises nothing; the lexical TF-IDF weights are applied after the cache (they
/// depend on the training texts, the counts do not).
/// </summary>
public sealed class FeatureStore
{
    private readonly string? _cacheFile;
    private readonly Dictionary<string, SparseVector> _raw = new(StringComparer.Ordinal);
    private readonly ITextEmbedder? _embedder;
    private int _loaded;

    public string Kind { get; }
    public int Dimensions { get; }
    public int NGrams { get; }
    /// <summary>Texts featurised in this process (a rerun over a warm cache: 0).</summary>
    public int Computed { get; private set; }
    public int CacheHits { get; private set; }

    /// <param name="cacheDir">Where the cache file lives; null: no disk cache.</param>
    public FeatureStore(string kind, string? cacheDir, int dimensions = 1 << 16, int ngrams = 2, ITextEmbedder? embedder = null)
    {
        if (kind is not (FeaturiserSpec.Lexical or FeaturiserSpec.Embedding)) throw new PersonaException($"--features '{kind}': expected lexical or embedding.");
        if (kind == FeaturiserSpec.Embedding && embedder is null) throw new PersonaException("--features embedding needs the bundled sentence-embedding model, which this build could not load.");
        if (dimensions < 16 || (dimensions & (dimensions - 1)) != 0) throw new PersonaException($"--dim {dimensions}: expected a power of two of at least 16.");
        if (ngrams is < 1 or > 3) throw new PersonaException($"--ngrams {ngrams}: expected 1, 2 or 3.");
        Kind = kind;
        Dimensions = kind == FeaturiserSpec.Embedding ? 0 : dimensions;
        NGrams = ngrams;
        _embedder = embedder;
        if (cacheDir is not null)
        {
            Directory.CreateDirectory(cacheDir);
            _cacheFile = Path.Combine(cacheDir, kind == FeaturiserSpec.Lexical
                ? string.Create(CultureInfo.InvariantCulture, $"lexical-d{dimensions}-n{ngrams}.bin") : "embedding-minilm.bin");
            Load();
        }
    }

    /// <summary>Featurises every text not yet known (the embedder in batches), then saves the cache.</summary>
    public async Task AddAsync(IEnumerable<string> texts, CancellationToken ct)
    {
        var missing = new List<(string Key, string Text)>();
        var queued = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in texts)
        {
            var key = Key(t);
            if (_raw.ContainsKey(key)) { CacheHits++; continue; }
            if (queued.Add(key)) missing.Add((key, t));
        }
        if (missing.Count == 0) return;
        if (Kind == FeaturiserSpec.Lexical)
        {
            foreach (var (key, text) in missing) { ct.ThrowIfCancellationRequested(); _raw[key] = HashedCounts(text, Dimensions, NGrams); }
        }
        else
        {
            const int batch = 256;
            for (var i = 0; i < missing.Count; i += batch)
            {
                var slice = missing.Skip(i).Take(batch).ToList();
                var vectors = await _embedder!.EmbedAsync(slice.Select(s => s.Text).ToList(), ct).ConfigureAwait(false);
                for (var j = 0; j < slice.Count; j++) _raw[slice[j].Key] = new SparseVector([.. Enumerable.Range(0, vectors[j].Length)], vectors[j]);
            }
        }
        Computed += missing.Count;
        Save();
    }

    /// <summary>Frees the texts' raw features held in memory (the disk cache stays): once the examples are built, at paper
    /// scale they are a few hundred MB the training no longer reads.</summary>
    public void Unload()
    {
        _raw.Clear();
        _raw.TrimExcess();
        _loaded = 0;
    }

    /// <summary>The raw features of a text already added.</summary>
    public SparseVector Raw(string text) => _raw.TryGetValue(Key(text), out var v) ? v : throw new InvalidOperationException("text not featurised");

    /// <summary>Smooth inverse document frequencies over these documents (lexical only): log((1 + n) / (1 + df)) + 1.</summary>
    public double[]? FitIdf(IEnumerable<string> documents, int minDf = 1)
    {
        if (Kind != FeaturiserSpec.Lexical) return null;
        var df = new int[Dimensions];
        var n = 0;
        foreach (var d in documents.Distinct(StringComparer.Ordinal))
        {
            n++;
            foreach (var i in Raw(d).Index) df[i]++;
        }
        var idf = new double[Dimensions];
        // A feature in fewer than minDf documents gets weight 0 (sklearn's min_df): with a few thousand pairs, rare n-grams are what a model overfits.
        for (var i = 0; i < idf.Length; i++) idf[i] = df[i] < minDf ? 0 : Math.Log((1.0 + n) / (1.0 + df[i])) + 1;
        return idf;
    }

    public FeaturiserSpec Spec(double[]? idf, bool l2 = true) => new(Kind, Kind == FeaturiserSpec.Lexical ? Dimensions : 0, NGrams, idf, l2);

    /// <summary>The feature vector of a text: TF-IDF, L2-normalised (lexical) or the embedding as is.</summary>
    public static SparseVector Weigh(SparseVector raw, FeaturiserSpec spec)
    {
        if (spec.Kind != FeaturiserSpec.Lexical || spec.Idf is null) return raw;
        var v = new float[raw.Value.Length];
        var norm = 0.0;
        for (var i = 0; i < v.Length; i++) { v[i] = (float)(raw.Value[i] * spec.Idf[raw.Index[i]]); norm += v[i] * (double)v[i]; }
        norm = Math.Sqrt(norm);
        if (spec.L2 && norm > 0) for (var i = 0; i < v.Length; i++) v[i] = (float)(v[i] / norm);
        return new SparseVector(raw.Index, v);
    }

    /// <summary>Hashed word n-gram counts (lower-cased runs of letters and digits; FNV-1a into the dimensions).</summary>
    public static SparseVector HashedCounts(string text, int dimensions, int ngrams)
    {
        var words = Tokens(text);
        var counts = new Dictionary<int, float>();
        for (var i = 0; i < words.Count; i++)
        {
            var h = 14695981039346656037UL;
            for (var n = 0; n < ngrams && i + n < words.Count; n++)
            {
                if (n > 0) h = (h ^ ' ') * 1099511628211UL;
                foreach (var c in words[i + n]) h = (h ^ c) * 1099511628211UL;
                var idx = (int)((h ^ (ulong)n * 0x9E3779B97F4A7C15UL) & (ulong)(dimensions - 1));
                counts[idx] = counts.GetValueOrDefault(idx) + 1;
            }
        }
        var keys = counts.Keys.Order().ToArray();
        return new SparseVector(keys, [.. keys.Select(k => counts[k])]);
    }

    /// <summary>A persona attribute as a one-hot feature in the same hashed space ("attr:political views=Democrat").</summary>
    public static int AttributeIndex(string attribute, string group, int dimensions)
    {
        var h = 14695981039346656037UL;
        foreach (var c in "attr:" + attribute + "=" + group) h = (h ^ c) * 1099511628211UL;
        return (int)(h & (ulong)(dimensions - 1));
    }

    private static List<string> Tokens(string text)
    {
        var words = new List<string>();
        var sb = new StringBuilder();
        foreach (var ch in text)
        {
            if (char.IsLetterOrDigit(ch)) sb.Append(char.ToLowerInvariant(ch));
            else if (sb.Length > 0) { words.Add(sb.ToString()); sb.Clear(); }
        }
        if (sb.Length > 0) words.Add(sb.ToString());
        return words;
    }

    private static string Key(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0, 16);

    // The cache: records of (key, count, indices, values); a damaged tail (a killed write never lands: the file is replaced atomically) is not expected, and an unreadable file is rebuilt.
    private void Load()
    {
        if (_cacheFile is null || !File.Exists(_cacheFile)) return;
        try
        {
            using var r = new BinaryReader(File.OpenRead(_cacheFile));
            var n = r.ReadInt32();
            for (var i = 0; i < n; i++)
            {
                var key = r.ReadString();
                var m = r.ReadInt32();
                var idx = new int[m];
                var val = new float[m];
                for (var j = 0; j < m; j++) { idx[j] = r.ReadInt32(); val[j] = r.ReadSingle(); }
                _raw[key] = new SparseVector(idx, val);
            }
            _loaded = _raw.Count;
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or FormatException)
        {
            _raw.Clear(); // an unreadable cache costs a recomputation, never a wrong feature
        }
    }

    private void Save()
    {
        if (_cacheFile is null || _raw.Count == _loaded) return;
        AtomicFile.Write(_cacheFile, tmp =>
        {
            using var w = new BinaryWriter(File.Create(tmp));
            w.Write(_raw.Count);
            foreach (var (key, v) in _raw)
            {
                w.Write(key);
                w.Write(v.Index.Length);
                for (var j = 0; j < v.Index.Length; j++) { w.Write(v.Index[j]); w.Write(v.Value[j]); }
            }
        });
        _loaded = _raw.Count;
    }
}
