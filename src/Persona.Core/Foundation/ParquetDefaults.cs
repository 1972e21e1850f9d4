using System.IO.Compression;
using Parquet;

namespace Persona;

/// <summary>
/// How every Parquet file of ours is written: Zstd at its "optimal" level. Parquet.Net's default
/// level is SmallestSize (zstd's slowest): 20,000 pair rows took 17 s to compress against 0.5 s,
/// for 5.6 MB against 7.7 MB, which made the paper-scale dataset export take six minutes and cost
/// the pairs build a core. The files stay deterministic: the same level every time.
/// </summary>
public static class ParquetDefaults
{
    public static ParquetOptions Options(bool append = false) =>
        new() { CompressionMethod = CompressionMethod.Zstd, CompressionLevel = CompressionLevel.Optimal, Append = append };
}
