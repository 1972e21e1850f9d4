using System.Text.Json;

namespace Persona.Survey;

/// <summary>
/// The survey's items as Inspect-ready sample JSON Lines (Inspect AI's <c>json_dataset</c> fields):
/// one sample per question and group, <c>input</c> the question, <c>choices</c> the options that carry
/// a share (a trailing "Refused" is not a choice), no <c>target</c> (there is no right answer, only a
/// distribution), and <c>metadata</c> with qkey, attribute, group, ordinal, the real responses and the
/// refusal rate, so an Inspect scorer can compute the same distance.
/// </summary>
public static class SurveyInspectExport
{
    public static void Write(Stream stream, SurveySet survey)
    {
        var options = new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var newline = "\n"u8.ToArray();
        foreach (var i in survey.Items)
        {
            using (var w = new Utf8JsonWriter(stream, options))
            {
                w.WriteStartObject();
                w.WriteString("id", $"{i.Qkey}/{i.Attribute}/{i.Group}");
                w.WriteString("input", i.Question);
                w.WriteStartArray("choices");
                for (var k = 0; k < i.Ordinal.Count; k++) w.WriteStringValue(i.Options[k]);
                w.WriteEndArray();
                w.WriteStartObject("metadata");
                w.WriteString("qkey", i.Qkey);
                w.WriteString("attribute", i.Attribute);
                w.WriteString("group", i.Group);
                w.WriteStartArray("ordinal");
                foreach (var o in i.Ordinal) w.WriteNumberValue(o);
                w.WriteEndArray();
                w.WriteStartArray("responses");
                foreach (var r in i.Responses) w.WriteNumberValue(r);
                w.WriteEndArray();
                w.WriteNumber("refusal_rate", i.RefusalRate);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            stream.Write(newline);
        }
    }
}
