using System.Text;

namespace Persona.Llm.Local.Tests;

/// <summary>
/// Writes GGUF v3 files (little-endian): header, typed metadata, tensor descriptors, then the data
/// section aligned to <see cref="Alignment"/>, each tensor padded so the next starts aligned.
/// Only what test models need: scalar, string and array metadata and f32 tensors.
/// </summary>
internal sealed class GgufWriter
{
    public const uint Alignment = 32;

    private enum T : uint { UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9 }

    private readonly List<(string Key, Action<BinaryWriter> Write)> _metadata = [];
    private readonly List<(string Name, long[] Shape, float[] Data)> _tensors = [];

    public GgufWriter U32(string key, uint value) => Add(key, w => { w.Write((uint)T.UInt32); w.Write(value); });
    public GgufWriter F32(string key, float value) => Add(key, w => { w.Write((uint)T.Float32); w.Write(value); });
    public GgufWriter Bool(string key, bool value) => Add(key, w => { w.Write((uint)T.Bool); w.Write((byte)(value ? 1 : 0)); });
    public GgufWriter Str(string key, string value) => Add(key, w => { w.Write((uint)T.String); WriteString(w, value); });

    public GgufWriter Strings(string key, IReadOnlyList<string> values) => Add(key, w =>
    {
        w.Write((uint)T.Array); w.Write((uint)T.String); w.Write((ulong)values.Count);
        foreach (var v in values) WriteString(w, v);
    });

    public GgufWriter Floats(string key, IReadOnlyList<float> values) => Add(key, w =>
    {
        w.Write((uint)T.Array); w.Write((uint)T.Float32); w.Write((ulong)values.Count);
        foreach (var v in values) w.Write(v);
    });

    public GgufWriter Ints(string key, IReadOnlyList<int> values) => Add(key, w =>
    {
        w.Write((uint)T.Array); w.Write((uint)T.Int32); w.Write((ulong)values.Count);
        foreach (var v in values) w.Write(v);
    });

    /// <summary>Adds an f32 tensor; <paramref name="shape"/> is in ggml order (fastest-varying dimension first).</summary>
    public GgufWriter Tensor(string name, long[] shape, float[] data)
    {
        if (shape.Aggregate(1L, (a, b) => a * b) != data.Length)
            throw new ArgumentException($"tensor {name}: shape [{string.Join(",", shape)}] does not match {data.Length} values");
        _tensors.Add((name, shape, data));
        return this;
    }

    public void Write(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var w = new BinaryWriter(stream, Encoding.UTF8);
        w.Write(Encoding.ASCII.GetBytes("GGUF"));
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, write) in _metadata)
        {
            WriteString(w, key);
            write(w);
        }

        long offset = 0;
        foreach (var (name, shape, data) in _tensors)
        {
            WriteString(w, name);
            w.Write((uint)shape.Length);
            foreach (var d in shape) w.Write((ulong)d);
            w.Write(0u); // GGML_TYPE_F32
            w.Write((ulong)offset);
            offset = AlignUp(offset + data.Length * sizeof(float));
        }

        Pad(w);
        foreach (var (_, _, data) in _tensors)
        {
            foreach (var v in data) w.Write(v);
            Pad(w);
        }
    }

    private GgufWriter Add(string key, Action<BinaryWriter> write)
    {
        _metadata.Add((key, write));
        return this;
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static long AlignUp(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w)
    {
        w.Flush();
        var pos = w.BaseStream.Position;
        for (var i = pos; i < AlignUp(pos); i++) w.Write((byte)0);
    }
}
