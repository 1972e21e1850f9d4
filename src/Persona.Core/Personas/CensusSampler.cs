using Persona.Census;

namespace Persona.Personas;

/// <summary>The personas and the census draw they were made from (its source, universe and rows).</summary>
public sealed record CensusSampleResult(IReadOnlyList<PersonaRecord> Personas, CensusDrawResult Draw, string? TraitSource, string? OutputPath);

/// <summary>
/// Stage 1 of persona generation: draw whole ACS person records (weighted by PWGTP; the census
/// room's <see cref="CensusDraw"/>), make each a persona with its psychodemographics, write them.
/// The CLI verb and a pipeline's main job both call <see cref="SampleAsync"/>.
/// </summary>
public static class CensusSampler
{
    public static Task<CensusSampleResult> SampleAsync(CensusSampleOptions options, IPsychodemographicSampler? psycho,
        IProgress<CensusProgress>? progress = null, CancellationToken ct = default) => SampleAsync(options, psycho, progress, ct, lazy: false);

    /// <param name="lazy">
    /// Decode each draw when it is read instead of all at once: the result then holds only the drawn
    /// row numbers (4 bytes a draw instead of a decoded persona), so a population build over twice its
    /// size in draws does not hold them all. Each read decodes anew; the persona read is the same
    /// (a draw depends only on its row, the seed and its index).
    /// </param>
    internal static async Task<CensusSampleResult> SampleAsync(CensusSampleOptions options, IPsychodemographicSampler? psycho,
        IProgress<CensusProgress>? progress, CancellationToken ct, bool lazy)
    {
        CensusDraw.Validate(options);
        if (options.OutputPath is { } outPath) PersonaFiles.FormatOf(outPath); // fail before the long load
        var draw = await CensusDraw.DrawAsync(options, progress, ct, inputs =>
        {
            if (options.OutputPath is not { } o) return;
            OutputPaths.EnsureFileTarget(o, "--out", "personas.jsonl");
            OutputPaths.EnsureNotAnInput(o, "--out", [.. inputs]);
        }).ConfigureAwait(false);

        var decoder = draw.Decoder;
        var rows = draw.Rows;
        PersonaRecord DecodeAt(int i)
        {
            var row = rows[i];
            var traitSeed = CensusDraw.TraitSeed(options.Seed, i);
            var psy = psycho?.Draw(decoder.Profile(row), new Random((int)traitSeed));
            return PersonaJson.WithId(PersonaRecord.FromCensus(decoder.Decode(row), new PersonaTraits(psycho?.Source, traitSeed), psy));
        }
        if (lazy && options.OutputPath is null)
        {
            progress?.Report(new CensusProgress("sample", options.N, options.N));
            return Result(new LazyPersonas(rows.Count, DecodeAt));
        }
        var personas = new PersonaRecord[rows.Count];
        // Decoding is independent per draw (each persona has its own trait stream and slot), so it
        // runs on every core; the output does not depend on scheduling.
        const int chunk = 4096;
        var done = 0;
        Parallel.For(0, (rows.Count + chunk - 1) / chunk, new ParallelOptions { CancellationToken = ct }, c =>
        {
            var end = Math.Min(rows.Count, (c + 1) * chunk);
            for (var i = c * chunk; i < end; i++) personas[i] = DecodeAt(i);
            progress?.Report(new CensusProgress("sample", Interlocked.Add(ref done, end - c * chunk), options.N));
        });
        progress?.Report(new CensusProgress("sample", options.N, options.N));

        if (options.OutputPath is { } path)
        {
            progress?.Report(new CensusProgress("write", 0, options.N));
            await PersonaFiles.WriteAsync(path, personas, ct).ConfigureAwait(false);
            progress?.Report(new CensusProgress("write", options.N, options.N));
        }

        return Result(personas);

        CensusSampleResult Result(IReadOnlyList<PersonaRecord> personas) =>
            new(personas, draw, psycho?.Source, options.OutputPath is null ? null : Path.GetFullPath(options.OutputPath));
    }

    /// <summary>Draws decoded on each read (see the lazy sample): thread-safe, since decoding shares nothing mutable.</summary>
    private sealed class LazyPersonas(int count, Func<int, PersonaRecord> decode) : IReadOnlyList<PersonaRecord>
    {
        public int Count => count;
        public PersonaRecord this[int index] => (uint)index < (uint)count ? decode(index) : throw new ArgumentOutOfRangeException(nameof(index));
        public IEnumerator<PersonaRecord> GetEnumerator()
        {
            for (var i = 0; i < count; i++) yield return decode(i);
        }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
