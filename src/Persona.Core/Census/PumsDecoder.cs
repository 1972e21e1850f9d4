using System.Globalization;
using System.Text;

namespace Persona.Census;

/// <summary>
/// Turns person rows of a <see cref="PumsTable"/> into personas: every code to the label of the
/// same survey year's dictionary, blanks to null. Construction checks that the dictionary is of
/// the data's year and holds every variable; <see cref="CheckCodes"/> checks every code.
/// </summary>
public sealed class PumsDecoder
{
    private const int CacheLimit = 100_000;

    private sealed class VarDecode
    {
        public required PumsVariable Var { get; init; }
        public required PumsDictionaryVariable Dict { get; init; }
        public required int[] Column { get; init; }
        public required bool Text { get; init; }
        public required string SourceName { get; init; }
        public string?[] TextCache { get; } = new string?[CacheLimit];

        public string? Label(int code, bool keepUnknown) =>
            code == PumsTable.Null ? null : Dict.Label(code) ?? (keepUnknown ? Format(code) : null);

        /// <summary>The code as the source wrote it (padded text for character codes).</summary>
        public string Format(int code)
        {
            if (code is < 0 or >= CacheLimit) return Dict.FormatCode(code);
            return TextCache[code] ??= Dict.FormatCode(code);
        }
    }

    private readonly PumsTable _table;
    private readonly bool _keepUnknown;
    private readonly VarDecode?[] _vars;
    private readonly VarDecode[] _codeOrder;
    private readonly VarDecode[] _checked;
    private readonly string?[] _stateCache = new string?[100];

    public PumsDecoder(PumsTable table, PumsDictionary dictionary, bool keepUnknownCodes)
    {
        _table = table;
        _keepUnknown = keepUnknownCodes;
        Dictionary = dictionary;
        CheckVintage(table, dictionary);
        _vars = new VarDecode?[PumsVariables.All.Count];
        var missing = new List<string>();
        foreach (var v in table.Present)
        {
            var dv = Households.DerivedEntry(table.SourceNames[v.Ordinal], dictionary) ?? dictionary.Find(v.SourceNames);
            if (dv is null)
            {
                missing.Add(v.Name);
                continue;
            }
            _vars[v.Ordinal] = new VarDecode
            {
                Var = v,
                Dict = dv,
                Column = table.Columns[v.Ordinal]!,
                Text = table.TextInSource[v.Ordinal],
                SourceName = table.SourceNames[v.Ordinal]!,
            };
        }
        if (missing.Count > 0)
            throw new PersonaException(
                $"Data dictionary '{dictionary.Path}' has no entry for {string.Join(", ", missing)}, which the person file(s) hold. " +
                $"It does not fit data of {table.Vintage}; pass the dictionary of that release with --dictionary.");
        _codeOrder = _vars.Where(v => v is not null).Select(v => v!).ToArray();
        // Decoded (shown) variables; RELP/LANX/LANP only feed the household derivation.
        // AGEP is numeric, but its VAL rows (0, 1..99 top-coded) cover every valid age: anything else is a corrupt value.
        _checked = _codeOrder.Where(v => (v.Var.Categorical || v.Var == PumsVariables.Agep) && v.Var != PumsVariables.Relp && v.Var != PumsVariables.Relshipp
                                         && v.Var != PumsVariables.Lanx && v.Var != PumsVariables.Lanp && v.Var != PumsVariables.Puma).ToArray();
        (_derived, _derivedNoLanguage) = DerivedNotes(table);
    }

    private readonly IReadOnlyList<KeyValuePair<string, string>>? _derived, _derivedNoLanguage;

