// Builds data/acs/pums-2024-us.parquet, the bundled nationally representative default source.
// Method and provenance: data/acs/README.md. Run through tools/build-default-source.sh.
using System.Globalization;
using System.Security.Cryptography;
using DuckDB.NET.Data;
using Persona.Census;
using Persona.Statistics;

namespace Persona.Tools.BuildDefaultSource;

internal static class Program
{
    static int Main(string[] args)
    {
        try
        {
            var opt = Options.Parse(args);
            if (opt.CheckHouseholds2018) HouseholdCheck2018.Run(opt.SharedData);
            else new Builder(opt).Run();
            return 0;
        }
        catch (Persona.PersonaException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 1;
        }
    }
}

internal sealed record Options(string SharedData, string OutDir, int N, int Seed, bool CheckHouseholds2018 = false)
{
    public static Options Parse(string[] args)
    {
        // The repository and the shared data folder sit side by side (see the repository README).
        string shared = "../shared/data", outDir = "data/acs";
        int n = 100_000, seed = 2024;
        bool check2018 = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new Persona.PersonaException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--shared-data": shared = Next(); break;
                case "--out-dir": outDir = Next(); break;
                case "--n": n = Int(args[i], Next()); break;
                case "--seed": seed = Int(args[i], Next()); break;
                case "--check-households-2018": check2018 = true; break;
                default:
                    throw new Persona.PersonaException(
                        $"Unknown argument '{args[i]}'. Usage: BuildDefaultSource [--shared-data DIR] [--out-dir DIR] [--n 100000] [--seed 2024] [--check-households-2018]");
            }
        }
        if (n < 1) throw new Persona.PersonaException($"--n must be positive, got {n}.");
        return new Options(shared, outDir, n, seed, check2018);
    }

    static int Int(string flag, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x)
            ? x
            : throw new Persona.PersonaException($"{flag} expects an integer, got '{value}'.");
}

/// <summary>The 12 fields every 2024 record has (wide and narrow files alike).</summary>
internal struct Person
{
    public string State, Puma, Serial;
    public long Sporder, Weight;
    public int Age, Sex, Race, Hisp, Schl, Cit, Dis; // Schl = 0 when not in universe (age < 3)
    public bool Narrow;
    public bool GroupQuarters => Serial.Contains("GQ", StringComparison.Ordinal);
}

internal sealed class Builder(Options opt)
{
    const string WideDir = "acs-pums/2024-1yr", NarrowDir = "acs-pums/2024-1yr-narrow";
    const string Dictionary = "acs-pums/dictionaries/PUMS_Data_Dictionary_2023.csv";
    static readonly string[] NarrowColumns = ["SERIALNO", "SPORDER", "STATE", "PUMA", "PWGTP", "AGEP", "RAC1P", "HISP", "SCHL", "SEX", "CIT", "DIS"];
    const int SimilarStates = 8;

    readonly Random _rng = new(opt.Seed);

