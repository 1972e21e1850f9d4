using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Census;
using Persona.Llm;
using Persona.Engine;

namespace Persona.Personas;

/// <summary>What to build; `persona personas build` maps its flags onto this one to one.</summary>
public sealed record PersonaBuildOptions
{
    /// <summary>Personas in the population (the original: 1,586).</summary>
    public required int N { get; init; }
    public long Seed { get; init; }

    /// <summary>Build only the first this-many personas of the population (quick tries); they are exactly the first ones a full build keeps.</summary>
    public int? Limit { get; init; }

    /// <summary>
    /// Where census persons come from and who is in the universe, as for `persona census sample`
    /// (its N, Seed and OutputPath are ignored: the build sets them). Null: the bundled source.
    /// </summary>
    public CensusSampleOptions? Census { get; init; }
    public bool IndependentTraits { get; init; }
    /// <summary>Overrides the bundled psychodemographic sampler (tests).</summary>
    public IPsychodemographicSampler? Psychodemographics { get; init; }

    // Enrichment.
    public string? CategoriesPath { get; init; }
    public int CategoriesPerPersona { get; init; } = 3;
    public int MaxEnrichmentAttempts { get; init; } = 3;
    public float EnrichmentTemperature { get; init; } = 0.9f;
    public string EnrichmentTemplateVersion { get; init; } = PersonaEnricher.DefaultTemplateVersion;

    // Consistency filter.
    /// <summary>Ask the LM for a verdict after the rules (the original's filter); false runs the rules only.</summary>
    public bool LmCheck { get; init; } = true;
    public string CheckTemplateVersion { get; init; } = ConsistencyChecker.DefaultTemplateVersion;

    public double TrainFraction { get; init; } = PersonaSplit.OriginalTrainFraction;

    /// <summary>Personas in flight at once (each makes its calls in sequence).</summary>
    public int Concurrency { get; init; } = 16;

    /// <summary>Give up when this many census persons have been drawn without N passing; null = 10 x N + 100.</summary>
    public int? MaxDraws { get; init; }

    /// <summary>The model named in provenance (the runtime's model identity); null uses the answer's model id.</summary>
    public string? ModelLabel { get; init; }

    /// <summary>Folder for personas.jsonl/.parquet, split.json, rejections.jsonl, build-report.json; null writes nothing.</summary>
    public string? OutputDirectory { get; init; }

    internal int Target => Limit is { } l ? Math.Min(l, N) : N;

    internal void Validate()
    {
        if (N < 1) throw new PersonaException($"--n must be a positive number of personas (got {N}).");
        if (Limit is < 1) throw new PersonaException($"--limit must be a positive number of personas (got {Limit}).");
        if (CategoriesPerPersona < 1) throw new PersonaException($"--categories must be at least 1 (got {CategoriesPerPersona}).");
        if (MaxEnrichmentAttempts < 1) throw new PersonaException($"--enrichment-attempts must be at least 1 (got {MaxEnrichmentAttempts}).");
        if (!(TrainFraction is >= 0 and <= 1)) throw new PersonaException($"--train-fraction must lie between 0 and 1 (got {TrainFraction}).");
        if (Concurrency < 1) throw new PersonaException($"--concurrency must be at least 1 (got {Concurrency}).");
        if (MaxDraws is { } m && m < Target) throw new PersonaException($"MaxDraws ({m}) is below the number of personas to build ({Target}).");
    }
}

/// <summary>Progress for bars: <see cref="Stage"/> is "census:load", "census:sample", ..., "personas" or "write".</summary>
public sealed record PersonaBuildProgress(string Stage, long Done, long Total, int Accepted = 0, int Rejected = 0);

/// <summary>One reason in the rejection log: a rule id (R01..., E1..., C1, C2) or "LM" with the model's reason.</summary>
public sealed record RejectionReason(string Rule, string Message);

/// <summary>
/// One line of rejections.jsonl. <see cref="Outcome"/> "replaced": the persona was dropped and the
/// next census draw took its place; "retried": one enrichment answer was refused and asked again.
/// </summary>
public sealed record PersonaRejection(
    int DrawIndex,
    string PersonaId,
    string SerialNo,
    int SpOrder,
    int Age,
    string Stage,
    string Outcome,
    int? Attempt,
    IReadOnlyList<RejectionReason> Reasons);

