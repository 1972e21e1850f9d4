using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Persona.Prompts;

/// <summary>
/// Writes the stage's outputs into a directory, each file atomically (temp file in the same
/// directory, then a move), so an interrupted run never leaves a half-written file:
/// <c>prompts.jsonl</c> (the curated set only: train and held-out), <c>rejected.jsonl</c> (what the
/// cheap filters and the classifier dropped, which earlier prompt a duplicate repeated, and the
/// classifier's verdict and reason) and <c>curation-report.json</c>.
/// </summary>
public static class PromptCurationWriter
{
    public const string PromptsFile = "prompts.jsonl";
    public const string RejectedFile = "rejected.jsonl";
    public const string ReportFile = "curation-report.json";

    public static readonly JsonSerializerOptions ReportJsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private static readonly JsonWriterOptions LineOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task WriteAsync(string directory, PromptCurationResult result, CancellationToken ct = default)
    {
        Directory.CreateDirectory(directory);
        await WriteAtomicAsync(Path.Combine(directory, PromptsFile), s => WritePrompts(s, result.Prompts), ct).ConfigureAwait(false);
        await WriteAtomicAsync(Path.Combine(directory, RejectedFile), s => WriteRejections(s, result.Rejections), ct).ConfigureAwait(false);
        await WriteAtomicAsync(Path.Combine(directory, ReportFile), s => JsonSerializer.Serialize(s, result.Report, ReportJsonOptions), ct).ConfigureAwait(false);
    }

    public static string ReportJson(PromptCurationReport report) => JsonSerializer.Serialize(report, ReportJsonOptions);

    /// <summary>One JSON object per kept prompt: id, text, cluster, split, controversial, reason.</summary>
    public static void WritePrompts(Stream stream, IEnumerable<CuratedPrompt> prompts)
    {
        foreach (var p in prompts)
        {
            using (var w = new Utf8JsonWriter(stream, LineOptions))
            {
                w.WriteStartObject();
                w.WriteString("id", p.Id);
                w.WriteString("text", p.Text);
                if (p.Cluster is int c) w.WriteNumber("cluster", c); else w.WriteNull("cluster");
                w.WriteString("split", p.Split);
                if (p.Controversial is bool b) w.WriteBoolean("controversial", b); else w.WriteNull("controversial");
                if (p.Reason is null) w.WriteNull("reason"); else w.WriteString("reason", p.Reason);
                if (p.Raw is not null) w.WriteString("raw", p.Raw);
                w.WriteEndObject();
            }
            stream.WriteByte((byte)'\n');
        }
    }

    public static void WriteRejections(Stream stream, IEnumerable<PromptRejection> rejections)
    {
        foreach (var r in rejections)
        {
            using (var w = new Utf8JsonWriter(stream, LineOptions))
            {
                w.WriteStartObject();
                w.WriteString("id", r.Id);
                w.WriteString("filter", r.Filter);
                if (r.DuplicateOf is not null) w.WriteString("duplicate_of", r.DuplicateOf);
                if (r.Filter == PromptCurator.FilterControversial)
                {
                    if (r.Controversial is bool b) w.WriteBoolean("controversial", b); else w.WriteNull("controversial");
                    if (r.Reason is null) w.WriteNull("reason"); else w.WriteString("reason", r.Reason);
                    if (r.Raw is not null) w.WriteString("raw", r.Raw);
                }
                w.WriteEndObject();
            }
            stream.WriteByte((byte)'\n');
        }
    }

    /// <summary>Reads prompts.jsonl back (for downstream stages and tests); every line must be a kept prompt.</summary>
    public static IReadOnlyList<CuratedPrompt> ReadPrompts(string path)
    {
        var list = new List<CuratedPrompt>();
        int lineNo = 0;
        foreach (var line in TextLines.Read(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var r = doc.RootElement;
                string Req(string f) => r.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.String
                    ? v.GetString()! : throw new PersonaException($"{path}:{lineNo}: field '{f}' is missing or not a string.");
                string? Opt(string f) => r.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                int? cluster = r.TryGetProperty("cluster", out var cv) && cv.ValueKind == JsonValueKind.Number ? cv.GetInt32() : null;
                bool? contro = r.TryGetProperty("controversial", out var bv) && bv.ValueKind is JsonValueKind.True or JsonValueKind.False ? bv.GetBoolean() : null;
                string id = Req("id"), text = Req("text"), split = Req("split");
                if (!PromptSplit.IsKnown(split))
                    throw new PersonaException(
                        $"{path}:{lineNo}: field 'split' is '{split}'; a curated prompt file holds only '{PromptSplit.Train}' and '{PromptSplit.HeldOut}' prompts " +
                        $"(excluded prompts belong in {RejectedFile}; re-run `persona prompts curate` if the file came from an older version).");
                list.Add(new CuratedPrompt(id, text, cluster, split, contro, Opt("reason"), Opt("raw")));
            }
            catch (JsonException e)
            {
                throw new PersonaException($"{path}:{lineNo}: malformed JSON ({e.Message}); expected one curated prompt object per line.", e);
            }
        }
        return list;
    }

    private static async Task WriteAtomicAsync(string path, Action<Stream> write, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        OutputPaths.CleanStaleTemps(path);
        var tmp = OutputPaths.TempSibling(Path.GetFullPath(path));
        try
        {
            await using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: false))
            {
                write(fs);
                await fs.FlushAsync(ct).ConfigureAwait(false);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }
}