    public void Run()
    {
        var inputs = VerifyInputs();
        string outDir = Path.GetFullPath(opt.OutDir);
        Directory.CreateDirectory(outDir);

        using var db = new DuckDBConnection("DataSource=:memory:");
        db.Open();
        // One thread keeps row order and the written bytes identical between runs.
        Exec(db, "SET threads = 1");
        var wideFiles = inputs.Where(f => f.Contains("/2024-1yr/", StringComparison.Ordinal)).ToList();
        var narrowFiles = inputs.Where(f => f.Contains("/2024-1yr-narrow/", StringComparison.Ordinal)).ToList();
        Exec(db, $"CREATE TABLE wide AS SELECT * FROM read_parquet({SqlList(wideFiles)})");
        Exec(db, $"CREATE TABLE narrow AS SELECT * FROM read_parquet({SqlList(narrowFiles)})");
        var schema = Query(db, "DESCRIBE wide", r => (Name: r.GetString(0), Type: r.GetString(1)));
        Log($"wide: {schema.Count} columns");

        string cols = string.Join(", ", NarrowColumns);
        var people = Query(db,
            $"SELECT {cols}, false FROM wide UNION ALL SELECT {cols}, true FROM narrow " +
            "ORDER BY STATE, PUMA, AGEP, SEX, SERIALNO, SPORDER", ReadPerson);
        double population = people.Sum(p => (double)p.Weight);
        Log($"persons: {people.Count:N0} in {people.Select(p => p.State).Distinct().Count()} jurisdictions, population {population:N0}");

        var margins = Margins.Build(people);
        var picked = SystematicPps(people, opt.N);
        Log($"selected: {picked.Count:N0} persons by systematic PPS");

        var similar = new Dictionary<string, string[]>();
        foreach (var st in people.Where(p => p.Narrow).Select(p => p.State).Distinct().Order(StringComparer.Ordinal))
        {
            similar[st] = Donors.MostSimilarStates(people, st, SimilarStates);
            Log($"donor states for {st}: {string.Join(" ", similar[st])}");
        }
        var donors = new Donors(people, similar);
        var imputed = new Dictionary<int, (int Donor, int Level)>();
        foreach (int i in picked.Where(i => people[i].Narrow))
            imputed[i] = donors.Pick(people[i], _rng);
        Log($"imputed: {imputed.Count:N0}; by match level: " + string.Join(", ",
            imputed.Values.GroupBy(v => v.Level).OrderBy(g => g.Key).Select(g => $"L{g.Key}={g.Count()}")));

        // Household fields come from the recipient's own household (all its persons are in the
        // full files), never from a donor: a donor's household is someone else's.
        var households = HouseholdFields.Derive(db, Log);

        // Systematic PPS gives every selected person the same design weight.
        double designWeight = population / picked.Count;
        var initial = picked.Select(_ => designWeight).ToArray();
        var rakingMargins = margins.Select(m => new RakingMargin(m.Name,
            picked.Select(i => m.CategoryOf(people[i])).ToArray(), m.Targets)).ToList();
        var raked = Raking.Rake(initial, rakingMargins, tolerance: 1e-9, maxIterations: 500);
        Log($"raking: {raked.Iterations} iterations, converged={raked.Converged}, max relative error {raked.MaxRelativeError:E2}");
        var wts = raked.Weights;
        Log($"weights: min {wts.Min():F1}, max {wts.Max():F1}, design {designWeight:F1}, " +
            $"ratio range {wts.Min() / designWeight:F3}..{wts.Max() / designWeight:F3}, Kish n_eff {Math.Pow(wts.Sum(), 2) / wts.Sum(x => x * x):N0}");

        // Hand the selection to DuckDB so the output keeps the wide files' exact column types.
        Exec(db, "CREATE TABLE pick(ord INTEGER, STATE VARCHAR, SERIALNO VARCHAR, SPORDER BIGINT, W DOUBLE, " +
                 "D_STATE VARCHAR, D_SERIALNO VARCHAR, D_SPORDER BIGINT, D_LEVEL INTEGER, " +
                 "H_HHT BIGINT, H_HHL BIGINT, H_HUPAC BIGINT, H_NP BIGINT)");
        using (var app = db.CreateAppender("pick"))
        {
            for (int k = 0; k < picked.Count; k++)
            {
                var p = people[picked[k]];
                var row = app.CreateRow().AppendValue(k).AppendValue(p.State).AppendValue(p.Serial).AppendValue(p.Sporder).AppendValue(wts[k]);
                if (imputed.TryGetValue(picked[k], out var d))
                {
                    var q = people[d.Donor];
                    row.AppendValue(q.State).AppendValue(q.Serial).AppendValue(q.Sporder).AppendValue(d.Level);
                }
                else row.AppendNullValue().AppendNullValue().AppendNullValue().AppendNullValue();
                if (households.Of(p) is { } h)
                {
                    foreach (var code in new[] { h.Hht, h.Hhl, h.Hupac, h.Persons })
                        if (code == Persona.Census.PumsTable.Null) row.AppendNullValue(); else row.AppendValue((long)code);
                }
                else row.AppendNullValue().AppendNullValue().AppendNullValue().AppendNullValue();
                row.EndRow();
            }
        }

        string outFile = Path.Combine(outDir, "pums-2024-us.parquet");
        string tmp = outFile + ".tmp";
        Exec(db, $"COPY ({OutputSql(schema)}) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)");
        File.Move(tmp, outFile, overwrite: true);
        Log($"wrote {outFile}: {new FileInfo(outFile).Length:N0} bytes, sha256 {Sha256(outFile)}");

        string dictOut = Path.Combine(outDir, Path.GetFileName(Dictionary));
        File.Copy(Path.Combine(opt.SharedData, Dictionary), dictOut + ".tmp", overwrite: true);
        File.Move(dictOut + ".tmp", dictOut, overwrite: true);

        Verify(db, outFile, schema, margins, people);
        VerifyHouseholds(picked.Select(i => people[i]).ToList(), wts, households);
    }

