using System.Globalization;
using Parquet;
using Parquet.Schema;
using Persona.Fidelity;
using Persona.Report;

namespace Persona.Core.Tests.Report;

/// <summary>
/// Checks on the bundled default source (data/acs/pums-2024-us.parquet): its layout is contract 3,
/// and a synthetic population drawn from it by weight reproduces its margins within sampling noise,
/// which is what the fidelity report is meant to tell apart from real distortion.
/// </summary>
public class BundledExtractTests
{
    static readonly string ExtractPath = BundledData.Path("acs/pums-2024-us.parquet");

    static readonly string[] WideColumns =
    [
        "SERIALNO", "SPORDER", "STATE", "PUMA", "PWGTP", "AGEP", "SEX", "RAC1P", "HISP", "CIT", "NATIVITY", "LANX",
        "ENG", "SCHL", "FOD1P", "MAR", "FER", "ESR", "INDP", "OCCP", "COW", "WKHP", "WKWN", "JWMNP", "JWTRNS",
        "PINCP", "WAGP", "POVPIP", "MIGSP", "HICOV", "PRIVCOV", "PUBCOV", "DIS", "DEAR", "DEYE", "DREM", "DPHY", "MIL",
    ];

    [Fact]
    public async Task Extract_has_the_contract_layout()
    {
        await using var reader = await ParquetReader.CreateAsync(ExtractPath);
        var fields = reader.Schema.GetDataFields();
        Assert.Equal(WideColumns, fields.Take(38).Select(f => f.Name));
        Assert.Equal(["DONOR_STATE", "DONOR_SERIALNO", "DONOR_SPORDER", "DONOR_MATCH_LEVEL", "HHT_DERIVED", "HHL_DERIVED", "HUPAC_DERIVED", "NP_DERIVED"],
            fields.Skip(38).Select(f => f.Name));
        Assert.All(fields.Skip(42), f => Assert.Equal(typeof(long), f.ClrType));
        foreach (var f in fields.Take(38))
        {
            var expected = f.Name switch
            {
                "SERIALNO" or "STATE" or "PUMA" => "text",
                "PWGTP" => typeof(double).Name,
                _ => typeof(long).Name,
            };
            string actual = IsText(f) ? "text" : f.ClrType.Name;
            Assert.True(expected == actual, $"{f.Name} is {actual}, expected {expected}");
        }
    }

    [Fact]
    public async Task Extract_covers_all_51_jurisdictions_and_the_2024_population()
    {
        var cols = await ReadColumns(ExtractPath, ["STATE", "PWGTP"]);
        var states = cols["STATE"].Cast<string>().Distinct().ToList();
        Assert.Equal(51, states.Count);
        double total = cols["PWGTP"].Sum(w => (double)w!);
        // Sum of PWGTP over the 49 wide + 2 narrow 2024 files (data/acs/README.md).
        Assert.Equal(340_110_990, total, 0.01);
        Assert.InRange(cols["PWGTP"].Count, 90_000, 110_000);
    }

    [Fact]
    public async Task Derived_household_fields_follow_their_rules_on_every_record()
    {
        var c = await ReadColumns(ExtractPath, ["SERIALNO", "DONOR_STATE", "HHT_DERIVED", "HHL_DERIVED", "HUPAC_DERIVED", "NP_DERIVED", "AGEP", "PWGTP"]);
        int n = c["SERIALNO"].Count, gq = 0, narrow = 0;
        double married = 0, total = 0;
        for (int i = 0; i < n; i++)
        {
            var serial = (string)c["SERIALNO"][i]!;
            long? hht = (long?)c["HHT_DERIVED"][i], hhl = (long?)c["HHL_DERIVED"][i], hupac = (long?)c["HUPAC_DERIVED"][i], np = (long?)c["NP_DERIVED"][i];
            if (serial.Contains("GQ"))
            {
                gq++;
                Assert.True(hht is null && hhl is null && hupac is null && np is null, $"row {i}: group quarters resident with household fields");
                continue;
            }
            Assert.True(hht is not null && hupac is not null && np is not null, $"row {i} ({serial}): housing-unit person without household fields");
            Assert.InRange(hupac!.Value, 1, 4);
            Assert.InRange(np!.Value, 1, 20);
            Assert.Equal(np == 1, hht is 4 or 6);
            // A lone person cannot live with children; a child under 18 beside the reference person needs two persons.
            if (np == 1) Assert.Equal(4, hupac);
            if (c["DONOR_STATE"][i] is not null)
            {
                // California and Texas: only AGEP and SEX, so no spouse test and no language.
                narrow++;
                Assert.Contains(hht!.Value, new long[] { 4, 6, 10, 11 });
                Assert.Null(hhl);
            }
            else
            {
                Assert.Contains(hht!.Value, new long[] { 1, 4, 6, 8, 9 });
                Assert.Contains(hhl ?? -1, new long[] { 1, 2 });
                double w = (double)c["PWGTP"][i]!;
                total += w;
                if (hht == 1) married += w;
            }
        }
        Assert.True(gq > 1000 && narrow > 15_000, $"gq {gq}, narrow {narrow}");
        // In the 14 full 2018 state files RELP puts 0.61 of housing-unit persons in married-couple
        // households (tools/build-default-source.sh --check-households-2018); nationally it is of that order.
        Assert.InRange(married / total, 0.45, 0.65);
    }

