using Persona.Benchmark;
using Persona.Census;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Preferences;
using Persona.Prompts;
using Persona.Study;

namespace Persona.Run;

/// <summary>
/// Each stage of the testbed as a plain function of its inputs (the folders the stages before it
/// wrote) and the runtime's roles: the default role answers (and is the model under test), the
/// critic critiques pairs and grades the bench, the judge role-plays personas. Each writes the
/// same files its own verb writes, so the verbs' readers (and `pairs export`, `study serve`,
/// `bench score`) work on a testbed run.
/// </summary>
public static class TestbedStageRunner
{
    /// <summary>Runs one stage; what it left committed on the heap goes back to the system before the next one starts.</summary>
    public static async Task<StageResult> RunAsync(string stage, StageContext c)
    {
        try { return await TestbedStages.Get(stage).Run(c).ConfigureAwait(false); }
        finally { Heap.Release(); }
    }

    private static string PopulationDir(StageContext c) => c.Folder(TestbedStages.Population);
    private static string PromptsDir(StageContext c) => c.Folder(TestbedStages.Prompts);
    private static string PairsDir(StageContext c) => c.Folder(TestbedStages.Pairs);

    internal static async Task<StageResult> PopulationAsync(StageContext c)
    {
        var o = c.Options;
        var dir = PopulationDir(c);
        var writer = c.Runtime.Role(TestbedRoles.Writer);
        var build = new PersonaBuildOptions
        {
            N = o.Personas, Seed = o.Seed, OutputDirectory = dir, ModelLabel = writer.Identity.Identity, Concurrency = writer.Concurrency,
        };
        var built = await BuildPopulationAsync(c, build, writer.Client).ConfigureAwait(false);
        var fidelity = await Fidelity.PopulationFidelity.RunAsync(Path.Combine(dir, PersonaBuilder.PersonasJsonl), new CensusSampleOptions { N = build.N },
            Path.Combine(dir, "fidelity"), new SyncProgress<CensusProgress>(x => c.Progress("fidelity " + x.Stage, x.Done, x.Total)), c.Stop).ConfigureAwait(false);
        return built with { FidelityAttributes = fidelity.Report.Attributes.Count };
    }

    /// <summary>The build's counts only: its personas are written, and not held while the fidelity check reads them back.</summary>
    private static async Task<PopulationResult> BuildPopulationAsync(StageContext c, PersonaBuildOptions build, Microsoft.Extensions.AI.IChatClient client)
    {
        var result = await PersonaBuilder.BuildAsync(build, client,
            new SyncProgress<PersonaBuildProgress>(x => c.Progress(x.Stage, x.Done, x.Total)), c.Stop, c.Abort).ConfigureAwait(false);
        return new PopulationResult(result.Personas.Count, result.Report.Evaluated, result.Report.Rejected, Math.Round(result.Report.RejectionRate, 6),
            result.Split.TrainCount, result.Split.TestCount, 0);
    }

