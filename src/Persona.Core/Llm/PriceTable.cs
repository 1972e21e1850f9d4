using System.Globalization;

namespace Persona.Llm;

/// <summary>One row of data/llm/prices.csv: USD per million tokens.</summary>
public sealed record ModelPrice(string Provider, string Model, double InputPerMillion, double OutputPerMillion, string Source, string Date);

/// <summary>
/// Estimated cost of calls from a small price table (data/llm/prices.csv). A model name matches a
/// row exactly or by the longest row name that is a prefix of it followed by '-' (dated snapshots
/// like gpt-4o-mini-2024-07-18). Self-hosted providers (ollama, local, offline) cost nothing by
/// definition; an unknown hosted model costs 0 and is flagged as unpriced.
/// </summary>
public sealed class PriceTable
{
    private readonly List<ModelPrice> _rows;

    public PriceTable(IEnumerable<ModelPrice> rows) => _rows = rows.OrderByDescending(r => r.Model.Length).ToList();

    public IReadOnlyList<ModelPrice> Rows => _rows;

    public static PriceTable Load(string path)
    {
        if (!File.Exists(path)) throw new PersonaException($"Price table '{path}' not found: expected a CSV with columns provider,model,input_usd_per_mtok,output_usd_per_mtok,source,date.");
        var rows = new List<ModelPrice>();
        var lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (lineNo == 1 || line.Length == 0 || line.StartsWith('#')) continue;
            var f = SmallCsv.Split(line, path, lineNo).Select(x => x.Trim()).ToList();
            if (f.Count < 6
                || !double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var input)
                || !double.TryParse(f[3], NumberStyles.Float, CultureInfo.InvariantCulture, out var output))
                throw new PersonaException($"{path}:{lineNo}: expected provider,model,input_usd_per_mtok,output_usd_per_mtok,source,date with numeric prices.");
            rows.Add(new ModelPrice(f[0], f[1], input, output, f[4], f[5]));
        }
        return new PriceTable(rows);
    }

    /// <summary>The bundled table, or an empty one if the file is absent.</summary>
    public static PriceTable LoadDefault()
    {
        var path = BundledData.Path("llm/prices.csv");
        return File.Exists(path) ? Load(path) : new PriceTable([]);
    }

    /// <summary>Estimated cost in USD, and whether a price was known.</summary>
    public (double Cost, bool Known) Estimate(ModelSpec model, long promptTokens, long completionTokens)
    {
        if (model.Provider is "ollama" or "local" or "offline") return (0, true);
        var p = Find(model);
        if (p is null) return (0, false);
        return ((promptTokens * p.InputPerMillion + completionTokens * p.OutputPerMillion) / 1_000_000.0, true);
    }

    public ModelPrice? Find(ModelSpec model)
    {
        foreach (var r in _rows)
        {
            if (!string.Equals(r.Provider, model.Provider, StringComparison.OrdinalIgnoreCase)) continue;
            if (string.Equals(r.Model, model.Name, StringComparison.OrdinalIgnoreCase)) return r;
        }
        foreach (var r in _rows) // longest first
        {
            if (!string.Equals(r.Provider, model.Provider, StringComparison.OrdinalIgnoreCase)) continue;
            if (model.Name.StartsWith(r.Model + "-", StringComparison.OrdinalIgnoreCase)) return r;
        }
        return null;
    }
}
