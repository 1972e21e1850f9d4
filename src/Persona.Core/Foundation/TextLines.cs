using System.Text;

namespace Persona;

/// <summary>
/// Lines of a UTF-8 text file, decoded strictly. <see cref="File.ReadLines(string)"/> replaces
/// invalid bytes with U+FFFD without a word, so a persona's "sex: \uFFFD\uFFFDMale" or a rating label
/// with a stray Latin-1 byte became a new value and changed results silently; here such a file is
/// refused with its name and line. A leading byte-order mark is skipped; "\r\n" and "\n" both end
/// a line.
/// </summary>
public static class TextLines
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Each line with its 1-based number ("\n", "\r\n" and a lone "\r" end a line).</summary>
    public static IEnumerable<(int Number, string Text)> Numbered(string path)
    {
        foreach (var (number, _, text) in Located(path)) yield return (number, text);
    }

    /// <summary>Each line with its number and the byte offset where it starts, so a caller can keep where a line is instead of the line (<see cref="ReadAt"/>).</summary>
    public static IEnumerable<(int Number, long Offset, string Text)> Located(string path)
    {
        long dropped = 0; // bytes of the file before buffer[0]
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[1 << 16];
        int start = 0, end = 0, number = 0;
        var first = true;
        var eof = false;
        while (true)
        {
            var eol = buffer.AsSpan(start, end - start).IndexOfAny((byte)'\n', (byte)'\r');
            // A "\r" at the end of what was read may be the first half of "\r\n": read on before deciding.
            if (eol >= 0 && !(buffer[start + eol] == (byte)'\r' && start + eol + 1 == end && !eof))
            {
                var line = buffer.AsSpan(start, eol);
                var width = buffer[start + eol] == (byte)'\r' && start + eol + 1 < end && buffer[start + eol + 1] == (byte)'\n' ? 2 : 1;
                var at = dropped + start;
                start += eol + width;
                number++;
                yield return (number, at, Decode(line, path, number, ref first));
                continue;
            }
            if (eof)
            {
                if (end > start)
                {
                    number++;
                    yield return (number, dropped + start, Decode(buffer.AsSpan(start, end - start), path, number, ref first));
                }
                yield break;
            }
            // Keep the unfinished line, make room (grow for a line longer than the buffer), read on.
            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                dropped += start;
                start = 0;
            }
            if (end == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            var read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0) eof = true;
            end += read;
            if (number == 0 && first && end >= 2) RefuseUtf16(buffer.AsSpan(0, end), path);
        }
    }

    /// <summary>A UTF-16 or UTF-32 file (Excel's "Unicode Text") read as UTF-8 is all invalid bytes: say what it is.</summary>
    private static void RefuseUtf16(ReadOnlySpan<byte> head, string path)
    {
        if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || head.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) || head.StartsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0xFE, 0xFF]))
            throw new PersonaException($"{path}: UTF-16 or UTF-32 text (its first bytes are a byte-order mark of those); save it as UTF-8 and run again.");
    }

    /// <summary>The line <paramref name="number"/> that starts at <paramref name="offset"/> (as <see cref="Located"/> gave them), read alone.</summary>
    public static string ReadAt(string path, long offset, int number)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        stream.Position = offset;
        var buffer = new byte[4096];
        var end = 0;
        var first = offset == 0; // the first line may start with a byte-order mark
        while (true)
        {
            var eol = buffer.AsSpan(0, end).IndexOfAny((byte)'\n', (byte)'\r');
            if (eol >= 0) return Decode(buffer.AsSpan(0, eol), path, number, ref first);
            if (end == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            var read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0) return Decode(buffer.AsSpan(0, end), path, number, ref first);
            end += read;
        }
    }

    /// <summary>The lines alone.</summary>
    public static IEnumerable<string> Read(string path)
    {
        foreach (var (_, text) in Numbered(path)) yield return text;
    }

    /// <summary>The whole file as one string, decoded strictly (for JSON documents).</summary>
    public static string ReadAll(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var span = bytes.AsSpan();
        RefuseUtf16(span, path);
        if (span.StartsWith("\uFEFF"u8)) span = span[3..];
        try { return Strict.GetString(span); }
        catch (DecoderFallbackException ex)
        {
            var at = ex.Index >= 0 ? span[..Math.Min(ex.Index, span.Length)].Count((byte)'\n') + 1 : 0;
            throw Invalid(path, at);
        }
    }

    private static string Decode(ReadOnlySpan<byte> line, string path, int number, ref bool first)
    {
        if (first)
        {
            first = false;
            if (line.StartsWith("\uFEFF"u8)) line = line[3..];
        }
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        try { return Strict.GetString(line); }
        catch (DecoderFallbackException) { throw Invalid(path, number); }
    }

    private static PersonaException Invalid(string path, int line) =>
        new($"{path}{(line > 0 ? ":" + line : "")}: not valid UTF-8 text (a byte sequence no UTF-8 text holds; a file saved as Latin-1 or Windows-1252?). Save it as UTF-8 and run again.");
}

/// <summary>Checks on a path given where a file is expected.</summary>
public static class InputFile
{
    /// <summary>Throws when <paramref name="path"/> is a folder: "does not exist" would mislead, since it does.</summary>
    public static void NotAFolder(string path, string what)
    {
        if (Directory.Exists(path))
            throw new PersonaException($"{what} '{path}' is a folder; expected a file{(path.EndsWith('/') ? "" : $" (e.g. {Path.Combine(path, "FILE")})")}.");
    }
}
