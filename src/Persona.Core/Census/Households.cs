namespace Persona.Census;

/// <summary>
/// Household type (HHT), household language (HHL) and presence and age of children (HUPAC) for
/// each person: joined from a Census household file when one is given, otherwise derived from
/// the persons of the same household (SERIALNO) when the person file has the relationship
/// variable (RELP, or RELSHIPP from 2019 on), otherwise taken from the <c>*_DERIVED</c> columns
/// of an extract built from whole households without relationships (<see cref="DeriveFromMembers(ReadOnlySpan{Member}, bool, bool)"/>;
/// the bundled 2024 extract). Group quarters residents have no household, so the fields stay
/// null for them, as in the Census files. See data/acs/dictionaries.md and data/acs/README.md.
/// </summary>
internal static class Households
{
    private readonly record struct HouseholdCodes(int Hht, int Hhl, int Hupac);

    /// <summary>What the household fields of a table were built from, for the run summary.</summary>
    public enum Origin { None, HouseholdFile, Derived, DerivedInExtract }

    /// <summary>Column names of the fields an extract derived from its households' persons (no relationships).</summary>
    public const string HhtDerived = "HHT_DERIVED", HhlDerived = "HHL_DERIVED", HupacDerived = "HUPAC_DERIVED", NpDerived = "NP_DERIVED";

    /// <summary>
    /// HHT_DERIVED codes. 1, 4 and 6 are the Census's HHT codes (married couple; male / female
    /// householder living alone); the others say what the persons allow when the relationships are
    /// unknown: no spouse present but family or nonfamily undeterminable (8/9), or, without marital
    /// status, not even whether a spouse is present (10/11).
    /// </summary>
    internal const int HhtMarried = 1, HhtMaleAlone = 4, HhtFemaleAlone = 6,
        HhtMaleNoSpouse = 8, HhtFemaleNoSpouse = 9, HhtMaleNotAlone = 10, HhtFemaleNotAlone = 11;

    /// <summary>HHL_DERIVED codes: 1 as the Census's HHL; 2 = any other language (LANX without LANP).</summary>
    internal const int HhlEnglishOnly = 1, HhlOtherThanEnglish = 2;

    public static Origin Apply(PumsTable table, IReadOnlyList<string> householdFiles, CancellationToken ct) =>
        table.HouseholdOrigin = ApplyTo(table, householdFiles, ct);

    private static Origin ApplyTo(PumsTable table, IReadOnlyList<string> householdFiles, CancellationToken ct)
    {
        if (householdFiles.Count > 0)
        {
            Join(table, ReadHouseholdFiles(householdFiles, ct), householdFiles);
            return Origin.HouseholdFile;
        }
        if (table.Has(PumsVariables.Relp) || table.Has(PumsVariables.Relshipp))
        {
            Derive(table, ct);
            return Origin.Derived;
        }
        if (table.SourceNames[PumsVariables.Hht.Ordinal] == HhtDerived || table.SourceNames[PumsVariables.Hupac.Ordinal] == HupacDerived)
            return Origin.DerivedInExtract;
        return Origin.None;
    }

    /// <summary>
    /// The dictionary entry of a derived column whose codes are not the Census's: the Census
    /// labels where the code means the same (HHT 1, 4, 6; HHL 1), the derivation's own otherwise.
    /// Null for other columns (HUPAC_DERIVED and NP_DERIVED use the Census codes of HUPAC and NP).
    /// </summary>
    internal static PumsDictionaryVariable? DerivedEntry(string? sourceName, PumsDictionary dictionary)
    {
        const string file = "Households.DerivedEntry";
        string Census(string variable, int code, string fallback) => dictionary.Find(variable)?.Label(code) ?? fallback;
        switch (sourceName)
        {
            case HhtDerived:
            {
                var v = new PumsDictionaryVariable(HhtDerived, 'C', 2, "Household type derived from the household's persons (no relationships)");
                v.AddValue("1", "1", Census("HHT", HhtMarried, "Married couple household"), file, 1);
                v.AddValue("4", "4", Census("HHT", HhtMaleAlone, "Nonfamily household: Male householder: Living alone"), file, 4);
                v.AddValue("6", "6", Census("HHT", HhtFemaleAlone, "Nonfamily household: Female householder: Living alone"), file, 6);
                v.AddValue("8", "8", "Male householder, no spouse present: Not living alone", file, 8);
                v.AddValue("9", "9", "Female householder, no spouse present: Not living alone", file, 9);
                v.AddValue("10", "10", "Male householder: Not living alone", file, 10);
                v.AddValue("11", "11", "Female householder: Not living alone", file, 11);
                return v;
            }
            case HhlDerived:
            {
                var v = new PumsDictionaryVariable(HhlDerived, 'C', 1, "Household language derived from the household's persons' LANX (no LANP)");
                v.AddValue("1", "1", Census("HHL", HhlEnglishOnly, "English only"), file, 1);
                v.AddValue("2", "2", "Language other than English", file, 2);
                return v;
            }
            default:
                return null;
        }
    }

