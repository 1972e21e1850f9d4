using System.IO.Compression;
using System.Text;
using Persona.Census;
using Persona.Personas;

namespace Persona.Core.Tests.Census;

/// <summary>Paths of the committed real-data fixtures and helpers to derive broken inputs from them.</summary>
internal static class CensusFixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures");
    public static string Wyoming2018Zip => Path.Combine(Dir, "csv_pwy.zip");
    public static string Wyoming2024Parquet => Path.Combine(Dir, "p_56_2024_first2000.parquet");
    public static string Dictionary2023 => Path.Combine(Dir, "PUMS_Data_Dictionary_2023.csv");
    public static string Dictionary2018 => BundledData.Path("acs/PUMS_Data_Dictionary_2018.csv");

    private static readonly Lazy<PumsDictionary> Dict2018 = new(() => PumsDictionary.Load(Dictionary2018));
    private static readonly Lazy<PumsDictionary> Dict2023 = new(() => PumsDictionary.Load(Dictionary2023));
    public static PumsDictionary D2018 => Dict2018.Value;
    public static PumsDictionary D2023 => Dict2023.Value;

    /// <summary>The Wyoming 2018 person CSV text, read from the committed zip.</summary>
    public static string Wyoming2018Csv()
    {
        using var zip = ZipFile.OpenRead(Wyoming2018Zip);
        using var reader = new StreamReader(zip.GetEntry("psam_p56.csv")!.Open());
        return reader.ReadToEnd();
    }

    /// <summary>A scratch folder per test, removed on dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public TempDir() => Directory.CreateDirectory(Path);
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "persona-census-" + Guid.NewGuid().ToString("N"));
        public string File(string name) => System.IO.Path.Combine(Path, name);
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }

    /// <summary>
    /// The first <paramref name="rows"/> persons of the Wyoming CSV with <paramref name="edit"/>
    /// applied to each row's fields (by header name), written as a CSV file.
    /// </summary>
    public static string WriteEditedCsv(string path, int rows, Action<Dictionary<string, int>, string[], int>? edit = null, Func<string[], string[]>? header = null)
    {
        var lines = Wyoming2018Csv().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var head = lines[0].TrimEnd('\r').Split(',');
        var index = head.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => x.i);
        var sb = new StringBuilder();
        sb.Append(string.Join(',', header?.Invoke(head) ?? head)).Append('\n');
        for (var r = 1; r <= rows; r++)
        {
            var fields = lines[r].TrimEnd('\r').Split(',');
            edit?.Invoke(index, fields, r);
            sb.Append(string.Join(',', fields)).Append('\n');
        }
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    public static async Task<PumsTable> Load2018Async()
    {
        var table = await PumsLoader.LoadAsync([Wyoming2018Zip], null, default);
        HouseholdsApply(table);
        return table;
    }

    public static void HouseholdsApply(PumsTable table) => Households.Apply(table, [], default);

    public static CensusPerson Decode(PumsTable table, PumsDictionary dict, string serial, int sporder)
    {
        var row = table.FindRow(serial, sporder);
        Assert.True(row >= 0, $"{serial}/{sporder} not in fixture");
        return new PumsDecoder(table, dict, keepUnknownCodes: false).Decode(row);
    }
}