    internal static async Task<StageResult> SurveyAsync(StageContext c)
    {
        var o = c.Options;
        var dir = c.Folder(TestbedStages.Survey);
        var survey = Survey.SurveySetFile.Read(o.SurveySource ?? Survey.SurveySet.BundledPath);
        var panel = await Survey.SurveyStage.PanelAsync(PersonaJsonl.ReadAsync(Path.Combine(PopulationDir(c), PersonaBuilder.PersonasJsonl), c.Stop)).ConfigureAwait(false);
        var questions = Survey.SurveyStage.Questions(survey, o.SurveyQuestions, o.Seed);
        // The judge role-plays personas in this testbed; the survey asks it to answer as each one (and steered, and unsteered).
        var task = Survey.SurveyTask.Create(Survey.SurveyStage.Items(panel, survey, questions, o.SurveyModes, o.SurveyElicitation), TestbedRoles.Judge);
        // Stated distributions are scored as they come (none is kept); sample:N's draws are held, cut, until a respondent's are all in.
        var streams = Survey.SurveyStage.Streams(o.SurveyElicitation);
        var tally = new Survey.SurveyTally(panel, survey);
        var cut = Survey.SurveyStage.ForStatistics();
        var held = new List<SampleRecord>();
        var (count, failed) = await TaskCollector.ForEachAsync(c.Shard is { } part ? part.Filter(task) : task, c.Runtime, c.Runtime.Role(TestbedRoles.Judge),
            Survey.SurveyStage.Count(panel.Count, survey, questions, o.SurveyModes, o.SurveyElicitation), "survey answers", c.Progress.Invoke, c.Stop, c.Abort, s =>
            {
                if (!streams) held.Add(cut(s));
                else { tally.Count(s); tally.Add(s); }
            }).ConfigureAwait(false);
        if (c.Shard is not null) return new ShardStageResult(count, failed);
        Directory.CreateDirectory(dir);
        await SampleLogExport.WriteJsonlAsync(c.Runtime.Store, task.Name, Path.Combine(dir, Survey.SurveyStage.SamplesFile), c.Stop).ConfigureAwait(false);
        c.Progress("statistics", 0, 1);
        var r2 = streams ? tally.Finish(questions, o.SurveyMinPersonas, o.Resamples, unchecked((ulong)o.Seed), c.Stop)
            : Survey.SurveyStage.Score(held, panel, survey, questions, o.SurveyMinPersonas, o.Resamples, unchecked((ulong)o.Seed), c.Stop);
        var simulated = streams ? tally.Simulated : held.Any(s => s.Simulated);
        async Task Write(string file, Survey.SurveyResults? x)
        {
            if (x is null) return;
            await AtomicFile.WriteAsync(Path.Combine(dir, file), (st, _) => { Survey.SurveyResultsJson.Write(st, x, simulated: simulated); return Task.CompletedTask; }, c.Stop).ConfigureAwait(false);
        }
        await Write(Survey.SurveyStage.ResultsFile, r2.Panel).ConfigureAwait(false);
        await Write(Survey.SurveyStage.UnsteeredFile, r2.Unsteered).ConfigureAwait(false);
        foreach (var (mode, x) in r2.Steered) await Write(Survey.SurveyStage.SteeredFile(mode), x).ConfigureAwait(false);
        await AtomicFile.WriteAsync(Path.Combine(dir, Survey.SurveyStage.ModesFile), (st, _) => { Survey.SurveyResultsJson.WriteModes(st, r2, simulated); return Task.CompletedTask; }, c.Stop).ConfigureAwait(false);
        await Survey.SurveyStage.WriteExtrasAsync(dir, survey, r2, c.Runtime.Role(TestbedRoles.Judge).Identity.Identity, o.SurveyElicitation, simulated, RecordClock.Now(), c.Stop).ConfigureAwait(false);
        double? D(Survey.SurveyResults? x) => x is null ? null : Math.Round(x.Overall.MeanDistance, 6);
        var any = r2.Panel ?? r2.Unsteered ?? r2.Steered.Values.First();
        return new SurveyStageResult(questions.Count, survey.Questions.Count, panel.Count, count, r2.Failed, o.SurveyModes, o.SurveyElicitation,
            r2.Panel?.Groups.Count, r2.Panel?.Withheld.Count, D(r2.Panel), D(r2.Unsteered), r2.Steered.ToDictionary(kv => kv.Key, kv => D(kv.Value)),
            Math.Round(any.OverallBaselines.Uniform, 6), Math.Round(any.OverallBaselines.PopulationPrior, 6), simulated);
    }

    internal static async Task<StageResult> PromptsAsync(StageContext c)
    {
        var o = c.Options;
        var source = o.PromptSource is null ? PromptLoader.LoadBundledPrism() : PromptLoader.Load(o.PromptSource);
        using var embedder = new DisposableEmbedder(c.Embedder());
        var writer = c.Runtime.Role(TestbedRoles.Writer);
        var curator = new PromptCurator(writer.Client, embedder, new PromptCurationOptions
        {
            Seed = (int)o.Seed, Limit = o.PromptLimit, K = o.TopicK, MaxConcurrency = writer.Concurrency, Abort = c.Abort,
        });
        var result = await curator.CurateAsync(source, o.PromptSource ?? "bundled:prism",
            new SyncProgress<CurationProgress>(x => c.Progress(x.Stage, x.Done, x.Total)), c.Stop).ConfigureAwait(false);
        await PromptCurationWriter.WriteAsync(PromptsDir(c), result, c.Stop).ConfigureAwait(false);
        return new PromptsResult(source.Count, result.Report.Train, result.Report.HeldOut, result.Report.Topics.K);
    }

    internal static PairBuildOptions PairOptions(StageContext c)
    {
        var o = c.Options;
        return new PairBuildOptions
        {
            PersonasPath = PopulationDir(c), PromptsPath = PromptsDir(c), OutputDirectory = PairsDir(c),
            Schedule = o.Schedule with { Seed = o.Seed }, Verify = o.Verify, Shard = c.Shard?.Shard ?? Preferences.Shard.Whole,
            // The dataset's writer answers, critiques and revises; the judge role-plays the persona. The model under test is not asked.
            Chain = new PairChainOptions { Answerer = TestbedRoles.Writer, CriticRole = TestbedRoles.Writer, JudgeRole = TestbedRoles.Judge },
        };
    }

