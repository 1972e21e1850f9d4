using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Persona.Personas;

namespace Persona.Prompts;

/// <summary>A question as the LM stages use it: id, text, split (train / held_out, when known) and topic cluster.</summary>
public sealed record QuestionInput(string Id, string Text, string? Split, int? Topic);

/// <summary>
/// Reads questions from a <c>persona prompts curate</c> folder (prompts.jsonl: the curated set
/// with splits and topic clusters; excluded prompts are skipped) or from a JSONL/CSV file with a
/// <c>question</c> column (the original PRISM-Filter release) or a <c>text</c> column, with an
/// optional <c>split</c> column and <c>id</c>. Duplicate ids or texts are errors.
/// </summary>
public static class QuestionInputs
{
    public static IReadOnlyList<QuestionInput> Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, PromptCurationWriter.PromptsFile) : path;
        if (!File.Exists(file))
            throw new PersonaException(Directory.Exists(path)
                ? $"'{path}' has no {PromptCurationWriter.PromptsFile}; point --prompts at a `prompts curate` folder or a question file (.jsonl or .csv with a 'question' or 'text' column)."
                : $"Question file '{path}' does not exist.");
        var list = new List<QuestionInput>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var ext = Path.GetExtension(file).ToLowerInvariant();
        if (ext is ".jsonl" or ".ndjson")
        {
            var lineNo = 0;
            foreach (var line in TextLines.Read(file))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                JsonDocument doc;
                try { doc = JsonDocument.Parse(line); }
                catch (JsonException) { throw new PersonaException($"{file}:{lineNo}: not valid JSON; expected one question object per line."); }
                using (doc)
                {
                    var r = doc.RootElement;
                    if (r.ValueKind != JsonValueKind.Object) throw new PersonaException($"{file}:{lineNo}: expected a JSON object.");
                    string? Str(string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                    var text = Str("question") ?? Str("text")
                        ?? throw new PersonaException($"{file}:{lineNo}: no 'question' or 'text' field (a string).");
                    var split = Str("split");
                    if (split == "excluded") continue; // files written before prompts.jsonl held only the curated set
                    int? topic = r.TryGetProperty("cluster", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null;
                    var id = Str("id") ?? (r.TryGetProperty("id", out var n) && n.ValueKind == JsonValueKind.Number ? n.GetRawText() : null);
                    Add(list, ids, file, $"line {lineNo}", id, text, split, topic);
                }
            }
        }
        else if (ext == ".csv")
        {
            string[]? header = null;
            int textCol = -1, idCol = -1, splitCol = -1;
            foreach (var (fields, line) in PersonaInputs.CsvRecords(file))
            {
                if (header is null)
                {
                    header = fields.Select(h => h.Trim().ToLowerInvariant()).ToArray();
                    textCol = Array.IndexOf(header, "question");
                    if (textCol < 0) textCol = Array.IndexOf(header, "text");
                    if (textCol < 0) throw new PersonaException($"{file}:1: no 'question' or 'text' column (found {string.Join(", ", header)}).");
                    idCol = Array.IndexOf(header, "id");
                    splitCol = Array.IndexOf(header, "split");
                    continue;
                }
                if (fields.Count == 1 && fields[0].Length == 0) continue;
                if (fields.Count != header.Length) throw new PersonaException($"{file}:{line}: {fields.Count} fields, but the header has {header.Length}.");
                var split = splitCol >= 0 && fields[splitCol].Length > 0 ? fields[splitCol] : null;
                if (split == "excluded") continue; // files written before prompts.jsonl held only the curated set
                Add(list, ids, file, $"line {line}", idCol >= 0 && fields[idCol].Length > 0 ? fields[idCol] : null, fields[textCol], split, null);
            }
        }
        else throw new PersonaException($"Cannot tell the question format of '{file}' from its extension '{ext}': expected .jsonl or .csv, or a `prompts curate` folder.");
        if (list.Count == 0) throw new PersonaException($"'{file}' holds no questions.");
        return list;
    }

    private static void Add(List<QuestionInput> list, HashSet<string> ids, string file, string where, string? id, string text, string? split, int? topic)
    {
        text = text.Trim();
        if (text.Length == 0) throw new PersonaException($"{file}, {where}: the question is empty.");
        if (split is not null && split is not (PromptSplit.Train or PromptSplit.HeldOut))
            throw new PersonaException($"{file}, {where}: split '{split}' is not '{PromptSplit.Train}' or '{PromptSplit.HeldOut}'.");
        id ??= Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        if (!ids.Add(id)) throw new PersonaException($"{file}, {where}: question id '{id}' appears twice.");
        list.Add(new QuestionInput(id, text, split, topic));
    }
}
