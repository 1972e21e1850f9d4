using Persona.Preferences;

namespace Persona.Run;

/// <summary>
/// Everything a testbed run depends on besides the models. <see cref="Default"/> runs in a few
/// minutes on the offline world; <see cref="Paper"/> is the original study's scale. Sizes are the
/// only difference: the procedure is the same.
/// </summary>
public sealed record TestbedOptions
{
    public required string OutputDirectory { get; init; }
    public string Scale { get; init; } = "default";
    public long Seed { get; init; } = 1;

    // population
    public int Personas { get; init; } = 200;

    // survey fidelity against the GSS (null source: the bundled GSS 2022 set)
    public string? SurveySource { get; init; }
    /// <summary>Questions asked of every panelist (null: all). The default keeps `persona run` fast: a seeded 12 of the 133.</summary>
    public int? SurveyQuestions { get; init; } = 12;
    /// <summary>How the survey is asked: persona (the panel), none (unsteered), steer-qa, steer-bio, steer-portray.</summary>
    public IReadOnlyList<string> SurveyModes { get; init; } = Survey.SurveyModes.All;
    /// <summary>How a distribution is obtained: verbalized (stated as JSON) or sample:N (N answers at temperature 1).</summary>
    public string SurveyElicitation { get; init; } = Survey.SurveyElicitation.Verbalized;
    /// <summary>A survey group with fewer personas is reported with its count and withheld.</summary>
    public int SurveyMinPersonas { get; init; } = 10;

    // prompts (null source: the bundled PRISM opening prompts)
    public string? PromptSource { get; init; }
    /// <summary>Prompts sent to the classifier after the cheap filters (null: all).</summary>
    public int? PromptLimit { get; init; } = 400;
    /// <summary>Topic clusters (null: chosen by silhouette from 8..40, as `prompts curate` does).</summary>
    public int? TopicK { get; init; } = 10;

    // pairs
    public ScheduleOptions Schedule { get; init; } = new() { TrainPrompts = 15, HeldOutPrompts = 5, TrainPairs = 10 };
    public VerifySpec Verify { get; init; } = VerifySpec.All;

    // bench
    public int BenchQuestionsPerPersona { get; init; } = 2;
    public int Resamples { get; init; } = 1000;
    public int MinCell { get; init; } = 30;
    public int FewShotPairs { get; init; } = 3;
    /// <summary>
    /// rm_best_of_n's draws per question; 0 (the default): the mode is off. Opt-in because a sharded run cannot have
    /// it (the rm stage's models are fitted at the merge, after every shard's bench) and must equal the single run,
    /// and on the bundled world baseline's planted 5% leaves the pick little to win at the default scale.
    /// </summary>
    public int BenchBestOfN { get; init; }
    /// <summary>Which of the rm stage's models picks (auto: the PAL-style mixture, adapted on their pairs for the personas it never saw; see AnswerRewardScorer).</summary>
    public string BenchRm { get; init; } = Rewards.AnswerRewardScorer.Auto;

    // reward models: the judge scored as a generative reward model on this many test pairs of each persona (2 calls a pair; 0: not at all)
    public int RmJudgePairsPerPersona { get; init; } = 1;

    /// <summary>
    /// The rm stage fits and scores on a seeded sample of at most this many personas, stratified like its holdout (0: every
    /// persona). Both bundled scales are within it (the paper's 1,586 personas are all kept); past it the stage's memory
    /// and time stop growing with the population (see <see cref="Rewards.RmPersonaSample"/>).
    /// </summary>
    public int RmPersonas { get; init; } = 2000;

    // leave-one-out (the original: 40 personas x 20 questions per attribute)
    public int LooPersonas { get; init; } = 8;
    public int LooQuestions { get; init; } = 4;

    // pass@k (the original: k = 16)
    public int PassK { get; init; } = 16;
    public int PassKItems { get; init; } = 40;

    // human-study kit (the original design: 20 personas x 4 raters x 10 questions)
    public int StudyPersonas { get; init; } = 20;
    public int StudyRaters { get; init; } = 4;
    public int StudyItems { get; init; } = 10;

    /// <summary>Rerun this stage and every later one even when their recorded inputs are unchanged.</summary>
    public string? From { get; init; }

    /// <summary>
    /// A finished run whose dataset side (population, prompts, pairs with their verification,
    /// leave-one-out) this run takes byte for byte instead of making it: only the stages that call
    /// the model under test run, so two models are benched on the same personas and pairs.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Dataset { get; init; }

    public static TestbedOptions Default(string outDir) => new() { OutputDirectory = outDir };

    /// <summary>The original's scale: 1,586 personas, every kept prompt (target 3,868: 3,000 / 868), 317,200 pairs, LOO at 40 x 20.</summary>
    public static TestbedOptions Paper(string outDir) => new()
    {
        OutputDirectory = outDir,
        Scale = "paper",
        Personas = 1586,
        PromptLimit = null,
        TopicK = null,
        Schedule = new ScheduleOptions(),
        BenchQuestionsPerPersona = 1,
        LooPersonas = 40,
        LooQuestions = 20,
        PassKItems = 200,
        SurveyQuestions = null,
        SurveyMinPersonas = 30,
    };

    public static TestbedOptions ForScale(string scale, string outDir) => scale.Trim().ToLowerInvariant() switch
    {
        "default" => Default(outDir),
        "paper" => Paper(outDir),
        _ => throw new PersonaException($"--scale '{scale}' is not a scale; expected default (a few minutes) or paper (the original's 1,586 personas and 317,200 pairs)."),
    };

    public void Validate()
    {
        if (Personas < 2) throw new PersonaException($"--personas {Personas}: a population needs at least 2 personas.");
        RecordClock.Now(); // a bad SOURCE_DATE_EPOCH is refused before any call, not at the survey stage
        Schedule.Validate();
        if (BenchQuestionsPerPersona < 1) throw new PersonaException("--bench-questions must be at least 1.");
        if (BenchBestOfN != 0 && BenchBestOfN is < 2 or > Benchmark.BestOfN.MaxN) throw new PersonaException($"--best-of-n {BenchBestOfN}: expected 0 (no rm_best_of_n) or 2 to {Benchmark.BestOfN.MaxN}.");
        if (PassK < 1 || PassKItems < 1) throw new PersonaException("pass@k needs k >= 1 and at least one item.");
        if (LooPersonas < 2 || LooQuestions < 1) throw new PersonaException("leave-one-out needs at least 2 personas and 1 question per attribute.");
        if (SurveyQuestions is < 1) throw new PersonaException("The survey needs at least 1 question.");
        if (RmPersonas < 0) throw new PersonaException($"--rm-personas {RmPersonas}: expected 0 (every persona) or a positive cap.");
        if (RmJudgePairsPerPersona < 0) throw new PersonaException("The reward-model judge's pairs per persona must be 0 or more.");
        if (SurveyMinPersonas < 1) throw new PersonaException("The survey's smallest reported group needs at least 1 persona.");
        if (From is not null) TestbedStages.Parse(From);
    }
}
