using System.Text.Json;
using Persona.Census;
using Persona.Personas;
using Persona.Engine;

namespace Persona.Survey;

/// <summary>A persona of the panel: who it is, what the model is shown, its census weight and its survey groups.</summary>
public sealed record SurveyPanelist
{
    // Null when the text is the attributes' `key: value` lines, as a rendered persona's is: rebuilt for each item instead of
    // held, so a panel of 100,000 does not keep 100,000 texts (about 4 KB each) beside the attributes they spell.
    private readonly string? _text;

    public SurveyPanelist(string id, string text, IReadOnlyDictionary<string, string> attributes, double weight, IReadOnlyList<SurveyGroup> groups)
    {
        Id = id;
        Attributes = attributes;
        _text = PersonaInputs.RendersAs(attributes, text) ? null : text;
        Weight = weight;
        Groups = groups;
    }

    public string Id { get; }
    /// <summary>The persona as the judge reads it.</summary>
    public string Text => _text ?? PersonaInputs.Render(Attributes);
    public IReadOnlyDictionary<string, string> Attributes { get; }
    public double Weight { get; }
    public IReadOnlyList<SurveyGroup> Groups { get; }
}

/// <summary>A steering mode's gain per group: its distance minus the unsteered model's (below 0, steering brings the answers closer to the group's).</summary>
public sealed record SurveySteerability(string Mode, IReadOnlyDictionary<SurveyGroup, double> Gain, double MeanGain, double SdGain);

/// <summary>What the survey stage found: the panel's scores (mode persona), the unsteered model's (mode none), each steering mode's, and steerability.</summary>
public sealed record SurveyStageResult(SurveyResults? Panel, SurveyResults? Unsteered, IReadOnlyDictionary<string, SurveyResults> Steered,
    IReadOnlyList<SurveySteerability> Steerability, IReadOnlyList<string> Questions, int Panelists, int Failed);

/// <summary>
/// The survey stage's plan and aggregation, apart from the runner so that both are testable without
/// a run: which questions (a seeded subset by default, every one at paper scale), which personas (adults
/// in at least one survey group), and the groups' census-weighted distributions from the sample log.
/// </summary>
public static class SurveyStage
{
    public const string ResultsFile = SurveyResultsJson.FileName;
    public const string UnsteeredFile = "survey-results-unsteered.json";
    public const string SamplesFile = "samples.jsonl";
    public const string ModesFile = "survey-modes.json";

    /// <summary>The results file of a steering mode, e.g. survey-results-steer-qa.json.</summary>
    public static string SteeredFile(string mode) => $"survey-results-{mode}.json";

    /// <summary>The questions to ask: all when <paramref name="count"/> is null or covers them, else a seeded subset kept in file order.</summary>
    public static IReadOnlyList<string> Questions(SurveySet survey, int? count, long seed)
    {
        if (count is null || count >= survey.Questions.Count) return survey.Questions;
        var rng = new DeterministicRng(DeterministicRng.Mix(unchecked((ulong)seed), 0x5355525645UL)); // "SURVE"
        var keys = survey.Questions.ToArray();
        // Partial Fisher-Yates: the first count entries are a uniform subset.
        for (var i = 0; i < count; i++)
        {
            var j = i + rng.NextInt(keys.Length - i);
            (keys[i], keys[j]) = (keys[j], keys[i]);
        }
        var chosen = new HashSet<string>(keys.Take(count.Value), StringComparer.Ordinal);
        return survey.Questions.Where(chosen.Contains).ToList();
    }

    /// <summary>The panel: every persona in at least one survey group (adults only), with its rendered profile and census weight.</summary>
    /// <param name="records">Read one at a time: a record's census block is most of its size and the panel keeps none of it.</param>
    public static async Task<IReadOnlyList<SurveyPanelist>> PanelAsync(IAsyncEnumerable<PersonaRecord> records)
    {
        var list = new List<SurveyPanelist>();
        var compact = new PersonaInputs.AttributeCompactor();
        await foreach (var r in records.ConfigureAwait(false))
        {
            var groups = SurveyGroupMap.GroupsOf(r);
            if (groups.Count == 0) continue;
            var p = PersonaJson.WithId(r);
            var text = PersonaRenderer.Render(p);
            list.Add(new SurveyPanelist(p.Id, text, compact.Of(PersonaRenderer.Attributes(p)), p.Census.Weight > 0 ? p.Census.Weight : 1, groups));
        }
        return list;
    }