    [Fact]
    public async Task Twenty_thousand_drawn_by_weight_are_within_sampling_noise_of_the_extract()
    {
        string[] codes = ["AGEP", "SEX", "RAC1P", "HISP", "SCHL", "STATE", "MAR", "ESR", "PINCP", "CIT", "DIS", "COW"];
        var cols = await ReadColumns(ExtractPath, [.. codes, "PWGTP"]);
        int n = cols["PWGTP"].Count;
        string[] attrs = ["age", "sex", "race", "hispanic", "education", "state", "marital_status", "employment_status", "income", "citizenship", "disability", "class_of_worker"];
        var rows = new IReadOnlyDictionary<string, string?>[n];
        var weights = new double[n];
        for (int i = 0; i < n; i++)
        {
            var row = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (int k = 0; k < codes.Length; k++)
                row[attrs[k]] = cols[codes[k]][i] is { } v ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;
            rows[i] = row;
            weights[i] = (double)cols["PWGTP"][i]!;
        }

        // PPS with replacement: each draw picks a person with probability proportional to PWGTP.
        var cumulative = new double[n];
        double run = 0;
        for (int i = 0; i < n; i++) cumulative[i] = run += weights[i];
        var rng = new Random(7);
        const int draws = 20_000;
        var synthetic = new List<IReadOnlyDictionary<string, string?>>(draws);
        for (int d = 0; d < draws; d++)
        {
            int k = Array.BinarySearch(cumulative, rng.NextDouble() * run);
            synthetic.Add(rows[k < 0 ? ~k : k + 1]);
        }

        var report = FidelityReport.Compute(synthetic, rows.Select((r, i) => (r, weights[i])), attrs,
            [("age", "education"), ("race", "income"), ("age", "marital_status"), ("age", "employment_status")]);

        foreach (var a in report.Attributes)
        {
            // The TVD of an n-draw multinomial sample concentrates around its mean (ExpectedSamplingTvd,
            // which shrinks as 1/sqrt(n)); three times that mean is far in the tail for every attribute here.
            double bound = 3 * a.ExpectedSamplingTvd;
            Assert.True(a.Tvd < bound, $"{a.Attribute}: TVD {a.Tvd:F4} >= bound {bound:F4} for n = {draws}");
            Assert.True(a.Tvd > 0, $"{a.Attribute}: a random sample should not match exactly");
        }
        // With this seed the gaps are below 0.005; 0.02 leaves room for other seeds yet catches a broken table.
        foreach (var p in report.Pairs)
            Assert.True(Math.Abs(p.Gap!.Value) < 0.02, $"{p.First} x {p.Second}: V gap {p.Gap:F4}");
        Assert.Equal(draws, report.SyntheticCount);
        Assert.Equal(n, report.CensusCount);
    }

    // Parquet.Net 6 surfaces UTF-8 columns as ReadOnlyMemory<char> but reads them into strings too.
    static bool IsText(DataField f) => f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>);

    internal static async Task<Dictionary<string, List<object?>>> ReadColumns(string path, string[] names)
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        var fields = reader.Schema.GetDataFields().ToDictionary(f => f.Name, StringComparer.Ordinal);
        var result = names.ToDictionary(n => n, _ => new List<object?>(), StringComparer.Ordinal);
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            int count = checked((int)rg.RowCount);
            foreach (var name in names)
            {
                DataField f = fields[name];
                var list = result[name];
                if (IsText(f))
                {
                    var buf = new string?[count];
                    await rg.ReadAsync(f, buf.AsMemory(), null);
                    list.AddRange(buf);
                }
                else if (f.ClrType == typeof(long))
                {
                    var buf = new long?[count];
                    await rg.ReadAsync<long>(f, buf.AsMemory(), null);
                    list.AddRange(buf.Select(v => (object?)v));
                }
                else if (f.ClrType == typeof(double))
                {
                    var buf = new double?[count];
                    await rg.ReadAsync<double>(f, buf.AsMemory(), null);
                    list.AddRange(buf.Select(v => (object?)v));
                }
                else throw new InvalidOperationException($"{name}: unexpected type {f.ClrType}");
            }
        }
        return result;
    }
}