    internal static async Task<StageResult> PairsAsync(StageContext c)
    {
        var options = PairOptions(c);
        var rt = c.Runtime;
        var plan = await PairBuilder.PlanAsync(options, new[] { rt.Role(TestbedRoles.Writer), rt.Role(TestbedRoles.Judge) }.Select(r => $"{r.Name}={r.Identity.Identity}"), c.Stop).ConfigureAwait(false);
        var result = await PairBuilder.RunAsync(options, plan, rt, new SyncProgress<PairBuildProgress>(x => c.Progress("pairs", x.Done, x.Total)), c.Stop, c.Abort).ConfigureAwait(false);
        BatchPendingException.ThrowIf(result.Deferred, "pairs");
        var v = result.Report.Verification;
        return new PairsResult(result.Report.Pairs, result.Report.Succeeded, result.Report.Failed, result.Report.Flagged, v.Verified, v.Agreement.Value, v.FlipRate.Value);
    }

    /// <summary>What a shard's stage made: its samples, counted as they come; the stage's files are the merge's, made from every shard's answers.</summary>
    private static async Task<StageResult> ShardAsync<T>(StageContext c, EvalTask<T> task, long total, string step, ModelRole? role = null)
    {
        var (count, failed) = await TaskCollector.ForEachAsync(c.Shard!.Filter(task), c.Runtime, role, total, step, c.Progress.Invoke, c.Stop, c.Abort, _ => { }).ConfigureAwait(false);
        return new ShardStageResult(count, failed);
    }

    private static async Task<(IReadOnlyList<PersonaInput> Personas, IReadOnlyList<QuestionInput> Questions)> InputsAsync(StageContext c) =>
        (await PersonaInputs.LoadAsync(PopulationDir(c), c.Stop).ConfigureAwait(false), QuestionInputs.Load(PromptsDir(c)));

    internal static async Task<StageResult> BenchAsync(StageContext c)
    {
        var o = c.Options;
        var dir = c.Folder(TestbedStages.Bench);
        var prompts = BenchPrompts.Load(null);
        var questions = QuestionInputs.Load(PromptsDir(c));
        // The personas stream through twice, to index who is asked what and as the items: at 100,000 personas the bench's
        // tally is the only copy of the population it holds.
        async IAsyncEnumerable<(PersonaInput Persona, QuestionInput Question)> Pairs()
        {
            await foreach (var x in BenchTask.PairAsync(PersonaInputs.StreamAsync(PopulationDir(c), c.Stop), questions, BenchSampling(o), c.Stop).ConfigureAwait(false))
                // A shard has its own personas' pairs only: their few-shot examples are the unsharded run's.
                if (c.Shard?.Owns(x.Persona.Id) != false) yield return x;
        }
        var asked = new List<(string Id, IReadOnlyList<QuestionInput> Questions)>();
        var count = 0L;
        List<QuestionInput>? own = null;
        await foreach (var (p, q) in Pairs().ConfigureAwait(false))
        {
            count++;
            // A persona's pairs come together.
            if (asked.Count == 0 || asked[^1].Id != p.Id) asked.Add((p.Id, own = []));
            own!.Add(q);
        }
        // The four original modes, and the persona's own train pairs as examples: prompting alone beside learning from the feedback.
        var modes = BenchModes.Parse("all", havePairs: true);
        // And the loop closed: the rm stage's reward models pick among N answers (a shard has no models yet: they are fitted at the merge).
        BestOfN? best = null;
        if (o.BenchBestOfN > 0 && c.Shard is null)
        {
            modes = [.. modes, BenchModes.RmBestOfN];
            best = BenchRm.Open(c.Folder(TestbedStages.Rm), o.BenchRm, PairsDir(c), o.BenchBestOfN, BestOfN.DefaultTemperature);
        }
        var examples = PreferencePairsFile.TrainExamples(PairsDir(c), asked,
            PersonaInputs.StreamAsync(PopulationDir(c), c.Stop).ToBlockingEnumerable(c.Stop).Select(p => (p.Id, p.Text)), o.FewShotPairs);
        var task = BenchTask.Create(BenchTask.Items(Pairs(), modes, 1, examples, o.FewShotPairs, c.Stop), prompts, [BenchTask.Critic(prompts)], 0, bestOfN: best);
        if (c.Shard is not null) return await ShardAsync(c, task, count * modes.Count, "answer + critic").ConfigureAwait(false);
        var (samples, _, results) = await BenchJobs.BenchAsync(task, count * modes.Count, c.Runtime, new BenchOutput(dir), o.Resamples, o.MinCell,
            "answer + critic", c.Progress.Invoke, c.Stop, c.Abort).ConfigureAwait(false);
        return new BenchStageResult(samples, modes, o.BenchQuestionsPerPersona, results.Modes.ToDictionary(m => m.Mode, m => m.Accuracy.Accuracy));
    }