/// <summary>How often the LM gave one reason for rejecting a profile.</summary>
public sealed record ReasonCount(string Reason, int Count);

/// <summary>Where the time went, summed over personas (stages overlap when personas run concurrently).</summary>
public sealed record PersonaBuildTimings(
    TimeSpan Census, TimeSpan Enrichment, TimeSpan Rules, TimeSpan LmCheck, TimeSpan Write, TimeSpan Total,
    int EnrichmentCalls, int CheckCalls);

/// <summary>Counts for build-report.json (deterministic: no timings, no paths that change between runs).</summary>
public sealed record PersonaBuildReport(
    string Format,
    int NRequested,
    int? Limit,
    int Built,
    long Seed,
    string? Model,
    bool Simulated,
    string EnrichmentTemplateVersion,
    string? CheckTemplateVersion,
    int CategoriesPerPersona,
    int CategoryCount,
    string CensusVintage,
    string? TraitSource,
    int UniverseSize,
    int Evaluated,
    int Accepted,
    int Rejected,
    double RejectionRate,
    IReadOnlyDictionary<string, int> RejectedByStage,
    IReadOnlyDictionary<string, int> RejectedByRule,
    IReadOnlyList<ReasonCount> TopLmReasons,
    int EnrichmentAnswersRefused,
    IReadOnlyDictionary<string, int> EnrichmentRefusedByRule,
    int Train,
    int Test,
    double TrainFraction,
    double OriginalRejectionRate,
    string HouseholdFields,
    IReadOnlyList<string> UnavailableAttributes);

public sealed record PersonaBuildResult(
    IReadOnlyList<PersonaRecord> Personas,
    PersonaSplit Split,
    IReadOnlyList<PersonaRejection> Rejections,
    PersonaBuildReport Report,
    PersonaBuildTimings Timings,
    string? OutputDirectory);

/// <summary>
/// The persona population (method.md section 1): census sampling, psychodemographics, LM
/// enrichment of the five idiosyncratic fields, the consistency filter (rules, then the LM's
/// verdict) and resampling until N pass. A plain function of its options and the chat client's
/// answers: caching, retries, budget and accounting are the runtime's job, so a re-run after a kill
/// pays only for what the first run did not finish.
/// <para>
/// Determinism: census draw i, its psychodemographics and its categories depend only on (seed, i);
/// each persona's outcome depends only on its draw and the answers; the population is the first N
/// draws, in draw order, that pass. A rejected draw is replaced by the next draw index, so the same
/// seed, inputs and answers give byte-identical files whatever the concurrency.
/// </para>
/// </summary>
public static class PersonaBuilder
{
    public const string Format = "persona-build/1";
    public const string PersonasJsonl = "personas.jsonl";
    public const string PersonasParquet = "personas.parquet";
    public const string RejectionsFile = "rejections.jsonl";
    public const string ReportFile = "build-report.json";
    public const double OriginalRejectionRate = 0.085;

    private sealed class Outcome
    {
        public required int DrawIndex;
        public required PersonaRecord? Persona;
        public bool Accepted;
        public readonly List<PersonaRejection> Log = [];
    }

    private sealed class Clock
    {
        public long Enrichment, Rules, Check;
        public int EnrichCalls, CheckCalls;
    }

