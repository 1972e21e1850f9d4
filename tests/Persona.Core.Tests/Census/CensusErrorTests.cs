using Persona.Personas;
using Parquet;
using Parquet.Schema;
using Persona.Census;

namespace Persona.Core.Tests.Census;

/// <summary>Every bad input is a PersonaException that says what and where, and leaves no output file.</summary>
public class CensusErrorTests
{
    private static async Task<PersonaException> Fails(CensusFixtures.TempDir tmp, CensusSampleOptions options)
    {
        var output = tmp.File("out.jsonl");
        var ex = await Assert.ThrowsAsync<PersonaException>(() => CensusSampler.SampleAsync(options with { OutputPath = output }, null));
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.EnumerateFiles(tmp.Path, "*.tmp"));
        return ex;
    }

    [Fact]
    public async Task Missing_column_names_the_file_and_what_is_needed()
    {
        using var tmp = new CensusFixtures.TempDir();
        var csv = CensusFixtures.WriteEditedCsv(tmp.File("psam_p56.csv"), 20, header: h => h.Select(x => x == "PWGTP" ? "XWGTP" : x).ToArray());
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [csv] });
        Assert.Contains("psam_p56.csv", ex.Message);
        Assert.Contains("lacks the column(s) PWGTP", ex.Message);
        Assert.Contains("SERIALNO, PWGTP, SPORDER, ST or STATE", ex.Message.Replace("STATE or ST", "ST or STATE"));
    }

    [Fact]
    public async Task Dictionary_of_another_year_is_refused()
    {
        using var tmp = new CensusFixtures.TempDir();
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [CensusFixtures.Wyoming2018Zip], DictionaryPath = CensusFixtures.Dictionary2023 });
        Assert.Contains("survey year 2023", ex.Message);
        Assert.Contains("2018-1yr", ex.Message);
    }

    [Fact]
    public async Task Malformed_row_names_file_line_and_field()
    {
        using var tmp = new CensusFixtures.TempDir();
        var csv = CensusFixtures.WriteEditedCsv(tmp.File("psam_p56.csv"), 20, (ix, f, r) => { if (r == 7) f[ix["AGEP"]] = "4x"; });
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [csv] });
        Assert.Contains("psam_p56.csv', line 8, column AGEP: '4x'", ex.Message);
        var serial = CensusFixtures.WriteEditedCsv(tmp.File("psam_p57.csv"), 20, (ix, f, r) => { if (r == 3) f[ix["SERIALNO"]] = "2018XX0000001"; });
        var ex2 = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [serial] });
        Assert.Contains("line 4, column SERIALNO", ex2.Message);
    }

    [Fact]
    public async Task Zero_total_weight_is_refused()
    {
        using var tmp = new CensusFixtures.TempDir();
        var csv = CensusFixtures.WriteEditedCsv(tmp.File("psam_p56.csv"), 20, (ix, f, _) => f[ix["PWGTP"]] = "0");
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [csv] });
        Assert.Contains("total weight (PWGTP) of 0", ex.Message);
        // Unweighted draws do not need weights.
        var ok = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 5, Sources = [csv], Unweighted = true }, null);
        Assert.Equal(5, ok.Personas.Count);
    }

    [Fact]
    public async Task Filter_matching_nobody_is_refused()
    {
        using var tmp = new CensusFixtures.TempDir();
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [CensusFixtures.Wyoming2018Zip], MinAge = 99, MaxAge = 99, States = [56] });
        Assert.Contains("No person matches --min-age 99 --max-age 99", ex.Message);
    }

    [Fact]
    public async Task Truncated_zip_is_refused()
    {
        using var tmp = new CensusFixtures.TempDir();
        var bytes = File.ReadAllBytes(CensusFixtures.Wyoming2018Zip);
        var path = tmp.File("csv_pwy.zip");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [path] });
        Assert.Contains("csv_pwy.zip", ex.Message);
        Assert.Contains("truncated or corrupt", ex.Message);
    }

    [Fact]
    public async Task Truncated_parquet_is_refused()
    {
        using var tmp = new CensusFixtures.TempDir();
        var bytes = File.ReadAllBytes(CensusFixtures.Wyoming2024Parquet);
        var path = tmp.File("p_56.parquet");
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [path], DictionaryPath = CensusFixtures.Dictionary2023 });
        Assert.Contains("p_56.parquet", ex.Message);
        Assert.Contains("truncated or corrupt", ex.Message);
    }

    [Fact]
    public async Task Parquet_missing_a_required_column_and_double_weights()
    {
        using var tmp = new CensusFixtures.TempDir();
        // A tiny file in the bundled layout: PWGTP is a double; AGEP missing in the second file.
        async Task Write(string path, bool withAge)
        {
            var fields = new List<DataField>
            {
                new DataField<string>("SERIALNO"), new DataField<long?>("SPORDER"), new DataField<string>("STATE"),
                new DataField<double?>("PWGTP"), new DataField<long?>("SEX"), new DataField<long?>("RAC1P"), new DataField<long?>("HISP"),
            };
            if (withAge) fields.Add(new DataField<long?>("AGEP"));
            await using var s = File.Create(path);
            await using var w = await ParquetWriter.CreateAsync(new ParquetSchema(fields.ToArray()), s);
            using var g = w.CreateRowGroup();
            await g.WriteAsync(fields[0], new[] { "2024HU0000001", "2024HU0000002" });
            await g.WriteAsync<long>(fields[1], new long?[] { 1, 1 });
            await g.WriteAsync(fields[2], new[] { "56", "56" });
            await g.WriteAsync<double>(fields[3], new double?[] { 10.5, 30.25 });
            await g.WriteAsync<long>(fields[4], new long?[] { 1, 2 });
            await g.WriteAsync<long>(fields[5], new long?[] { 1, 1 });
            await g.WriteAsync<long>(fields[6], new long?[] { 1, 2 });
            if (withAge) await g.WriteAsync<long>(fields[7], new long?[] { 40, 7 });
        }
        var good = tmp.File("good.parquet");
        await Write(good, true);
        var ok = await CensusSampler.SampleAsync(new CensusSampleOptions { N = 10, Seed = 1, Sources = [good], DictionaryPath = CensusFixtures.Dictionary2023 }, null);
        Assert.Contains(ok.Personas, p => p.Census.Weight == 30.25 && p.Ancestry == "Mexican" && p.Age == 7);
        var bad = tmp.File("bad.parquet");
        await Write(bad, false);
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [bad], DictionaryPath = CensusFixtures.Dictionary2023 });
        Assert.Contains("bad.parquet' lacks the column(s) AGEP", ex.Message);
        File.Delete(bad);
    }

    [Fact]
    public async Task Missing_source_and_unknown_extension()
    {
        using var tmp = new CensusFixtures.TempDir();
        var ex = await Fails(tmp, new CensusSampleOptions { N = 5, Sources = [tmp.File("nope.parquet")] });
        Assert.Contains("does not exist", ex.Message);
        var ex2 = await Assert.ThrowsAsync<PersonaException>(() => CensusSampler.SampleAsync(
            new CensusSampleOptions { N = 5, Sources = [CensusFixtures.Wyoming2018Zip], OutputPath = tmp.File("x.txt") }, null));
        Assert.Contains(".jsonl or .parquet", ex2.Message);
    }
}
