using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;

namespace Persona.Study;

public sealed record JudgeSummary(string Model, int Items, int Requested, int AlreadyJudged, int Unparsed);

/// <summary>
/// An LM role-plays each study persona on the same items the raters saw and picks the answer the
/// persona would prefer, in both orders (personalised first and generic first) so position bias
/// cancels and can be measured. It needs only an <see cref="IChatClient"/>: caching, retries,
/// budgets and fan-out are the runtime's job. Judgments are stored in the study database as they
/// arrive, in small batches, so an interrupted run resumes where it stopped.
/// </summary>
public sealed class StudyJudge(IChatClient chat, int maxConcurrency = 8)
{
    /// <summary>Bump whenever the prompt or the schema changes (part of the cache key).</summary>
    public const string TemplateVersion = "study.judge/1";

    public const string SystemPrompt = """
        You are role-playing the person described by the profile below. Read the question and the two
        candidate answers, and decide which answer this person would prefer, judging as them and not as
        yourself. Reply with a JSON object only: {"choice": "A" or "B", "reason": "<one short sentence>"}.
        """;

    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": { "choice": { "type": "string", "enum": ["A", "B"] }, "reason": { "type": "string" } },
          "required": ["choice", "reason"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    public static IList<ChatMessage> CreateMessages(string personaText, string question, string answerA, string answerB) =>
    [
        new(ChatRole.System, SystemPrompt + "\nProfile:\n" + personaText),
        new(ChatRole.User, $"Question:\n{question}\n\nAnswer A:\n{answerA}\n\nAnswer B:\n{answerB}"),
    ];

    /// <summary>
    /// The request options. The hint tells the offline simulator what the call is (a preference
    /// judgment, which position holds the personalised answer), so a simulated judge follows the
    /// planted world; real providers never see it.
    /// </summary>
    private static ChatOptions CreateOptions(StudyItem item, string personaText, bool personalisedFirst, string first, string second) =>
        new ChatOptions
        {
            Temperature = 0f,
            MaxOutputTokens = 200,
            ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "preferred_answer", "Which answer the persona would prefer."),
        }.WithRunMetadata(TemplateVersion, hint: new SimulationHint("preference_judge",
            Personas.PersonaInputs.ParseText(personaText, $"study persona {item.PersonaId}"),
            new Dictionary<string, string>
            {
                ["persona_key"] = item.PersonaId, ["prompt_key"] = item.PromptId ?? item.ItemId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["order"] = personalisedFirst ? "0" : "1", ["first"] = personalisedFirst ? StudyLabels.Personalised : StudyLabels.Generic,
                ["first_length"] = first.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["second_length"] = second.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["field"] = "choice",
            }));

    /// <summary>"A" or "B" from the model's answer, or null when it holds no usable choice.</summary>
    public static string? ParseChoice(string? text)
    {
        if (JsonExtraction.TryExtract(text, out var v, out _) && v.ValueKind == JsonValueKind.Object &&
            v.TryGetProperty("choice", out var c) && c.ValueKind == JsonValueKind.String)
        {
            var s = c.GetString()!.Trim().Trim('"', '.').ToUpperInvariant();
            if (s is "A" or "B") return s;
            if (s is "ANSWER A" or "ANSWER B") return s[^1..];
        }
        return null;
    }

    public async Task<JudgeSummary> RunAsync(StudyDatabase db, string model, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        var texts = db.PersonaTexts();
        var done = db.JudgedBy(model);
        var items = db.Items().Where(i => i.Kind == ItemKind.Pair).ToList();
        var work = items.SelectMany(i => new[] { (Item: i, PersonalisedFirst: true), (Item: i, PersonalisedFirst: false) })
            .Where(w => !done.Contains((w.Item.ItemId, w.PersonalisedFirst))).ToList();
        var pending = new List<StudyDatabase.Judgment>();
        var gate = new object();
        var finished = 0;
        var unparsed = 0;
        progress?.Report((0, work.Count));
        async Task FlushAsync(bool all)
        {
            List<StudyDatabase.Judgment> batch;
            lock (gate)
            {
                if (pending.Count == 0 || (!all && pending.Count < 16)) return;
                batch = [.. pending];
                pending.Clear();
            }
            await db.SaveJudgmentsAsync(batch, CancellationToken.None);
        }
        try
        {
            await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = maxConcurrency, CancellationToken = ct }, async (w, token) =>
            {
                var (a, b) = w.PersonalisedFirst ? (w.Item.Personalised, w.Item.Generic) : (w.Item.Generic, w.Item.Personalised);
                var persona = texts[w.Item.PersonaId];
                var response = await chat.GetResponseAsync(CreateMessages(persona, w.Item.Instruction, a, b),
                    CreateOptions(w.Item, persona, w.PersonalisedFirst, a, b), token).ConfigureAwait(false);
                var letter = ParseChoice(response.Text);
                var choice = letter is null ? null : (letter == "A") == w.PersonalisedFirst ? StudyLabels.Personalised : StudyLabels.Generic;
                lock (gate)
                {
                    pending.Add(new StudyDatabase.Judgment(model, w.Item.ItemId, w.PersonalisedFirst, choice, response.Text));
                    if (choice is null) unparsed++;
                }
                progress?.Report((Interlocked.Increment(ref finished), work.Count));
                await FlushAsync(all: false);
            });
        }
        finally
        {
            await FlushAsync(all: true); // what finished before a stop is kept
        }
        return new JudgeSummary(model, items.Count, work.Count, done.Count, unparsed);
    }
}
