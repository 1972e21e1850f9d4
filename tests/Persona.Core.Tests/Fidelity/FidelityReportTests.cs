using System.Text.Json;
using Persona.Fidelity;
using Persona.Statistics;

namespace Persona.Core.Tests.Fidelity;

public sealed class FidelityReportTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-fidelity-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    static IReadOnlyDictionary<string, string?> Row(params (string Key, string? Value)[] kv) =>
        kv.ToDictionary(x => x.Key, x => x.Value);

    static readonly string[] Attrs = ["age", "sex", "education"];
    static readonly (string, string)[] Pairs = [("age", "education"), ("sex", "education")];

    static List<IReadOnlyDictionary<string, string?>> People() =>
    [
        Row(("age", "34"), ("sex", "Female"), ("education", "Bachelor's degree")),
        Row(("age", "71"), ("sex", "Male"), ("education", "Regular high school diploma")),
        Row(("age", "8"), ("sex", "Female"), ("education", "Grade 3")),
        Row(("age", "45"), ("sex", "Male"), ("education", "Bachelor's degree")),
    ];

    [Fact]
    public void Identical_populations_have_zero_tvd_and_zero_gaps()
    {
        var people = People();
        var report = FidelityReport.Compute(people, people.Select(p => (p, 1234.5)), Attrs, Pairs);
        Assert.All(report.Attributes, a => Assert.Equal(0.0, a.Tvd, 12));
        Assert.All(report.Pairs, p => Assert.Equal(0.0, p.Gap!.Value, 12));
        Assert.Equal(0.0, report.Summary.MaxTvd, 12);
        Assert.Equal(4, report.CensusCount);
        Assert.Equal(4 * 1234.5, report.CensusWeight, 9);
        Assert.Equal(4, report.CensusEffectiveSize, 9);
    }

    [Fact]
    public void Disjoint_populations_have_tvd_one()
    {
        var syn = new List<IReadOnlyDictionary<string, string?>> { Row(("sex", "Female")), Row(("sex", "Female")) };
        var census = new[] { (Row(("sex", "Male")), 10.0) };
        var report = FidelityReport.Compute(syn, census, ["sex"], []);
        var sex = Assert.Single(report.Attributes);
        Assert.Equal(1.0, sex.Tvd, 12);
        Assert.Equal("Female", sex.MostOverRepresented!.Category);
        Assert.Equal("Male", sex.MostUnderRepresented!.Category);
    }

    [Fact]
    public void Shares_and_extremes_match_a_hand_computation()
    {
        // Synthetic: a 3/4, b 1/4. Census: a weight 1, b weight 3 => a 1/4, b 3/4. TVD = 1/2.
        var syn = new[] { "a", "a", "a", "b" }.Select(v => Row(("x", v))).ToList();
        var census = new[] { (Row(("x", "a")), 1.0), (Row(("x", "b")), 3.0) };
        var x = FidelityReport.Compute(syn, census, ["x"], []).Attributes[0];
        Assert.Equal(0.5, x.Tvd, 12);
        Assert.Equal(2, x.Categories);
        Assert.Equal(new CategoryShare("a", 0.75, 0.25), x.MostOverRepresented);
        Assert.Equal(new CategoryShare("b", 0.25, 0.75), x.MostUnderRepresented);
        // Census order: b (75%) before a.
        Assert.Equal(["b", "a"], x.Shares.Select(s => s.Category));
    }

    [Fact]
    public void Missing_values_are_their_own_category()
    {
        var syn = new List<IReadOnlyDictionary<string, string?>>
        {
            Row(("occupation_category", "EDU-Teachers")),
            Row(("occupation_category", null)),
            Row(),                                   // key absent
            Row(("occupation_category", "")),
        };
        var census = new[] { (Row(("occupation_category", "EDU-Teachers")), 1.0), (Row(("occupation_category", null)), 1.0) };
        var occ = FidelityReport.Compute(syn, census, ["occupation_category"], []).Attributes[0];
        var missing = occ.Shares.Single(s => s.Category == Bands.NotInUniverse);
        Assert.Equal(0.75, missing.Synthetic, 12);
        Assert.Equal(0.5, missing.Census, 12);
        Assert.Equal(0.25, occ.Tvd, 12);
        Assert.Equal(Bands.NotInUniverse, occ.Shares[^1].Category);
    }

    [Fact]
    public void Age_and_income_are_binned_and_kept_in_band_order()
    {
        var syn = new List<IReadOnlyDictionary<string, string?>> { Row(("age", "80"), ("income", "250000")), Row(("age", "3"), ("income", null)) };
        var report = FidelityReport.Compute(syn, syn.Select(r => (r, 1.0)), ["age", "income"], []);
        Assert.Equal(["0-17", "75+"], report.Attributes[0].Shares.Select(s => s.Category));
        Assert.Equal(["$200,000+", Bands.NotInUniverse], report.Attributes[1].Shares.Select(s => s.Category));
    }

    [Fact]
    public void Cramers_v_gap_compares_association_on_both_sides()
    {
        // Synthetic: sex determines education (V = 1). Census: independent (V = 0).
        var syn = new List<IReadOnlyDictionary<string, string?>>
        {
            Row(("sex", "F"), ("education", "BA")), Row(("sex", "M"), ("education", "HS")),
        };
        var census = new[]
        {
            (Row(("sex", "F"), ("education", "BA")), 1.0), (Row(("sex", "F"), ("education", "HS")), 1.0),
            (Row(("sex", "M"), ("education", "BA")), 1.0), (Row(("sex", "M"), ("education", "HS")), 1.0),
        };
        var pair = Assert.Single(FidelityReport.Compute(syn, census, ["sex", "education"], [("sex", "education")]).Pairs);
        Assert.Equal(1.0, pair.SyntheticCramersV!.Value, 12);
        Assert.Equal(0.0, pair.CensusCramersV!.Value, 12);
        Assert.Equal(1.0, pair.Gap!.Value, 12);
    }

    [Fact]
    public void Undefined_association_is_null_not_nan()
    {
        var syn = new List<IReadOnlyDictionary<string, string?>> { Row(("sex", "F"), ("education", "BA")), Row(("sex", "F"), ("education", "HS")) };
        var pair = FidelityReport.Compute(syn, syn.Select(r => (r, 1.0)), ["sex", "education"], [("sex", "education")]).Pairs[0];
        Assert.Null(pair.SyntheticCramersV);
        Assert.Null(pair.Gap);
    }

    [Fact]
    public void Bad_inputs_are_reported()
    {
        var people = People();
        Assert.Throws<PersonaException>(() => FidelityReport.Compute([], people.Select(p => (p, 1.0)), Attrs, Pairs));
        Assert.Throws<PersonaException>(() => FidelityReport.Compute(people, [], Attrs, Pairs));
        var e = Assert.Throws<PersonaException>(() => FidelityReport.Compute(people, people.Select(p => (p, -1.0)), Attrs, Pairs));
        Assert.Contains("row 1", e.Message);
        Assert.Throws<PersonaException>(() => FidelityReport.Compute(people, people.Select(p => (p, 1.0)), Attrs, [("sex", "sex")]));
        var bad = new List<IReadOnlyDictionary<string, string?>> { Row(("age", "old")) };
        Assert.Throws<PersonaException>(() => FidelityReport.Compute(bad, bad.Select(p => (p, 1.0)), ["age"], []));
    }

    [Fact]
    public void Json_is_written_atomically_in_snake_case()
    {
        var people = People();
        var report = FidelityReport.Compute(people, people.Take(2).Select(p => (p, 2.0)), Attrs, Pairs);
        string path = Path.Combine(_dir, "out", "fidelity.json");
        report.WriteJson(path);
        Assert.Equal(["fidelity.json"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        Assert.Equal(4, root.GetProperty("synthetic_count").GetInt32());
        var attrs = root.GetProperty("attributes");
        Assert.Equal(3, attrs.GetArrayLength());
        Assert.Equal("age", attrs[0].GetProperty("attribute").GetString());
        Assert.Equal(report.Attributes[0].Tvd, attrs[0].GetProperty("tvd").GetDouble(), 12);
        Assert.True(attrs[0].GetProperty("shares")[0].TryGetProperty("synthetic", out _));
        Assert.True(root.GetProperty("pairs")[0].TryGetProperty("census_cramers_v", out _));
        Assert.True(root.GetProperty("summary").TryGetProperty("worst_attribute", out _));
    }

    [Fact]
    public void Same_inputs_give_byte_identical_json_even_with_undefined_associations()
    {
        // Census rows in another order: shares and V are order-free, so the JSON must not change.
        var people = People();
        var a = FidelityReport.Compute(people, people.Select(p => (p, 1.0)), Attrs, [.. Pairs, ("sex", "missing_field")]);
        var b = FidelityReport.Compute(people, people.AsEnumerable().Reverse().Select(p => (p, 1.0)), Attrs, [.. Pairs, ("sex", "missing_field")]);
        Assert.Equal(a.ToJson(), b.ToJson());
        Assert.DoesNotContain("NaN", a.ToJson());
        Assert.Null(a.Pairs[^1].CensusCramersV);
    }

    [Fact]
    public void Plots_are_one_non_empty_png_per_attribute()
    {
        var people = People();
        var report = FidelityReport.Compute(people, people.Select(p => (p, 1.0)), Attrs, Pairs);
        var files = report.WritePlots(_dir);
        Assert.Equal(["age.png", "sex.png", "education.png"], files.Select(Path.GetFileName));
        foreach (var f in files)
        {
            var bytes = File.ReadAllBytes(f);
            Assert.True(bytes.Length > 2000, $"{f} is only {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, bytes[..4]);
        }
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void High_cardinality_plots_pool_the_tail_into_other()
    {
        var syn = Enumerable.Range(0, 40).Select(i => Row(("occupation_category", $"OCC-{i:00}"))).ToList();
        var census = Enumerable.Range(0, 40).Select(i => (Row(("occupation_category", $"OCC-{i:00}")), (double)(i + 1)));
        var occ = FidelityReport.Compute(syn, census, ["occupation_category"], []).Attributes[0];
        Assert.Equal(40, occ.Categories);
        var shown = FidelityPlots.Displayed(occ, 15);
        Assert.Equal(15, shown.Count);
        Assert.StartsWith(FidelityPlots.Other, shown[^1].Category);
        Assert.Contains("26 categories", shown[^1].Category);
        Assert.Equal(1.0, shown.Sum(s => s.Synthetic), 12);
        Assert.Equal(1.0, shown.Sum(s => s.Census), 12);
        // The biggest census categories are kept.
        Assert.Contains(shown, s => s.Category == "OCC-39");
    }
}
