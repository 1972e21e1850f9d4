using System.Text;

namespace Persona.Core.Tests.Foundation;

public sealed class TextLinesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "persona-textlines-" + Guid.NewGuid().ToString("N"));

    public TextLinesTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string File(params byte[] bytes)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".txt");
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Every_line_end_and_a_last_line_without_one_are_read_as_a_reader_of_text_files_expects()
    {
        var path = File([0xEF, 0xBB, 0xBF, .. U("a,b\r\nc\rd\n\né\n"), .. U("last")]);
        Assert.Equal(["a,b", "c", "d", "", "é", "last"], TextLines.Read(path));
        Assert.Equal([1, 2, 3, 4, 5, 6], TextLines.Numbered(path).Select(x => x.Number));
    }

    [Fact]
    public void A_line_read_back_at_its_offset_is_the_line_read_in_order_across_refills_long_lines_and_every_line_end()
    {
        // A byte-order mark, every kind of line end, a line longer than the 64 KiB buffer, a "\r\n" split across two reads,
        // and multi-byte characters before the later lines (offsets are in bytes, not characters).
        var first = new string('y', (1 << 16) - 4);
        var path = File([0xEF, 0xBB, 0xBF, .. U(first), .. U("\r\né\rd\n\n"), .. U(new string('x', 200_000) + "ü\n"), .. U("{\"k\": \"ß\"}\r\nlast")]);
        var located = TextLines.Located(path).ToList();
        Assert.Equal(TextLines.Numbered(path), located.Select(l => (l.Number, l.Text)));
        Assert.Equal(0, located[0].Offset);
        Assert.Equal(3 + first.Length + 2, located[1].Offset);
        foreach (var (number, offset, text) in located) Assert.Equal(text, TextLines.ReadAt(path, offset, number));
        // A line that is not UTF-8 is refused with its number, read in order or alone.
        var bad = File([.. U("ok\n"), 0xC3, 0x28, .. U("\n")]);
        Assert.Contains(":2:", Assert.Throws<PersonaException>(() => TextLines.ReadAt(bad, 3, 2)).Message);
    }

    [Fact]
    public void Lines_longer_than_the_buffer_and_a_crlf_split_across_reads_come_out_whole()
    {
        var longLine = new string('x', 200_000);
        // 65,535 bytes then "\r" ends the first read exactly; "\n" starts the next: one line end, not two.
        var first = new string('y', (1 << 16) - 1);
        var path = File([.. U(first), .. U("\r\n"), .. U(longLine), .. U("\nend\n")]);
        Assert.Equal([first, longLine, "end"], TextLines.Read(path));
    }

    [Fact]
    public void Invalid_utf8_is_refused_with_the_line_it_is_on()
    {
        var path = File([.. U("ok\nfine\n"), .. U("n"), 0xF6, .. U("\nlater\n")]);
        var ex = Assert.Throws<PersonaException>(() => TextLines.Read(path).ToList());
        Assert.Contains($"{path}:3: not valid UTF-8", ex.Message);
        var whole = Assert.Throws<PersonaException>(() => TextLines.ReadAll(path));
        Assert.Contains($"{path}:3: not valid UTF-8", whole.Message);
    }

    [Fact]
    public void A_utf16_file_is_named_as_such()
    {
        var path = File([0xFF, 0xFE, .. Encoding.Unicode.GetBytes("item,rater,label\n1,a,yes\n")]);
        var ex = Assert.Throws<PersonaException>(() => TextLines.Read(path).ToList());
        Assert.Contains("UTF-16", ex.Message);
        Assert.Contains("UTF-16", Assert.Throws<PersonaException>(() => TextLines.ReadAll(path)).Message);
    }
}
