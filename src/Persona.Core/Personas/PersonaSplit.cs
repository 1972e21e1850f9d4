using System.Text.Json;
using System.Text.Json.Serialization;
using Persona.Census;

namespace Persona.Personas;

/// <summary>
/// Persona-level train/test split (method.md section 1: 1,000 train / 586 test). Ids are listed in
/// population order; membership is a seeded shuffle, so it does not depend on file order.
/// </summary>
public sealed record PersonaSplit(
    [property: JsonPropertyName("seed")] long Seed,
    [property: JsonPropertyName("train_fraction")] double TrainFraction,
    [property: JsonPropertyName("train_count")] int TrainCount,
    [property: JsonPropertyName("test_count")] int TestCount,
    [property: JsonPropertyName("train")] IReadOnlyList<string> Train,
    [property: JsonPropertyName("test")] IReadOnlyList<string> Test)
{
    /// <summary>The original study's proportion, 1,000 of 1,586.</summary>
    public const double OriginalTrainFraction = 1000.0 / 1586.0;
    public const string FileName = "split.json";
    private const ulong SplitStream = 0x73706C69745F7473UL;

    /// <summary>round(n x fraction) personas go to train (1,000 of 1,586 by default); the rest to test.</summary>
    public static PersonaSplit Create(IReadOnlyList<string> ids, long seed, double trainFraction = OriginalTrainFraction)
    {
        if (!(trainFraction is >= 0 and <= 1))
            throw new PersonaException($"The train fraction must lie between 0 and 1 (got {trainFraction}).");
        var n = ids.Count;
        var nTrain = (int)Math.Round(n * trainFraction, MidpointRounding.AwayFromZero);
        var order = Enumerable.Range(0, n).ToArray();
        var rng = new DeterministicRng(DeterministicRng.Mix((ulong)seed, SplitStream));
        for (var i = n - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var train = new bool[n];
        for (var k = 0; k < nTrain; k++) train[order[k]] = true;
        return new PersonaSplit(seed, trainFraction, nTrain, n - nTrain,
            ids.Where((_, i) => train[i]).ToArray(), ids.Where((_, i) => !train[i]).ToArray());
    }

    public string ToJson() => JsonSerializer.Serialize(this, BuildJson.Options);

    public static PersonaSplit Read(string path)
    {
        InputFile.NotAFolder(path, "Split file");
        if (!File.Exists(path)) throw new PersonaException($"Split file '{path}' does not exist.");
        try
        {
            return JsonSerializer.Deserialize<PersonaSplit>(File.ReadAllText(path), BuildJson.Options)
                   ?? throw new PersonaException($"'{path}' holds no split.");
        }
        catch (JsonException ex)
        {
            throw new PersonaException($"'{path}' is not a split file: {ex.Message}", ex);
        }
    }
}

/// <summary>JSON settings of the build's own files: indented, relaxed escaping, stable.</summary>
internal static class BuildJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static readonly JsonSerializerOptions Compact = new(Options) { WriteIndented = false };

    public static Task WriteAsync(string path, string text, CancellationToken ct) =>
        AtomicFile.WriteAsync(path, async (s, token) =>
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text.EndsWith('\n') ? text : text + "\n");
            await s.WriteAsync(bytes, token);
        }, ct);
}
