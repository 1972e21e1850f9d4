using Persona.Census;

namespace Persona.Personas;

/// <summary>
/// One synthetic person (contract 2 of CONTRACTS.md). Census attributes are dictionary labels;
/// null means "not in universe" or "not available in the source", never 0 or "".
/// </summary>
public sealed record PersonaRecord
{
    /// <summary>"p_" + 16 hex chars of SHA-256 over the canonical JSON of all other fields.</summary>
    public required string Id { get; init; }

    public required int Age { get; init; }
    public string? Sex { get; init; }
    public string? Race { get; init; }
    public string? Ancestry { get; init; }
    public string? HouseholdLanguage { get; init; }
    public string? Education { get; init; }
    public string? EmploymentStatus { get; init; }
    public string? ClassOfWorker { get; init; }
    public string? IndustryCategory { get; init; }
    public string? OccupationCategory { get; init; }

    /// <summary>PINCP in dollars as published (ADJINC not applied); null under 15.</summary>
    public long? Income { get; init; }

    public string? MaritalStatus { get; init; }
    public string? HouseholdType { get; init; }
    public string? FamilyPresenceAndAge { get; init; }
    public string? PlaceOfBirth { get; init; }
    public string? Citizenship { get; init; }
    public string? VeteranStatus { get; init; }
    public string? Disability { get; init; }
    public string? HealthInsurance { get; init; }
    public string? CognitiveDifficulty { get; init; }
    public string? AbilityToSpeakEnglish { get; init; }
    public string? VisionDifficulty { get; init; }
    public string? Fertility { get; init; }
    public string? HearingDifficulty { get; init; }

    public BigFive? BigFiveScores { get; init; }
    public string? Religion { get; init; }
    public string? Ideology { get; init; }
    public string? PoliticalViews { get; init; }

    // Written by an LM in a later stage.
    public string? DetailedJobDescription { get; init; }
    public string? DefiningQuirks { get; init; }
    public string? Mannerisms { get; init; }
    public string? PersonalTime { get; init; }
    public string? Lifestyle { get; init; }

    public required PersonaCensus Census { get; init; }
    public required PersonaTraits Traits { get; init; }

    /// <summary>
    /// Provenance of the LM-written fields (which model wrote them, with which prompt and
    /// categories, and which model checked the profile); null until enrichment ran. Written after
    /// "traits" as "enrichment" and omitted when null, so census-only personas keep their bytes and ids.
    /// </summary>
    public PersonaEnrichment? Enrichment { get; init; }

    /// <summary>
    /// A census person as a persona: its census attributes and provenance, and the procedural
    /// traits drawn for it. No id yet: <see cref="PersonaJson.WithId"/> computes it from the
    /// finished record.
    /// </summary>
    public static PersonaRecord FromCensus(CensusPerson c, PersonaTraits traits, Psychodemographics? psycho) => new()
    {
        Id = "",
        Age = c.Age, Sex = c.Sex, Race = c.Race, Ancestry = c.Ancestry, HouseholdLanguage = c.HouseholdLanguage, Education = c.Education,
        EmploymentStatus = c.EmploymentStatus, ClassOfWorker = c.ClassOfWorker, IndustryCategory = c.IndustryCategory, OccupationCategory = c.OccupationCategory,
        Income = c.Income, MaritalStatus = c.MaritalStatus, HouseholdType = c.HouseholdType, FamilyPresenceAndAge = c.FamilyPresenceAndAge,
        PlaceOfBirth = c.PlaceOfBirth, Citizenship = c.Citizenship, VeteranStatus = c.VeteranStatus, Disability = c.Disability,
        HealthInsurance = c.HealthInsurance, CognitiveDifficulty = c.CognitiveDifficulty, AbilityToSpeakEnglish = c.AbilityToSpeakEnglish,
        VisionDifficulty = c.VisionDifficulty, Fertility = c.Fertility, HearingDifficulty = c.HearingDifficulty,
        BigFiveScores = psycho?.BigFive, Religion = psycho?.Religion, Ideology = psycho?.Ideology, PoliticalViews = psycho?.PoliticalViews,
        Census = c.Census, Traits = traits,
    };

    /// <summary>The attribute keys in contract order, as written to JSON (id first, census/traits last).</summary>
    public static IReadOnlyList<string> Keys { get; } =
    [
        "id", "age", "sex", "race", "ancestry", "household_language", "education", "employment_status",
        "class_of_worker", "industry_category", "occupation_category", "income", "marital_status",
        "household_type", "family_presence_and_age", "place_of_birth", "citizenship", "veteran_status",
        "disability", "health_insurance", "cognitive_difficulty", "ability_to_speak_english",
        "vision_difficulty", "fertility", "hearing_difficulty", "big_five_scores", "religion", "ideology",
        "political_views", "detailed_job_description", "defining_quirks", "mannerisms", "personal_time",
        "lifestyle", "census", "traits",
    ];

