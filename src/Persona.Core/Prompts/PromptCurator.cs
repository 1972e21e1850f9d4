using Microsoft.Extensions.AI;

namespace Persona.Prompts;

/// <summary>
/// The prompt-curation stage (method.md section 2): cheap filters, the LM controversy classifier,
/// topic clustering of the kept prompts and a topic-stratified train/held-out split. A plain
/// function of its inputs, the chat client's answers and the embedder's vectors: the same seed and
/// answers give the same result, byte for byte once written.
/// </summary>
/// <remarks>
/// Filters, in order: contains a question mark; at least <see cref="PromptCurationOptions.MinWords"/>
/// words; duplicates of an earlier prompt by normalised text (<see cref="PromptText.Normalize"/>),
/// then, in <see cref="NearDuplicateMode.TokenSet"/> mode, by the same set of normalised words
/// (catches reordered or repeated words; the first occurrence is kept); the optional limit; the
/// classifier (kept = verdict true; false and unparseable answers are rejections with the verdict).
/// Topics: k-means on unit MiniLM vectors, k = the candidate with the highest mean silhouette on a
/// seeded sample (ties: smaller k), unless k is fixed; silhouette and inertia of every candidate are
/// reported.
/// </remarks>
public sealed class PromptCurator
{
    public const string FilterQuestionMark = "question_mark";
    public const string FilterMinWords = "min_words";
    public const string FilterDuplicateText = "duplicate_normalized_text";
    public const string FilterDuplicateTokenSet = "duplicate_token_set";
    public const string FilterLimit = "limit";
    public const string FilterControversial = "controversial";

    private readonly IChatClient _chat;
    private readonly ITextEmbedder _embedder;
    private readonly PromptCurationOptions _options;

    public PromptCurator(IChatClient chat, ITextEmbedder embedder, PromptCurationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(embedder);
        _chat = chat;
        _embedder = embedder;
        _options = options ?? new PromptCurationOptions();
        _options.Validate();
    }

    public PromptCurationOptions Options => _options;

    /// <param name="sourceName">Where the prompts came from, for the report (e.g. "bundled:prism" or a file path).</param>
    public async Task<PromptCurationResult> CurateAsync(
        IReadOnlyList<SourcePrompt> source, string sourceName,
        IProgress<CurationProgress>? progress = null, CancellationToken ct = default)
    {
        var o = _options;
        var filters = new List<FilterCount>();
        var rejections = new List<PromptRejection>();

        var current = Prefilter(source, o, filters, rejections);

        var classifier = new ControversyClassifier(_chat, o.TemplateVersion, o.MaxConcurrency);
        var verdicts = await classifier.ClassifyAllAsync(current.Select(p => p.Text).ToList(), progress, ct, o.Abort).ConfigureAwait(false);
        var keptIdx = Enumerable.Range(0, current.Count).Where(i => verdicts[i].Controversial == true).ToArray();
        for (int i = 0; i < current.Count; i++)
        {
            var v = verdicts[i];
            if (v.Controversial != true)
                rejections.Add(new PromptRejection(current[i].Id, FilterControversial, null, v.Controversial, v.Reason, v.Raw));
        }
        filters.Add(new FilterCount(FilterControversial, current.Count, keptIdx.Length));
        var classifierReport = new ClassifierReport(
            current.Count,
            keptIdx.Length,
            verdicts.Count(v => v.Controversial == false),
            verdicts.Count(v => v.Controversial is null));

        var kept = keptIdx.Select(i => current[i]).ToList();
        var vectors = await EmbedAsync(kept, progress, ct).ConfigureAwait(false);
        var (topics, labels) = ClusterTopics(vectors, progress, ct);
        var split = labels.Length == 0 ? [] : TopicSplit.Assign(labels, topics.K, o.HeldOutFraction, o.Seed);
        topics = topics with { Clusters = ClusterSizesOf(labels, split, topics.K) };

        var curated = new CuratedPrompt[keptIdx.Length];
        for (int j = 0; j < keptIdx.Length; j++)
        {
            var i = keptIdx[j];
            curated[j] = new CuratedPrompt(current[i].Id, current[i].Text, labels[j], split[j], verdicts[i].Controversial, verdicts[i].Reason, verdicts[i].Raw);
        }

        var report = new PromptCurationReport(
            sourceName, o.Seed, o.TemplateVersion, o.NearDuplicates, o.Limit, o.HeldOutFraction,
            filters, classifierReport, topics,
            Train: split.Count(s => s == PromptSplit.Train),
            HeldOut: split.Count(s => s == PromptSplit.HeldOut));
        return new PromptCurationResult(curated, rejections, report);
    }

    /// <summary>The prompts the classifier would be sent (after the cheap filters and the limit): what a dry run counts.</summary>
    public static IReadOnlyList<SourcePrompt> ToClassify(IReadOnlyList<SourcePrompt> source, PromptCurationOptions? options = null) =>
        Prefilter(source, options ?? new PromptCurationOptions(), [], []);

    private static List<SourcePrompt> Prefilter(IReadOnlyList<SourcePrompt> source, PromptCurationOptions o, List<FilterCount> filters, List<PromptRejection> rejections)
    {
        var current = Filter(source, FilterQuestionMark, p => PromptText.HasQuestionMark(p.Text), filters, rejections);
        current = Filter(current, FilterMinWords, p => PromptText.WordCount(p.Text) >= o.MinWords, filters, rejections);
        current = Dedup(current, FilterDuplicateText, p => PromptText.Normalize(p.Text), filters, rejections);
        if (o.NearDuplicates == NearDuplicateMode.TokenSet)
            current = Dedup(current, FilterDuplicateTokenSet, p => PromptText.TokenSetKey(PromptText.Normalize(p.Text)), filters, rejections);
        if (o.Limit is int limit)
        {
            // Past the limit prompts are not judged at all, so they are counted but not listed as rejections.
            filters.Add(new FilterCount(FilterLimit, current.Count, Math.Min(limit, current.Count)));
            current = current.Take(limit).ToList();
        }
        return current;
    }

