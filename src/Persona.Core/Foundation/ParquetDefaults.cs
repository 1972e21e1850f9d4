using System.IO.Compression;
using Parquet;

namespace Persona;

/// <summary>
/// How every Parquet file of ours is written: Zstd at its "optimal" level. Parquet.Net's default
/// level is SmallestSize (zstd's slowest): 20,000 pair rows took 17 s to compress against 0.5 s,
/// for 5.6 MB against 7.7 MB, which made the paper-scale dataset export take six minutes and cost
/// the pairs build a core. The files stay deterministic: the same level every time.
/// <para>
/// Parquet.Net keeps the buffers of the column chunks it encoded for reuse, up to 16 MB of small
/// and 64 MB of large ones by default, process-wide and for good: a 100,000-persona file left
/// about 100 MB held after it was written. A few MB keep the reuse within a file (a chunk's pages
/// reuse each other's buffers) without holding the biggest chunk's buffers for the rest of a run.
/// </para>
/// </summary>
public static class ParquetDefaults
{
    public static ParquetOptions Options(bool append = false) =>
        new()
        {
            CompressionMethod = CompressionMethod.Zstd, CompressionLevel = CompressionLevel.Optimal, Append = append,
            MaximumSmallPoolFreeBytes = 4 << 20, MaximumLargePoolFreeBytes = 4 << 20,
        };
}
