using System.Text;

namespace Persona.Llm.Local;

/// <summary>One tensor's descriptor from a GGUF header.</summary>
/// <param name="Offset">Byte offset of the tensor's data relative to the start of the data section.</param>
/// <param name="ByteSize">Size of the data in bytes, or null for a ggml type this reader does not know.</param>
public sealed record GgufTensorInfo(string Name, IReadOnlyList<long> Shape, uint GgmlType, long Offset, long? ByteSize);

/// <summary>
/// What a GGUF file's header says: version, scalar metadata (arrays are summarised by their length),
/// tensor descriptors and where the tensor data starts. Reading it is cheap (no weights are touched)
/// and lets the local provider reject a wrong or damaged file with a precise message before the native
/// loader runs, whose own errors only reach a log.
/// </summary>
public sealed record GgufInfo(
    string Path,
    uint Version,
    long FileLength,
    uint Alignment,
    long DataOffset,
    IReadOnlyDictionary<string, object> Metadata,
    IReadOnlyDictionary<string, long> ArrayLengths,
    IReadOnlyList<GgufTensorInfo> Tensors)
{
    public string? Architecture => Metadata.TryGetValue("general.architecture", out var v) ? v as string : null;
    public string? ChatTemplate => Metadata.TryGetValue("tokenizer.chat_template", out var v) ? v as string : null;

    /// <summary>The context length the model was trained with (`{arch}.context_length`), if stated.</summary>
    public long? TrainedContextLength =>
        Architecture is { } arch && Metadata.TryGetValue(arch + ".context_length", out var v) ? Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture) : null;
}

