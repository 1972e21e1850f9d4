using System.Globalization;

namespace Persona.Census;

/// <summary>
/// Persons loaded from PUMS files, column by column: one <c>int</c> array per variable (codes, not
/// strings, so 2.7 M persons fit in a few hundred MB and a draw is a handful of array reads).
/// <see cref="Null"/> marks a blank ("not in universe") value; it is never confused with code 0.
/// </summary>
public sealed class PumsTable
{
    public const int Null = int.MinValue;

    internal PumsTable(int count, long[] serial, double[] weight, int[]?[] columns, bool[] textInSource,
        string?[] sourceNames, int firstYear, int lastYear, IReadOnlyList<string> files)
    {
        Count = count;
        Serial = serial;
        Weight = weight;
        Columns = columns;
        TextInSource = textInSource;
        SourceNames = sourceNames;
        FirstYear = firstYear;
        LastYear = lastYear;
        Files = files;
    }

    public int Count { get; }

    /// <summary>SERIALNO packed as year * 1e8 + (GQ ? 1e7 : 0) + number; see <see cref="PumsSerial"/>.</summary>
    internal long[] Serial { get; }

    /// <summary>PWGTP (the person weight); a double because calibrated extracts carry fractional weights.</summary>
    internal double[] Weight { get; }

    /// <summary>Column per <see cref="PumsVariable.Ordinal"/>; null when no source has the variable.</summary>
    internal int[]?[] Columns { get; }

    /// <summary>Whether the source stored the variable as text (CSV character codes, parquet strings).</summary>
    internal bool[] TextInSource { get; }

    /// <summary>The column name the source used (ST or STATE), per variable; null when absent.</summary>
    internal string?[] SourceNames { get; }

    public int FirstYear { get; }
    public int LastYear { get; }
    public IReadOnlyList<string> Files { get; }

    /// <summary>"2018-1yr", or "2014-2018-5yr" when the serial numbers span five survey years.</summary>
    public string Vintage => FirstYear == LastYear
        ? $"{FirstYear}-1yr"
        : $"{FirstYear}-{LastYear}-5yr";

    public bool Has(PumsVariable v) => Columns[v.Ordinal] is not null;

    public int Get(PumsVariable v, int row) => Columns[v.Ordinal] is { } c ? c[row] : Null;

    public int? GetNullable(PumsVariable v, int row)
    {
        var x = Get(v, row);
        return x == Null ? null : x;
    }

    public double GetWeight(int row) => Weight[row];

    public string GetSerial(int row) => PumsSerial.Format(Serial[row]);

    public IEnumerable<PumsVariable> Present => PumsVariables.All.Where(Has);

    /// <summary>Row of a person (SERIALNO, SPORDER), or -1.</summary>
    public int FindRow(string serialNo, int spOrder)
    {
        if (!PumsSerial.TryParse(serialNo, out var key)) return -1;
        var sp = Columns[PumsVariables.Sporder.Ordinal]!;
        for (var i = 0; i < Count; i++)
            if (Serial[i] == key && sp[i] == spOrder) return i;
        return -1;
    }

    /// <summary>What the household fields were built from (set by <see cref="Households.Apply"/>), for personas' provenance.</summary>
    internal Households.Origin HouseholdOrigin { get; set; }

    internal void SetColumn(PumsVariable v, int[] column, bool text, string sourceName)
    {
        Columns[v.Ordinal] = column;
        TextInSource[v.Ordinal] = text;
        SourceNames[v.Ordinal] = sourceName;
    }
}