    /// <summary>
    /// Each persona's provenance of the attributes that are not the source's own variable, in
    /// contract order; the second list is for persons in a household whose record could not give
    /// the household language (the narrow California/Texas records of the bundled extract).
    /// </summary>
    private static (IReadOnlyList<KeyValuePair<string, string>>?, IReadOnlyList<KeyValuePair<string, string>>?) DerivedNotes(PumsTable t)
    {
        var notes = new List<KeyValuePair<string, string>>();
        var hhlMissing = new List<KeyValuePair<string, string>>();
        void Note(string attribute, string how, string? withoutLanguage = null)
        {
            notes.Add(new(attribute, how));
            hhlMissing.Add(new(attribute, withoutLanguage ?? how));
        }
        if (!t.Has(PumsVariables.Anc1p))
            Note("ancestry", "not in the source (no ANC1P): Hispanic origin (HISP) for Hispanic persons, null otherwise");
        var origin = t.HouseholdOrigin;
        if (origin == Households.Origin.Derived)
        {
            Note("household_language", "derived from the household's persons (RELP, LANX, LANP)");
            Note("household_type", "derived from the household's persons (RELP, SEX)");
            Note("family_presence_and_age", "derived from the household's persons (RELP, AGEP)");
        }
        else if (origin == Households.Origin.DerivedInExtract)
        {
            const string rules = "see data/acs/README.md, Household fields";
            if (t.SourceNames[PumsVariables.Hhl.Ordinal] == Households.HhlDerived)
                Note("household_language", $"HHL_DERIVED: English only unless a person of the household speaks another language at home (LANX); which language is not in the source (no LANP); {rules}",
                    "not derivable: this household's source record has no LANX (California/Texas 2024 files)");
            if (t.SourceNames[PumsVariables.Hht.Ordinal] == Households.HhtDerived)
                Note("household_type", $"HHT_DERIVED from the household's persons without relationships (SPORDER 1 as householder; size, SEX, MAR): living alone exact, married couple approximate, family vs nonfamily not determinable; {rules}",
                    $"HHT_DERIVED from the household's persons' AGEP and SEX only (California/Texas 2024 files: no MAR, no relationships): living alone or not; {rules}");
            if (t.SourceNames[PumsVariables.Hupac.Ordinal] == Households.HupacDerived)
                Note("family_presence_and_age", $"HUPAC_DERIVED: persons of the household other than the reference person (SPORDER 1) under 18, by AGEP; {rules}");
        }
        if (!t.Has(PumsVariables.Pobp))
            Note("place_of_birth", t.Has(PumsVariables.Nativity)
                ? "not in the source (no POBP): nativity (NATIVITY) only, native or foreign born"
                : "not in the source (no POBP, no NATIVITY)");
        return notes.Count == 0 ? (null, null) : (notes, hhlMissing);
    }

    private IReadOnlyList<KeyValuePair<string, string>>? DerivedFor(int row) =>
        _derivedNoLanguage is not null && _table.SourceNames[PumsVariables.Hhl.Ordinal] == Households.HhlDerived
            && _table.Get(PumsVariables.Hhl, row) == PumsTable.Null && _table.Get(PumsVariables.Hupac, row) != PumsTable.Null
            ? _derivedNoLanguage
            : _derived;

    public PumsDictionary Dictionary { get; }

    /// <summary>Persona attributes that no input provides (left null in every persona).</summary>
    public IReadOnlyList<string> UnavailableAttributes
    {
        get
        {
            var list = new List<string>();
            void Need(PumsVariable v, string attr) { if (!_table.Has(v)) list.Add(attr); }
            if (!_table.Has(PumsVariables.Anc1p)) list.Add("ancestry (ANC1P; Hispanic origin used instead)");
            Need(PumsVariables.Hhl, "household_language");
            Need(PumsVariables.Schl, "education");
            Need(PumsVariables.Esr, "employment_status");
            Need(PumsVariables.Cow, "class_of_worker");
            Need(PumsVariables.Indp, "industry_category");
            Need(PumsVariables.Occp, "occupation_category");
            Need(PumsVariables.Pincp, "income");
            Need(PumsVariables.Mar, "marital_status");
            Need(PumsVariables.Hht, "household_type");
            Need(PumsVariables.Hupac, "family_presence_and_age");
            if (!_table.Has(PumsVariables.Pobp))
                list.Add(_table.Has(PumsVariables.Nativity) ? "place_of_birth (POBP; nativity used instead)" : "place_of_birth");
            Need(PumsVariables.Cit, "citizenship");
            Need(PumsVariables.Mil, "veteran_status");
            Need(PumsVariables.Dis, "disability");
            Need(PumsVariables.Hicov, "health_insurance");
            Need(PumsVariables.Drem, "cognitive_difficulty");
            Need(PumsVariables.Eng, "ability_to_speak_english");
            Need(PumsVariables.Deye, "vision_difficulty");
            Need(PumsVariables.Fer, "fertility");
            Need(PumsVariables.Dear, "hearing_difficulty");
            return list;
        }
    }