    /// <param name="ct">Stops gracefully: no new persona starts, personas in flight finish their current call (so it is cached), then <see cref="OperationCanceledException"/>.</param>
    /// <param name="abortToken">Abandons calls in flight too.</param>
    public static async Task<PersonaBuildResult> BuildAsync(PersonaBuildOptions options, IChatClient chat,
        IProgress<PersonaBuildProgress>? progress = null, CancellationToken ct = default, CancellationToken abortToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(chat);
        options.Validate();
        var total = Stopwatch.StartNew();
        var categories = EnrichmentCategories.Load(options.CategoriesPath);
        if (options.CategoriesPerPersona > categories.All.Count)
            throw new PersonaException($"--categories {options.CategoriesPerPersona} is more than the {categories.All.Count} categories in '{categories.Source}'.");
        var psycho = options.Psychodemographics ?? PsychodemographicSampler.LoadBundled(options.IndependentTraits);
        var enricher = new PersonaEnricher(chat, options.MaxEnrichmentAttempts, options.EnrichmentTemperature, options.EnrichmentTemplateVersion);
        var checker = options.LmCheck ? new ConsistencyChecker(chat, options.CheckTemplateVersion) : null;
        var target = options.Target;
        var maxDraws = options.MaxDraws ?? checked(10 * target + 100);
        var clock = new Clock();

        var censusTime = Stopwatch.StartNew();
        var pool = await DrawAsync(options, psycho, Math.Min(maxDraws, 2 * target + 16), progress, ct).ConfigureAwait(false);
        censusTime.Stop();

        var outcomes = new Dictionary<int, Outcome>();
        var next = 0;
        var accepted = 0;
        progress?.Report(new PersonaBuildProgress("personas", 0, target));
        while (accepted < target)
        {
            if (next >= pool.Personas.Count)
            {
                if (pool.Personas.Count >= maxDraws)
                    throw new PersonaException(
                        $"Only {accepted} of {target} personas passed the consistency filter after {next} census draws (limit {maxDraws}); " +
                        "the rejection log in the output folder (when written) or the rejection reasons show why. Check the model, or relax the filter (--no-lm-check).");
                censusTime.Start();
                pool = await DrawAsync(options, psycho, (int)Math.Min(maxDraws, 2L * pool.Personas.Count), progress, ct).ConfigureAwait(false);
                censusTime.Stop();
            }
            var chunk = Math.Min(pool.Personas.Count - next, Chunk(target, accepted, next, options.Concurrency));
            var batch = Enumerable.Range(next, chunk).ToArray();
            // Rejections are outcomes, not failures: the fan-out's failure rate never stops a build.
            var fanOut = new FanOutOptions { Concurrency = options.Concurrency, Abort = abortToken, MaxFailureRate = 1.0 };
            var deferred = 0;
            await foreach (var item in FanOut.RunAsync(batch,
                               (i, _, abort) => new ValueTask<Outcome>(ProcessAsync(i, pool.Personas[i], options, categories, enricher, checker, clock, abort)),
                               fanOut, ct).ConfigureAwait(false))
            {
                // A call written to a batch file (--batch-export) leaves its draw undecided: not replaced, only waited for.
                if (item.Failure?.Kind == ItemFailure.Deferred) { deferred++; continue; }
                var o = item.Result ?? Failed(item.Item, pool.Personas[item.Item], item.Failure!);
                // A replaced draw is kept as its log lines only: its profile is never written.
                if (!o.Accepted) o.Persona = null;
                outcomes[o.DrawIndex] = o;
                if (o.Accepted) accepted++;
                progress?.Report(new PersonaBuildProgress("personas", Math.Min(accepted, target), target, accepted, outcomes.Count - accepted));
            }
            // The chunk's requests are all written; the next chunk's size depends on their answers.
            BatchPendingException.ThrowIf(deferred, "personas");
            next += chunk;
        }
        // The population: the first `target` passing draws in draw order; later draws were only speculative.
        var ordered = outcomes.Values.OrderBy(o => o.DrawIndex).ToList();
        var kept = new List<Outcome>(ordered.Count);
        var built = 0;
        foreach (var o in ordered)
        {
            if (built == target) break;
            kept.Add(o);
            if (o.Accepted) built++;
        }
        var personas = kept.Where(o => o.Accepted).Select(o => PersonaJson.WithId(o.Persona!)).ToArray();
        var rejections = kept.SelectMany(o => o.Log).ToArray();
        var split = PersonaSplit.Create(personas.Select(p => p.Id).ToArray(), options.Seed, options.TrainFraction);
        var report = Report(options, pool, categories, kept, personas, rejections, split, checker);
        var write = Stopwatch.StartNew();
        if (options.OutputDirectory is { } dir)
        {
            progress?.Report(new PersonaBuildProgress("write", 0, 5));
            await WriteAsync(dir, personas, rejections, split, report, ct).ConfigureAwait(false);
            progress?.Report(new PersonaBuildProgress("write", 5, 5));
        }
        write.Stop();
        var timings = new PersonaBuildTimings(censusTime.Elapsed, TimeSpan.FromTicks(clock.Enrichment), TimeSpan.FromTicks(clock.Rules),
            TimeSpan.FromTicks(clock.Check), write.Elapsed, total.Elapsed, clock.EnrichCalls, clock.CheckCalls);
        return new PersonaBuildResult(personas, split, rejections, report, timings,
            options.OutputDirectory is null ? null : Path.GetFullPath(options.OutputDirectory));
    }

