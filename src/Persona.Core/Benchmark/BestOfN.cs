using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;

namespace Persona.Benchmark;

/// <summary>A reward model's scores of one persona's candidate answers, and which model (and how adapted) gave them.</summary>
public sealed record RewardScores(IReadOnlyList<double> Scores, string Model);

/// <summary>
/// The rm_best_of_n mode's settings: <see cref="N"/> answers drawn at <see cref="Temperature"/> with the
/// baseline prompt, <see cref="Score"/> (a trained reward model, wired by the caller so this room does
/// not depend on the Rewards room) scores them for the persona, the highest is the sample's answer.
/// <see cref="Identity"/> names the reward model's files: it joins the sample's inputs, so a different
/// reward model never reuses another's picks.
/// </summary>
public sealed record BestOfN(int N, float Temperature, string RewardModel, string Identity,
    Func<PersonaInput, IReadOnlyList<string>, CancellationToken, Task<RewardScores>> Score)
{
    public const int DefaultN = 4, MaxN = 64;
    public const float DefaultTemperature = 1;
    /// <summary>The sample data field that holds the pick (its reward model, scores and the drawn answers).</summary>
    public const string DataField = "best_of_n";

    public void Validate()
    {
        if (N is < 2 or > MaxN) throw new PersonaException($"--best-of-n {N}: expected 2 to {MaxN} (1 would be the baseline's single answer).");
        if (!(Temperature > 0)) throw new PersonaException($"--best-of-n-temperature {Temperature.ToString(CultureInfo.InvariantCulture)}: must be above 0, or the N draws are the same answer.");
    }

    /// <summary>
    /// Draws N answers, each its own conversation and its own cached call (draw index item.Sample x N + j in the
    /// cache key), picks the reward model's best, and logs every draw with its score so a pick can be audited.
    /// A draw without a readable answer fails the sample, as an unreadable answer does in every mode.
    /// </summary>
    internal async ValueTask<SolverResult> SolveAsync(BenchItem item, SampleContext ctx, BenchPrompts prompts, CancellationToken ct)
    {
        var mp = prompts.Modes[BenchModes.PromptOf(item.Mode)];
        var messages = BenchTask.SolverMessages(item, prompts);
        var draws = new List<Dictionary<string, string>>(N);
        for (var j = 0; j < N; j++)
        {
            var options = new ChatOptions
            {
                Temperature = Temperature,
                ResponseFormat = ChatResponseFormat.ForJsonSchema(BenchPrompts.AnswerSchema(mp), "bench_answer_" + mp.Mode),
            }.WithRunMetadata(prompts.Version, item.Sample * N + j);
            var r = await ctx.CallAsync(LlmRuntime.DefaultRole, messages, options, ct, "answer").ConfigureAwait(false);
            using var doc = JsonDocument.Parse(r.Text);
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var f in mp.Fields)
            {
                if (!doc.RootElement.TryGetProperty(f, out var v) || v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString()))
                    throw new ItemFailedException(ItemFailure.Unparsable, $"draw {j} of {N} has no non-empty '{f}' string", r.Text);
                fields[f] = v.GetString()!;
            }
            draws.Add(fields);
        }
        var answers = draws.Select(d => d["answer_to_question"]).ToList();
        var scored = await Score(item.Persona, answers, ct).ConfigureAwait(false);
        if (scored.Scores.Count != N) throw new InvalidOperationException($"the reward model scored {scored.Scores.Count} of {N} answers");
        var best = 0;
        for (var j = 1; j < N; j++) if (scored.Scores[j] > scored.Scores[best]) best = j; // ties: the first draw
        var data = BenchTask.SampleData(item);
        foreach (var (f, v) in draws[best]) data[f] = v;
        data[DataField] = new Dictionary<string, object?>
        {
            ["n"] = N, ["temperature"] = Temperature, ["reward_model"] = scored.Model, ["picked"] = best,
            ["scores"] = scored.Scores.Select(s => Math.Round(s, 6)).ToArray(), ["answers"] = answers,
        };
        return new SolverResult(answers[best], JsonSerializer.SerializeToElement(data));
    }
}
