using System.Buffers;
using System.Runtime.CompilerServices;

namespace Persona.Personas;

/// <summary>Personas as JSON Lines: one canonical JSON object per line, "\n" line ends, UTF-8 without BOM.</summary>
public static class PersonaJsonl
{
    /// <summary>Writes the personas atomically; ids are recomputed from content while writing.</summary>
    public static Task WriteAsync(string path, IEnumerable<PersonaRecord> personas, CancellationToken ct = default) =>
        AtomicFile.WriteAsync(path, (s, token) => WriteAsync(s, personas, token), ct);

    public static async Task WriteAsync(Stream stream, IEnumerable<PersonaRecord> personas, CancellationToken ct)
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 20);
        var scratch = new ArrayBufferWriter<byte>(4096);
        var count = 0;
        foreach (var p in personas)
        {
            PersonaJson.WriteWithComputedId(buffer, p, scratch);
            buffer.Write("\n"u8);
            if (buffer.WrittenCount > (1 << 20) - 8192)
            {
                await stream.WriteAsync(buffer.WrittenMemory, ct);
                buffer.ResetWrittenCount();
            }
            if ((++count & 0x3FF) == 0) ct.ThrowIfCancellationRequested();
        }
        await stream.WriteAsync(buffer.WrittenMemory, ct);
    }

    public static async IAsyncEnumerable<PersonaRecord> ReadAsync(string path, [EnumeratorCancellation] CancellationToken ct = default)
    {
        if (!File.Exists(path))
            throw new PersonaException($"Persona file '{path}' does not exist.");
        await Task.Yield();
        foreach (var (lineNo, line) in TextLines.Numbered(path))
        {
            ct.ThrowIfCancellationRequested();
            if (string.IsNullOrWhiteSpace(line)) continue;
            yield return PersonaJson.Parse(System.Text.Encoding.UTF8.GetBytes(line), $"'{path}', line {lineNo}");
        }
    }
}