    /// <summary>Enough draws for what is still missing at the acceptance rate seen so far, never fewer than the workers.</summary>
    private static int Chunk(int target, double accepted, long next, int concurrency)
    {
        var rate = next == 0 ? 0.9 : Math.Max(0.2, accepted / next);
        return Math.Max(concurrency, (int)Math.Ceiling((target - accepted) / rate) + 2);
    }

    /// <summary>
    /// The draws a build evaluates (each one enrichment call and, past the rules, one verdict) when a share
    /// <paramref name="acceptance"/> of them passes: the build's own chunks, with the accepted count at its
    /// expected value. More than target / acceptance, because the last chunk is speculative.
    /// </summary>
    public static long ExpectedDraws(int target, double acceptance, int concurrency)
    {
        if (acceptance <= 0) throw new ArgumentOutOfRangeException(nameof(acceptance), acceptance, "no draw would pass");
        double accepted = 0;
        long next = 0;
        // The 1e-9 keeps a float sum that lands on target from asking for one more chunk.
        while (accepted < target - 1e-9)
        {
            var chunk = Chunk(target, accepted, next, concurrency);
            next += chunk;
            accepted += chunk * acceptance;
        }
        return next;
    }

    private static Task<CensusSampleResult> DrawAsync(PersonaBuildOptions o, IPsychodemographicSampler psycho, int n,
        IProgress<PersonaBuildProgress>? progress, CancellationToken ct)
    {
        // With replacement, draw i and its trait stream depend on (seed, i) only, so a bigger pool
        // extends the previous one instead of reshuffling it.
        var census = (o.Census ?? new CensusSampleOptions { N = n }) with { N = n, Seed = o.Seed, OutputPath = null };
        var forward = progress is null ? null : new SyncProgress<CensusProgress>(p => progress.Report(new PersonaBuildProgress("census:" + p.Stage, p.Done, p.Total)));
        return CensusSampler.SampleAsync(census, psycho, forward, ct, lazy: true);
    }

