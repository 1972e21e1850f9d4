namespace Persona;

/// <summary>
/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64. Implemented here rather than
/// using <see cref="System.Random"/> so that draws are fixed by this code alone, not by the
/// runtime's choice of algorithm.
/// </summary>
internal sealed class DeterministicRng
{
    private ulong _s0, _s1, _s2, _s3;

    public DeterministicRng(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    public static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A well-mixed 64-bit value of (a, b); used to give every persona its own stream.</summary>
    public static ulong Mix(ulong a, ulong b)
    {
        var s = a;
        var h = SplitMix64(ref s);
        s = h ^ b;
        return SplitMix64(ref s);
    }

    public ulong NextUInt64()
    {
        var result = RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's method).</summary>
    public int NextInt(int n)
    {
        var range = (ulong)n;
        var m = (UInt128)NextUInt64() * range;
        var low = (ulong)m;
        if (low < range)
        {
            var threshold = (0 - range) % range;
            while (low < threshold)
            {
                m = (UInt128)NextUInt64() * range;
                low = (ulong)m;
            }
        }
        return (int)(m >> 64);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}

/// <summary>A bare SplitMix64 stream: tiny, seedable, identical on every platform; for the simulator's and the pair schedule's cheap draws.</summary>
internal sealed class SplitMixRng(ulong state)
{
    private ulong _s = state;

    public ulong Next() => DeterministicRng.SplitMix64(ref _s);

    /// <summary>Uniform in [0, 1) from the top 53 bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
}