/// <summary>SERIALNO ("2018GQ0000014": year, HU/GQ, seven digits) packed into a long.</summary>
public static class PumsSerial
{
    public static bool TryParse(ReadOnlySpan<char> s, out long key)
    {
        key = 0;
        s = s.Trim();
        if (s.Length != 13)
            return false;
        if (!int.TryParse(s[..4], NumberStyles.None, CultureInfo.InvariantCulture, out var year) || year < 1000)
            return false;
        bool gq;
        if (s.Slice(4, 2) is "GQ") gq = true;
        else if (s.Slice(4, 2) is "HU") gq = false;
        else return false;
        if (!int.TryParse(s[6..], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            return false;
        key = year * 100_000_000L + (gq ? 10_000_000L : 0) + n;
        return true;
    }

    public static int Year(long key) => (int)(key / 100_000_000L);

    public static bool IsGroupQuarters(long key) => key / 10_000_000L % 10 == 1;

    public static string Format(long key) =>
        string.Create(CultureInfo.InvariantCulture, $"{Year(key)}{(IsGroupQuarters(key) ? "GQ" : "HU")}{key % 10_000_000L:D7}");
}

/// <summary>Rows of one input file (or row group), before concatenation.</summary>
internal sealed class PumsChunk
{
    public PumsChunk(string file, int count)
    {
        File = file;
        Count = count;
        Serial = new long[count];
        Weight = new double[count];
        Columns = new int[]?[PumsVariables.All.Count];
        Text = new bool[PumsVariables.All.Count];
        SourceNames = new string?[PumsVariables.All.Count];
    }

    public string File { get; }
    public int Count { get; private set; }
    public long[] Serial { get; private set; }
    public double[] Weight { get; private set; }
    public int[]?[] Columns { get; }
    public bool[] Text { get; }
    public string?[] SourceNames { get; }

    /// <summary>CSV readers do not know the row count up front; they grow and then trim.</summary>
    public void Resize(int count)
    {
        var serial = Serial; Array.Resize(ref serial, count); Serial = serial;
        var weight = Weight; Array.Resize(ref weight, count); Weight = weight;
        for (var i = 0; i < Columns.Length; i++)
            if (Columns[i] is { } c)
            {
                Array.Resize(ref c, count);
                Columns[i] = c;
            }
        Count = count;
    }
}

/// <summary>Concatenates chunks into one table, checking that all inputs agree on vintage and columns.</summary>
internal static class PumsTableBuilder
{
    public static PumsTable Build(IReadOnlyList<PumsChunk> chunks, IReadOnlyList<string> files)
    {
        if (chunks.Count == 0)
            throw new PersonaException("No person records were read: the sources are empty.");
        var total = 0L;
        foreach (var c in chunks) total += c.Count;
        if (total == 0)
            throw new PersonaException($"No person records were read from {string.Join(", ", files)}.");
        if (total > Array.MaxLength)
            throw new PersonaException($"The sources hold {total:N0} persons, more than one table can hold; select fewer files.");

        // Inputs must carry the same variables: a variable present in one file and absent in
        // another would turn "not in the source" into "not in universe" for part of the rows.
        var first = chunks[0];
        foreach (var c in chunks)
            foreach (var v in PumsVariables.All)
            {
                if (PumsVariables.IsHousehold(v)) continue;
                var a = first.Columns[v.Ordinal] is not null;
                var b = c.Columns[v.Ordinal] is not null;
                if (a != b)
                {
                    var (with, without) = a ? (first.File, c.File) : (c.File, first.File);
                    throw new PersonaException(
                        $"Input files disagree on columns: '{with}' has {v.Name} but '{without}' does not. " +
                        "Sample from files of the same layout (their missing values would otherwise read as 'not in universe').");
                }
            }

        var n = (int)total;
        var serial = new long[n];
        var weight = new double[n];
        var columns = new int[]?[PumsVariables.All.Count];
        var text = new bool[PumsVariables.All.Count];
        var names = new string?[PumsVariables.All.Count];
        foreach (var v in PumsVariables.All)
            if (chunks.Any(c => c.Columns[v.Ordinal] is not null))
            {
                var col = new int[n];
                var at = 0;
                foreach (var c in chunks)
                {
                    if (c.Columns[v.Ordinal] is { } src) Array.Copy(src, 0, col, at, c.Count);
                    else Array.Fill(col, PumsTable.Null, at, c.Count);
                    at += c.Count;
                }
                columns[v.Ordinal] = col;
                text[v.Ordinal] = chunks.Any(c => c.Text[v.Ordinal]);
                names[v.Ordinal] = chunks.Select(c => c.SourceNames[v.Ordinal]).First(s => s is not null);
            }
        var pos = 0;
        int minYear = int.MaxValue, maxYear = int.MinValue;
        string? minFile = null, maxFile = null;
        foreach (var c in chunks)
        {
            Array.Copy(c.Serial, 0, serial, pos, c.Count);
            Array.Copy(c.Weight, 0, weight, pos, c.Count);
            for (var i = 0; i < c.Count; i++)
            {
                var y = PumsSerial.Year(c.Serial[i]);
                if (y < minYear) { minYear = y; minFile = c.File; }
                if (y > maxYear) { maxYear = y; maxFile = c.File; }
            }
            pos += c.Count;
        }
        // A 5-year file spans exactly five survey years; anything else is a mix of releases.
        if (maxYear != minYear && maxYear - minYear != 4)
            throw new PersonaException(
                $"Inputs mix survey years: '{minFile}' has {minYear} records and '{maxFile}' has {maxYear} records. " +
                "Sample one release at a time (its codes are decoded with that year's dictionary).");
        RejectDuplicates(serial, columns[PumsVariables.Sporder.Ordinal], chunks);
        return new PumsTable(n, serial, weight, columns, text, names, minYear, maxYear, files);
    }

    /// <summary>
    /// A person is (SERIALNO, SPORDER); the same one twice (a file given twice under two names, or a
    /// pasted row) would count its weight twice and bias every draw, so it is an error.
    /// </summary>
    private static void RejectDuplicates(long[] serial, int[]? sporder, IReadOnlyList<PumsChunk> chunks)
    {
        if (sporder is null) return;
        var n = serial.Length;
        var keys = new long[n];
        var rows = new int[n];
        for (var i = 0; i < n; i++)
        {
            keys[i] = serial[i] * 1000 + (sporder[i] == PumsTable.Null ? 999 : sporder[i]);
            rows[i] = i;
        }
        Array.Sort(keys, rows);
        for (var i = 1; i < n; i++)
        {
            if (keys[i] != keys[i - 1]) continue;
            int a = Math.Min(rows[i], rows[i - 1]), b = Math.Max(rows[i], rows[i - 1]);
            string FileOf(int row)
            {
                var at = 0;
                foreach (var c in chunks)
                {
                    if (row < at + c.Count) return c.File;
                    at += c.Count;
                }
                return "?";
            }
            var (fa, fb) = (FileOf(a), FileOf(b));
            throw new PersonaException(
                $"Person SERIALNO {PumsSerial.Format(serial[a])} SPORDER {sporder[a]} appears twice " +
                (fa == fb ? $"in '{fa}'" : $"(in '{fa}' and in '{fb}')") +
                ": its weight would be counted twice. Give each person file once and remove duplicated rows.");
        }
    }
}