    /// <summary>A survey sample cut to what <see cref="Score"/> reads: its inputs, status and stated distribution (the sample log keeps it whole).</summary>
    public static Func<SampleRecord, SampleRecord> ForStatistics()
    {
        var cut = new SampleCut();
        return s => s with
        {
            Output = null,
            Turns = cut.Turns(s.Turns),
            Inputs = cut.Inputs(s.Inputs),
            Data = s.Data is { ValueKind: System.Text.Json.JsonValueKind.Object } d && d.TryGetProperty("distribution", out var dist)
                ? System.Text.Json.JsonSerializer.SerializeToElement(new Dictionary<string, System.Text.Json.JsonElement> { ["distribution"] = dist })
                : null,
        };
    }

    /// <summary>The items: every panelist x question in mode persona, each question once in mode none, and each question x group in each
    /// steering mode; N of each with sample:N.</summary>
    public static IEnumerable<SurveyAskItem> Items(IReadOnlyList<SurveyPanelist> panel, SurveySet survey, IReadOnlyList<string> questions, IReadOnlyList<string> modes,
        string elicitation = SurveyElicitation.Verbalized)
    {
        var n = Math.Max(1, SurveyElicitation.Samples(elicitation));
        foreach (var q in questions)
        {
            var item = survey.RowsOf(q).First();
            for (var k = 0; k < n; k++)
            {
                if (modes.Contains(SurveyModes.None)) yield return new SurveyAskItem(null, null, new Dictionary<string, string>(), item, SurveyModes.None, elicitation, null, k);
                foreach (var mode in SurveyModes.Steering.Where(modes.Contains))
                    foreach (var g in survey.Groups.Where(g => survey.TryGet(q, g, out _)))
                        yield return new SurveyAskItem(null, null, SurveyModes.AsPersonaAttributes(g), item, mode, elicitation, g, k);
                if (modes.Contains(SurveyModes.Persona))
                    foreach (var p in panel)
                        yield return new SurveyAskItem(p.Id, p.Text, p.Attributes, item, SurveyModes.Persona, elicitation, null, k);
            }
        }
    }

    /// <summary>How many items <see cref="Items"/> yields (for progress and the dry run).</summary>
    public static long Count(int panelists, SurveySet survey, IReadOnlyList<string> questions, IReadOnlyList<string> modes, string elicitation = SurveyElicitation.Verbalized) =>
        Math.Max(1, SurveyElicitation.Samples(elicitation)) * questions.Sum(q => (modes.Contains(SurveyModes.None) ? 1L : 0)
            + SurveyModes.Steering.Count(modes.Contains) * (long)survey.Groups.Count(g => survey.TryGet(q, g, out _))
            + (modes.Contains(SurveyModes.Persona) ? panelists : 0));

    /// <summary>A dry-run line of the survey: one mode's calls and its mean prompt and completion tokens per call.</summary>
    public sealed record CostLine(string Mode, long Calls, double PromptTokens, double CompletionTokens);

    /// <summary>
    /// What the survey would send, per mode, for the dry run: the calls <see cref="Count"/> counts, split by mode,
    /// and tokens measured on the real prompts of the asked questions (the persona's profile counted as
    /// <paramref name="personaTokens"/>); completions are what each elicitation asks for: a JSON probability per
    /// option (verbalized), one letter as JSON per answer (sample:N), one token (logprobs).
    /// </summary>
    public static IReadOnlyList<CostLine> Cost(int panelists, SurveySet survey, IReadOnlyList<string> questions, IReadOnlyList<string> modes, string elicitation, int personaTokens)
    {
        var n = Math.Max(1, SurveyElicitation.Samples(elicitation));
        var lines = new List<CostLine>();
        if (questions.Count == 0) return lines;
        double Completion(SurveyItem q) =>
            elicitation == SurveyElicitation.Logprobs ? 1
            : SurveyElicitation.Samples(elicitation) > 0 ? Llm.TokenCounter.Count("{\"answer\":\"A\"}")
            : Llm.TokenCounter.Count("{" + string.Join(",", Enumerable.Range(0, q.Ordinal.Count).Select(k => $"\"{SurveyTask.Letter(k)}\":0.125")) + "}");
        foreach (var mode in SurveyModes.All.Where(modes.Contains))
        {
            long calls = 0;
            double prompt = 0, completion = 0;
            foreach (var key in questions)
            {
                var q = survey.RowsOf(key).First();
                var groups = SurveyModes.Steering.Contains(mode) ? survey.Groups.Where(g => survey.TryGet(key, g, out _)).ToList() : [];
                long c = mode == SurveyModes.Persona ? panelists : mode == SurveyModes.None ? 1 : groups.Count;
                c *= n;
                if (c == 0) continue;
                var item = new SurveyAskItem(mode == SurveyModes.Persona ? "p" : null, mode == SurveyModes.Persona ? "" : null, new Dictionary<string, string>(), q, mode, elicitation,
                    groups.Count > 0 ? groups[0] : null);
                prompt += c * (Llm.TokenCounter.CountPrompt(SurveyTask.Messages(item)) + (mode == SurveyModes.Persona ? personaTokens : 0));
                completion += c * Completion(q);
                calls += c;
            }
            if (calls > 0) lines.Add(new CostLine(mode, calls, prompt / calls, completion / calls));
        }
        return lines;
    }

