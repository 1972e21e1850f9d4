namespace Persona.Census;

/// <summary>
/// Household type (HHT), household language (HHL) and presence and age of children (HUPAC) for
/// each person: joined from a Census household file when one is given, otherwise derived from
/// the persons of the same household (SERIALNO) when the person file has the relationship
/// variable (RELP, or RELSHIPP from 2019 on). Group quarters residents have no household, so the
/// three fields stay null for them, as in the Census files. See data/acs/dictionaries.md.
/// </summary>
internal static class Households
{
    private readonly record struct HouseholdCodes(int Hht, int Hhl, int Hupac);

    /// <summary>What the household fields of a table were built from, for the run summary.</summary>
    public enum Origin { None, HouseholdFile, Derived }

    public static Origin Apply(PumsTable table, IReadOnlyList<string> householdFiles, CancellationToken ct)
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
        return Origin.None;
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

    private static void Derive(PumsTable table, CancellationToken ct)
    {
        var n = table.Count;
        // Rows of one household are contiguous in Census files, but sorting makes the derivation
        // independent of file layout (and of concatenation order).
        var order = new int[n];
        for (var i = 0; i < n; i++) order[i] = i;
        var keys = new long[n];
        var sporder = table.Columns[PumsVariables.Sporder.Ordinal]!;
        for (var i = 0; i < n; i++) keys[i] = table.Serial[i] * 128 + Math.Clamp(sporder[i], 0, 127);
        Array.Sort(keys, order);

        int[] hht = new int[n], hhl = new int[n], hupac = new int[n];
        var useRelp = table.Has(PumsVariables.Relp);
        var rel = table.Columns[(useRelp ? PumsVariables.Relp : PumsVariables.Relshipp).Ordinal]!;
        var age = table.Columns[PumsVariables.Agep.Ordinal]!;
        var sex = table.Columns[PumsVariables.Sex.Ordinal]!;
        var lanx = table.Columns[PumsVariables.Lanx.Ordinal];
        var lanp = table.Columns[PumsVariables.Lanp.Ordinal];
        var canLanguage = lanx is not null && lanp is not null;

        var start = 0;
        while (start < n)
        {
            if ((start & 0xFFFF) == 0) ct.ThrowIfCancellationRequested();
            var serial = table.Serial[order[start]];
            var end = start + 1;
            while (end < n && table.Serial[order[end]] == serial) end++;
            var codes = DeriveOne(order.AsSpan(start, end - start), serial, useRelp, rel, age, sex, canLanguage ? lanx : null, lanp);
            for (var k = start; k < end; k++)
                (hht[order[k]], hhl[order[k]], hupac[order[k]]) = (codes.Hht, codes.Hhl, codes.Hupac);
            start = end;
        }
        table.SetColumn(PumsVariables.Hht, hht, text: true, "HHT");
        table.SetColumn(PumsVariables.Hhl, hhl, text: true, "HHL");
        table.SetColumn(PumsVariables.Hupac, hupac, text: true, "HUPAC");
    }

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
        var hupacCode = (under6, age6to17) switch
        {
            (true, false) => 1,
            (false, true) => 2,
            (true, true) => 3,
            _ => 4,
        };
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
        _ => "not available (no household file, no RELP)",
    };
}
