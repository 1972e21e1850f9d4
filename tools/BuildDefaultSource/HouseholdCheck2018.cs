using System.Globalization;
using Persona.Census;

namespace Persona.Tools.BuildDefaultSource;

/// <summary>
/// How far the relationship-free household rules (used for the 2024 extract) are from the truth:
/// the 14 full-column 2018 state files have RELP, so their household fields derive exactly
/// (Households' RELP rules, the Census definitions); the same files with RELP ignored give what
/// the rules would say. Compared per person in housing units, weighted by PWGTP.
/// Run: tools/build-default-source.sh --check-households-2018
/// </summary>
internal static class HouseholdCheck2018
{
    public static void Run(string sharedData)
    {
        var dir = Path.Combine(sharedData, "acs-pums", "2018-1yr");
        var files = Directory.Exists(dir) ? Directory.GetFiles(dir, "csv_p*.zip").Order(StringComparer.Ordinal).ToList() : [];
        if (files.Count == 0) throw new Persona.PersonaException($"No 2018 person zips (csv_p*.zip) under {dir}; pass --shared-data.");
        var table = PumsLoader.LoadAsync(files, null, default).GetAwaiter().GetResult();
        Console.Error.WriteLine($"2018: {table.Count:N0} persons from {files.Count} files");

        Households.Apply(table, [], default); // RELP: the truth
        int[] tHht = Col(table, PumsVariables.Hht), tHhl = Col(table, PumsVariables.Hhl), tHupac = Col(table, PumsVariables.Hupac);
        Households.DeriveFromMembers(table, useMar: true, useLanx: true, default);
        int[] wHht = Col(table, PumsVariables.Hht), wHhl = Col(table, PumsVariables.Hhl), wHupac = Col(table, PumsVariables.Hupac);
        Households.DeriveFromMembers(table, useMar: false, useLanx: false, default);
        int[] nHht = Col(table, PumsVariables.Hht);

        // The householder's sex (RELP 0) per household, and whether SPORDER 1 is the householder.
        var relp = Col(table, PumsVariables.Relp);
        var sp = Col(table, PumsVariables.Sporder);
        var sex = Col(table, PumsVariables.Sex);
        var householderSex = new Dictionary<long, int>();
        int firstIsHouseholder = 0, firsts = 0;
        for (int r = 0; r < table.Count; r++)
        {
            if (relp[r] == 0) householderSex[table.Serial[r]] = sex[r];
            if (sp[r] == 1 && !PumsSerial.IsGroupQuarters(table.Serial[r])) { firsts++; if (relp[r] == 0) firstIsHouseholder++; }
        }
        Console.WriteLine($"2018 check: {table.Count:N0} persons of {files.Count} states; SPORDER 1 is the householder (RELP 0) in {firstIsHouseholder:N0} of {firsts:N0} housing units.");
        Console.WriteLine();
        Console.WriteLine("| field (rule) | categories | TVD derived vs RELP truth | persons classified alike (weighted) |");
        Console.WriteLine("|---|---:|---:|---:|");

        string S(int v) => v.ToString(CultureInfo.InvariantCulture);
        string WideHht(int hht) => hht switch { 2 or 5 => "8", 3 or 7 => "9", _ => S(hht) };
        string NarrowHht(int r, int hht) => hht is 4 or 6 ? S(hht) : householderSex.GetValueOrDefault(table.Serial[r]) == 1 ? "10" : "11";
        string Hhl(int hhl) => hhl == 1 ? "1" : "2";

        var shares = new List<string>();
        Compare("household type, wide rule (size, SEX, MAR)", r => WideHht(tHht[r]), r => S(wHht[r]), tHht, shares);
        Compare("household type, narrow rule (size, SEX)", r => NarrowHht(r, tHht[r]), r => S(nHht[r]), tHht, shares);
        Compare("presence and age of children (HUPAC)", r => S(tHupac[r]), r => S(wHupac[r]), tHupac, shares);
        Compare("household language, English only or not (LANX)", r => Hhl(tHhl[r]), r => S(wHhl[r]), tHhl, shares);
        // The married-couple rule's error is meant to be one-sided (a spouse is always MAR 1): count both sides.
        double missed = 0, extra = 0, inHu = 0;
        for (int r = 0; r < table.Count; r++)
        {
            if (tHht[r] == PumsTable.Null) continue;
            inHu += table.Weight[r];
            if (tHht[r] == 1 && wHht[r] != 1) missed += table.Weight[r];
            if (tHht[r] != 1 && wHht[r] == 1) extra += table.Weight[r];
        }
        Console.WriteLine();
        Console.WriteLine($"married couple: true couples missed {missed / inHu:F4}, non-couples read as couples {extra / inHu:F4} (weighted share of housing-unit persons)");
        Console.WriteLine();
        Console.WriteLine("| field | category | share RELP truth | share derived |");
        Console.WriteLine("|---|---|---:|---:|");
        foreach (var line in shares) Console.WriteLine(line);

        void Compare(string name, Func<int, string> truth, Func<int, string> derived, int[] truthColumn, List<string> shareLines)
        {
            var t = new Dictionary<string, double>();
            var d = new Dictionary<string, double>();
            double alike = 0, total = 0;
            for (int r = 0; r < table.Count; r++)
            {
                if (truthColumn[r] == PumsTable.Null) continue; // group quarters, or a household without its householder
                double w = table.Weight[r];
                string a = truth(r), b = derived(r);
                t[a] = t.GetValueOrDefault(a) + w;
                d[b] = d.GetValueOrDefault(b) + w;
                if (a == b) alike += w;
                total += w;
            }
            double tvd = t.Keys.Union(d.Keys).Sum(k => Math.Abs(t.GetValueOrDefault(k) - d.GetValueOrDefault(k))) / total / 2;
            Console.WriteLine($"| {name} | {t.Keys.Union(d.Keys).Count()} | {tvd:F4} | {alike / total:F4} |");
            foreach (var k in t.Keys.Union(d.Keys).Order(StringComparer.Ordinal))
                shareLines.Add($"| {name} | {k} | {t.GetValueOrDefault(k) / total:F4} | {d.GetValueOrDefault(k) / total:F4} |");
        }
    }

    static int[] Col(PumsTable t, PumsVariable v) => t.Columns[v.Ordinal] ?? throw new Persona.PersonaException($"The 2018 files lack {v.Name}.");
}