    /// <summary>
    /// The string-valued attributes between "age"/"income" and "big_five_scores", in order, with
    /// accessors; writers, readers and the renderer share this table so the order lives in one place.
    /// </summary>
    internal static readonly (string Key, Func<PersonaRecord, string?> Get, Func<PersonaRecord, string?, PersonaRecord> With)[] CensusLabels =
    [
        ("sex", p => p.Sex, (p, v) => p with { Sex = v }),
        ("race", p => p.Race, (p, v) => p with { Race = v }),
        ("ancestry", p => p.Ancestry, (p, v) => p with { Ancestry = v }),
        ("household_language", p => p.HouseholdLanguage, (p, v) => p with { HouseholdLanguage = v }),
        ("education", p => p.Education, (p, v) => p with { Education = v }),
        ("employment_status", p => p.EmploymentStatus, (p, v) => p with { EmploymentStatus = v }),
        ("class_of_worker", p => p.ClassOfWorker, (p, v) => p with { ClassOfWorker = v }),
        ("industry_category", p => p.IndustryCategory, (p, v) => p with { IndustryCategory = v }),
        ("occupation_category", p => p.OccupationCategory, (p, v) => p with { OccupationCategory = v }),
    ];

    internal static readonly (string Key, Func<PersonaRecord, string?> Get, Func<PersonaRecord, string?, PersonaRecord> With)[] CensusLabelsAfterIncome =
    [
        ("marital_status", p => p.MaritalStatus, (p, v) => p with { MaritalStatus = v }),
        ("household_type", p => p.HouseholdType, (p, v) => p with { HouseholdType = v }),
        ("family_presence_and_age", p => p.FamilyPresenceAndAge, (p, v) => p with { FamilyPresenceAndAge = v }),
        ("place_of_birth", p => p.PlaceOfBirth, (p, v) => p with { PlaceOfBirth = v }),
        ("citizenship", p => p.Citizenship, (p, v) => p with { Citizenship = v }),
        ("veteran_status", p => p.VeteranStatus, (p, v) => p with { VeteranStatus = v }),
        ("disability", p => p.Disability, (p, v) => p with { Disability = v }),
        ("health_insurance", p => p.HealthInsurance, (p, v) => p with { HealthInsurance = v }),
        ("cognitive_difficulty", p => p.CognitiveDifficulty, (p, v) => p with { CognitiveDifficulty = v }),
        ("ability_to_speak_english", p => p.AbilityToSpeakEnglish, (p, v) => p with { AbilityToSpeakEnglish = v }),
        ("vision_difficulty", p => p.VisionDifficulty, (p, v) => p with { VisionDifficulty = v }),
        ("fertility", p => p.Fertility, (p, v) => p with { Fertility = v }),
        ("hearing_difficulty", p => p.HearingDifficulty, (p, v) => p with { HearingDifficulty = v }),
    ];

    internal static readonly (string Key, Func<PersonaRecord, string?> Get, Func<PersonaRecord, string?, PersonaRecord> With)[] TraitLabels =
    [
        ("religion", p => p.Religion, (p, v) => p with { Religion = v }),
        ("ideology", p => p.Ideology, (p, v) => p with { Ideology = v }),
        ("political_views", p => p.PoliticalViews, (p, v) => p with { PoliticalViews = v }),
        ("detailed_job_description", p => p.DetailedJobDescription, (p, v) => p with { DetailedJobDescription = v }),
        ("defining_quirks", p => p.DefiningQuirks, (p, v) => p with { DefiningQuirks = v }),
        ("mannerisms", p => p.Mannerisms, (p, v) => p with { Mannerisms = v }),
        ("personal_time", p => p.PersonalTime, (p, v) => p with { PersonalTime = v }),
        ("lifestyle", p => p.Lifestyle, (p, v) => p with { Lifestyle = v }),
    ];
}

/// <summary>
/// Provenance of the procedural fields: which sampler ("conditional" / "independent"; null when
/// no psychodemographic sampler ran) and the seed of the persona's own random stream.
/// </summary>
public sealed record PersonaTraits(string? Source, long Seed);

/// <summary>
/// Who wrote the five idiosyncratic fields and who checked the result. <see cref="Model"/> is the
/// runtime's model identity (e.g. "openai:gpt-4o-mini" or the offline simulator's identity);
/// <see cref="Simulated"/> is true when the offline simulator wrote them (no model did).
/// </summary>
public sealed record PersonaEnrichment(
    string Model,
    string TemplateVersion,
    IReadOnlyList<string> Categories,
    IReadOnlyList<string> Fields,
    int Attempt,
    bool Simulated,
    string? CheckModel,
    string? CheckTemplateVersion)
{
    public bool Equals(PersonaEnrichment? other) =>
        other is not null && Model == other.Model && TemplateVersion == other.TemplateVersion
        && Categories.SequenceEqual(other.Categories) && Fields.SequenceEqual(other.Fields) && Attempt == other.Attempt
        && Simulated == other.Simulated && CheckModel == other.CheckModel && CheckTemplateVersion == other.CheckTemplateVersion;

    public override int GetHashCode() => HashCode.Combine(Model, TemplateVersion, Attempt);
}