    /// <summary>The derived household fields of the extract (weighted) against those of every person of the 51 files.</summary>
    static void VerifyHouseholds(List<Person> picked, IReadOnlyList<double> weights, HouseholdFields households)
    {
        Console.WriteLine();
        Console.WriteLine("| derived household field (persons in housing units) | TVD extract vs all 51 full files |");
        Console.WriteLine("|---|---:|");
        // The frame holds housing-unit persons only; group quarters residents are null on both sides.
        var extract = HouseholdFields.Columns.ToDictionary(c => c, _ => new Dictionary<string, double>());
        for (int k = 0; k < picked.Count; k++)
        {
            if (households.Of(picked[k]) is not { } c) continue;
            foreach (var (column, code) in HouseholdFields.Pairs(c))
                extract[column][code] = extract[column].GetValueOrDefault(code) + weights[k];
        }
        foreach (var column in HouseholdFields.Columns)
            Console.WriteLine($"| {column} | {Tvd(extract[column], households.Frame[column]):F4} |");

        Console.WriteLine();
        Console.WriteLine("| derived household field | code | share of housing-unit persons, all 51 files | share in the extract |");
        Console.WriteLine("|---|---|---:|---:|");
        foreach (var column in HouseholdFields.Columns)
        {
            var frame = households.Frame[column];
            double ft = frame.Values.Sum(), et = extract[column].Values.Sum();
            foreach (var code in frame.Keys.Union(extract[column].Keys).Order(StringComparer.Ordinal))
                Console.WriteLine($"| {column} | {code} | {frame.GetValueOrDefault(code) / ft:F4} | {extract[column].GetValueOrDefault(code) / et:F4} |");
        }
    }

    // ---------- inputs ----------

    List<string> VerifyInputs()
    {
        string sums = Path.Combine(opt.SharedData, "SHA256SUMS");
        if (!File.Exists(sums)) throw new Persona.PersonaException($"{sums} not found; pass --shared-data pointing at the shared data folder.");
        var expected = File.ReadAllLines(sums).Where(l => l.Length > 66)
            .ToDictionary(l => l[64..].Trim().TrimStart('.', '/'), l => l[..64], StringComparer.Ordinal);
        var wanted = expected.Keys.Where(k => k.StartsWith(WideDir + "/", StringComparison.Ordinal) || k.StartsWith(NarrowDir + "/", StringComparison.Ordinal))
            .Append(Dictionary).Order(StringComparer.Ordinal).ToList();
        var files = new List<string>();
        foreach (var rel in wanted)
        {
            string path = Path.Combine(opt.SharedData, rel);
            if (!expected.TryGetValue(rel, out var hash)) throw new Persona.PersonaException($"{rel} is not listed in {sums}.");
            if (!File.Exists(path)) throw new Persona.PersonaException($"{path} is missing (listed in {sums}).");
            string actual = Sha256(path);
            if (actual != hash) throw new Persona.PersonaException($"{path}: SHA-256 {actual} does not match {hash} in {sums}.");
            Console.WriteLine($"input {hash}  {rel}");
            if (rel.EndsWith(".parquet", StringComparison.Ordinal)) files.Add(path);
        }
        int wide = files.Count(f => f.Contains("/2024-1yr/", StringComparison.Ordinal));
        int narrow = files.Count - wide;
        if (wide != 49 || narrow != 2) throw new Persona.PersonaException($"Expected 49 wide and 2 narrow 2024 files, found {wide} and {narrow}.");
        return files;
    }

    static Person ReadPerson(System.Data.Common.DbDataReader r) => new()
    {
        Serial = r.GetString(0), Sporder = r.GetInt64(1), State = r.GetString(2), Puma = r.GetString(3),
        Weight = r.GetInt64(4), Age = (int)r.GetInt64(5), Race = (int)r.GetInt64(6), Hisp = (int)r.GetInt64(7),
        Schl = r.IsDBNull(8) ? 0 : (int)r.GetInt64(8), Sex = (int)r.GetInt64(9), Cit = (int)r.GetInt64(10),
        Dis = (int)r.GetInt64(11), Narrow = r.GetBoolean(12),
    };

