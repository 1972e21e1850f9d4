using Persona.Census;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Preferences;
using Persona.Prompts;
using Persona.Simulation;

namespace Persona.Run;

/// <summary>
/// What a whole testbed run would send, before anything is paid: calls, tokens and cost per stage
/// and role. Counts follow the stages' own schedules, with the work that is free done here: the
/// census draw (who is an adult in a survey group), the prompt filters, the persona builder's
/// chunks of draws, the pair schedule's and bench pairing's draws of prompts (a generic answer and
/// an unsteered bench answer are one call per distinct prompt: the cache answers the rest), the
/// leave-one-out plan's draws of personas. What only answers decide comes from rates: on the
/// offline simulator its own (its unplanted yes/no verdicts, persona consistency and prompt
/// controversy, are fair coins; the pair checks' retries are measured by running the pair chain on
/// the simulator for a pilot of personas and prompts, free); with real models the original study's
/// shares (8.5% of personas rejected, 3,868 of 4,589 filtered prompts kept), and no retries.
/// Prompt tokens are measured on the real templates; completion tokens are typical lengths.
/// </summary>
public static class TestbedDryRun
{
    public sealed record Line(string Stage, string Role, string Model, string Step, long Calls, long PromptTokens, long CompletionTokens, double CostUsd, bool PriceKnown);

    public sealed record Result(IReadOnlyList<Line> Lines, string Note);

    /// <summary>The rates the counts rest on, and where each comes from.</summary>
    public sealed record Rates(double Rejection, double KeptShare, double PairAttempts, string Source);

    private const double OriginalRejection = 0.085, OriginalKeptShare = 3868.0 / 4589.0;
    /// <summary>An unplanted boolean of the simulator is a choice of two, uniform on its hash (<see cref="OfflineSimulator"/>).</summary>
    private const double SimulatorYesShare = 0.5;
    private const int PilotPersonas = 80, PilotPrompts = 25;