/// <summary>
/// A reader for the GGUF container (v2 and v3, little-endian) written from the format's public
/// description: magic "GGUF", uint32 version, uint64 tensor count, uint64 metadata count, the typed
/// key/value pairs, the tensor descriptors, then the data section aligned to `general.alignment`
/// (default 32) with every tensor's offset a multiple of it.
/// </summary>
public static class GgufFile
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const uint DefaultAlignment = 32;

    // Value type tags of the metadata section.
    internal enum ValueType : uint
    {
        UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
        String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
    }

    // (elements per block, bytes per block) for the ggml tensor types whose layout is settled;
    // for others only the tensor's offset is checked, so a newer quantisation is never rejected.
    private static readonly Dictionary<uint, (int Block, int Bytes)> TypeSizes = new()
    {
        [0] = (1, 4),      // F32
        [1] = (1, 2),      // F16
        [2] = (32, 18),    // Q4_0
        [3] = (32, 20),    // Q4_1
        [6] = (32, 22),    // Q5_0
        [7] = (32, 24),    // Q5_1
        [8] = (32, 34),    // Q8_0
        [10] = (256, 84),  // Q2_K
        [11] = (256, 110), // Q3_K
        [12] = (256, 144), // Q4_K
        [13] = (256, 176), // Q5_K
        [14] = (256, 210), // Q6_K
        [24] = (1, 1),     // I8
        [25] = (1, 2),     // I16
        [26] = (1, 4),     // I32
        [27] = (1, 8),     // I64
        [28] = (1, 8),     // F64
        [30] = (1, 2),     // BF16
    };

    private const int MaxDims = 4; // GGML_MAX_DIMS

    /// <summary>
    /// Reads and checks the header of <paramref name="path"/>. Throws <see cref="PersonaException"/>
    /// when the file is missing, is not GGUF, or is truncated or inconsistent.
    /// </summary>
    public static GgufInfo Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new PersonaException($"GGUF model '{full}' is a directory; expected a .gguf file.");
        if (!File.Exists(full))
            throw new PersonaException($"GGUF model file not found: '{full}'. Expected an existing llama.cpp .gguf file (e.g. --model local:models/qwen2.5-0.5b-instruct-q4_k_m.gguf).");

        FileStream stream;
        try
        {
            stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PersonaException($"GGUF model '{full}' cannot be opened: {e.Message}", e);
        }

        using (stream)
        {
            var reader = new Reader(stream, full);
            try
            {
                return ReadCore(reader, full, stream.Length);
            }
            catch (EndOfStreamException e)
            {
                throw new PersonaException(
                    $"GGUF model '{full}' is truncated: its header ends at byte {stream.Length} while reading {reader.Context}. " +
                    "Expected a complete .gguf file; re-download or re-convert it.", e);
            }
        }
    }

    private static GgufInfo ReadCore(Reader r, string path, long fileLength)
    {
        if (fileLength < 4)
            throw new PersonaException($"'{path}' is not a GGUF model: it has only {fileLength} bytes. Expected a llama.cpp .gguf file starting with the magic 'GGUF'.");
        r.Context = "the magic";
        var magic = r.U32();
        if (magic != Magic)
        {
            var bytes = BitConverter.GetBytes(magic);
            throw new PersonaException(
                $"'{path}' is not a GGUF model: it starts with bytes {Convert.ToHexString(bytes)} " +
                $"(\"{Printable(bytes)}\") instead of the magic 'GGUF'. Expected a llama.cpp .gguf file " +
                "(safetensors, PyTorch or older GGML files must be converted first).");
        }

        r.Context = "the version";
        var version = r.U32();
        if (version is < 2 or > 3)
            throw new PersonaException($"GGUF model '{path}' has format version {version}; this build reads versions 2 and 3.");

        r.Context = "the tensor and metadata counts";
        var tensorCount = r.U64();
        var kvCount = r.U64();
        // Each metadata pair and tensor descriptor takes at least 8+4 bytes, so larger counts mean damage.
        if (tensorCount > (ulong)fileLength / 12 || kvCount > (ulong)fileLength / 12)
            throw new PersonaException($"GGUF model '{path}' is truncated or damaged: it claims {tensorCount} tensors and {kvCount} metadata entries, more than a {fileLength}-byte file can hold.");

        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        var arrays = new Dictionary<string, long>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            r.Context = $"metadata entry {i + 1} of {kvCount}";
            var key = r.Str();
            r.Context = $"metadata '{key}'";
            var type = (ValueType)r.U32();
            if (type == ValueType.Array)
            {
                var elementType = (ValueType)r.U32();
                var count = r.U64();
                if (count > (ulong)(fileLength - r.Position))
                    throw new PersonaException($"GGUF model '{path}' is damaged: metadata array '{key}' claims {count} elements, more than the file's remaining bytes.");
                for (ulong j = 0; j < count; j++)
                    r.SkipValue(elementType, key);
                arrays[key] = (long)count;
            }
            else
            {
                metadata[key] = r.Value(type, key);
            }
        }

        uint alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var a))
        {
            alignment = a is uint u ? u : 0;
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
                throw new PersonaException($"GGUF model '{path}' has general.alignment = {a}; expected a power of two stored as uint32.");
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        for (ulong i = 0; i < tensorCount; i++)
        {
            r.Context = $"tensor descriptor {i + 1} of {tensorCount}";
            var name = r.Str();
            r.Context = $"tensor '{name}'";
            var dims = r.U32();
            if (dims is 0 or > MaxDims)
                throw new PersonaException($"GGUF model '{path}' is damaged: tensor '{name}' has {dims} dimensions; expected 1 to {MaxDims}.");
            var shape = new long[dims];
            long elements = 1;
            for (var d = 0; d < dims; d++)
            {
                var n = r.U64();
                if (n > long.MaxValue / 2 || (n != 0 && elements > long.MaxValue / (long)n))
                    throw new PersonaException($"GGUF model '{path}' is damaged: tensor '{name}' has an impossible shape.");
                shape[d] = (long)n;
                elements *= (long)n;
            }
            var ggmlType = r.U32();
            var offset = r.U64();
            if (offset > (ulong)fileLength)
                throw new PersonaException($"GGUF model '{path}' is truncated or damaged: tensor '{name}' starts at data offset {offset}, beyond the file's {fileLength} bytes.");
            if (offset % alignment != 0)
                throw new PersonaException($"GGUF model '{path}' is damaged: tensor '{name}' data offset {offset} is not a multiple of the alignment {alignment}.");
            long? size = null;
            if (TypeSizes.TryGetValue(ggmlType, out var ts))
            {
                if (elements % ts.Block != 0)
                    throw new PersonaException($"GGUF model '{path}' is damaged: tensor '{name}' has {elements} elements, not a whole number of blocks of {ts.Block} for its ggml type {ggmlType}.");
                size = elements / ts.Block * ts.Bytes;
            }
            tensors.Add(new GgufTensorInfo(name, shape, ggmlType, (long)offset, size));
        }

        var dataOffset = AlignUp(r.Position, alignment);
        if (tensorCount > 0 && dataOffset > fileLength)
            throw new PersonaException($"GGUF model '{path}' is truncated: the tensor data should start at byte {dataOffset} but the file has {fileLength} bytes.");
        foreach (var t in tensors)
        {
            var end = dataOffset + t.Offset + (t.ByteSize ?? 0);
            if (end > fileLength)
                throw new PersonaException(
                    $"GGUF model '{path}' is truncated: tensor '{t.Name}' needs bytes up to {end} but the file has {fileLength}. " +
                    "Expected a complete .gguf file; re-download or re-convert it.");
        }

        return new GgufInfo(path, version, fileLength, alignment, dataOffset, metadata, arrays, tensors);
    }

    internal static long AlignUp(long value, uint alignment) => (value + alignment - 1) / alignment * alignment;

    private static string Printable(byte[] bytes) =>
        new(bytes.Select(b => b is >= 0x20 and < 0x7f ? (char)b : '.').ToArray());

    /// <summary>Little-endian primitive reads with bounds checks against the file length.</summary>
    private sealed class Reader(FileStream stream, string path)
    {
        private readonly BinaryReader _r = new(stream, Encoding.UTF8, leaveOpen: true);
        public string Context { get; set; } = "the header";
        public long Position => stream.Position;

        public uint U32() => _r.ReadUInt32();
        public ulong U64() => _r.ReadUInt64();

        public string Str()
        {
            var len = U64();
            if (len > (ulong)(stream.Length - stream.Position))
            {
                if (len > 1UL << 40)
                    throw new PersonaException($"GGUF model '{path}' is damaged: a string length of {len} bytes in {Context}.");
                throw new EndOfStreamException();
            }
            var bytes = _r.ReadBytes((int)len);
            if (bytes.Length != (int)len) throw new EndOfStreamException();
            return Encoding.UTF8.GetString(bytes);
        }

        public object Value(ValueType type, string key) => type switch
        {
            ValueType.UInt8 => _r.ReadByte(),
            ValueType.Int8 => _r.ReadSByte(),
            ValueType.UInt16 => _r.ReadUInt16(),
            ValueType.Int16 => _r.ReadInt16(),
            ValueType.UInt32 => _r.ReadUInt32(),
            ValueType.Int32 => _r.ReadInt32(),
            ValueType.Float32 => _r.ReadSingle(),
            ValueType.Bool => _r.ReadByte() != 0,
            ValueType.String => Str(),
            ValueType.UInt64 => _r.ReadUInt64(),
            ValueType.Int64 => _r.ReadInt64(),
            ValueType.Float64 => _r.ReadDouble(),
            _ => throw new PersonaException($"GGUF model '{path}' is damaged: metadata '{key}' has unknown value type {(uint)type}."),
        };

        public void SkipValue(ValueType type, string key)
        {
            var width = type switch
            {
                ValueType.UInt8 or ValueType.Int8 or ValueType.Bool => 1,
                ValueType.UInt16 or ValueType.Int16 => 2,
                ValueType.UInt32 or ValueType.Int32 or ValueType.Float32 => 4,
                ValueType.UInt64 or ValueType.Int64 or ValueType.Float64 => 8,
                ValueType.String => -1,
                _ => throw new PersonaException($"GGUF model '{path}' is damaged: metadata array '{key}' has element type {(uint)type}; expected a scalar or string type."),
            };
            if (width < 0)
            {
                var len = U64();
                if (len > (ulong)(stream.Length - stream.Position)) throw new EndOfStreamException();
                stream.Seek((long)len, SeekOrigin.Current);
            }
            else
            {
                if (stream.Position + width > stream.Length) throw new EndOfStreamException();
                stream.Seek(width, SeekOrigin.Current);
            }
        }
    }
}