    private static Dictionary<long, HouseholdCodes> ReadHouseholdFiles(IReadOnlyList<string> files, CancellationToken ct)
    {
        var map = new Dictionary<long, HouseholdCodes>();
        foreach (var file in files)
        {
            if (file.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
                PumsCsvReader.ForEachZipEntry(file, "psam_h", (s, name) => { ReadHouseholdCsv(s, name, map, ct); return 0; });
            else if (file.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
            {
                using var s = PumsCsvReader.OpenRead(file);
                ReadHouseholdCsv(s, file, map, ct);
            }
            else
                throw new PersonaException($"Household file '{file}' must be a Census household CSV (psam_h*.csv) or its zip (csv_h??.zip).");
        }
        return map;
    }

    private static void ReadHouseholdCsv(Stream stream, string name, Dictionary<long, HouseholdCodes> map, CancellationToken ct)
    {
        using var reader = PumsCsvReader.OpenCsv(stream, name);
        string[] needed = [PumsVariables.SerialNo, "HHT", "HHL", "HUPAC"];
        var idx = new int[needed.Length];
        var missing = new List<string>();
        for (var i = 0; i < needed.Length; i++)
            if (!reader.Header.TryIndexOf(needed[i], out idx[i])) missing.Add(needed[i]);
        if (missing.Count > 0)
            throw new PersonaException(
                $"Household file '{name}' lacks the column(s) {string.Join(", ", missing)}; a PUMS household file needs {string.Join(", ", needed)}.");
        var rows = 0;
        try
        {
            foreach (var row in reader)
            {
                if ((++rows & 0xFFF) == 0) ct.ThrowIfCancellationRequested();
                var line = row.LineNumberFrom;
                var s = row[idx[0]].Span;
                if (!PumsSerial.TryParse(s, out var serial))
                    throw PumsCsvReader.BadField(name, line, "SERIALNO", s, "a serial number like 2018HU0000001");
                var codes = new int[3];
                for (var k = 1; k < 4; k++)
                {
                    var f = row[idx[k]].Span;
                    if (!CodeParser.TryParse(f, out codes[k - 1]))
                        throw PumsCsvReader.BadField(name, line, needed[k], f, "an integer code or an empty field");
                }
                map[serial] = new HouseholdCodes(codes[0], codes[1], codes[2]);
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw new PersonaException($"Household file '{name}' cannot be read to the end (truncated or corrupt): {ex.Message}", ex);
        }
    }

    private static void Join(PumsTable table, Dictionary<long, HouseholdCodes> map, IReadOnlyList<string> files)
    {
        var n = table.Count;
        int[] hht = new int[n], hhl = new int[n], hupac = new int[n];
        var unmatched = 0;
        long example = 0;
        for (var i = 0; i < n; i++)
        {
            var serial = table.Serial[i];
            if (PumsSerial.IsGroupQuarters(serial) || !map.TryGetValue(serial, out var h))
            {
                if (!PumsSerial.IsGroupQuarters(serial) && unmatched++ == 0) example = serial;
                hht[i] = hhl[i] = hupac[i] = PumsTable.Null;
                continue;
            }
            (hht[i], hhl[i], hupac[i]) = (h.Hht, h.Hhl, h.Hupac);
        }
        if (unmatched > 0)
            throw new PersonaException(
                $"The household file(s) {string.Join(", ", files)} do not cover {unmatched:N0} person(s) living in households " +
                $"(e.g. SERIALNO {PumsSerial.Format(example)}). Pass the household files of the same states and year as the person files.");
        table.SetColumn(PumsVariables.Hht, hht, text: true, "HHT");
        table.SetColumn(PumsVariables.Hhl, hhl, text: true, "HHL");
        table.SetColumn(PumsVariables.Hupac, hupac, text: true, "HUPAC");
    }

    /// <summary>Relationship to the householder, on one scale for RELP (to 2018) and RELSHIPP (2019 on).</summary>
    internal enum Relation
    {
        Householder, Spouse, Child, Parent, Sibling, Grandchild, OtherRelative, Stepchild,
        UnmarriedPartner, Housemate, Roomer, FosterChild, OtherNonrelative, GroupQuarters, Unknown,
    }

    internal static Relation FromRelp(int code) => code switch
    {
        0 => Relation.Householder,
        1 => Relation.Spouse,
        2 or 3 => Relation.Child,
        4 => Relation.Stepchild,
        5 => Relation.Sibling,
        6 => Relation.Parent,
        7 => Relation.Grandchild,
        8 or 9 or 10 => Relation.OtherRelative,
        11 => Relation.Roomer,
        12 => Relation.Housemate,
        13 => Relation.UnmarriedPartner,
        14 => Relation.FosterChild,
        15 => Relation.OtherNonrelative,
        16 or 17 => Relation.GroupQuarters,
        _ => Relation.Unknown,
    };

    internal static Relation FromRelshipp(int code) => code switch
    {
        20 => Relation.Householder,
        21 or 23 => Relation.Spouse,
        22 or 24 => Relation.UnmarriedPartner,
        25 or 26 => Relation.Child,
        27 => Relation.Stepchild,
        28 => Relation.Sibling,
        29 => Relation.Parent,
        30 => Relation.Grandchild,
        31 or 32 or 33 => Relation.OtherRelative,
        34 => Relation.Housemate,
        35 => Relation.FosterChild,
        36 => Relation.OtherNonrelative,
        37 or 38 => Relation.GroupQuarters,
        _ => Relation.Unknown,
    };

    private static bool IsRelative(Relation r) =>
        r is Relation.Spouse or Relation.Child or Relation.Parent or Relation.Sibling or Relation.Grandchild
            or Relation.OtherRelative or Relation.Stepchild;

    /// <summary>
    /// Order in which a member's non-English language becomes the household language: the
    /// Census's own tabulation order (householder, spouse, parent, sibling, child, grandchild,
    /// other relative, stepchild, partner, housemate, roomer, foster child, other nonrelative).
    /// </summary>
    private static int LanguagePriority(Relation r) => r switch
    {
        Relation.Householder => 0, Relation.Spouse => 1, Relation.Parent => 2, Relation.Sibling => 3,
        Relation.Child => 4, Relation.Grandchild => 5, Relation.OtherRelative => 6, Relation.Stepchild => 7,
        Relation.UnmarriedPartner => 8, Relation.Housemate => 9, Relation.Roomer => 10,
        Relation.FosterChild => 11, Relation.OtherNonrelative => 12, _ => 13,
    };

    /// <summary>
    /// The HHL group of a LANP code. LANP (2016 code list) is ordered by language family: Spanish
    /// is 1200, codes up to 1564 ("Other Indo-European languages") are Indo-European, Finnish and
    /// Hungarian (Uralic) are "other", Turkish and Mongolian through the Pacific languages (3600)
    /// are Asian and Pacific Island, Arabic (4500) onwards (Semitic, African, native American,
    /// 9999 unspecified) are "other".
    /// </summary>
    internal static int LanguageGroup(int lanp) => lanp switch
    {
        1200 => 2,
        >= 1000 and <= 1564 => 3,
        1565 or 1582 => 5,
        > 1564 and <= 3600 => 4,
        _ => 5,
    };

    /// <summary>
    /// Calls <paramref name="household"/> with the rows of each SERIALNO, in SPORDER order. Rows of
    /// one household are contiguous in Census files, but sorting makes the derivations independent
    /// of file layout (and of concatenation order).
    /// </summary>
    private static void ForEachHousehold(PumsTable table, CancellationToken ct, HouseholdRows household)
    {
        var n = table.Count;
        var order = new int[n];
        for (var i = 0; i < n; i++) order[i] = i;
        var keys = new long[n];
        var sporder = table.Columns[PumsVariables.Sporder.Ordinal]!;
        for (var i = 0; i < n; i++) keys[i] = table.Serial[i] * 128 + Math.Clamp(sporder[i], 0, 127);
        Array.Sort(keys, order);
        var start = 0;
        while (start < n)
        {
            if ((start & 0xFFFF) == 0) ct.ThrowIfCancellationRequested();
            var serial = table.Serial[order[start]];
            var end = start + 1;
            while (end < n && table.Serial[order[end]] == serial) end++;
            household(serial, order.AsSpan(start, end - start));
            start = end;
        }
    }

    private delegate void HouseholdRows(long serial, ReadOnlySpan<int> rows);

    private static void Derive(PumsTable table, CancellationToken ct)
    {
        var n = table.Count;
        int[] hht = new int[n], hhl = new int[n], hupac = new int[n];
        var useRelp = table.Has(PumsVariables.Relp);
        var rel = table.Columns[(useRelp ? PumsVariables.Relp : PumsVariables.Relshipp).Ordinal]!;
        var age = table.Columns[PumsVariables.Agep.Ordinal]!;
        var sex = table.Columns[PumsVariables.Sex.Ordinal]!;
        var lanx = table.Columns[PumsVariables.Lanx.Ordinal];
        var lanp = table.Columns[PumsVariables.Lanp.Ordinal];
        var canLanguage = lanx is not null && lanp is not null;
        ForEachHousehold(table, ct, (serial, rows) =>
        {
            var codes = DeriveOne(rows, serial, useRelp, rel, age, sex, canLanguage ? lanx : null, lanp);
            foreach (var r in rows) (hht[r], hhl[r], hupac[r]) = (codes.Hht, codes.Hhl, codes.Hupac);
        });
        table.SetColumn(PumsVariables.Hht, hht, text: true, "HHT");
        table.SetColumn(PumsVariables.Hhl, hhl, text: true, "HHL");
        table.SetColumn(PumsVariables.Hupac, hupac, text: true, "HUPAC");
    }

    /// <summary>A person of a household as files without relationships describe them; <see cref="PumsTable.Null"/> for a blank.</summary>
    internal readonly record struct Member(int SpOrder, int Age, int Sex, int Mar, int Lanx);

    /// <summary>Household size and the derived HUPAC (Census codes), HHT_DERIVED and HHL_DERIVED codes; Null where not derivable.</summary>
    internal readonly record struct MemberCodes(int Persons, int Hupac, int Hht, int Hhl);

    /// <summary>
    /// What the persons of one housing unit allow without relationships (the 2024 files lack RELP).
    /// SPORDER 1 is the reference person, i.e. the householder. Rules (and their limits, measured
    /// against RELP in data/acs/README.md):
    /// <list type="bullet">
    /// <item>size: the number of persons (exact for whole households);</item>
    /// <item>HUPAC: any person other than the reference person under 18 is a child of the household
    /// (RELP also excludes a spouse or partner under 18);</item>
    /// <item>HHT: one person: living alone (exact). With marital status: the reference person and
    /// another person married: married couple (approximate: the other married person may not be the
    /// spouse); otherwise no spouse present (exact), family or nonfamily undeterminable. Without
    /// marital status: not living alone, spouse presence undeterminable;</item>
    /// <item>HHL: with LANX, English only when no person speaks another language at home (exact),
    /// else "other than English" (which language needs LANP); without LANX, not derivable.</item>
    /// </list>
    /// </summary>
    internal static MemberCodes DeriveFromMembers(ReadOnlySpan<Member> members, bool hasMar, bool hasLanx)
    {
        var reference = -1;
        bool under6 = false, age6to17 = false, otherMarried = false, otherLanguage = false;
        for (var i = 0; i < members.Length; i++)
        {
            var m = members[i];
            if (m.SpOrder == 1) { reference = i; }
            else
            {
                if (m.Age != PumsTable.Null && m.Age < 18) { if (m.Age < 6) under6 = true; else age6to17 = true; }
                if (m.Mar == 1) otherMarried = true;
            }
            if (m.Lanx == 1) otherLanguage = true;
        }
        if (reference < 0)
            return new MemberCodes(members.Length, PumsTable.Null, PumsTable.Null, PumsTable.Null); // not a whole household
        var male = members[reference].Sex == 1;
        var hht = members.Length == 1 ? (male ? HhtMaleAlone : HhtFemaleAlone)
            : !hasMar ? (male ? HhtMaleNotAlone : HhtFemaleNotAlone)
            : members[reference].Mar == 1 && otherMarried ? HhtMarried
            : male ? HhtMaleNoSpouse : HhtFemaleNoSpouse;
        var hhl = hasLanx ? (otherLanguage ? HhlOtherThanEnglish : HhlEnglishOnly) : PumsTable.Null;
        return new MemberCodes(members.Length, HupacCode(under6, age6to17), hht, hhl);
    }

    /// <summary>
    /// Sets the *_DERIVED household columns of a table from its persons, ignoring any relationship
    /// variable: what an extract of whole households without RELP would carry (checks against RELP).
    /// </summary>
    internal static void DeriveFromMembers(PumsTable table, bool useMar, bool useLanx, CancellationToken ct)
    {
        var n = table.Count;
        int[] hht = new int[n], hhl = new int[n], hupac = new int[n], np = new int[n];
        var sp = table.Columns[PumsVariables.Sporder.Ordinal]!;
        var age = table.Columns[PumsVariables.Agep.Ordinal]!;
        var sex = table.Columns[PumsVariables.Sex.Ordinal]!;
        var mar = useMar ? table.Columns[PumsVariables.Mar.Ordinal] : null;
        var lanx = useLanx ? table.Columns[PumsVariables.Lanx.Ordinal] : null;
        var members = new List<Member>();
        ForEachHousehold(table, ct, (serial, rows) =>
        {
            var codes = new MemberCodes(PumsTable.Null, PumsTable.Null, PumsTable.Null, PumsTable.Null);
            if (!PumsSerial.IsGroupQuarters(serial))
            {
                members.Clear();
                foreach (var r in rows)
                    members.Add(new Member(sp[r], age[r], sex[r], mar?[r] ?? PumsTable.Null, lanx?[r] ?? PumsTable.Null));
                codes = DeriveFromMembers(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(members), mar is not null, lanx is not null);
            }
            foreach (var r in rows) (hht[r], hhl[r], hupac[r], np[r]) = (codes.Hht, codes.Hhl, codes.Hupac, codes.Persons);
        });
        table.SetColumn(PumsVariables.Hht, hht, text: false, HhtDerived);
        table.SetColumn(PumsVariables.Hupac, hupac, text: false, HupacDerived);
        table.SetColumn(PumsVariables.Np, np, text: false, NpDerived);
        if (lanx is not null) table.SetColumn(PumsVariables.Hhl, hhl, text: false, HhlDerived);
        table.HouseholdOrigin = Origin.DerivedInExtract;
    }

    private static int HupacCode(bool under6, bool age6to17) => (under6, age6to17) switch
    {
        (true, false) => 1,
        (false, true) => 2,
        (true, true) => 3,
        _ => 4,
    };

    private static HouseholdCodes DeriveOne(ReadOnlySpan<int> members, long serial, bool useRelp, int[] relCol,
        int[] age, int[] sex, int[]? lanx, int[]? lanp)
    {
        var none = new HouseholdCodes(PumsTable.Null, PumsTable.Null, PumsTable.Null);
        if (PumsSerial.IsGroupQuarters(serial))
            return none;
        var householder = -1;
        bool spouse = false, relative = false, under6 = false, age6to17 = false;
        foreach (var m in members)
        {
            var r = Relate(relCol[m], useRelp);
            if (r == Relation.GroupQuarters)
                return none;
            if (r == Relation.Householder) householder = m;
            if (r == Relation.Spouse) spouse = true;
            if (IsRelative(r)) relative = true;
            // HUPAC counts every child under 18 in the household (own, related or not); the
            // householder and a spouse or partner are never "children" of the household.
            if (r is not (Relation.Householder or Relation.Spouse or Relation.UnmarriedPartner) && age[m] != PumsTable.Null && age[m] < 18)
            {
                if (age[m] < 6) under6 = true; else age6to17 = true;
            }
        }
        if (householder < 0)
            return none; // An incomplete household (e.g. a filtered extract) cannot be typed.

        var male = sex[householder] == 1;
        var hhtCode = spouse ? 1
            : relative ? (male ? 2 : 3)
            : members.Length == 1 ? (male ? 4 : 6)
            : (male ? 5 : 7);
        var hupacCode = HupacCode(under6, age6to17);
        var hhlCode = PumsTable.Null;
        if (lanx is not null && lanp is not null)
        {
            // English only unless someone aged 5+ speaks another language at home; then the
            // language of the first such member in the Census's relationship order.
            var best = -1;
            var bestPriority = int.MaxValue;
            foreach (var m in members)
            {
                if (lanx[m] != 1 || lanp[m] == PumsTable.Null) continue;
                var p = LanguagePriority(Relate(relCol[m], useRelp));
                if (p < bestPriority) { best = m; bestPriority = p; }
            }
            hhlCode = best < 0 ? 1 : LanguageGroup(lanp[best]);
        }
        return new HouseholdCodes(hhtCode, hhlCode, hupacCode);
    }

    private static Relation Relate(int code, bool useRelp) =>
        code == PumsTable.Null ? Relation.Unknown : useRelp ? FromRelp(code) : FromRelshipp(code);

    internal static string Describe(Origin origin) => origin switch
    {
        Origin.HouseholdFile => "joined from household file",
        Origin.Derived => "derived from household members (RELP/AGEP/SEX/LANX/LANP)",
        Origin.DerivedInExtract => "derived when the extract was built, from the persons of each household without relationships " +
                                   "(SPORDER/AGEP/SEX/MAR/LANX; married couple approximate; California/Texas: AGEP/SEX only, no household language); see data/acs/README.md",
        _ => "not available (no household file, no RELP)",
    };
}
