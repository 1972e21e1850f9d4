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

    private static ChatOptions CreateOptions() => new()
    {
        Temperature = 0f,
        MaxOutputTokens = 200,
        ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "preferred_answer", "Which answer the persona would prefer."),
        AdditionalProperties = new AdditionalPropertiesDictionary { ["template_version"] = TemplateVersion },
    };

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
                var response = await chat.GetResponseAsync(CreateMessages(texts[w.Item.PersonaId], w.Item.Instruction, a, b), CreateOptions(), token).ConfigureAwait(false);
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
