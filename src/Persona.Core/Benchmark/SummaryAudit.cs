using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Statistics;

namespace Persona.Benchmark;

public sealed record DroppedAttribute(string Attribute, int Summaries, int Dropped, double Rate, Interval Interval);

public sealed record SummaryResults(string Format, string? JudgeModel, bool Simulated, int Summaries, int Failures, IReadOnlyList<DroppedAttribute> Attributes, string Notes);

/// <summary>
/// Which persona attributes the demographic summaries of a bench run dropped: a judge lists them
/// per summary (its own role), and the share of summaries dropping each attribute is reported with
/// Wilson intervals, among summaries of personas that have the attribute.
/// </summary>
public static class SummaryAudit
{
    public const string TaskName = "bench-summaries", JudgeRole = "judge", FormatId = "persona-bench-summaries/1";

    public static EvalTask<SampleRecord> Create(IEnumerable<SampleRecord> benchSamples, BenchPrompts prompts) => new()
    {
        Name = TaskName,
        Version = prompts.Version,
        Dataset = BenchTask.Stream(benchSamples.Where(s => s.Status == SampleRecord.StatusOk && s.Input("mode") == BenchModes.DemographicSummary && s.Field("demographic_summary") is not null)),
        Inputs = s => new Dictionary<string, string> { ["bench_sample"] = s.Id, ["persona_id"] = s.Input("persona_id") ?? "", ["prompt_id"] = s.Input("prompt_id") ?? "", ["sample"] = s.Input("sample") ?? "0" },
        Solver = async (s, ctx, ct) =>
        {
            var persona = s.Field("persona")!.Value.GetString()!;
            var attrs = PersonaMetadata.Read(s) is { Attributes.Count: > 0 } m ? m.Attributes
                : throw new ItemFailedException(ItemFailure.Invalid, $"bench sample {s.Id} names no persona attributes");
            var options = new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(BenchPrompts.SummaryJudgeSchema(attrs.Keys), "dropped_attributes") }
                .WithRunMetadata(prompts.Version, hint: new SimulationHint("summary_judge", attrs, new Dictionary<string, string>
                {
                    ["attributes"] = string.Join(",", attrs.Keys), ["persona_key"] = s.Input("persona_id") ?? "", ["prompt_key"] = s.Input("prompt_id") ?? "",
                    ["mode"] = BenchModes.DemographicSummary, ["field"] = "dropped",
                }));
            var r = await ctx.CallAsync(JudgeRole,
                [new ChatMessage(ChatRole.System, prompts.SummaryJudge.System), new ChatMessage(ChatRole.User, BenchPrompts.Fill(prompts.SummaryJudge.User, new Dictionary<string, string>
                {
                    ["persona"] = persona, ["question"] = s.Field("question")?.GetString() ?? "", ["summary"] = s.Field("demographic_summary")!.Value.GetString() ?? "",
                }))], options, ct, "summary_judge").ConfigureAwait(false);
            using var doc = JsonDocument.Parse(r.Text);
            if (!doc.RootElement.TryGetProperty("dropped", out var d) || d.ValueKind != JsonValueKind.Array)
                throw new ItemFailedException(ItemFailure.Unparsable, "the judge's answer has no 'dropped' array", r.Text);
            var known = new HashSet<string>(attrs.Keys, StringComparer.OrdinalIgnoreCase);
            var dropped = d.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!.Trim().ToLowerInvariant()).Where(known.Contains).Distinct().ToArray();
            return new SolverResult(string.Join(", ", dropped), JsonSerializer.SerializeToElement(new Dictionary<string, object?> { ["attributes"] = attrs.Keys.ToArray(), ["dropped"] = dropped }));
        },
    };

    public static SummaryResults Compute(IEnumerable<SampleRecord> samples)
    {
        var tally = new Tally();
        foreach (var s in samples) tally.Add(s);
        return tally.Result();
    }

    /// <summary>The audit's counts, taken from each sample as it comes: a run of 100,000 personas judges 200,000 summaries and keeps none.</summary>
    public sealed class Tally
    {
        private readonly Dictionary<string, int> _present = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _dropped = new(StringComparer.Ordinal);
        private int _n, _failures;
        private bool _simulated;
        private string? _judge;

        public void Add(SampleRecord s)
        {
            _simulated |= s.Simulated;
            if (s.Status != SampleRecord.StatusOk) { _failures++; return; }
            _n++;
            _judge ??= s.Turns.FirstOrDefault(t => t.Role == JudgeRole)?.Model;
            foreach (var a in s.Field("attributes")!.Value.EnumerateArray()) Count(_present, a.GetString()!);
            foreach (var a in s.Field("dropped")!.Value.EnumerateArray()) Count(_dropped, a.GetString()!);
        }

        private static void Count(Dictionary<string, int> counts, string attribute) =>
            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts, attribute, out _)++;

        public SummaryResults Result()
        {
            var rows = _present.Select(kv => new DroppedAttribute(kv.Key, kv.Value, _dropped.GetValueOrDefault(kv.Key), _dropped.GetValueOrDefault(kv.Key) / (double)kv.Value,
                    Proportion.Wilson(_dropped.GetValueOrDefault(kv.Key), kv.Value)))
                .OrderByDescending(r => r.Rate).ThenBy(r => r.Attribute, StringComparer.Ordinal).ToList();
            return new SummaryResults(FormatId, _judge, _simulated, _n, _failures, rows,
                "Share of demographic summaries that dropped each attribute, among summaries of personas with that attribute; judge failures are counted and left out." +
                (_simulated ? " SIMULATED: nothing here is a finding." : ""));
        }
    }
}