    public static async Task<Result> EstimateAsync(TestbedOptions o, LlmRuntimeOptions runtime, PriceTable? prices = null, CancellationToken ct = default)
    {
        o.Validate();
        prices ??= runtime.Prices ?? PriceTable.LoadDefault();
        ModelSpec Spec(string role) => ModelSpec.Parse(runtime.Roles.TryGetValue(role, out var r) && r.Model is not null ? r.Model : runtime.Model);
        var lines = new List<Line>();
        void Add(string stage, string role, string step, long calls, double promptPerCall, int completionPerCall)
        {
            if (calls <= 0) return;
            if (o.Dataset is not null && DatasetRun.Taken.Contains(stage)) return; // taken from that run: nothing is asked
            var spec = Spec(role);
            var pt = (long)Math.Round(calls * promptPerCall);
            var ctok = calls * completionPerCall;
            var (cost, known) = prices.Estimate(spec, pt, ctok);
            lines.Add(new Line(stage, role, spec.Identity, step, calls, pt, ctok, cost, known));
        }
        const string M = TestbedRoles.Model, W = TestbedRoles.Writer, Critic = TestbedRoles.Critic, Judge = TestbedRoles.Judge;
        const int persona = 420; // tokens of a rendered persona with its LM-written fields

        var writer = Spec(W);
        var source = o.PromptSource is null || o.Dataset is not null ? PromptLoader.LoadBundledPrism() : PromptLoader.Load(o.PromptSource);
        var toClassify = PromptCurator.ToClassify(source, new PromptCurationOptions { Limit = o.PromptLimit });
        var rates = writer.Provider == "offline"
            ? new Rates(1 - SimulatorYesShare, SimulatorYesShare, await PilotAttemptsAsync(o, runtime, writer, toClassify, ct).ConfigureAwait(false),
                $"the offline simulator's own rates (fair-coin verdicts; pair retries measured on a pilot of {PilotPersonas} personas x {PilotPrompts} prompts)")
            : new Rates(OriginalRejection, OriginalKeptShare, 1, "the original's shares; pair retries not included");

        // The builder evaluates draws in chunks sized by the acceptance it has seen: one enrichment and one verdict each.
        var writerConcurrency = (runtime.Roles.GetValueOrDefault(W)?.Concurrency ?? runtime.Resilience.Concurrency) * Math.Max(1, runtime.BaseUrls?.Count ?? 0);
        var draws = PersonaBuilder.ExpectedDraws(o.Personas, 1 - rates.Rejection, writerConcurrency);
        Add(TestbedStages.Population, W, "LM-written detail", draws, 450, 260);
        Add(TestbedStages.Population, W, "consistency verdict", draws, 650, 60);

        // The panel: the personas in a survey group (adults), at their share among the census draws the builder evaluates.
        var census = await CensusSampler.SampleAsync(new CensusSampleOptions { N = (int)Math.Min(int.MaxValue, draws), Seed = o.Seed },
            PsychodemographicSampler.LoadBundled(new PersonaBuildOptions { N = 1 }.IndependentTraits), null, ct).ConfigureAwait(false);
        var panel = (int)Math.Round(o.Personas * (double)census.Personas.Count(p => Survey.SurveyGroupMap.GroupsOf(p).Count > 0) / Math.Max(1, census.Personas.Count));
        var surveySet = Survey.SurveySetFile.Read(o.SurveySource ?? Survey.SurveySet.BundledPath);
        var surveyQuestions = Survey.SurveyStage.Questions(surveySet, o.SurveyQuestions, o.Seed);
        // Per mode: every panelist (persona), once per question (none), once per question and group (steering); tokens measured on the real prompts.
        foreach (var sc in Survey.SurveyStage.Cost(panel, surveySet, surveyQuestions, o.SurveyModes, o.SurveyElicitation, persona))
            Add(TestbedStages.Survey, Judge, $"survey answers, mode {sc.Mode} ({o.SurveyElicitation}; {surveyQuestions.Count} questions{(sc.Mode == Survey.SurveyModes.Persona ? $"; {panel:N0} panelists" : "")})",
                sc.Calls, sc.PromptTokens, (int)Math.Ceiling(sc.CompletionTokens));

        Add(TestbedStages.Prompts, W, "controversy classifier", toClassify.Count, 180 + toClassify.Take(500).Select(p => TokenCounter.Count(p.Text)).DefaultIfEmpty(0).Average(), 40);
        var kept = (long)Math.Round(toClassify.Count * rates.KeptShare);
        var heldOut = (long)Math.Round(kept * new PromptCurationOptions().HeldOutFraction);
        var trainPool = kept - heldOut;
        var question = toClassify.Take(500).Select(p => TokenCounter.Count(p.Text)).DefaultIfEmpty(20).Average();

        var t = PairTemplates.Load(null);
        long pairs = (long)o.Personas * o.Schedule.PairsPerPersona;
        long verified = o.Verify.Mode switch { "none" => 0, "all" => pairs, _ => Math.Min(pairs, o.Verify.SampleSize) };
        // The generic answer is shared by every persona on a prompt: one call per prompt the schedule draws.
        var generic = Distinct(trainPool, o.Schedule.TrainPrompts, o.Personas) + Distinct(heldOut, o.Schedule.HeldOutPrompts, o.Personas);
        var chains = (long)Math.Round(pairs * rates.PairAttempts);
        Add(TestbedStages.Pairs, W, "generic answer (one per prompt drawn)", generic, TokenCounter.Count(t.AnswerSystem) + question + 10, 300);
        Add(TestbedStages.Pairs, W, $"critique ({rates.PairAttempts:0.###} attempts a pair)", chains, TokenCounter.Count(t.CritiqueSystem) + persona + question + 330, 250);
        Add(TestbedStages.Pairs, W, $"revision ({rates.PairAttempts:0.###} attempts a pair)", chains, TokenCounter.Count(t.RevisionSystem) + persona + question + 580, 230);
        Add(TestbedStages.Pairs, Judge, "verification (2 orders)", 2 * verified, TokenCounter.Count(t.JudgeSystem) + persona + question + 590, 60);

        // The rm stage's judge: per persona (of its sample, past --rm-personas), up to RmJudgePairsPerPersona of its labelled test (or, unseen, evaluation) pairs, both orders.
        var testPerPersona = Math.Min(o.Schedule.PairsPerPersona - o.Schedule.TrainPairs, 0.3 * o.Schedule.PairsPerPersona) * (pairs == 0 ? 0 : (double)verified / pairs);
        Add(TestbedStages.Rm, Judge, "generative reward model (2 orders)", 2 * (long)Math.Round((o.RmPersonas > 0 ? Math.Min(o.Personas, o.RmPersonas) : o.Personas) * Math.Min(o.RmJudgePairsPerPersona, testPerPersona)),
            TokenCounter.Count(Rewards.JudgeRm.System) + persona + question + 600, 60);

        var modes = 5; // the four original modes + few_shot_preferences
        long bench = (long)o.Personas * o.BenchQuestionsPerPersona;
        // The baseline answer has no persona in it: one call per held-out question the pairing draws.
        Add(TestbedStages.Bench, M, "answers (4 modes with the persona, baseline once per question)", bench * (modes - 1) + Distinct(heldOut, o.BenchQuestionsPerPersona, o.Personas), 350 + persona + question, 320);
        Add(TestbedStages.Bench, Critic, "debate critic", bench * modes, 500 + persona + question + 250, 220);
        if (o.BenchBestOfN > 0)
        {
            // rm_best_of_n asks with the baseline prompt: N draws per distinct question serve every persona (the reward model picks per persona).
            Add(TestbedStages.Bench, M, $"rm_best_of_n draws ({o.BenchBestOfN} per question)", o.BenchBestOfN * Distinct(heldOut, o.BenchQuestionsPerPersona, o.Personas), 350 + question, 320);
            Add(TestbedStages.Bench, Critic, "debate critic (rm_best_of_n)", bench, 500 + persona + question + 250, 220);
        }

        // Leave-one-out: per attribute, LooPersonas of the personas it applies to (a seeded draw per attribute) x LooQuestions,
        // in both conditions and orders; the answers depend on the question and the whole persona only, so they are shared.
        // Which census attributes apply (not "not applicable") is read off the census draws; the LM-written ones always do.
        var rendered = census.Personas.Select(PersonaRenderer.Attributes).ToList();
        var looQuestions = Math.Min(o.LooQuestions, kept);
        var perAttribute = Personas.PersonaInputs.OriginalKeys.Select(a =>
        {
            var present = rendered.Count(x => x.ContainsKey(a));
            var share = present == 0 ? 1.0 : (double)rendered.Count(x => Benchmark.LeaveOneOut.Applies(new PersonaInput("", "", x, 1, null, ""), a)) / rendered.Count;
            var eligible = (long)Math.Round(o.Personas * share);
            return eligible < 2 ? 0 : Math.Min(o.LooPersonas, eligible);
        }).Where(n => n > 0).ToList();
        var looDistinct = (long)Math.Round(o.Personas * (1 - perAttribute.Aggregate(1.0, (miss, n) => miss * (1 - (double)n / o.Personas))));
        Add(TestbedStages.Loo, W, "generic + personalised answers", looQuestions + looQuestions * looDistinct, 300 + persona + question, 320);
        Add(TestbedStages.Loo, Judge, $"role-play choices ({perAttribute.Count} attributes)", perAttribute.Sum() * looQuestions * 2 * 2, 300 + 60 + question + 500, 40);
        long passk = (long)Math.Min(o.PassKItems, o.Personas) * o.PassK;
        Add(TestbedStages.PassK, M, "k answers", passk, 350 + persona + question, 320);
        Add(TestbedStages.PassK, Critic, "debate critic", passk, 500 + persona + question + 250, 220);
        Add(TestbedStages.Summaries, Judge, "dropped attributes", bench, 300 + persona + 150, 80);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return new Result(lines,
            string.Create(inv, $"{pairs:N0} pairs, {bench * modes:N0} bench samples. Rates: {rates.Source}: {rates.Rejection * 100:0.0}% of evaluated personas rejected, {rates.KeptShare * 100:0}% of filtered prompts kept, {rates.PairAttempts:0.###} attempts a pair. ") +
            "Schema repairs and transport retries are not included. Cached calls (a rerun, --from) cost nothing; the offline model costs nothing.");
    }