    /// <summary>
    /// The data's survey year must be one the dictionary describes. The one exception is
    /// documented by the Census Bureau's code lists: 2024 codes follow the 2022 lists, which the
    /// 2023 dictionary carries, so 2024 data may be decoded with the 2023 dictionary.
    /// </summary>
    public static void CheckVintage(PumsTable table, PumsDictionary dictionary)
    {
        var years = dictionary.SurveyYears;
        bool Covers(int y) => years.Contains(y) || (y == 2024 && years.Contains(2023));
        if (!Covers(table.FirstYear) || !Covers(table.LastYear))
        {
            var yearsText = years.Count == 1
                ? years[0].ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{years[0]}-{years[^1]}");
            throw new PersonaException(
                $"Data dictionary '{dictionary.Path}' is for survey year {yearsText}, but the person data is {table.Vintage}. " +
                "Codes change between years, so decode with the dictionary of the same year " +
                "(omit --dictionary to use the bundled one, or pass the matching PUMS_Data_Dictionary_YYYY.csv).");
        }
    }

    /// <summary>
    /// Fails if any row of <paramref name="rows"/> has a code the dictionary lacks (unless unknown
    /// codes are kept), and if a required field is blank.
    /// </summary>
    public void CheckCodes(ReadOnlySpan<int> rows, CancellationToken ct = default)
    {
        foreach (var req in PumsVariables.Required)
        {
            var col = _table.Columns[req.Ordinal]!;
            foreach (var r in rows)
                if (col[r] == PumsTable.Null)
                    throw new PersonaException(
                        $"Person {_table.GetSerial(r)} (SPORDER {_table.GetNullable(PumsVariables.Sporder, r)}) has a blank {req.Name}, which every person record must have.");
        }
        if (_keepUnknown) return;
        var report = new StringBuilder();
        foreach (var v in _checked)
        {
            ct.ThrowIfCancellationRequested();
            Dictionary<int, (long Count, double Weight)>? unknown = null;
            foreach (var r in rows)
            {
                var code = v.Column[r];
                if (code == PumsTable.Null || v.Dict.Label(code) is not null) continue;
                unknown ??= new();
                var (c, w) = unknown.GetValueOrDefault(code);
                unknown[code] = (c + 1, w + _table.Weight[r]);
            }
            if (unknown is null) continue;
            var persons = unknown.Values.Sum(x => x.Count);
            var weight = unknown.Values.Sum(x => x.Weight);
            var listed = unknown.OrderByDescending(x => x.Value.Weight).ThenBy(x => x.Key).Take(12)
                .Select(x => string.Create(CultureInfo.InvariantCulture, $"{v.Format(x.Key)} ({x.Value.Count:N0} persons, weight {x.Value.Weight:N0})"));
            report.Append(CultureInfo.InvariantCulture,
                $"\n  {v.SourceName}: {unknown.Count} code(s) on {persons:N0} persons (weight {weight:N0}): {string.Join(", ", listed)}{(unknown.Count > 12 ? ", ..." : "")}");
        }
        if (report.Length > 0)
            throw new PersonaException(
                $"Codes absent from data dictionary '{Dictionary.Path}' (survey years {string.Join(", ", Dictionary.SurveyYears)}):{report}\n" +
                "Use the dictionary of the data's year (--dictionary FILE), or pass --keep-unknown-codes to keep such codes as raw codes instead of labels.");
    }

    private string? Label(PumsVariable v, int row) =>
        _vars[v.Ordinal] is { } d ? d.Label(d.Column[row], _keepUnknown) : null;

    private int? Code(PumsVariable v, int row) =>
        _vars[v.Ordinal] is { } d && d.Column[row] != PumsTable.Null ? d.Column[row] : null;

    /// <summary>The raw codes the persona uses, in catalog order, as the source wrote them.</summary>
    private RowCodes Codes(int row)
    {
        var values = new int[_codeOrder.Length];
        for (var i = 0; i < values.Length; i++) values[i] = _codeOrder[i].Column[row];
        return new RowCodes(_codeOrder, values);
    }

