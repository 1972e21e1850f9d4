using System.Security.Cryptography;
using System.Text;
using Persona.Prompts;

namespace Persona.Rewards;

/// <summary>
/// Scores candidate answers for a persona with saved reward models (the bench's rm_best_of_n). Every
/// model's margin is linear in the answers' feature difference, so an answer's score is the margin of
/// (answer, empty answer): comparing two scores is the model's pair verdict.
/// <para>One model scores every persona; a persona it never saw (the held-out unseen ones) is scored
/// after adapting the model on up to <see cref="AdaptPairs"/> of that persona's labelled train-prompt
/// pairs (their adaptation pool; the bench asks held-out questions, never these) when the model adapts,
/// else as the model scores a stranger (the conditioned model from the persona's features, the others
/// from the population).</para>
/// <para><c>auto</c> is the PAL-style mixture when present (each seen persona's own mixture of
/// prototypes, a new one's fitted from its pairs), then per_persona, conditioned, global. Why the
/// mixture before per_persona: per_persona's offsets are shrunk toward the global weights, and with the
/// few pairs a persona has in `persona run` (10) they barely move, so for a group whose taste is the
/// majority's reversed it picks as the global model does (measured on the planted world: per_persona's
/// picks carried the wrong marker words for Democrats, the mixture's the right ones).</para>
/// </summary>
public sealed class AnswerRewardScorer
{
    public const string Auto = "auto";
    public const int AdaptPairs = 20;