    // ---------- sampling ----------

    /// <summary>
    /// Systematic probability-proportional-to-size sampling on PWGTP over the list sorted by state,
    /// PUMA, age and sex: one random start, then every (total/n)-th unit of weight. The sort makes it
    /// implicitly stratified, so each state and PUMA gets its share within one person.
    /// </summary>
    List<int> SystematicPps(List<Person> people, int n)
    {
        double total = people.Sum(p => (double)p.Weight);
        double step = total / n;
        if (people.Any(p => p.Weight >= step)) throw new Persona.PersonaException("A person weight exceeds the sampling interval; lower --n.");
        double next = _rng.NextDouble() * step, cum = 0;
        var picked = new List<int>(n);
        for (int i = 0; i < people.Count; i++)
        {
            cum += people[i].Weight;
            if (cum > next) { picked.Add(i); next += step; }
        }
        return picked;
    }

    // ---------- output ----------

    static string OutputSql(List<(string Name, string Type)> schema)
    {
        var own = new HashSet<string>(NarrowColumns, StringComparer.Ordinal);
        string Wide(string c) => c == "PWGTP" ? "p.W AS PWGTP" : $"w.{c}";
        string Nar(string c, string type) => c switch
        {
            "PWGTP" => "p.W AS PWGTP",
            // A donor's migration state is relative to the donor's home: a within-state mover stays a
            // within-state mover of the recipient's state, and someone who came from the recipient's
            // state came, mirrored, from the donor's.
            "MIGSP" => "CASE WHEN d.MIGSP = CAST(d.STATE AS BIGINT) THEN CAST(n.STATE AS BIGINT) " +
                       "WHEN d.MIGSP = CAST(n.STATE AS BIGINT) THEN CAST(d.STATE AS BIGINT) ELSE d.MIGSP END AS MIGSP",
            // NATIVITY is a recode of CIT (1-3 native born), so it follows the record's own CIT.
            "NATIVITY" => $"CAST(CASE WHEN n.CIT <= 3 THEN 1 ELSE 2 END AS {type}) AS NATIVITY",
            _ when own.Contains(c) => $"CAST(n.{c} AS {type}) AS {c}",
            _ => $"d.{c}",
        };
        string wideCols = string.Join(", ", schema.Select(s => Wide(s.Name)));
        string narCols = string.Join(", ", schema.Select(s => Nar(s.Name, s.Type)));
        // The recipient's own household fields, after the donor columns (see HouseholdFields).
        string derived = $"p.H_HHT AS {Households.HhtDerived}, p.H_HHL AS {Households.HhlDerived}, p.H_HUPAC AS {Households.HupacDerived}, p.H_NP AS {Households.NpDerived}";
        return
            $"SELECT * EXCLUDE (ord) FROM (" +
            $"SELECT {wideCols}, NULL::VARCHAR AS DONOR_STATE, NULL::VARCHAR AS DONOR_SERIALNO, NULL::BIGINT AS DONOR_SPORDER, NULL::INTEGER AS DONOR_MATCH_LEVEL, {derived}, p.ord " +
            "FROM pick p JOIN wide w ON w.STATE = p.STATE AND w.SERIALNO = p.SERIALNO AND w.SPORDER = p.SPORDER WHERE p.D_STATE IS NULL " +
            "UNION ALL " +
            $"SELECT {narCols}, p.D_STATE, p.D_SERIALNO, p.D_SPORDER, p.D_LEVEL, {derived}, p.ord " +
            "FROM pick p JOIN narrow n ON n.STATE = p.STATE AND n.SERIALNO = p.SERIALNO AND n.SPORDER = p.SPORDER " +
            "JOIN wide d ON d.STATE = p.D_STATE AND d.SERIALNO = p.D_SERIALNO AND d.SPORDER = p.D_SPORDER" +
            ") ORDER BY ord";
    }

