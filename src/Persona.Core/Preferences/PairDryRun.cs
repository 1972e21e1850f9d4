using Persona.Llm;

namespace Persona.Preferences;

/// <summary>
/// What a pairs build would send, before anything is paid: calls, tokens and estimated cost per
/// role and stage. Prompt tokens are counted on the real templates, personas and questions (a
/// sample of them); completion tokens are the stage's typical lengths (stated in the note).
/// Retries of failed checks are not included (they add at most --attempts - 1 critique and revision calls per flagged pair).
/// </summary>
public static class PairDryRun
{
    public sealed record StageEstimate(string Role, string Model, string Stage, long Calls, long PromptTokens, long CompletionTokens, double CostUsd, bool PriceKnown);

    public sealed record Result(long Pairs, int Personas, IReadOnlyList<StageEstimate> Stages, string Note);

    private const int AnswerTokens = 300, CritiqueTokens = 250, RevisionTokens = 230, JudgeTokens = 60;

    public static Result Estimate(PairBuildOptions o, PairBuilder.Plan plan, LlmRuntimeOptions runtime, PriceTable? prices = null)
    {
        prices ??= runtime.Prices ?? PriceTable.LoadDefault();
        var pairs = plan.Schedule(o.Schedule).ToList();
        var t = plan.Templates;
        ModelSpec Spec(string role) => ModelSpec.Parse(runtime.Roles.TryGetValue(role, out var r) && r.Model is not null ? r.Model : runtime.Model);
        // Token counts on a sample of pairs (every 97th), scaled up: exact enough, and fast at 317,200 pairs.
        var sample = pairs.Where((_, i) => i % 97 == 0).ToList();
        if (sample.Count == 0) sample = pairs;
        double Mean(Func<ScheduledPair, int> tokens) => sample.Count == 0 ? 0 : sample.Average(tokens);
        var answer = Mean(p => TokenCounter.Count(t.AnswerSystem) + TokenCounter.Count(p.Prompt.Text) + 10);
        var critique = Mean(p => TokenCounter.Count(t.CritiqueSystem) + TokenCounter.Count(p.Persona.Text) + TokenCounter.Count(p.Prompt.Text) + AnswerTokens + 30);
        var revision = critique + CritiqueTokens + TokenCounter.Count(t.RevisionSystem) - TokenCounter.Count(t.CritiqueSystem);
        var judge = Mean(p => TokenCounter.Count(t.JudgeSystem) + TokenCounter.Count(p.Persona.Text) + TokenCounter.Count(p.Prompt.Text) + AnswerTokens + RevisionTokens + 60);
        long answers = o.Chain.BaseAnswer == PairTask.BaseShared ? pairs.Select(p => p.Prompt.Id).Distinct().LongCount() : pairs.Count;
        long verified = plan.Verify is null ? 0 : pairs.LongCount(p => plan.Verify(p.PairId));
        var stages = new List<StageEstimate>();
        void Add(string role, string stage, long calls, double promptPerCall, int completionPerCall)
        {
            var spec = Spec(role);
            var pt = (long)Math.Round(calls * promptPerCall);
            var ctok = calls * completionPerCall;
            var (cost, known) = prices.Estimate(spec, pt, ctok);
            stages.Add(new StageEstimate(role, spec.Identity, stage, calls, pt, ctok, cost, known));
        }
        Add(LlmRuntime.DefaultRole, "generic answer", answers, answer, AnswerTokens);
        Add("critic", "critique", pairs.Count, critique, CritiqueTokens);
        Add(LlmRuntime.DefaultRole, "revision", pairs.Count, revision, RevisionTokens);
        if (verified > 0) Add("judge", "verification (2 orders)", 2 * verified, judge, JudgeTokens);
        return new Result(pairs.Count, plan.ShardEnd - plan.ShardStart, stages,
            $"Completion tokens assumed per call: answer {AnswerTokens}, critique {CritiqueTokens}, revision {RevisionTokens}, verdict {JudgeTokens}; retries of flagged pairs not included. Cached calls cost nothing.");
    }
}
