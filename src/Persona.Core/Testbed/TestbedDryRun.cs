using Persona.Llm;
using Persona.Preferences;
using Persona.Prompts;

namespace Persona.Testbed;

/// <summary>
/// What a whole testbed run would send, before anything is paid: calls, tokens and cost per stage
/// and role. Later stages read what earlier ones write, which a dry run cannot have, so counts
/// come from the configured sizes and, where the stage's input exists already, from it: the
/// prompts stage counts the prompts that pass the cheap filters (run here, free); the rest use
/// the original study's shares (8.5% of personas rejected, 3,868 of the prompts kept) and are
/// upper bounds where a stage may skip items (leave-one-out only where an attribute applies).
/// Prompt tokens are measured on the real templates; completion tokens are typical lengths.
/// </summary>
public static class TestbedDryRun
{
    public sealed record Line(string Stage, string Role, string Model, string Step, long Calls, long PromptTokens, long CompletionTokens, double CostUsd, bool PriceKnown);

    public sealed record Result(IReadOnlyList<Line> Lines, string Note);

    private const double OriginalRejection = 0.085, OriginalKeptShare = 3868.0 / 4589.0;

    public static Result Estimate(TestbedOptions o, LlmRuntimeOptions runtime, PriceTable? prices = null)
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

        var evaluated = (long)Math.Ceiling(o.Personas / (1 - OriginalRejection));
        Add(TestbedStages.Population, W, "LM-written detail", evaluated, 450, 260);
        Add(TestbedStages.Population, W, "consistency verdict", evaluated, 650, 60);

        // Every persona in a survey group (adults; o.Personas is an upper bound) answers each asked question; none and the steering modes ask per question (and group).
        var surveySet = Survey.SurveySetFile.Read(o.SurveySource ?? Survey.SurveySet.BundledPath);
        var surveyQuestions = Survey.SurveyStage.Questions(surveySet, o.SurveyQuestions, o.Seed);
        foreach (var s in Survey.SurveyStage.Cost(o.Personas, surveySet, surveyQuestions, o.SurveyModes, o.SurveyElicitation, persona))
            Add(TestbedStages.Survey, Judge, $"survey answers, mode {s.Mode} ({o.SurveyElicitation}; {surveyQuestions.Count} questions{(s.Mode == Survey.SurveyModes.Persona ? "; upper bound" : "")})",
                s.Calls, s.PromptTokens, (int)Math.Ceiling(s.CompletionTokens));

        var source = o.PromptSource is null || o.Dataset is not null ? PromptLoader.LoadBundledPrism() : PromptLoader.Load(o.PromptSource);
        var toClassify = PromptCurator.ToClassify(source, new PromptCurationOptions { Limit = o.PromptLimit });
        Add(TestbedStages.Prompts, W, "controversy classifier", toClassify.Count, 180 + toClassify.Take(500).Select(p => TokenCounter.Count(p.Text)).DefaultIfEmpty(0).Average(), 40);
        var kept = (long)Math.Round(toClassify.Count * OriginalKeptShare);
        var question = toClassify.Take(500).Select(p => TokenCounter.Count(p.Text)).DefaultIfEmpty(20).Average();

        var t = PairTemplates.Load(null);
        long pairs = (long)o.Personas * o.Schedule.PairsPerPersona;
        long verified = o.Verify.Mode switch { "none" => 0, "all" => pairs, _ => Math.Min(pairs, o.Verify.SampleSize) };
        Add(TestbedStages.Pairs, W, "generic answer (one per prompt)", Math.Min(kept, pairs), TokenCounter.Count(t.AnswerSystem) + question + 10, 300);
        Add(TestbedStages.Pairs, W, "critique", pairs, TokenCounter.Count(t.CritiqueSystem) + persona + question + 330, 250);
        Add(TestbedStages.Pairs, W, "revision", pairs, TokenCounter.Count(t.RevisionSystem) + persona + question + 580, 230);
        Add(TestbedStages.Pairs, Judge, "verification (2 orders)", 2 * verified, TokenCounter.Count(t.JudgeSystem) + persona + question + 590, 60);

        var modes = 5; // the four original modes + few_shot_preferences
        long bench = (long)o.Personas * o.BenchQuestionsPerPersona;
        Add(TestbedStages.Bench, M, "answers (5 modes)", bench * modes, 350 + persona + question, 320);
        Add(TestbedStages.Bench, Critic, "debate critic", bench * modes, 500 + persona + question + 250, 220);
        long loo = (long)Personas.PersonaInputs.OriginalKeys.Count * o.LooPersonas * o.LooQuestions * 2 * 2;
        Add(TestbedStages.Loo, W, "generic + personalised answers (upper bound)", 2L * Math.Min((long)o.LooQuestions * o.LooPersonas * Personas.PersonaInputs.OriginalKeys.Count, (long)o.Personas * o.LooQuestions), 300 + persona + question, 320);
        Add(TestbedStages.Loo, Judge, "role-play choices (upper bound)", loo, 300 + 60 + question + 500, 40);
        long passk = (long)Math.Min(o.PassKItems, o.Personas) * o.PassK;
        Add(TestbedStages.PassK, M, "k answers", passk, 350 + persona + question, 320);
        Add(TestbedStages.PassK, Critic, "debate critic", passk, 500 + persona + question + 250, 220);
        Add(TestbedStages.Summaries, Judge, "dropped attributes", bench, 300 + persona + 150, 80);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return new Result(lines,
            string.Create(inv, $"{pairs:N0} pairs, {bench * modes:N0} bench samples. Counts after the population and prompts stages assume the original's shares ({OriginalRejection * 100:0.0}% of personas rejected, {OriginalKeptShare * 100:0}% of filtered prompts kept); ") +
            "leave-one-out is an upper bound; retries are not included. Cached calls (a rerun, --from) cost nothing; the offline model costs nothing.");
    }
}