    /// <summary>
    /// A persona's raw codes as the ints the table holds, turned into <see cref="PumsCode"/>s on
    /// access: a quarter of the memory of materialised codes, which matters at 10^5 personas.
    /// </summary>
    private sealed class RowCodes(VarDecode[] order, int[] values) : IReadOnlyList<PumsCode>
    {
        public int Count => values.Length;

        public PumsCode this[int index]
        {
            get
            {
                var d = order[index];
                var c = values[index];
                return c == PumsTable.Null ? PumsCode.Blank(d.SourceName)
                    : d.Text ? new PumsCode(d.SourceName, null, d.Format(c))
                    : new PumsCode(d.SourceName, c, null);
            }
        }

        public IEnumerator<PumsCode> GetEnumerator()
        {
            for (var i = 0; i < values.Length; i++) yield return this[i];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Raw PUMS codes of a row, for the psychodemographic sampler (which maps them itself).</summary>
    public DemographicProfile Profile(int row) => new(
        Age: _table.Get(PumsVariables.Agep, row),
        Sex: _table.Get(PumsVariables.Sex, row),
        Race: _table.Get(PumsVariables.Rac1p, row),
        Hispanic: _table.Get(PumsVariables.Hisp, row),
        Education: _table.GetNullable(PumsVariables.Schl, row),
        StateFips: _table.Get(PumsVariables.State, row));

    /// <summary>Decodes one person of the table.</summary>
    public CensusPerson Decode(int row)
    {
        var t = _table;
        var state = t.Get(PumsVariables.State, row);
        return new CensusPerson
        {
            Age = t.Get(PumsVariables.Agep, row),
            Sex = Label(PumsVariables.Sex, row),
            Race = Label(PumsVariables.Rac1p, row),
            // ANC1P (first ancestry) when the file has it. 2024 extracts lack it: Hispanic origin
            // is then the one ancestry-like answer available, so Hispanic persons get their HISP
            // label and others null (not "Not Spanish/Hispanic/Latino", which is no ancestry).
            Ancestry = t.Has(PumsVariables.Anc1p)
                ? Label(PumsVariables.Anc1p, row)
                : Code(PumsVariables.Hisp, row) is { } h && h != 1 ? Label(PumsVariables.Hisp, row) : null,
            HouseholdLanguage = Label(PumsVariables.Hhl, row),
            Education = Label(PumsVariables.Schl, row),
            EmploymentStatus = Label(PumsVariables.Esr, row),
            ClassOfWorker = Label(PumsVariables.Cow, row),
            IndustryCategory = Label(PumsVariables.Indp, row),
            OccupationCategory = Label(PumsVariables.Occp, row),
            Income = Code(PumsVariables.Pincp, row),
            MaritalStatus = Label(PumsVariables.Mar, row),
            HouseholdType = Label(PumsVariables.Hht, row),
            FamilyPresenceAndAge = Label(PumsVariables.Hupac, row),
            // POBP when present; otherwise the coarser NATIVITY ("Native" / "Foreign born").
            PlaceOfBirth = t.Has(PumsVariables.Pobp) ? Label(PumsVariables.Pobp, row) : Label(PumsVariables.Nativity, row),
            Citizenship = Label(PumsVariables.Cit, row),
            VeteranStatus = Label(PumsVariables.Mil, row),
            Disability = Label(PumsVariables.Dis, row),
            HealthInsurance = Label(PumsVariables.Hicov, row),
            CognitiveDifficulty = Label(PumsVariables.Drem, row),
            AbilityToSpeakEnglish = Label(PumsVariables.Eng, row),
            VisionDifficulty = Label(PumsVariables.Deye, row),
            Fertility = Label(PumsVariables.Fer, row),
            HearingDifficulty = Label(PumsVariables.Dear, row),
            Census = new PersonaCensus(
                t.Vintage,
                t.GetSerial(row),
                t.Get(PumsVariables.Sporder, row),
                state is >= 0 and < 100 ? _stateCache[state] ??= state.ToString("D2", CultureInfo.InvariantCulture) : state.ToString(CultureInfo.InvariantCulture),
                Code(PumsVariables.Puma, row) is { } puma ? _vars[PumsVariables.Puma.Ordinal]!.Format(puma) : null,
                t.Weight[row],
                Codes(row),
                DerivedFor(row)),
        };
    }
}
