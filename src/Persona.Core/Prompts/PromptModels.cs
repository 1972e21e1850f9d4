namespace Persona.Prompts;

/// <summary>A prompt as read from its source; <see cref="Line"/> is 1-based in the source file.</summary>
public sealed record SourcePrompt(string Id, string Text, int Line);

/// <summary>
/// The LM's controversy verdict for one prompt. <see cref="Controversial"/> is null when the answer
/// could not be parsed; <see cref="Raw"/> then holds the answer text so the failure can be audited.
/// </summary>
public sealed record ControversyVerdict(bool? Controversial, string? Reason, string? Raw)
{
    public bool Parsed => Controversial is not null;
}

/// <summary>Values of <see cref="CuratedPrompt.Split"/>.</summary>
public static class PromptSplit
{
    public const string Train = "train";
    public const string HeldOut = "held_out";

    public static bool IsKnown(string split) => split is Train or HeldOut;
}

/// <summary>
/// One line of prompts.jsonl: a kept prompt (the classifier said controversial) with its topic
/// cluster and its train or held-out split. Prompts the classifier excluded are
/// <see cref="PromptRejection"/>s, so a reader of prompts.jsonl gets exactly the curated set.
/// </summary>
public sealed record CuratedPrompt(
    string Id,
    string Text,
    int? Cluster,
    string Split,
    bool? Controversial,
    string? Reason,
    string? Raw);

/// <summary>How near-duplicates are detected after normalisation (see <see cref="PromptText.Normalize"/>).</summary>
public enum NearDuplicateMode
{
    /// <summary>Only prompts whose normalised text is identical.</summary>
    NormalizedText,
    /// <summary>Also prompts made of the same set of normalised words (reordered or repeated words).</summary>
    TokenSet,
}

/// <summary>Options of the curation stage; the defaults reproduce the original study's procedure.</summary>
public sealed record PromptCurationOptions
{
    /// <summary>Seeds k-means, the silhouette sample and the split.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Prompts with fewer words are dropped (method.md section 2).</summary>
    public int MinWords { get; init; } = 5;

    public NearDuplicateMode NearDuplicates { get; init; } = NearDuplicateMode.TokenSet;

    /// <summary>At most this many prompts are sent to the classifier (first ones in input order after
    /// the cheap filters); null = all. For quick tries: the LM calls are the expensive part.</summary>
    public int? Limit { get; init; }

    /// <summary>Concurrent classifier requests in flight.</summary>
    public int MaxConcurrency { get; init; } = 4;
    /// <summary>The second Ctrl-C: abandons classifier calls in flight.</summary>
    public CancellationToken Abort { get; init; }

    /// <summary>Passed as ChatOptions.AdditionalProperties["template_version"] so caches key on it;
    /// change it whenever the classifier prompt changes.</summary>
    public string TemplateVersion { get; init; } = ControversyClassifier.DefaultTemplateVersion;

    /// <summary>Share of each topic cluster assigned to held-out; the original's 868 of 3,868.</summary>
    public double HeldOutFraction { get; init; } = 868.0 / 3868.0;

    /// <summary>A fixed number of topic clusters; null = choose from <see cref="KCandidates"/> by silhouette.</summary>
    public int? K { get; init; }

    public IReadOnlyList<int> KCandidates { get; init; } = Enumerable.Range(4, 17).Select(i => 2 * i).ToArray(); // 8, 10, ..., 40

    /// <summary>Silhouette is quadratic in the number of points, so it is computed on a seeded sample.</summary>
    public int SilhouetteSampleSize { get; init; } = 1500;

    /// <summary>k-means runs from this many k-means++ seeds per k; the lowest inertia wins.</summary>
    public int KMeansRestarts { get; init; } = 3;

    public int KMeansMaxIterations { get; init; } = 100;

    /// <summary>Texts per call to the embedder (bounds memory and gives progress).</summary>
    public int EmbeddingBatchSize { get; init; } = 64;

    internal void Validate()
    {
        if (MinWords < 0) throw new PersonaException($"MinWords must be >= 0 (got {MinWords}).");
        if (Limit is < 1) throw new PersonaException($"--limit must be at least 1 prompt (got {Limit}); leave it out to classify every prompt.");
        if (MaxConcurrency < 1) throw new PersonaException($"--concurrency must be at least 1 (got {MaxConcurrency}).");
        if (string.IsNullOrWhiteSpace(TemplateVersion)) throw new PersonaException("TemplateVersion must not be empty.");
        if (!(HeldOutFraction >= 0 && HeldOutFraction < 1)) throw new PersonaException($"HeldOutFraction must be in [0, 1) (got {HeldOutFraction}).");
        if (K is < 1) throw new PersonaException($"--k must be at least 1 topic cluster (got {K}); leave it out to choose k by silhouette.");
        if (K is null && (KCandidates.Count == 0 || KCandidates.Any(k => k < 2)))
            throw new PersonaException("KCandidates must list at least one k >= 2 when K is not fixed.");
        if (SilhouetteSampleSize < 3) throw new PersonaException($"SilhouetteSampleSize must be >= 3 (got {SilhouetteSampleSize}).");
        if (KMeansRestarts < 1) throw new PersonaException($"KMeansRestarts must be >= 1 (got {KMeansRestarts}).");
        if (KMeansMaxIterations < 1) throw new PersonaException($"KMeansMaxIterations must be >= 1 (got {KMeansMaxIterations}).");
        if (EmbeddingBatchSize < 1) throw new PersonaException($"EmbeddingBatchSize must be >= 1 (got {EmbeddingBatchSize}).");
    }
}

/// <summary>
/// Why a prompt left the pipeline before or at the classifier. For the classifier's rejects
/// <see cref="Controversial"/> is its verdict (false, or null when the answer could not be parsed),
/// <see cref="Reason"/> its stated reason and <see cref="Raw"/> the unparseable answer, so the
/// LM's "no" stays auditable.
/// </summary>
public sealed record PromptRejection(string Id, string Filter, string? DuplicateOf = null,
    bool? Controversial = null, string? Reason = null, string? Raw = null);

/// <summary>Counts after one filter, in pipeline order.</summary>
public sealed record FilterCount(string Filter, int Before, int After);

/// <summary>One k tried while choosing the number of topics.</summary>
public sealed record KCandidate(int K, double Silhouette, double Inertia);

public sealed record ClusterSizes(int Cluster, int Total, int Train, int HeldOut);

public sealed record TopicReport(
    int K,
    string Criterion,
    int SilhouetteSampleSize,
    IReadOnlyList<KCandidate> Candidates,
    IReadOnlyList<ClusterSizes> Clusters);

public sealed record ClassifierReport(int Classified, int Controversial, int NotControversial, int Unparsed);

/// <summary>The curation report (serialise with <see cref="PromptCurationWriter.ReportJsonOptions"/>).</summary>
public sealed record PromptCurationReport(
    string Source,
    int Seed,
    string TemplateVersion,
    NearDuplicateMode NearDuplicates,
    int? Limit,
    double HeldOutFraction,
    IReadOnlyList<FilterCount> Filters,
    ClassifierReport Classifier,
    TopicReport Topics,
    int Train,
    int HeldOut);

public sealed record PromptCurationResult(
    IReadOnlyList<CuratedPrompt> Prompts,
    IReadOnlyList<PromptRejection> Rejections,
    PromptCurationReport Report);

/// <summary>Progress of a long stage (for progress bars).</summary>
public sealed record CurationProgress(string Stage, int Done, int Total);