    /// <summary>
    /// One distribution per respondent (persona, steered group or none), question and mode: the stated one
    /// (verbalized), or the shares of the N sampled answers that did not fail (sample:N).
    /// </summary>
    public static IReadOnlyList<SampleRecord> Collapse(IReadOnlyList<SampleRecord> samples)
    {
        if (!samples.Any(s => s.Input("elicitation")?.StartsWith(SurveyElicitation.SamplePrefix, StringComparison.Ordinal) == true)) return samples;
        var list = new List<SampleRecord>();
        foreach (var unit in samples.GroupBy(s => (s.Input("mode"), s.Input("persona_id"), s.Input("steer"), s.Input("qkey"))))
        {
            var ok = unit.Select(SurveyTask.DistributionOf).Where(d => d is not null).ToList();
            var first = unit.First();
            if (ok.Count == 0) { list.Add(first); continue; }
            var mean = new double[ok[0]!.Length];
            foreach (var d in ok) for (var i = 0; i < mean.Length; i++) mean[i] += d![i] / ok.Count;
            var data = JsonSerializer.SerializeToElement(new Dictionary<string, object?> { ["distribution"] = mean, ["answers"] = ok.Count });
            list.Add(first with { Status = SampleRecord.StatusOk, Data = data });
        }
        return list;
    }

    /// <summary>
    /// The stage's files beyond the results JSON: the panel's question x group heat map (figures/) and the
    /// scores of every mode as one Every Eval Ever record (every-eval-ever/). <paramref name="retrieved"/>
    /// is the record's creation time (the only part of it that is not a function of the samples).
    /// </summary>
    public static async Task WriteExtrasAsync(string dir, SurveySet survey, SurveyStageResult r, string model, string elicitation, bool simulated,
        DateTimeOffset retrieved, CancellationToken ct)
    {
        if ((r.Panel ?? r.Unsteered ?? r.Steered.Values.FirstOrDefault()) is { } shown)
            await SurveyHeatmap.WriteAsync(dir, shown, simulated, ct).ConfigureAwait(false);
        var entries = new List<SurveyEeeEntry>();
        if (r.Panel is { } p) entries.Add(new SurveyEeeEntry(SurveyModes.Persona, p));
        if (r.Unsteered is { } u) entries.Add(new SurveyEeeEntry(SurveyModes.None, u));
        foreach (var (mode, x) in r.Steered) entries.Add(new SurveyEeeEntry(mode, x));
        if (entries.Count == 0) return;
        var folder = Path.Combine(dir, SurveyEveryEvalEver.Folder);
        var files = await SurveyEveryEvalEver.WriteAsync(folder, survey, entries, model, elicitation, simulated, retrieved, ct).ConfigureAwait(false);
        // The folder is the stage's own: a record of an earlier run of the stage (other answers, another uuid) would sit beside this one as if current.
        foreach (var old in Directory.EnumerateFiles(folder).Where(f => SurveyEveryEvalEver.IsRecordFile(f) && f != files.Aggregate && f != files.Instances).ToList())
            File.Delete(old);
    }

    /// <summary>Scores the logged samples: the panel's groups (census-weighted, small groups withheld) and the unsteered answer given to every group.</summary>
    public static SurveyStageResult Score(IReadOnlyList<SampleRecord> samples, IReadOnlyList<SurveyPanelist> panel, SurveySet survey,
        IReadOnlyList<string> questions, int minPersonas, int resamples, ulong seed, CancellationToken ct = default)
    {
        var tally = new SurveyTally(panel, survey);
        foreach (var s in samples) tally.Count(s);
        foreach (var s in Collapse(samples)) tally.Add(s);
        return tally.Finish(questions, minPersonas, resamples, seed, ct);
    }

    /// <summary>Whether the samples of an elicitation are scored as they come (<see cref="SurveyTally"/>), or held until every draw of a respondent is in (sample:N).</summary>
    public static bool Streams(string elicitation) => !elicitation.StartsWith(SurveyElicitation.SamplePrefix, StringComparison.Ordinal);
}

