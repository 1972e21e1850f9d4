using System.Globalization;
using nietras.SeparatedValues;

namespace Persona.Census;

/// <summary>
/// One variable of an official PUMS data dictionary: its type (C = character code, N = number),
/// its field width and the labels of its codes.
/// </summary>
public sealed class PumsDictionaryVariable
{
    // Codes of the variables personas use are small integers (at most four digits), so a dense
    // array gives O(1) label lookups without hashing on the hot decode path.
    private const int DenseLimit = 100_000;
    private readonly List<(long Min, long Max, string Label)> _ranges = new();
    private string?[] _dense = [];

    internal PumsDictionaryVariable(string name, char type, int length, string description)
    {
        Name = name;
        Type = type;
        Length = length;
        Description = description;
    }

    public string Name { get; }

    /// <summary>'C' for character (categorical) codes, 'N' for numeric values.</summary>
    public char Type { get; }

    /// <summary>Field width in the Census files; character codes are zero-padded to it.</summary>
    public int Length { get; }

    public string Description { get; }

    /// <summary>Label of the blank ("b", "bb", ...) row, i.e. the N/A universe, when the variable has one.</summary>
    public string? BlankLabel { get; private set; }

    public bool IsCategorical => Type == 'C';

    /// <param name="notes">Where a normalised irregularity of the published file is recorded.</param>
    internal void AddValue(string min, string max, string label, string file, int line, List<string>? notes = null)
    {
        if (min.Length > 0 && min.All(c => c == 'b'))
        {
            BlankLabel ??= label;
            return;
        }
        if (!long.TryParse(min, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var lo)
            || !long.TryParse(max, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var hi))
        {
            // SERIALNO ("2018HU0000001") and a few housing codes are not integers; they are kept
            // out of the integer lookup and are never decoded to labels.
            NonNumericValues.Add((min, max, label));
            return;
        }
        if (hi < lo)
        {
            // The Bureau's 2017 and 2013-2017 dictionaries write loss ranges high-to-low
            // ("-000001","-019997"); the range meant is the same, so read it low-to-high.
            notes?.Add($"{file}, line {line}: VAL row of {Name} has min {min} above max {max}, a reversed range as published; read as {hi}..{lo}.");
            (lo, hi) = (hi, lo);
        }
        // The housing and person sections repeat shared variables (SERIALNO, ST, ...); the first
        // definition of a code wins so a repeat cannot change its label.
        if (Label(lo) is not null)
            return;
        _ranges.Add((lo, hi, label));
        if (lo >= 0 && hi < DenseLimit && hi - lo < DenseLimit)
        {
            if (_dense.Length <= hi)
                Array.Resize(ref _dense, (int)Math.Max(hi + 1, Math.Min(DenseLimit, _dense.Length * 2L)));
            for (var c = lo; c <= hi; c++)
                _dense[c] ??= label;
        }
    }

    internal List<(string Min, string Max, string Label)> NonNumericValues { get; } = new();

    /// <summary>Label of an integer code, or null when the dictionary has no such code.</summary>
    public string? Label(long code)
    {
        if (code >= 0 && code < _dense.Length)
            return _dense[code];
        foreach (var (min, max, label) in _ranges)
            if (code >= min && code <= max)
                return label;
        return null;
    }

    /// <summary>The code as the Census files write it: zero-padded to the field width for character codes.</summary>
    public string FormatCode(long code) =>
        IsCategorical && code >= 0
            ? code.ToString(CultureInfo.InvariantCulture).PadLeft(Length, '0')
            : code.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Parser of the Census Bureau's PUMS data dictionary CSV
/// (<c>NAME,var,type,len,description</c> and <c>VAL,var,type,len,min,max,label</c> rows).
/// </summary>
public sealed class PumsDictionary
{
    private readonly Dictionary<string, PumsDictionaryVariable> _variables;

    private PumsDictionary(string path, Dictionary<string, PumsDictionaryVariable> variables, IReadOnlyList<int> years)
    {
        Path = path;
        _variables = variables;
        SurveyYears = years;
    }

    public string Path { get; }

