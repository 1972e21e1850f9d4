using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Persona.Preferences;

/// <summary>The versioned prompts of the pair chain (data/preferences/templates.json).</summary>
public sealed record PairTemplates(
    string Version, string Sha256,
    string AnswerSystem, string AnswerUser,
    string CritiqueSystem, string CritiqueUser,
    string RevisionSystem, string RevisionUser,
    string JudgeSystem, string JudgeUser)
{
    public const string BundledPath = "preferences/templates.json";

    public static PairTemplates Load(string? path = null)
    {
        var file = path ?? BundledData.Path(BundledPath);
        if (!File.Exists(file)) throw new PersonaException($"Template file '{file}' not found.");
        var bytes = File.ReadAllBytes(file);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes); }
        catch (JsonException ex) { throw new PersonaException($"{file}: not valid JSON (line {ex.LineNumber + 1})."); }
        using (doc)
        {
            var r = doc.RootElement;
            string Req(string name, params string[] placeholders)
            {
                if (!r.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String || v.GetString()!.Length == 0)
                    throw new PersonaException($"{file}: field '{name}' is missing or not a non-empty string.");
                var text = v.GetString()!;
                foreach (var p in placeholders)
                    if (!text.Contains("{" + p + "}", StringComparison.Ordinal))
                        throw new PersonaException($"{file}: field '{name}' must contain the placeholder {{{p}}}.");
                return text;
            }
            return new PairTemplates(Req("version"), Convert.ToHexStringLower(SHA256.HashData(bytes)),
                Req("answer_system"), Req("answer_user", "question"),
                Req("critique_system"), Req("critique_user", "persona", "question", "answer"),
                Req("revision_system"), Req("revision_user", "persona", "question", "answer", "critique"),
                Req("judge_system"), Req("judge_user", "persona", "question", "answer_a", "answer_b"));
        }
    }

    /// <summary>Fills {name} placeholders in one pass (a value containing "{x}" is never expanded again).</summary>
    public static string Fill(string template, params (string Name, string Value)[] values)
    {
        var sb = new StringBuilder(template.Length + 256);
        var i = 0;
        while (i < template.Length)
        {
            if (template[i] == '{')
            {
                var end = template.IndexOf('}', i + 1);
                if (end > i)
                {
                    var name = template.AsSpan(i + 1, end - i - 1);
                    var hit = false;
                    foreach (var (n, v) in values)
                        if (name.SequenceEqual(n)) { sb.Append(v); hit = true; break; }
                    if (hit) { i = end + 1; continue; }
                }
            }
            sb.Append(template[i++]);
        }
        return sb.ToString();
    }
}
