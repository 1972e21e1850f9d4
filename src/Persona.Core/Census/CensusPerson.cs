namespace Persona.Census;

/// <summary>
/// One person of the ACS as the census reading decodes it: the census attributes as dictionary
/// labels (null means "not in universe" or "not available in the source", never 0 or ""), and
/// where the record came from. The population room turns it into a persona (traits, LM-written
/// detail, id); the census room knows nothing of personas.
/// </summary>
public sealed record CensusPerson
{
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

    public required PersonaCensus Census { get; init; }
}

/// <summary>Raw ACS PUMS codes of one person: what the procedural traits are conditioned on.</summary>
public sealed record DemographicProfile(int Age, int Sex, int Race, int Hispanic, int? Education, int StateFips);

/// <summary>
/// Where a persona came from in the ACS: release, record, weight and the raw codes.
/// <see cref="Derived"/> names, per attribute in contract order, what an attribute was derived
/// from or stood in for when the source lacks its own variable (household fields built from the
/// household's persons, nativity for place of birth, Hispanic origin for ancestry); null when
/// every attribute is the source's own variable. Written as "derived" after "codes" only when set.
/// </summary>
public sealed record PersonaCensus(
    string Vintage,
    string SerialNo,
    int SpOrder,
    string State,
    string? Puma,
    double Weight,
    IReadOnlyList<PumsCode> Codes,
    IReadOnlyList<KeyValuePair<string, string>>? Derived = null)
{
    public bool Equals(PersonaCensus? other) =>
        other is not null && Vintage == other.Vintage && SerialNo == other.SerialNo && SpOrder == other.SpOrder
        && State == other.State && Puma == other.Puma && Weight.Equals(other.Weight) && Codes.SequenceEqual(other.Codes)
        && (Derived ?? []).SequenceEqual(other.Derived ?? []);

    public override int GetHashCode() => HashCode.Combine(SerialNo, SpOrder);
}

/// <summary>
/// A raw PUMS code as the source had it: a number for numeric columns, a string (with its zero
/// padding) for character columns, or null for a blank.
/// </summary>
public readonly record struct PumsCode(string Variable, long? Number, string? Text)
{
    public static PumsCode Blank(string variable) => new(variable, null, null);
}