    /// <summary>
    /// Survey years the dictionary describes, read from its SERIALNO rows ("2018GQ0000001" is
    /// 2018): the only reliable vintage marker inside the file, since names vary by source.
    /// </summary>
    public IReadOnlyList<int> SurveyYears { get; }

    /// <summary>Irregularities of the published file that were normalised while reading (e.g. a range written high-to-low).</summary>
    public IReadOnlyList<string> Notes { get; private init; } = [];

    public IEnumerable<PumsDictionaryVariable> Variables => _variables.Values;

    public PumsDictionaryVariable? Find(string name) => _variables.GetValueOrDefault(name);

    /// <summary>First variable that exists among the names (for vintage renames such as ST / STATE).</summary>
    public PumsDictionaryVariable? Find(IEnumerable<string> names)
    {
        foreach (var n in names)
            if (_variables.TryGetValue(n, out var v))
                return v;
        return null;
    }

    public static PumsDictionary Load(string path)
    {
        if (!File.Exists(path))
            throw new PersonaException($"Data dictionary '{path}' does not exist.");
        try
        {
            using var stream = File.OpenRead(path);
            return Parse(stream, path);
        }
        catch (IOException ex)
        {
            throw new PersonaException($"Cannot read data dictionary '{path}': {ex.Message}", ex);
        }
    }

    public static PumsDictionary Parse(Stream stream, string displayName)
    {
        var variables = new Dictionary<string, PumsDictionaryVariable>(StringComparer.Ordinal);
        var years = new SortedSet<int>();
        var notes = new List<string>();
        using var reader = Sep.New(',').Reader(o => o with { HasHeader = false, Unescape = true, DisableColCountCheck = true })
            .From(stream);
        foreach (var row in reader)
        {
            var line = row.LineNumberFrom;
            if (row.ColCount == 1 && row[0].Span.Trim().IsEmpty)
                continue;
            var kind = row[0].ToString();
            if (kind == "NAME")
            {
                if (row.ColCount < 5)
                    throw Malformed(displayName, line, "a NAME row needs 5 fields: NAME,variable,type,length,description");
                var name = row[1].ToString();
                if (!variables.ContainsKey(name))
                    variables[name] = new PumsDictionaryVariable(name, ParseType(row[2].Span, displayName, line),
                        ParseLength(row[3].Span, displayName, line), row[4].ToString());
            }
            else if (kind == "VAL")
            {
                if (row.ColCount < 7)
                    throw Malformed(displayName, line, "a VAL row needs 7 fields: VAL,variable,type,length,min,max,label");
                var name = row[1].ToString();
                if (!variables.TryGetValue(name, out var variable))
                    throw Malformed(displayName, line, $"VAL row for {name} comes before its NAME row");
                var min = row[4].ToString();
                var max = row[5].ToString();
                variable.AddValue(min, max, row[6].ToString(), displayName, line, notes);
                if (name == "SERIALNO")
                {
                    if (TryYear(min, out var y1)) years.Add(y1);
                    if (TryYear(max, out var y2)) years.Add(y2);
                }
            }
            else
            {
                throw Malformed(displayName, line, $"first field is '{kind}', expected NAME or VAL");
            }
        }
        if (variables.Count == 0)
            throw new PersonaException($"Data dictionary '{displayName}' holds no NAME rows; is it a PUMS data dictionary CSV?");
        if (years.Count == 0)
            throw new PersonaException(
                $"Data dictionary '{displayName}' has no SERIALNO value rows (e.g. \"2018HU0000001\"), so its survey year cannot be checked.");
        return new PumsDictionary(displayName, variables, years.ToArray()) { Notes = notes };
    }

    private static bool TryYear(string serial, out int year)
    {
        year = 0;
        return serial.Length >= 4 && int.TryParse(serial.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out year);
    }

    private static char ParseType(ReadOnlySpan<char> s, string file, int line) =>
        s is "C" or "N" ? s[0] : throw Malformed(file, line, $"type '{s}' is neither C nor N");

    private static int ParseLength(ReadOnlySpan<char> s, string file, int line) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw Malformed(file, line, $"length '{s}' is not a positive integer");

    private static PersonaException Malformed(string file, int line, string what) =>
        new($"Data dictionary '{file}', line {line}: {what}.");
}
