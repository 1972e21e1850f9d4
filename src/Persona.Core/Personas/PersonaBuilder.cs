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

        // Outcomes wait here only until every earlier draw is settled; then they go to the files (or
        // to the held lists when nothing is written) and are dropped, so the build holds the draws in
        // flight, not the population.
        var outcomes = new Dictionary<int, Outcome>();
        await using var sink = options.OutputDirectory is { } outDir ? PopulationSink.Open(outDir) : null;
        var held = sink is null ? new List<PersonaRecord>() : null;
        var heldLog = sink is null ? new List<PersonaRejection>() : null;
        var tally = new Tally();
        var next = 0;
        var accepted = 0;
        var evaluated = 0;
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
                evaluated++;
                if (o.Accepted) accepted++;
                progress?.Report(new PersonaBuildProgress("personas", Math.Min(accepted, target), target, accepted, evaluated - accepted));
                // The population: the first `target` passing draws in draw order; later draws were only speculative.
                while (tally.Built < target && outcomes.Remove(tally.Evaluated, out var settled))
                {
                    tally.Add(settled);
                    if (sink is not null) await sink.AddAsync(settled, ct).ConfigureAwait(false);
                    else
                    {
                        if (settled.Accepted) held!.Add(PersonaJson.WithId(settled.Persona!));
                        heldLog!.AddRange(settled.Log);
                    }
                }
            }
            // The chunk's requests are all written; the next chunk's size depends on their answers.
            BatchPendingException.ThrowIf(deferred, "personas");
            next += chunk;
        }
        outcomes.Clear();
        Heap.Release();
        var ids = sink?.Ids ?? held!.Select(p => p.Id).ToList();
        var split = PersonaSplit.Create(ids, options.Seed, options.TrainFraction);
        var report = Report(options, pool, categories, tally, split, checker);
        var write = Stopwatch.StartNew();
        IReadOnlyList<PersonaRecord> personas = held!;
        IReadOnlyList<PersonaRejection> rejections = heldLog!;
        if (sink is not null)
        {
            progress?.Report(new PersonaBuildProgress("write", 0, 5));
            (personas, rejections) = await sink.CommitAsync(split, report, ct).ConfigureAwait(false);
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

    /// <summary>
    /// What build-report.json counts, gathered draw by draw in population order (the draws up to
    /// the last one kept), so the report needs neither the personas nor the rejection log held.
    /// </summary>
    private sealed class Tally
    {
        public int Evaluated, Built, Replaced, Retried, EnrichmentRefused;
        public string? FirstModel;
        public bool Simulated;
        public readonly SortedDictionary<string, int> ByStage = new(StringComparer.Ordinal) { ["enrichment"] = 0, ["rules"] = 0, ["lm_check"] = 0 };
        public readonly SortedDictionary<string, int> ByRule = new(StringComparer.Ordinal);
        public readonly SortedDictionary<string, int> RefusedByRule = new(StringComparer.Ordinal);
        public readonly Dictionary<string, int> LmReasons = new(StringComparer.Ordinal);

        public void Add(Outcome o)
        {
            Evaluated++;
            if (o.Accepted)
            {
                // The report names the first persona's model, as the population's.
                if (Built == 0) FirstModel = o.Persona!.Enrichment?.Model;
                if (o.Persona!.Enrichment?.Simulated == true) Simulated = true;
                Built++;
            }
            foreach (var r in o.Log)
            {
                if (r.Outcome == "retried")
                {
                    Retried++;
                    EnrichmentRefused++;
                    foreach (var x in r.Reasons) Count(RefusedByRule, x.Rule);
                }
                if (r.Outcome != "replaced") continue;
                Replaced++;
                Count(ByStage, r.Stage);
                foreach (var rule in r.Reasons.Select(x => x.Rule).Distinct()) Count(ByRule, rule);
                if (r.Stage == "lm_check")
                    foreach (var x in r.Reasons.Where(x => x.Rule == "LM")) Count(LmReasons, x.Message);
                if (r.Stage == "enrichment")
                {
                    EnrichmentRefused += r.Reasons.Count;
                    foreach (var x in r.Reasons) Count(RefusedByRule, x.Rule);
                }
            }
        }

        private static void Count(IDictionary<string, int> d, string key) => d[key] = d.TryGetValue(key, out var n) ? n + 1 : 1;
    }

    private static PersonaBuildReport Report(PersonaBuildOptions o, CensusSampleResult pool, EnrichmentCategories categories, Tally t,
        PersonaSplit split, ConsistencyChecker? checker)
    {
        var lmReasons = t.LmReasons.Select(g => new ReasonCount(g.Key, g.Value))
            .OrderByDescending(r => r.Count).ThenBy(r => r.Reason, StringComparer.Ordinal).Take(20).ToArray();
        return new PersonaBuildReport(
            Format, o.N, o.Limit, t.Built, o.Seed, t.FirstModel ?? o.ModelLabel, t.Simulated,
            o.EnrichmentTemplateVersion, checker?.TemplateVersion, o.CategoriesPerPersona, categories.All.Count,
            pool.Draw.Vintage, pool.TraitSource, pool.Draw.UniverseSize,
            t.Evaluated, t.Built, t.Replaced, t.Evaluated == 0 ? 0 : Math.Round((double)t.Replaced / t.Evaluated, 6),
            t.ByStage, t.ByRule, lmReasons, t.EnrichmentRefused, t.RefusedByRule,
            split.TrainCount, split.TestCount, o.TrainFraction, OriginalRejectionRate,
            pool.Draw.HouseholdFields, pool.Draw.UnavailableAttributes);
    }

    /// <summary>
    /// The build's files, written while the draws settle: personas.jsonl and rejections.jsonl are
    /// streamed to temporary siblings (the population is never held), and on commit personas.parquet
    /// is written from the finished JSONL, then split.json and build-report.json. Disposed
    /// uncommitted (a failure, a cancel, a batch export), it leaves none of them.
    /// </summary>
    private sealed class PopulationSink : IAsyncDisposable
    {
        private readonly string _dir;
        private readonly AtomicFileWriter _personas, _log;
        private readonly ArrayBufferWriter<byte> _personaBuffer = new(1 << 16), _logBuffer = new(1 << 16), _scratch = new(4096);
        private readonly Utf8JsonWriter _logWriter;
        private int _logLines;

        public List<string> Ids { get; } = [];

        private PopulationSink(string dir, AtomicFileWriter personas, AtomicFileWriter log)
        {
            (_dir, _personas, _log) = (dir, personas, log);
            _logWriter = new Utf8JsonWriter(_logBuffer, new JsonWriterOptions { Encoder = BuildJson.Compact.Encoder, Indented = false });
        }

        public static PopulationSink Open(string dir)
        {
            Directory.CreateDirectory(dir);
            var personas = AtomicFile.Open(Path.Combine(dir, PersonasJsonl));
            try
            {
                return new PopulationSink(dir, personas, AtomicFile.Open(Path.Combine(dir, RejectionsFile)));
            }
            catch
            {
                personas.DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw;
            }
        }

        public async ValueTask AddAsync(Outcome o, CancellationToken ct)
        {
            if (o.Accepted)
            {
                // The bytes PersonaJsonl.WriteAsync writes for the persona: its canonical line, the id computed from its content.
                Ids.Add(PersonaJson.WriteWithComputedId(_personaBuffer, o.Persona!, _scratch));
                _personaBuffer.Write("\n"u8);
                if (_personaBuffer.WrittenCount > 1 << 15) await FlushAsync(_personaBuffer, _personas.Stream, ct).ConfigureAwait(false);
            }
            // The bytes the rejection log had as one serialised record a line.
            foreach (var r in o.Log)
            {
                JsonSerializer.Serialize(_logWriter, r, BuildJson.Compact);
                _logWriter.Flush();
                _logBuffer.Write("\n"u8);
                _logWriter.Reset(_logBuffer);
                _logLines++;
            }
            if (_logBuffer.WrittenCount > 1 << 15) await FlushAsync(_logBuffer, _log.Stream, ct).ConfigureAwait(false);
        }

        private static async ValueTask FlushAsync(ArrayBufferWriter<byte> buffer, Stream stream, CancellationToken ct)
        {
            await stream.WriteAsync(buffer.WrittenMemory, ct).ConfigureAwait(false);
            buffer.ResetWrittenCount();
        }

        /// <summary>Finishes every file; returns the personas and the rejection log as views read back from them on demand.</summary>
        public async Task<(IReadOnlyList<PersonaRecord>, IReadOnlyList<PersonaRejection>)> CommitAsync(PersonaSplit split, PersonaBuildReport report, CancellationToken ct)
        {
            var jsonl = Path.Combine(_dir, PersonasJsonl);
            var log = Path.Combine(_dir, RejectionsFile);
            await FlushAsync(_personaBuffer, _personas.Stream, ct).ConfigureAwait(false);
            await _personas.CommitAsync(ct).ConfigureAwait(false);
            await PersonaParquet.WriteFromJsonlAsync(Path.Combine(_dir, PersonasParquet), jsonl, Ids.Count, ct).ConfigureAwait(false);
            Heap.Release();
            await BuildJson.WriteAsync(Path.Combine(_dir, PersonaSplit.FileName), split.ToJson(), ct).ConfigureAwait(false);
            // An empty log is a lone "\n", as BuildJson.WriteAsync wrote it from an empty string.
            if (_logLines == 0) _logBuffer.Write("\n"u8);
            await FlushAsync(_logBuffer, _log.Stream, ct).ConfigureAwait(false);
            await _log.CommitAsync(ct).ConfigureAwait(false);
            await BuildJson.WriteAsync(Path.Combine(_dir, ReportFile), JsonSerializer.Serialize(report, BuildJson.Options), ct).ConfigureAwait(false);
            return (new FileBackedList<PersonaRecord>(Ids.Count, () => PersonaJsonl.ReadAsync(jsonl, CancellationToken.None).ToBlockingEnumerable()),
                new FileBackedList<PersonaRejection>(_logLines, () => ReadRejections(log)));
        }

        public async ValueTask DisposeAsync()
        {
            await _logWriter.DisposeAsync().ConfigureAwait(false);
            await _personas.DisposeAsync().ConfigureAwait(false);
            await _log.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A written file's records as a list: its count known, its records read from the file when first
    /// enumerated or indexed (callers of a big build use the count; tests and small builds read them).
    /// </summary>
    private sealed class FileBackedList<T>(int count, Func<IEnumerable<T>> read) : IReadOnlyList<T>
    {
        private IReadOnlyList<T>? _loaded;

        public int Count => count;

        public T this[int index] => (_loaded ??= read().ToList())[index];

        public IEnumerator<T> GetEnumerator() => (_loaded ?? read()).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
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
