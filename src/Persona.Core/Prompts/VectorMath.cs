using System.Runtime.Intrinsics;

namespace Persona.Prompts;

/// <summary>
/// Dense-vector helpers for clustering. Dot products use a fixed 4-lane layout so the summation
/// order, hence every bit of the result, is the same on any CPU (a Vector&lt;T&gt; width would vary
/// between AVX2 and AVX-512 machines and break byte-identical outputs).
/// </summary>
public static class VectorMath
{
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Vector lengths differ ({a.Length} vs {b.Length}).");
        var acc = Vector128<float>.Zero;
        int i = 0;
        for (; i <= a.Length - 4; i += 4)
            acc += Vector128.Create(a.Slice(i, 4)) * Vector128.Create(b.Slice(i, 4));
        float s = (acc.GetElement(0) + acc.GetElement(1)) + (acc.GetElement(2) + acc.GetElement(3));
        for (; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>Unit-length copy (cosine geometry); a zero vector stays zero.</summary>
    public static float[] Normalized(ReadOnlySpan<float> v)
    {
        double sq = 0;
        foreach (var x in v) sq += (double)x * x;
        var r = new float[v.Length];
        if (sq == 0) return r;
        var inv = 1.0 / Math.Sqrt(sq);
        for (int i = 0; i < v.Length; i++) r[i] = (float)(v[i] * inv);
        return r;
    }

    /// <summary>Cosine distance of two unit vectors, clamped to [0, 2] against rounding.</summary>
    public static float CosineDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Math.Clamp(1f - Dot(a, b), 0f, 2f);
}

/// <summary>Derives independent, reproducible sub-seeds from the user's seed (no GetHashCode: it is randomised per process).</summary>
public static class SeedMix
{
    public static int Derive(int seed, string stream, int index = 0)
    {
        ulong h = 0x9E3779B97F4A7C15UL ^ (uint)seed;
        foreach (var c in stream) h = Mix(h ^ c);
        h = Mix(h ^ (uint)index);
        return (int)(h & 0x7FFFFFFF);
    }

    private static ulong Mix(ulong z) // SplitMix64 finaliser
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
