using System.Globalization;
using DuckDB.NET.Data;
using Persona.Census;

namespace Persona.Tools.BuildDefaultSource;

/// <summary>
/// The household fields of every sampled housing unit, derived from all of its persons in the
/// full 2024 files before persons are sampled apart (the rules are Persona.Core's
/// <c>Households.DeriveFromMembers</c>; data/acs/README.md documents them and their limits).
/// </summary>
internal sealed class HouseholdFields
{
    readonly Dictionary<(string State, string Serial), Households.MemberCodes> _codes = new();

    public static readonly string[] Columns = [Households.HhtDerived, Households.HhlDerived, Households.HupacDerived, Households.NpDerived];

    /// <summary>Weighted person totals per derived code over the whole frame (all 51 files), for the sampling check.</summary>
    public Dictionary<string, Dictionary<string, double>> Frame { get; } = Columns.ToDictionary(c => c, _ => new Dictionary<string, double>());

    public static HouseholdFields Derive(DuckDBConnection db, Action<string> log)
    {
        var result = new HouseholdFields();
        using var cmd = db.CreateCommand();
        // Narrow (California, Texas) records have neither MAR nor LANX.
        cmd.CommandText =
            "SELECT STATE, SERIALNO, SPORDER, AGEP, SEX, MAR, LANX, PWGTP, false FROM wide WHERE SERIALNO LIKE '%HU%' " +
            "UNION ALL SELECT STATE, SERIALNO, SPORDER, AGEP, SEX, NULL, NULL, PWGTP, true FROM narrow WHERE SERIALNO LIKE '%HU%' " +
            "ORDER BY STATE, SERIALNO, SPORDER";
        using var r = cmd.ExecuteReader();
        var members = new List<Households.Member>();
        var weights = new List<double>();
        string? state = null, serial = null;
        bool narrow = false;
        int households = 0, incomplete = 0, persons = 0;
        void Flush()
        {
            if (serial is null) return;
            households++;
            // Whole households have SPORDER 1..n; anything else is reported, and a household
            // without its reference person gets no derived fields.
            for (var k = 0; k < members.Count; k++)
                if (members[k].SpOrder != k + 1) { incomplete++; break; }
            var codes = Households.DeriveFromMembers(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(members), hasMar: !narrow, hasLanx: !narrow);
            result._codes[(state!, serial)] = codes;
            foreach (var w in weights) result.AddFrame(codes, w);
        }
        while (r.Read())
        {
            string st = r.GetString(0), se = r.GetString(1);
            if (se != serial || st != state)
            {
                Flush();
                members.Clear();
                weights.Clear();
                (state, serial, narrow) = (st, se, r.GetBoolean(8));
            }
            int Int(int i) => r.IsDBNull(i) ? PumsTable.Null : (int)r.GetInt64(i);
            members.Add(new Households.Member(Int(2), Int(3), Int(4), Int(5), Int(6)));
            weights.Add(r.GetInt64(7));
            persons++;
        }
        Flush();
        log($"households: {households:N0} housing units ({persons:N0} persons); with SPORDER not 1..n: {incomplete:N0}");
        return result;
    }

    void AddFrame(Households.MemberCodes c, double w)
    {
        foreach (var (column, code) in Pairs(c))
        {
            var d = Frame[column];
            d[code] = d.GetValueOrDefault(code) + w;
        }
    }

    /// <summary>The four derived codes of a household as text keys (NP top-coded at 7+ for the check); null codes as "null".</summary>
    public static IEnumerable<(string Column, string Code)> Pairs(Households.MemberCodes c)
    {
        static string S(int v) => v == PumsTable.Null ? "null" : v.ToString(CultureInfo.InvariantCulture);
        yield return (Households.HhtDerived, S(c.Hht));
        yield return (Households.HhlDerived, S(c.Hhl));
        yield return (Households.HupacDerived, S(c.Hupac));
        yield return (Households.NpDerived, c.Persons >= 7 ? "7+" : S(c.Persons));
    }

    /// <summary>Codes of a sampled person's household; null for group quarters residents.</summary>
    public Households.MemberCodes? Of(Person p) =>
        p.GroupQuarters ? null : _codes.TryGetValue((p.State, p.Serial), out var c) ? c : throw new Persona.PersonaException(
            $"No household derived for {p.State}/{p.Serial}; the household query and the person frame disagree.");
}
