using Persona.Llm;

namespace Persona.Run;

/// <summary>The roles a testbed stage may call, by job.</summary>
public static class TestbedRoles
{
    /// <summary>Makes the dataset: persona detail and consistency verdicts, the controversy classifier, the pairs' generic answers, critiques and revisions, leave-one-out's answers.</summary>
    public const string Writer = "writer";
    /// <summary>The model under test (--model): answers bench questions, nothing else.</summary>
    public const string Model = LlmRuntime.DefaultRole;
    /// <summary>Grades the bench (the debate critic).</summary>
    public const string Critic = "critic";
    /// <summary>Role-plays personas: pair verification, leave-one-out choices, summary audits, survey answers.</summary>
    public const string Judge = "judge";

    public static readonly IReadOnlyList<string> All = [Writer, Model, Critic, Judge];
}

/// <summary>
/// One stage, declared once: its name, the folder it writes, the roles it calls, the options it
/// reads (the part of <see cref="TestbedOptions"/> its fingerprint hashes), the earlier stages whose
/// outputs it reads, and its run function. A stage is reused when exactly these are unchanged, so
/// changing the critic reruns only the stages that call the critic (and what reads their outputs).
/// </summary>
public sealed record TestbedStage(
    string Name,
    string Folder,
    string Description,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> Reads,
    Func<TestbedOptions, object> Options,
    Type ResultType,
    Func<StageContext, Task<StageResult>> Run)
{
    /// <summary>A stage whose run function returns <typeparamref name="TResult"/>: what the manifest records and readers get back.</summary>
    /// <remarks>The run function returns a <typeparamref name="TResult"/>, or a <see cref="ShardStageResult"/> when it ran one shard's personas.</remarks>
    public static TestbedStage Of<TResult>(string name, string folder, string description, IReadOnlyList<string> roles, IReadOnlyList<string> reads,
        Func<TestbedOptions, object> options, Func<StageContext, Task<StageResult>> run) where TResult : StageResult =>
        new(name, folder, description, roles, reads, options, typeof(TResult), run);

    /// <summary>The stage's result as recorded in a manifest (a shard's own record included), or null when none is recorded or it is not of this stage's shape.</summary>
    public StageResult? ReadResult(System.Text.Json.JsonElement? counts)
    {
        if (counts is not { ValueKind: System.Text.Json.JsonValueKind.Object } c) return null;
        var type = c.TryGetProperty("shard", out var shard) && shard.ValueKind == System.Text.Json.JsonValueKind.True ? typeof(ShardStageResult) : ResultType;
        try { return (StageResult?)System.Text.Json.JsonSerializer.Deserialize(c, type, TestbedRun.Json); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    /// <summary>True for the dataset side: neither the stage nor anything it reads calls the model under test.</summary>
    public bool IsDatasetSide(IReadOnlyDictionary<string, TestbedStage> byName) =>
        !Roles.Contains(TestbedRoles.Model) && Reads.All(r => byName[r].IsDatasetSide(byName));
}

/// <summary>
/// The stages of the whole testbed, in order, and the run folder they write. Each stage's folder
/// holds exactly what the stage's own verb writes (`personas build`, `prompts curate`, `pairs
/// build`, `bench run`, ...), so every verb that reads those outputs reads a testbed run too.
/// Adding a stage is one run function and one line here.
/// </summary>
public static class TestbedStages
{
    public const string Population = "population", Survey = "survey", Prompts = "prompts", Pairs = "pairs", Rm = "rm", Bench = "bench", Loo = "loo",
        PassK = "passk", Summaries = "summaries", Study = "study", Dataset = "dataset", Report = "report";

    /// <summary>The report the last stage writes at the top of the run folder.</summary>
    public const string ReportFile = "report.html";

    public static readonly IReadOnlyList<TestbedStage> Registry =
    [
        TestbedStage.Of<PopulationResult>(Population, "population", "population (census draw, LM-written detail, consistency filter, fidelity)",
            [TestbedRoles.Writer], [], o => new { o.Personas, o.Seed }, TestbedStageRunner.PopulationAsync),
        TestbedStage.Of<SurveyStageResult>(Survey, "survey", "survey fidelity against the GSS per subgroup (the judge answers as each persona)",
            [TestbedRoles.Judge], [Population], o => new { o.SurveySource, o.SurveyQuestions, Modes = string.Join(",", o.SurveyModes), o.SurveyElicitation, o.SurveyMinPersonas, o.Resamples, o.Seed }, TestbedStageRunner.SurveyAsync),
        TestbedStage.Of<PromptsResult>(Prompts, "prompts", "prompts (filters, controversy classifier, topics, split)",
            [TestbedRoles.Writer], [], o => new { o.PromptSource, o.PromptLimit, o.TopicK, o.Seed }, TestbedStageRunner.PromptsAsync),
        TestbedStage.Of<PairsResult>(Pairs, "pairs", "preference pairs + role-play verification in both orders",
            [TestbedRoles.Writer, TestbedRoles.Judge], [Population, Prompts], o => new { o.Schedule, Verify = o.Verify.ToString(), o.Seed }, TestbedStageRunner.PairsAsync),
        TestbedStage.Of<RmStageResult>(Rm, "rm", "reward models (global, per-persona, persona-conditioned, PAL-style mixture; the judge as a reference) on seen and unseen personas",
            [TestbedRoles.Judge], [Population, Pairs], o => new { o.Resamples, o.Seed, o.RmJudgePairsPerPersona, o.RmPersonas }, RmStage.RunAsync),
        TestbedStage.Of<BenchStageResult>(Bench, "bench", "PERSONA Bench (every mode, debate critic)",
            [TestbedRoles.Model, TestbedRoles.Critic], [Population, Prompts, Pairs, Rm], o => new { o.BenchQuestionsPerPersona, o.Resamples, o.MinCell, o.FewShotPairs, o.BenchBestOfN, o.BenchRm, o.Seed }, TestbedStageRunner.BenchAsync),
        TestbedStage.Of<LooStageResult>(Loo, "bench/loo", "leave-one-attribute-out",
            [TestbedRoles.Writer, TestbedRoles.Judge], [Population, Prompts], o => new { o.LooPersonas, o.LooQuestions, o.Seed }, TestbedStageRunner.LooAsync),
        TestbedStage.Of<PassKStageResult>(PassK, "bench/passk", "pass@k",
            [TestbedRoles.Model, TestbedRoles.Critic], [Population, Prompts], o => new { o.PassK, o.PassKItems, o.Resamples, o.Seed }, TestbedStageRunner.PassKAsync),
        TestbedStage.Of<SummariesStageResult>(Summaries, "bench/summaries", "attributes dropped by demographic summaries",
            [TestbedRoles.Judge], [Bench], _ => new { }, TestbedStageRunner.SummariesAsync),
        TestbedStage.Of<StudyStageResult>(Study, "study", "human-study kit",
            [], [Population, Pairs], o => new { o.StudyPersonas, o.StudyRaters, o.StudyItems, o.Seed }, TestbedStageRunner.StudyAsync),
        TestbedStage.Of<DatasetStageResult>(Dataset, "dataset", "Hugging Face dataset folder",
            [], [Population, Pairs], _ => new { }, TestbedStageRunner.DatasetAsync),
        TestbedStage.Of<ReportStageResult>(Report, ".", "report.html",
            [], [Population, Survey, Prompts, Pairs, Rm, Bench, Loo, PassK, Summaries, Study, Dataset], o => new { o.Scale }, TestbedStageRunner.ReportAsync),
    ];

    private static readonly IReadOnlyDictionary<string, TestbedStage> ByName = Registry.ToDictionary(s => s.Name, StringComparer.Ordinal);

    public static readonly IReadOnlyList<string> All = [.. Registry.Select(s => s.Name)];

    public static TestbedStage Get(string stage) => ByName.TryGetValue(stage, out var s) ? s : throw new ArgumentOutOfRangeException(nameof(stage), stage, "not a testbed stage");

    /// <summary>Stages that make the dataset (a run with --dataset takes them from that run): those that neither call the model under test nor read what it wrote.</summary>
    public static bool IsDatasetSide(string stage) => Get(stage).IsDatasetSide(ByName);

    /// <summary>What each stage does, for progress lines and help.</summary>
    public static string Describe(string stage) => ByName.TryGetValue(stage, out var s) ? s.Description : stage;

    /// <summary>The folder a stage writes, relative to the run folder.</summary>
    public static string Folder(string stage) => ByName.TryGetValue(stage, out var s) ? s.Folder : stage;

    /// <summary>The stage named by <paramref name="name"/>, or an error listing the stages.</summary>
    public static string Parse(string name, string option = "--from")
    {
        var n = name.Trim().ToLowerInvariant();
        return All.Contains(n) ? n : throw new PersonaException($"{option} '{name}' is not a stage; expected one of {string.Join(", ", All)}.");
    }
}
