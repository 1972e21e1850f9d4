using System.Text;
using System.Text.Json;

namespace Persona.Study;

/// <summary>Answer rows as CSV (RFC 4180) and JSON Lines, the formats of the dashboard export.</summary>
public static class StudyExport
{
    public const string CsvHeader =
        "persona_id,rater,session_id,session_state,position,item_kind,pair_id,prompt_id,left_answer,side,choice,justification,submitted_at,prolific_pid,study_id,session_id_prolific,session_end_reason,quality_flags";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string CsvLine(AnswerRow r) => string.Join(',', new[]
    {
        r.PersonaId, (r.RaterIndex + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), r.SessionId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        r.SessionState, r.Position.ToString(System.Globalization.CultureInfo.InvariantCulture), r.ItemKind, r.PairId, r.PromptId, r.LeftAnswer, r.Side, r.Choice,
        r.Justification, r.SubmittedAt, r.ProlificPid, r.ProlificStudyId, r.ProlificSessionId, r.SessionEndReason, r.QualityFlags,
    }.Select(Cell));

    /// <summary>
    /// Every answer with its session's quality flags. Rows carry the Prolific ids a researcher needs to
    /// approve or return submissions; never the rater link tokens or the study's entry key.
    /// </summary>
    public static IEnumerable<AnswerRow> Rows(StudyDatabase db)
    {
        var flags = StudyQuality.FlagsBySession(StudyQuality.Assess(db));
        return db.Answers().Select(r => flags.TryGetValue(r.SessionId, out var f) ? r with { QualityFlags = f } : r);
    }

    public static string JsonLine(AnswerRow r) => JsonSerializer.Serialize(r with { RaterIndex = r.RaterIndex + 1 }, Json);

    /// <summary>
    /// Quotes a cell when needed; a cell a spreadsheet would run as a formula (=, +, -, @, tab, CR)
    /// gets a leading apostrophe, because justifications are free text typed by strangers.
    /// </summary>
    internal static string Cell(string? v)
    {
        if (string.IsNullOrEmpty(v)) return "";
        if (v[0] is '=' or '+' or '-' or '@' or '\t' or '\r') v = "'" + v;
        if (v.AsSpan().IndexOfAny(",\"\r\n") < 0) return v;
        return new StringBuilder(v.Length + 2).Append('"').Append(v.Replace("\"", "\"\"")).Append('"').ToString();
    }
}