    private static BenchSampling BenchSampling(TestbedOptions o) => new()
    {
        Pairing = "random", PerPersona = o.BenchQuestionsPerPersona, QuestionSplit = "held_out", PersonaSplit = "all", Seed = (ulong)o.Seed,
    };

    internal static IReadOnlyList<(PersonaInput Persona, QuestionInput Question)> BenchPairs(TestbedOptions o, IReadOnlyList<PersonaInput> personas, IReadOnlyList<QuestionInput> questions) =>
        BenchTask.Pair(personas, questions, BenchSampling(o));

    internal static IReadOnlyList<(PersonaInput Persona, QuestionInput Question)> PassKPairs(TestbedOptions o, IReadOnlyList<PersonaInput> personas, IReadOnlyList<QuestionInput> questions) =>
        BenchTask.Pair(personas, questions, new BenchSampling
        {
            Pairing = "random", PerPersona = 1, Samples = o.PassKItems, QuestionSplit = "held_out", PersonaSplit = "all", Seed = (ulong)o.Seed + 1,
        });

    internal static (IReadOnlyList<LooItem> Items, IReadOnlyList<string> Skipped, LooOptions Options) LooPlan(TestbedOptions o, IReadOnlyList<PersonaInput> personas, IReadOnlyList<QuestionInput> questions)
    {
        var attrs = PersonaInputs.OriginalKeys.Where(k => personas.Any(p => LeaveOneOut.Applies(p, k))).ToList();
        var options = new LooOptions { Personas = o.LooPersonas, Questions = o.LooQuestions, Seed = (ulong)o.Seed };
        var (items, skipped) = LeaveOneOut.Plan(personas, questions, attrs, options);
        return (items, skipped, options);
    }

    internal static async Task<StageResult> LooAsync(StageContext c)
    {
        var o = c.Options;
        var dir = c.Folder(TestbedStages.Loo);
        var prompts = BenchPrompts.Load(null);
        var (personas, questions) = await InputsAsync(c).ConfigureAwait(false);
        var (items, skipped, options) = LooPlan(o, personas, questions);
        if (items.Count == 0) throw new PersonaException($"Leave-one-out: no attribute applies to at least two personas with {options.BaseAttributes} other attributes; use more personas.");
        if (c.Shard is not null)
            return await ShardAsync(c, LeaveOneOut.Create(items, prompts, TestbedRoles.Writer), items.Count, "role-play choices", c.Runtime.Role(LeaveOneOut.JudgeRole)).ConfigureAwait(false);
        // The dataset's writer answers (generic and personalised); the judge role-plays the persona.
        var (samples, r) = await BenchJobs.LooAsync(items, prompts, TestbedRoles.Writer, options, skipped, c.Runtime, new BenchOutput(dir),
            "role-play choices", c.Progress.Invoke, c.Stop, c.Abort).ConfigureAwait(false);
        return new LooStageResult(samples.Count, r.Ranking.Count, skipped.Count);
    }

    internal static async Task<StageResult> PassKAsync(StageContext c)
    {
        var o = c.Options;
        var dir = c.Folder(TestbedStages.PassK);
        var prompts = BenchPrompts.Load(null);
        var (personas, questions) = await InputsAsync(c).ConfigureAwait(false);
        var pairList = PassKPairs(o, personas, questions);
        var modes = BenchModes.Parse(BenchModes.OutputOnly, false);
        var task = BenchTask.Create(BenchTask.Items(pairList, modes, o.PassK), prompts, [BenchTask.Critic(prompts)], 1, BenchTask.PassAtKTaskName);
        if (c.Shard is not null) return await ShardAsync(c, task, (long)pairList.Count * o.PassK, "k samples + critic").ConfigureAwait(false);
        var (samples, _) = await BenchJobs.PassKAsync(task, (long)pairList.Count * o.PassK, o.PassK, c.Runtime, new BenchOutput(dir), o.Resamples,
            "k samples + critic", c.Progress.Invoke, c.Stop, c.Abort).ConfigureAwait(false);
        return new PassKStageResult(samples.Count, pairList.Count, o.PassK);
    }