    private static async Task<Outcome> ProcessAsync(int drawIndex, PersonaRecord drawn, PersonaBuildOptions options, EnrichmentCategories categories,
        PersonaEnricher enricher, ConsistencyChecker? checker, Clock clock, CancellationToken ct)
    {
        var outcome = new Outcome { DrawIndex = drawIndex, Persona = drawn };
        var cats = categories.Draw(options.Seed, drawIndex, options.CategoriesPerPersona);
        var sw = Stopwatch.StartNew();
        var enriched = await enricher.EnrichAsync(drawn, cats, ct).ConfigureAwait(false);
        Interlocked.Add(ref clock.Enrichment, sw.Elapsed.Ticks);
        Interlocked.Add(ref clock.EnrichCalls, enriched.Failures.Count + (enriched.Fields is null ? 0 : 1));
        PersonaRejection Reject(PersonaRecord p, string stage, string result, int? attempt, IEnumerable<RejectionReason> reasons) =>
            new(drawIndex, PersonaJson.ComputeId(p), p.Census.SerialNo, p.Census.SpOrder, p.Age, stage, result, attempt, reasons.ToArray());

        if (enriched.Fields is not null)
            foreach (var f in enriched.Failures)
                outcome.Log.Add(Reject(drawn, "enrichment", "retried", f.Attempt, [new RejectionReason(f.Rule, f.Message)]));
        else
        {
            outcome.Log.Add(Reject(drawn, "enrichment", "replaced", null, enriched.Failures.Select(f => new RejectionReason(f.Rule, $"attempt {f.Attempt}: {f.Message}"))));
            return outcome;
        }

        var persona = enriched.Fields.ApplyTo(drawn) with
        {
            Enrichment = new PersonaEnrichment(
                options.ModelLabel ?? enriched.AnsweredBy ?? "unknown",
                enricher.TemplateVersion,
                cats.Select(c => c.Name).ToArray(),
                PersonaEnricher.FieldKeys,
                enriched.Attempt,
                enriched.Simulated,
                checker is null ? null : options.ModelLabel ?? enriched.AnsweredBy ?? "unknown",
                checker?.TemplateVersion),
        };
        outcome.Persona = persona;

        sw.Restart();
        var violations = ConsistencyRules.Check(persona);
        Interlocked.Add(ref clock.Rules, sw.Elapsed.Ticks);
        if (violations.Count > 0)
        {
            outcome.Log.Add(Reject(persona, "rules", "replaced", null, violations.Select(v => new RejectionReason(v.Rule, $"{v.Name}: {v.Message}"))));
            return outcome;
        }

        if (checker is not null)
        {
            sw.Restart();
            ConsistencyVerdict verdict;
            try
            {
                verdict = await checker.CheckAsync(persona, ct).ConfigureAwait(false);
            }
            catch (LlmCallException ex) when (ex is not StructuredOutputException)
            {
                verdict = new ConsistencyVerdict(null, [], null, "call failed: " + ex.Message);
            }
            Interlocked.Add(ref clock.Check, sw.Elapsed.Ticks);
            Interlocked.Increment(ref clock.CheckCalls);
            if (verdict.Consistent is null)
            {
                outcome.Log.Add(Reject(persona, "lm_check", "replaced", null,
                    [new RejectionReason("C1", "no readable verdict: " + Shorten(verdict.Raw ?? "", 200))]));
                return outcome;
            }
            if (verdict.Consistent == false)
            {
                var reasons = verdict.Reasons.Count > 0 ? verdict.Reasons : ["(no reason given)"];
                outcome.Log.Add(Reject(persona, "lm_check", "replaced", null, reasons.Select(r => new RejectionReason("LM", r))));
                return outcome;
            }
        }
        outcome.Accepted = true;
        return outcome;
    }

    /// <summary>A draw whose calls failed for good is replaced like a rejected one, with the failure as its reason.</summary>
    private static Outcome Failed(int drawIndex, PersonaRecord drawn, ItemFailure failure)
    {
        var o = new Outcome { DrawIndex = drawIndex, Persona = drawn };
        o.Log.Add(new PersonaRejection(drawIndex, PersonaJson.ComputeId(drawn), drawn.Census.SerialNo, drawn.Census.SpOrder, drawn.Age,
            "error", "replaced", null, [new RejectionReason("F1", $"{failure.Kind}: {Shorten(failure.Message, 300)}")]));
        return o;
    }