    private static List<SourcePrompt> Filter(IReadOnlyList<SourcePrompt> input, string name, Func<SourcePrompt, bool> keep,
        List<FilterCount> filters, List<PromptRejection> rejections)
    {
        var kept = new List<SourcePrompt>(input.Count);
        foreach (var p in input)
            if (keep(p)) kept.Add(p);
            else rejections.Add(new PromptRejection(p.Id, name));
        filters.Add(new FilterCount(name, input.Count, kept.Count));
        return kept;
    }

    private static List<SourcePrompt> Dedup(IReadOnlyList<SourcePrompt> input, string name, Func<SourcePrompt, string> key,
        List<FilterCount> filters, List<PromptRejection> rejections)
    {
        var firstById = new Dictionary<string, string>(StringComparer.Ordinal);
        var kept = new List<SourcePrompt>(input.Count);
        foreach (var p in input)
        {
            var k = key(p);
            if (firstById.TryGetValue(k, out var first)) rejections.Add(new PromptRejection(p.Id, name, first));
            else { firstById.Add(k, p.Id); kept.Add(p); }
        }
        filters.Add(new FilterCount(name, input.Count, kept.Count));
        return kept;
    }

    private async Task<float[][]> EmbedAsync(IReadOnlyList<SourcePrompt> kept, IProgress<CurationProgress>? progress, CancellationToken ct)
    {
        var result = new float[kept.Count][];
        int dim = -1;
        progress?.Report(new CurationProgress("embed", 0, kept.Count));
        for (int start = 0; start < kept.Count; start += _options.EmbeddingBatchSize)
        {
            ct.ThrowIfCancellationRequested();
            var batch = kept.Skip(start).Take(_options.EmbeddingBatchSize).Select(p => p.Text).ToList();
            var vecs = await _embedder.EmbedAsync(batch, ct).ConfigureAwait(false);
            if (vecs.Length != batch.Count)
                throw new InvalidOperationException($"The embedder returned {vecs.Length} vectors for {batch.Count} texts.");
            for (int i = 0; i < vecs.Length; i++)
            {
                var v = vecs[i];
                if (dim < 0) dim = v.Length;
                if (v.Length != dim || dim == 0)
                    throw new InvalidOperationException($"The embedder returned a vector of length {v.Length} (expected {dim}, non-zero).");
                if (v.Any(x => !float.IsFinite(x)))
                    throw new InvalidOperationException($"The embedder returned a non-finite value for prompt {kept[start + i].Id}.");
                result[start + i] = VectorMath.Normalized(v);
            }
            progress?.Report(new CurationProgress("embed", Math.Min(start + batch.Count, kept.Count), kept.Count));
        }
        return result;
    }

    private (TopicReport Topics, int[] Labels) ClusterTopics(float[][] vectors, IProgress<CurationProgress>? progress, CancellationToken ct)
    {
        var o = _options;
        int n = vectors.Length;
        if (n == 0) return (new TopicReport(0, "no prompts kept", 0, [], []), []);

        var sample = new SilhouetteSample(vectors, o.SilhouetteSampleSize, o.Seed);
        var grid = o.K is int fixedK
            ? [Math.Min(fixedK, n)]
            : o.KCandidates.Where(k => k >= 2 && k < n).Distinct().Order().ToArray();
        if (grid.Length == 0) grid = [1]; // too few prompts for any candidate: one topic

        var candidates = new List<KCandidate>();
        KMeansResult? best = null;
        double bestScore = double.NegativeInfinity;
        for (int g = 0; g < grid.Length; g++)
        {
            progress?.Report(new CurationProgress("topics", g, grid.Length));
            var fit = KMeans.Fit(vectors, grid[g], o.Seed, o.KMeansRestarts, o.KMeansMaxIterations, ct);
            var score = fit.K >= 2 ? sample.Score(fit.Labels, fit.K) : 0;
            candidates.Add(new KCandidate(fit.K, score, fit.Inertia));
            if (best is null || score > bestScore) { best = fit; bestScore = score; } // strict: ties keep the smaller k
        }
        progress?.Report(new CurationProgress("topics", grid.Length, grid.Length));

        string criterion = o.K is not null
            ? o.K > n ? $"--k {o.K} lowered to {n}: only {n} prompts were kept (silhouette reported, not used)" : $"fixed k = {o.K} (silhouette reported, not used)"
            : grid is [1]
                ? $"too few kept prompts ({n}) for the candidates; one topic"
                : "max mean silhouette (cosine distance) over the candidates, on a seeded sample; ties keep the smaller k";
        return (new TopicReport(best!.K, criterion, sample.Size, candidates, []), best.Labels);
    }

    private static IReadOnlyList<ClusterSizes> ClusterSizesOf(int[] labels, string[] split, int k)
    {
        var sizes = new ClusterSizes[k];
        for (int c = 0; c < k; c++) sizes[c] = new ClusterSizes(c, 0, 0, 0);
        for (int i = 0; i < labels.Length; i++)
        {
            var s = sizes[labels[i]];
            sizes[labels[i]] = split[i] == PromptSplit.HeldOut
                ? s with { Total = s.Total + 1, HeldOut = s.HeldOut + 1 }
                : s with { Total = s.Total + 1, Train = s.Train + 1 };
        }
        return sizes;
    }
}