    private readonly Dictionary<string, RewardModel> _models;
    private readonly string _choice;
    private readonly IReadOnlyDictionary<string, List<RmPair>> _pool;
    private readonly ITextEmbedder? _embedder;
    private readonly Dictionary<string, FeatureStore> _stores = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Func<SparseVector, SparseVector, double> Score, string Model, RewardModel Used)> _byPersona = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>What the scorer is, for logs and the report.</summary>
    public string Description { get; }
    /// <summary>A hash of the model files, the choice and the adaptation pairs: a sample's picks are only reused under the same.</summary>
    public string Identity { get; }

    private AnswerRewardScorer(Dictionary<string, RewardModel> models, string choice, bool auto, IReadOnlyDictionary<string, List<RmPair>> pool, ITextEmbedder? embedder, string identity)
    {
        _models = models;
        _choice = choice;
        _pool = pool;
        _embedder = embedder;
        Identity = identity;
        Description = (auto ? "auto: " : "") + choice +
                      (models[choice].Adapts ? $" (a persona it never saw: adapted on up to {AdaptPairs} of its train-prompt pairs)" : "");
    }

    /// <summary>The model that scores (auto resolved).</summary>
    public string Model => _choice;

    /// <summary>
    /// Opens <paramref name="path"/>: a `persona rm train` output folder (its models/), its models/ folder, or one model's folder.
    /// </summary>
    /// <param name="choice">auto, or a model's name (global, per_persona, conditioned, pal_mixture).</param>
    /// <param name="pairs">The personas' pairs (a new persona's adaptation pool); null or empty: no adaptation.</param>
    public static AnswerRewardScorer Open(string path, string choice, IReadOnlyList<RmPair>? pairs, ITextEmbedder? embedder = null)
    {
        var full = Path.GetFullPath(path);
        var folders = new List<string>();
        if (File.Exists(Path.Combine(full, RmTrack.ModelFile))) folders.Add(full);
        else
        {
            var models = Directory.Exists(Path.Combine(full, RmTrack.ModelsFolder)) ? Path.Combine(full, RmTrack.ModelsFolder) : full;
            if (Directory.Exists(models))
                folders.AddRange(Directory.GetDirectories(models).Where(d => File.Exists(Path.Combine(d, RmTrack.ModelFile))).Order(StringComparer.Ordinal));
        }
        if (folders.Count == 0)
            throw new PersonaException($"--rm '{path}': no reward model there; expected a `persona rm train` output folder (with {RmTrack.ModelsFolder}/), or one of its {RmTrack.ModelsFolder}/NAME folders (e.g. RUN/rm).");
        var loaded = new Dictionary<string, RewardModel>(StringComparer.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var f in folders)
        {
            var m = RmTrack.Load(f);
            loaded[m.Name] = m;
            hash.AppendData(Encoding.UTF8.GetBytes(m.Name + "\0"));
            hash.AppendData(File.ReadAllBytes(Path.Combine(f, RmTrack.ModelFile)));
        }
        var c = choice.Trim().ToLowerInvariant();
        if (c != Auto && !loaded.ContainsKey(c))
            throw new PersonaException($"--bench-rm '{choice}': no such model in '{path}'; expected auto or one of {string.Join(", ", loaded.Keys.Order(StringComparer.Ordinal))}.");
        var model = c != Auto ? c : new[] { IdealPoints.ModelName, PerPersona.ModelName, Conditioned.ModelName, GlobalBt.ModelName }.FirstOrDefault(loaded.ContainsKey) ?? loaded.Keys.First();
        if (loaded.Values.FirstOrDefault(m => m.Featuriser.Kind == FeaturiserSpec.Embedding) is { } e && embedder is null)
            throw new PersonaException($"--rm '{path}': {e.Name} was trained on embedding features and the sentence-embedding model is not loaded here; retrain with --features lexical.");
        // The adaptation pool: each persona's labelled train-prompt pairs, in a stable order (the bench asks held-out questions, never these).
        var pool = (pairs ?? []).Where(p => p.Label != 0 && p.Split == "train").GroupBy(p => p.PersonaId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(p => p.PairId, StringComparer.Ordinal).Take(AdaptPairs).ToList(), StringComparer.Ordinal);
        hash.AppendData(Encoding.UTF8.GetBytes("\0model=" + model + "\0"));
        foreach (var (id, ps) in pool.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            foreach (var p in ps) hash.AppendData(Encoding.UTF8.GetBytes($"{id}\u0001{p.PairId}\u0001{p.Label}\u0001{p.A.Length}\u0001{p.B.Length}\0"));
        return new AnswerRewardScorer(loaded, model, c == Auto, pool, embedder, Convert.ToHexStringLower(hash.GetHashAndReset())[..16]);
    }

    /// <summary>Each answer's score for the persona (higher: preferred), and which model gave them.</summary>
    public async Task<(IReadOnlyList<double> Scores, string Model)> ScoreAsync(string personaId, IReadOnlyDictionary<string, string> attributes, string personaText,
        IReadOnlyList<string> answers, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false); // the feature stores and the per-persona cache are not thread-safe; lexical features take microseconds
        try
        {
            var (score, model, m) = await ForPersonaAsync(personaId, attributes, personaText, ct).ConfigureAwait(false);
            var store = await StoreAsync(m, answers, ct).ConfigureAwait(false);
            var psi = await PersonaFeaturesAsync(m, attributes, personaText, ct).ConfigureAwait(false);
            return ([.. answers.Select(a => score(psi, FeatureStore.Weigh(store.Raw(a), m.Featuriser)))], model);
        }
        finally { _gate.Release(); }
    }

    private async Task<(Func<SparseVector, SparseVector, double>, string, RewardModel)> ForPersonaAsync(string id, IReadOnlyDictionary<string, string> attributes, string text, CancellationToken ct)
    {
        if (_byPersona.TryGetValue(id, out var known)) return known;
        bool Knows(RewardModel m) => m switch { PerPersona pp => pp.Offsets.ContainsKey(id), IdealPoints ip => ip.Mixtures.ContainsKey(id), _ => true };
        var pairs = _pool.GetValueOrDefault(id) ?? [];
        var chosen = _models[_choice];
        (Func<SparseVector, SparseVector, double>, string, RewardModel) result;
        if (!Knows(chosen) && chosen.Adapts && pairs.Count > 0)
        {
            var examples = new List<RmExample>(pairs.Count);
            var store = await StoreAsync(chosen, pairs.SelectMany(p => new[] { p.A, p.B }), ct).ConfigureAwait(false);
            foreach (var p in pairs)
                examples.Add(new RmExample(id, SparseVector.Difference(FeatureStore.Weigh(store.Raw(p.A), chosen.Featuriser), FeatureStore.Weigh(store.Raw(p.B), chosen.Featuriser)), p.Label));
            var psi = await PersonaFeaturesAsync(chosen, attributes, text, ct).ConfigureAwait(false);
            var adapted = chosen.Adapt(psi, examples);
            result = ((_, d) => adapted(d), $"{chosen.Name} (adapted on {pairs.Count} pairs)", chosen);
        }
        else result = ((psi, d) => chosen.Margin(id, psi, d), chosen.Name + (Knows(chosen) ? "" : " (persona not seen in training)"), chosen);
        _byPersona[id] = result;
        return result;
    }

    private async Task<SparseVector> PersonaFeaturesAsync(RewardModel m, IReadOnlyDictionary<string, string> attributes, string text, CancellationToken ct)
    {
        var store = await StoreAsync(m, [text], ct).ConfigureAwait(false);
        return RmTrack.PersonaFeatures(attributes, FeatureStore.Weigh(store.Raw(text), m.Featuriser), m.Dim);
    }

    private async Task<FeatureStore> StoreAsync(RewardModel m, IEnumerable<string> texts, CancellationToken ct)
    {
        var f = m.Featuriser;
        var key = $"{f.Kind}/{f.Dimensions}/{f.NGrams}";
        if (!_stores.TryGetValue(key, out var store))
            _stores[key] = store = new FeatureStore(f.Kind, null, f.Kind == FeaturiserSpec.Lexical ? f.Dimensions : 1 << 16, f.NGrams, _embedder);
        await store.AddAsync(texts, ct).ConfigureAwait(false);
        return store;
    }
}