    private static PersonaBuildReport Report(PersonaBuildOptions o, CensusSampleResult pool, EnrichmentCategories categories, List<Outcome> kept,
        PersonaRecord[] personas, PersonaRejection[] rejections, PersonaSplit split, ConsistencyChecker? checker)
    {
        var replaced = rejections.Where(r => r.Outcome == "replaced").ToArray();
        var byStage = new SortedDictionary<string, int>(StringComparer.Ordinal) { ["enrichment"] = 0, ["rules"] = 0, ["lm_check"] = 0 };
        foreach (var r in replaced) byStage[r.Stage] = byStage.GetValueOrDefault(r.Stage) + 1;
        var byRule = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in replaced)
            foreach (var rule in r.Reasons.Select(x => x.Rule).Distinct())
                byRule[rule] = byRule.GetValueOrDefault(rule) + 1;
        var lmReasons = replaced.Where(r => r.Stage == "lm_check").SelectMany(r => r.Reasons).Where(x => x.Rule == "LM")
            .GroupBy(x => x.Message, StringComparer.Ordinal).Select(g => new ReasonCount(g.Key, g.Count()))
            .OrderByDescending(r => r.Count).ThenBy(r => r.Reason, StringComparer.Ordinal).Take(20).ToArray();
        var retried = rejections.Where(r => r.Outcome == "retried").ToArray();
        var refusedByRule = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in retried) foreach (var x in r.Reasons) refusedByRule[x.Rule] = refusedByRule.GetValueOrDefault(x.Rule) + 1;
        foreach (var r in replaced.Where(r => r.Stage == "enrichment")) foreach (var x in r.Reasons) refusedByRule[x.Rule] = refusedByRule.GetValueOrDefault(x.Rule) + 1;
        var evaluated = kept.Count;
        var model = personas.Select(p => p.Enrichment?.Model).FirstOrDefault() ?? o.ModelLabel;
        return new PersonaBuildReport(
            Format, o.N, o.Limit, personas.Length, o.Seed, model, personas.Any(p => p.Enrichment?.Simulated == true),
            o.EnrichmentTemplateVersion, checker?.TemplateVersion, o.CategoriesPerPersona, categories.All.Count,
            pool.Draw.Vintage, pool.TraitSource, pool.Draw.UniverseSize,
            evaluated, personas.Length, replaced.Length, evaluated == 0 ? 0 : Math.Round((double)replaced.Length / evaluated, 6),
            byStage, byRule, lmReasons, retried.Length + replaced.Where(r => r.Stage == "enrichment").Sum(r => r.Reasons.Count), refusedByRule,
            split.TrainCount, split.TestCount, o.TrainFraction, OriginalRejectionRate,
            pool.Draw.HouseholdFields, pool.Draw.UnavailableAttributes);
    }

    private static async Task WriteAsync(string dir, PersonaRecord[] personas, PersonaRejection[] rejections, PersonaSplit split,
        PersonaBuildReport report, CancellationToken ct)
    {
        Directory.CreateDirectory(dir);
        await PersonaJsonl.WriteAsync(Path.Combine(dir, PersonasJsonl), personas, ct).ConfigureAwait(false);
        await PersonaParquet.WriteAsync(Path.Combine(dir, PersonasParquet), personas, ct).ConfigureAwait(false);
        await BuildJson.WriteAsync(Path.Combine(dir, PersonaSplit.FileName), split.ToJson(), ct).ConfigureAwait(false);
        // Streamed line by line (a 100,000-persona build logs about 70 MB): the bytes BuildJson.WriteAsync wrote from one string, a lone "\n" when empty.
        await AtomicFile.WriteAsync(Path.Combine(dir, RejectionsFile), async (s, token) =>
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(1 << 16);
            using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = BuildJson.Compact.Encoder, Indented = false }))
                foreach (var r in rejections)
                {
                    JsonSerializer.Serialize(w, r, BuildJson.Compact);
                    w.Flush();
                    buffer.Write("\n"u8);
                    w.Reset(buffer);
                    if (buffer.WrittenCount > 1 << 15) { await s.WriteAsync(buffer.WrittenMemory, token).ConfigureAwait(false); buffer.ResetWrittenCount(); }
                }
            if (rejections.Length == 0) buffer.Write("\n"u8);
            await s.WriteAsync(buffer.WrittenMemory, token).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
        await BuildJson.WriteAsync(Path.Combine(dir, ReportFile), JsonSerializer.Serialize(report, BuildJson.Options), ct).ConfigureAwait(false);
    }

    /// <summary>Reads rejections.jsonl back (audits, tests).</summary>
    public static IReadOnlyList<PersonaRejection> ReadRejections(string path)
    {
        if (!File.Exists(path)) throw new PersonaException($"Rejection log '{path}' does not exist.");
        var list = new List<PersonaRejection>();
        var line = 0;
        foreach (var text in TextLines.Read(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                list.Add(JsonSerializer.Deserialize<PersonaRejection>(text, BuildJson.Options) ?? throw new JsonException("null"));
            }
            catch (JsonException ex)
            {
                throw new PersonaException($"'{path}', line {line}: not a rejection record: {ex.Message}", ex);
            }
        }
        return list;
    }

    private static string Shorten(string s, int n) => s.Length <= n ? s : s[..(n - 3)] + "...";
}