    /// <summary>Expected distinct items when each of <paramref name="draws"/> draws takes <paramref name="per"/> of <paramref name="pool"/> items without replacement.</summary>
    private static long Distinct(long pool, long per, long draws)
    {
        if (pool <= 0 || per <= 0 || draws <= 0) return 0;
        var miss = 1 - Math.Min(1.0, (double)per / pool);
        return (long)Math.Round(pool * (1 - Math.Pow(miss, draws)));
    }

    /// <summary>
    /// The mean attempts of the pair chain on the simulator the writer is: the run's first personas (the builder on
    /// the simulator, free) and a seeded choice of the filtered prompts, each chain run as the pairs stage runs it.
    /// </summary>
    private static async Task<double> PilotAttemptsAsync(TestbedOptions o, LlmRuntimeOptions runtime, ModelSpec writer, IReadOnlyList<SourcePrompt> prompts, CancellationToken ct)
    {
        using var sim = new OfflineSimulator(runtime.OfflineSeed, new Lazy<SimulatedWorld>(() => SimulatedWorld.Shared(runtime.WorldPath)), writer.Name);
        var built = await PersonaBuilder.BuildAsync(new PersonaBuildOptions { N = Math.Min(o.Personas, PilotPersonas), Seed = o.Seed }, sim, null, ct).ConfigureAwait(false);
        var personas = built.Personas.Select(r =>
        {
            var p = PersonaJson.WithId(r);
            return new PersonaInput(p.Id, PersonaRenderer.Render(p), PersonaRenderer.Attributes(p), 1, null, "pilot");
        }).ToList();
        var questions = prompts.OrderBy(p => Benchmark.BenchTask.Key((ulong)o.Seed, "dry-run-pilot", p.Id)).Take(PilotPrompts)
            .Select(p => new QuestionInput(p.Id, p.Text, null, null)).ToList();
        var t = PairTemplates.Load(null);
        var chain = new PairChainOptions { Answerer = TestbedRoles.Writer, CriticRole = TestbedRoles.Writer, JudgeRole = TestbedRoles.Judge };
        long attempts = 0, n = 0;
        for (var i = 0; i < personas.Count; i++)
            for (var k = 0; k < questions.Count; k++)
            {
                try
                {
                    var r = await PairTask.ChainAsync(new ScheduledPair(i, personas[i], questions[k], "train", k), t, chain,
                        (_, messages, options, _) => sim.GetResponseAsync(messages, options, ct)).ConfigureAwait(false);
                    attempts += r.Attempts;
                    n++;
                }
                catch (ItemFailedException) { } // a refused generic answer makes no pair and no retry
            }
        return n == 0 ? 1 : (double)attempts / n;
    }
}
