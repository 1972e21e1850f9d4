using System.Text.Json;

namespace Persona.Run;

/// <summary>
/// What a stage made, as typed data. The run writes it into the stage's manifest record (as
/// "counts", snake_case) and everything that reads it back (the run's summary, the report) reads
/// it through the same type, so a key is named in one place and a reused stage's figures come back
/// as the same numbers a fresh one returned.
/// </summary>
public abstract record StageResult
{
    /// <summary>The figures the run's summary table shows for the stage, in order.</summary>
    public abstract IEnumerable<(string Name, object? Value)> KeyFigures();

    /// <summary>The result as the manifest records it.</summary>
    public JsonElement ToJson() => JsonSerializer.SerializeToElement(this, GetType(), TestbedRun.Json);
}

/// <summary>What a shard's per-persona stage made: its own samples only (the stage's files are the merge's, made from every shard's answers).</summary>
public sealed record ShardStageResult(int Samples, int Failed) : StageResult
{
    /// <summary>Marks the record as a shard's, so it is never read as the whole stage's.</summary>
    public bool Shard => true;

    public override IEnumerable<(string, object?)> KeyFigures() => [("samples", Samples)];
}

public sealed record PopulationResult(int Personas, int Evaluated, int Rejected, double RejectionRate, int Train, int Test, int FidelityAttributes) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("personas", Personas), ("train", Train)];
}

public sealed record SurveyStageResult(int Questions, int OfQuestions, int Panelists, int Samples, int Failed, IReadOnlyList<string> Modes, string Elicitation,
    int? Groups, int? Withheld, double? MeanDistance, double? UnsteeredMeanDistance, IReadOnlyDictionary<string, double?> SteeredMeanDistance,
    double UniformMeanDistance, double PriorMeanDistance, bool Simulated) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("samples", Samples)];
}

public sealed record PromptsResult(int SourcePrompts, int Train, int HeldOut, int Topics) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("train", Train), ("held out", HeldOut)];
}

public sealed record PairsResult(long Pairs, long Succeeded, long Failed, long Flagged, int Verified, double? Agreement, double? FlipRate) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("pairs", Pairs), ("verified", Verified), ("agreement", Agreement)];
}

public sealed record RmStageResult(int Models, string BestSeenModel, double? BestSeenAccuracy, double? GlobalSeenAccuracy, int UnseenPersonas, bool Simulated) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("models", Models), ("best seen accuracy", BestSeenAccuracy)];
}

public sealed record BenchStageResult(int Samples, IReadOnlyList<string> Modes, int QuestionsPerPersona, IReadOnlyDictionary<string, double?> Accuracy) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("samples", Samples)];
}

public sealed record LooStageResult(int Samples, int Attributes, int Skipped) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("samples", Samples), ("attributes", Attributes)];
}

public sealed record PassKStageResult(int Samples, int Items, int K) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("samples", Samples), ("items", Items)];
}

public sealed record SummariesStageResult(int Summaries) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("summaries", Summaries)];
}

public sealed record StudyStageResult(int Personas, int RaterPlaces) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("personas", Personas), ("rater places", RaterPlaces)];
}

public sealed record DatasetStageResult(long Train, long Test, long LeftOut, IReadOnlyList<string> Files) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [("train", Train)];
}

public sealed record ReportStageResult(string File, IReadOnlyList<string> SimulatedStages, IReadOnlyList<string> Problems) : StageResult
{
    public override IEnumerable<(string, object?)> KeyFigures() => [];
}
