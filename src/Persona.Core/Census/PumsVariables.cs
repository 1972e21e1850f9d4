namespace Persona.Census;

/// <summary>
/// A PUMS variable the census sampler reads. <see cref="SourceNames"/> lists the column names
/// it has had across vintages (the state is <c>ST</c> in 2018 and <c>STATE</c> from 2020 on).
/// </summary>
public sealed record PumsVariable(int Ordinal, string Name, string[] SourceNames, bool Required, bool Categorical)
{
    public override string ToString() => Name;
}

/// <summary>
/// The fixed set of variables held in a <see cref="PumsTable"/>. Ordinals index the table's
/// columns; only these are read from the (wide) Census files, which is what keeps a national
/// load at a few hundred MB.
/// </summary>
public static class PumsVariables
{
    private static readonly List<PumsVariable> _all = new();

    private static PumsVariable Add(string name, bool required = false, bool categorical = true, params string[] aliases)
    {
        var v = new PumsVariable(_all.Count, name, [name, .. aliases], required, categorical);
        _all.Add(v);
        return v;
    }

    // Identity and sampling frame. SERIALNO and PWGTP are held in their own typed arrays.
    public static readonly PumsVariable Sporder = Add("SPORDER", required: true, categorical: false);
    public static readonly PumsVariable State = Add("STATE", required: true, categorical: true, "ST");
    public static readonly PumsVariable Puma = Add("PUMA");
    public static readonly PumsVariable Agep = Add("AGEP", required: true, categorical: false);
    public static readonly PumsVariable Sex = Add("SEX", required: true);
    public static readonly PumsVariable Rac1p = Add("RAC1P", required: true);
    public static readonly PumsVariable Hisp = Add("HISP", required: true);

    // Persona attributes (optional: a file without one leaves that attribute null).
    public static readonly PumsVariable Anc1p = Add("ANC1P");
    public static readonly PumsVariable Schl = Add("SCHL");
    public static readonly PumsVariable Esr = Add("ESR");
    public static readonly PumsVariable Cow = Add("COW");
    public static readonly PumsVariable Indp = Add("INDP");
    public static readonly PumsVariable Occp = Add("OCCP");
    public static readonly PumsVariable Pincp = Add("PINCP", categorical: false);
    public static readonly PumsVariable Mar = Add("MAR");
    public static readonly PumsVariable Pobp = Add("POBP");
    public static readonly PumsVariable Nativity = Add("NATIVITY");
    public static readonly PumsVariable Cit = Add("CIT");
    public static readonly PumsVariable Mil = Add("MIL");
    public static readonly PumsVariable Dis = Add("DIS");
    public static readonly PumsVariable Hicov = Add("HICOV");
    public static readonly PumsVariable Drem = Add("DREM");
    public static readonly PumsVariable Eng = Add("ENG");
    public static readonly PumsVariable Deye = Add("DEYE");
    public static readonly PumsVariable Fer = Add("FER");
    public static readonly PumsVariable Dear = Add("DEAR");

    // Household variables: joined from a household file or derived from the household's persons
    // (by the sampler from RELP, or when an extract was built: the *_DERIVED columns, see Households).
    public static readonly PumsVariable Hhl = Add("HHL", aliases: Households.HhlDerived);
    public static readonly PumsVariable Hht = Add("HHT", aliases: Households.HhtDerived);
    public static readonly PumsVariable Hupac = Add("HUPAC", aliases: Households.HupacDerived);
    // Household size: a household-file variable, here only as derived by an extract (provenance only).
    public static readonly PumsVariable Np = Add("NP", false, false, Households.NpDerived);

    // Inputs of the household derivation only (2018 person files have them; 2024 extracts do not).
    // RELSHIPP replaced RELP in 2019 with other codes; both are mapped to one relationship class.
    public static readonly PumsVariable Relp = Add("RELP");
    public static readonly PumsVariable Relshipp = Add("RELSHIPP");
    public static readonly PumsVariable Lanx = Add("LANX");
    public static readonly PumsVariable Lanp = Add("LANP");

    public static IReadOnlyList<PumsVariable> All => _all;

    /// <summary>Variables a person file must have. SERIALNO and PWGTP are required as well.</summary>
    public static IEnumerable<PumsVariable> Required => _all.Where(v => v.Required);

    /// <summary>The household variables, which come from a household file rather than the person file.</summary>
    public static bool IsHousehold(PumsVariable v) => v == Hhl || v == Hht || v == Hupac;

    public const string SerialNo = "SERIALNO";
    public const string Weight = "PWGTP";

    public static string RequiredColumnsText =>
        $"{SerialNo}, {Weight}, " + string.Join(", ", Required.Select(v => v.SourceNames.Length > 1 ? string.Join(" or ", v.SourceNames.Reverse()) : v.Name));
}