    void Verify(DuckDBConnection db, string outFile, List<(string Name, string Type)> schema, List<Margin> margins, List<Person> people)
    {
        var outSchema = Query(db, $"DESCRIBE SELECT * FROM '{outFile}'", r => (Name: r.GetString(0), Type: r.GetString(1)));
        for (int k = 0; k < schema.Count; k++)
        {
            var want = schema[k].Name == "PWGTP" ? ("PWGTP", "DOUBLE") : schema[k];
            if (outSchema[k] != want) throw new Persona.PersonaException($"Output column {k} is {outSchema[k]}, expected {want}.");
        }
        Log("output columns: " + string.Join(" ", outSchema.Select(c => $"{c.Name}:{c.Type}")));
        var rows = Query(db, $"SELECT {string.Join(", ", NarrowColumns)} FROM '{outFile}'", r =>
        {
            var p = new Person
            {
                Serial = r.GetString(0), Sporder = r.GetInt64(1), State = r.GetString(2), Puma = r.GetString(3),
                Age = (int)r.GetInt64(5), Race = (int)r.GetInt64(6), Hisp = (int)r.GetInt64(7),
                Schl = r.IsDBNull(8) ? 0 : (int)r.GetInt64(8), Sex = (int)r.GetInt64(9), Cit = (int)r.GetInt64(10), Dis = (int)r.GetInt64(11),
            };
            return (Person: p, Weight: r.GetDouble(4));
        });
        Log($"output rows: {rows.Count:N0}, weight total {rows.Sum(r => r.Weight):N1}");

        Console.WriteLine();
        Console.WriteLine("| margin | categories | max abs error (persons) | max rel error | max abs error in share (pp) |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        double total = margins[0].Targets.Sum();
        foreach (var m in margins)
        {
            var got = new double[m.Targets.Length];
            foreach (var (p, w) in rows) got[m.CategoryOf(p)] += w;
            double abs = 0, rel = 0;
            for (int k = 0; k < got.Length; k++)
            {
                abs = Math.Max(abs, Math.Abs(got[k] - m.Targets[k]));
                rel = Math.Max(rel, Math.Abs(got[k] - m.Targets[k]) / m.Targets[k]);
            }
            Console.WriteLine($"| {m.Name} | {m.Targets.Length} | {abs:F4} | {rel:E2} | {100 * abs / total:E2} |");
        }

        // Variables not used in calibration but known for all 51 jurisdictions: how far the extract
        // is from the full files shows the sampling (and not the raking) error.
        Console.WriteLine();
        Console.WriteLine("| check (not raked) | TVD extract vs all 51 full files |");
        Console.WriteLine("|---|---:|");
        foreach (var (name, f) in new (string, Func<Person, string>)[]
        {
            ("CIT", p => p.Cit.ToString(CultureInfo.InvariantCulture)),
            ("DIS", p => p.Dis.ToString(CultureInfo.InvariantCulture)),
            ("age (single years)", p => p.Age.ToString(CultureInfo.InvariantCulture)),
            ("SCHL (24 codes)", p => p.Schl.ToString(CultureInfo.InvariantCulture)),
            ("HISP (24 codes)", p => p.Hisp.ToString(CultureInfo.InvariantCulture)),
            ("state x age band x sex", p => $"{p.State}/{Margins.AgeBand(p.Age)}/{p.Sex}"),
        })
        {
            var a = rows.GroupBy(r => f(r.Person)).ToDictionary(g => g.Key, g => g.Sum(r => r.Weight));
            var b = people.GroupBy(f).ToDictionary(g => g.Key, g => g.Sum(p => (double)p.Weight));
            Console.WriteLine($"| {name} | {Tvd(a, b):F4} |");
        }
    }

    static double Tvd(Dictionary<string, double> a, Dictionary<string, double> b)
    {
        double sa = a.Values.Sum(), sb = b.Values.Sum(), d = 0;
        foreach (var k in a.Keys.Union(b.Keys))
            d += Math.Abs(a.GetValueOrDefault(k) / sa - b.GetValueOrDefault(k) / sb);
        return d / 2;
    }

    // ---------- helpers ----------

    static string SqlList(IEnumerable<string> files) => "[" + string.Join(", ", files.Select(f => $"'{f.Replace("'", "''")}'")) + "]";

    static void Exec(DuckDBConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    static List<T> Query<T>(DuckDBConnection db, string sql, Func<System.Data.Common.DbDataReader, T> map)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var list = new List<T>();
        while (r.Read()) list.Add(map(r));
        return list;
    }

    static string Sha256(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    static void Log(string message) => Console.Error.WriteLine(message);
}
