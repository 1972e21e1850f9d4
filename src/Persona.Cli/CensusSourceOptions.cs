using System.CommandLine;
using Persona.Census;

namespace Persona.Cli;

/// <summary>
/// Where census persons come from and which of them are in the universe: shared by every verb that
/// draws from or compares with the census, so `sample` and `fidelity` always mean the same thing.
/// </summary>
internal sealed class CensusSourceOptions
{
    public readonly Option<string[]> Source = new("--source")
    {
        Description = $"PUMS person files, folders or globs: p_*.parquet, psam_p*.csv, or the Census zip csv_p??.zip (read in place). Default: data/{CensusDraw.BundledSource}.",
        AllowMultipleArgumentsPerToken = true,
    };

    public readonly Option<string[]> Household = new("--household")
    {
        Description = "PUMS household files (psam_h*.csv or csv_h??.zip) to join on SERIALNO for household type, language and children. Without them these are derived from the household's persons when the person file has RELP.",
        AllowMultipleArgumentsPerToken = true,
    };

    public readonly Option<string> Dictionary = new("--dictionary") { Description = "PUMS data dictionary CSV of the data's year. Default: the bundled one for the detected vintage (2024 data: the 2023 dictionary)." };
    public readonly Option<int?> MinAge = new("--min-age") { Description = "Keep persons at least this old (0-99)." };
    public readonly Option<int?> MaxAge = new("--max-age") { Description = "Keep persons at most this old (0-99)." };
    public readonly Option<string> States = new("--states") { Description = "Keep persons of these states: postal or FIPS codes, e.g. \"CA,TX,06\"." };
    public readonly Option<bool> KeepUnknown = new("--keep-unknown-codes") { Description = "Keep codes missing from the dictionary as raw codes instead of failing." };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Source, Household, Dictionary, MinAge, MaxAge, States, KeepUnknown })
            command.Options.Add(o);
    }

    public CensusSampleOptions Read(ParseResult parse, int n) => new()
    {
        N = n,
        Sources = parse.GetValue(Source) ?? [],
        Households = parse.GetValue(Household) ?? [],
        DictionaryPath = parse.GetValue(Dictionary),
        MinAge = parse.GetValue(MinAge),
        MaxAge = parse.GetValue(MaxAge),
        States = parse.GetValue(States) is { } s ? StateCodes.Parse(s) : null,
        KeepUnknownCodes = parse.GetValue(KeepUnknown),
    };
}