/// <summary>
/// <see cref="SurveyStage.Score"/> as samples come: a persona's answer goes into its groups' running sums and is not kept,
/// so scoring 100,000 personas x 12 questions holds the sums, not 1.2 million samples. Added in the same order, it gives
/// the same bytes as scoring the whole list.
/// </summary>
public sealed class SurveyTally(IReadOnlyList<SurveyPanelist> panel, SurveySet survey)
{
    private readonly Dictionary<string, SurveyPanelist> _byId = panel.ToDictionary(p => p.Id, StringComparer.Ordinal);
    private readonly Dictionary<string, SurveyGroup> _groupsByName = survey.Groups.ToDictionary(g => g.ToString(), StringComparer.Ordinal);
    private readonly SurveyPanel.Sums _answers = new(survey);
    private readonly List<SurveyPrediction> _unsteered = [];
    private readonly Dictionary<string, List<SurveyPrediction>> _steered = new(StringComparer.Ordinal);
    private int _answerCount, _failed;
    private bool _persona;

    public bool Simulated { get; private set; }

    /// <summary>Counts a sample as logged (each of sample:N's draws): whether it failed, whether the simulator made it.</summary>
    public void Count(SampleRecord s)
    {
        Simulated |= s.Simulated;
        if (SurveyTask.DistributionOf(s) is null) _failed++;
    }

    /// <summary>Adds one respondent's distribution (for sample:N, the collapsed one).</summary>
    public void Add(SampleRecord s)
    {
        var mode = s.Input("mode");
        _persona |= mode == SurveyModes.Persona;
        if (SurveyTask.DistributionOf(s) is not { } d) return;
        var qkey = s.Input("qkey")!;
        if (mode == SurveyModes.None)
        {
            foreach (var g in survey.Groups)
                if (survey.TryGet(qkey, g, out _)) _unsteered.Add(new SurveyPrediction(qkey, g, d));
        }
        else if (mode is not null && SurveyModes.Steering.Contains(mode))
        {
            if (_groupsByName.TryGetValue(s.Input("steer") ?? "", out var g))
                (_steered.TryGetValue(mode, out var l) ? l : _steered[mode] = []).Add(new SurveyPrediction(qkey, g, d));
        }
        else if (_byId.TryGetValue(s.Input("persona_id") ?? "", out var p))
        {
            _answers.Add(new SurveyAnswer(p.Id, qkey, p.Weight, p.Groups, d));
            _answerCount++;
        }
    }

    public SurveyStageResult Finish(IReadOnlyList<string> questions, int minPersonas, int resamples, ulong seed, CancellationToken ct = default)
    {
        SurveyResults? panelResults = null;
        if (_persona)
        {
            var (predictions, withheld) = _answers.Finish(minPersonas);
            if (predictions.Count == 0)
                throw new PersonaException($"Survey: no group of the survey has {minPersonas} or more personas with answers ({_answerCount} answers, {_failed} failed); use more personas.");
            panelResults = SurveyScoring.Score(survey, predictions, withheld, resamples, seed, ct: ct);
        }
        var unsteeredResults = _unsteered.Count > 0 ? SurveyScoring.Score(survey, _unsteered, null, resamples, seed, ct: ct) : null;
        var steeredResults = new Dictionary<string, SurveyResults>(StringComparer.Ordinal);
        foreach (var mode in SurveyModes.Steering.Where(_steered.ContainsKey))
            steeredResults[mode] = SurveyScoring.Score(survey, _steered[mode], null, resamples, seed, ct: ct);
        var steerability = new List<SurveySteerability>();
        if (unsteeredResults is not null)
        {
            var baseline = unsteeredResults.Groups.ToDictionary(g => g.Group, g => g.Score.MeanDistance);
            foreach (var (mode, r) in steeredResults)
            {
                var gain = r.Groups.Where(g => baseline.ContainsKey(g.Group)).ToDictionary(g => g.Group, g => g.Score.MeanDistance - baseline[g.Group]);
                if (gain.Count == 0) continue;
                var mean = gain.Values.Average();
                var sd = gain.Count > 1 ? Math.Sqrt(gain.Values.Sum(x => (x - mean) * (x - mean)) / (gain.Count - 1)) : 0;
                steerability.Add(new SurveySteerability(mode, gain, mean, sd));
            }
        }
        return new SurveyStageResult(panelResults, unsteeredResults, steeredResults, steerability, questions, panel.Count, _failed);
    }
}