    internal static async Task<StageResult> SummariesAsync(StageContext c)
    {
        var dir = c.Folder(TestbedStages.Summaries);
        var prompts = BenchPrompts.Load(null);
        if (c.Shard is not null)
        {
            var (task, n) = await BenchJobs.SummaryTaskAsync(prompts, c.Runtime).ConfigureAwait(false);
            return await ShardAsync(c, task, n, "judging summaries", c.Runtime.Role(SummaryAudit.JudgeRole)).ConfigureAwait(false);
        }
        var r = await BenchJobs.SummariesAsync(prompts, c.Runtime, new BenchOutput(dir), "judging summaries", c.Progress.Invoke, c.Stop, c.Abort).ConfigureAwait(false);
        return new SummariesStageResult(r.Summaries);
    }

    internal static async Task<StageResult> StudyAsync(StageContext c)
    {
        var o = c.Options;
        var dir = c.Folder(TestbedStages.Study);
        var options = new StudyOptions
        {
            Personas = o.StudyPersonas, RatersPerPersona = o.StudyRaters, ItemsPerPersona = o.StudyItems, Seed = o.Seed,
            Splits = [PairSplit.TestSeen, PairSplit.TestHeldOut],
        };
        options.Validate();
        var texts = await StudyInputs.ReadPersonasAsync(Path.Combine(PopulationDir(c), PersonaBuilder.PersonasJsonl), c.Stop).ConfigureAwait(false);
        var (plan, _, failed) = StudyInputs.Plan(PairsDir(c), texts, options);
        c.Progress("study", 0, 1);
        // A study may already hold raters' answers: it is never replaced (its plan file says what it was made from).
        var planFile = Path.Combine(dir, "study-plan.json");
        var planJson = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["format"] = "persona-study-plan/1",
            ["personas"] = plan.Personas.Count, ["raters_per_persona"] = options.RatersPerPersona, ["items_per_persona"] = options.ItemsPerPersona,
            ["seed"] = options.Seed, ["splits"] = options.Splits, ["failed_pairs_left_out"] = failed,
            ["persona_ids"] = plan.Personas.Select(p => p.PersonaId).ToList(),
            ["items"] = plan.Personas.SelectMany(p => p.Items.Select(i => i.PairId)).ToList(),
            ["serve"] = "persona study serve RUN/" + TestbedStages.Folder(TestbedStages.Study),
        }, BenchReport.Json) + "\n";
        if (File.Exists(StudyDatabase.PathIn(dir)))
        {
            // A study may already hold raters' answers: it is never replaced, and never silently kept when it is another study.
            if (!File.Exists(planFile) || File.ReadAllText(planFile) != planJson)
                throw new PersonaException($"'{StudyDatabase.PathIn(dir)}' holds a study made from other pairs or options than this run's, and a study is never " +
                    "replaced (it may hold raters' answers). Move the study folder away to make a new one, or rerun with the options it was made with.");
        }
        else
        {
            using (StudyDatabase.Create(dir, plan)) { }
            AtomicFile.WriteAllText(planFile, planJson);
        }
        return new StudyStageResult(plan.Personas.Count, plan.Personas.Count * options.RatersPerPersona);
    }

    internal static async Task<StageResult> DatasetAsync(StageContext c)
    {
        var dir = c.Folder(TestbedStages.Dataset);
        c.Progress("export", 0, 1);
        var r = await PairExport.ExportAsync(PairsDir(c), dir, new PairExportOptions
        {
            Format = "hf", PersonasParquet = Path.Combine(PopulationDir(c), PersonaBuilder.PersonasParquet),
        }, c.Stop).ConfigureAwait(false);
        return new DatasetStageResult(r.Train, r.Test, r.Skipped, r.Files);
    }

    internal static async Task<StageResult> ReportAsync(StageContext c)
    {
        c.Progress("report", 0, 1);
        var r = await c.WriteReport(c.RunDirectory, c.Stop).ConfigureAwait(false);
        return new ReportStageResult(TestbedStages.ReportFile, r.SimulatedStages, r.Problems);
    }

    /// <summary>Disposes the embedder when it owns native resources (MiniLM's ONNX session), and is a pass-through otherwise.</summary>
    private sealed class DisposableEmbedder(ITextEmbedder inner) : ITextEmbedder, IDisposable
    {
        public ValueTask<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct) => inner.EmbedAsync(texts, ct);
        public void Dispose() => (inner as IDisposable)?.Dispose();
    }
}
