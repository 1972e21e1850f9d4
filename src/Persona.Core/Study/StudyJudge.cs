using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Engine;

namespace Persona.Study;

public sealed record JudgeSummary(string Model, int Items, int Requested, int AlreadyJudged, int Unparsed);

/// <summary>
/// An LM role-plays each study persona on the same items the raters saw and picks the answer the
/// persona would prefer, in both orders (personalised first and generic first) so position bias
/// cancels and can be measured. The choice is the one role-play judgment of the testbed
/// (<see cref="Choice.RolePlayChoice"/>: one schema, one parser), run on the one fan-out with the
/// run's rules: a first Ctrl-C lets the calls in flight finish and stores them, a second abandons
/// them; too many failed calls end the run (resumable). Caching, retries and budgets are the
/// runtime's job (the client it is given). Judgments are stored in the study database as they
/// arrive, in small batches, so an interrupted run resumes where it stopped.
/// </summary>
public sealed class StudyJudge(IChatClient chat, FanOutOptions fanOut)
{
    public StudyJudge(IChatClient chat, int maxConcurrency = 8) : this(chat, new FanOutOptions { Concurrency = maxConcurrency }) { }

    /// <summary>Bump whenever the prompt or the schema changes (part of the cache key). 2: the shared choice schema ("preferred").</summary>
    public const string TemplateVersion = "study.judge/2";

    public const string SystemPrompt = """
        You are role-playing the person described by the profile below. Read the question and the two
        candidate answers, and decide which answer this person would prefer, judging as them and not as
        yourself. Reply with a JSON object only: {"reasoning": "<one short sentence>", "preferred": "A" or "B"}.
        """;

    public static IList<ChatMessage> CreateMessages(string personaText, string question, string answerA, string answerB) =>
    [
        new(ChatRole.System, SystemPrompt + "\nProfile:\n" + personaText),
        new(ChatRole.User, $"Question:\n{question}\n\nAnswer A:\n{answerA}\n\nAnswer B:\n{answerB}"),
    ];

    /// <summary>The request options: the shared choice options, whose hint lets a simulated judge follow the planted world (real providers never see it).</summary>
    private static ChatOptions CreateOptions(StudyItem item, IReadOnlyDictionary<string, string> attributes, bool personalisedFirst, string first, string second) =>
        Choice.RolePlayChoice.Options(TemplateVersion, new Choice.RolePlayChoice.Ask(item.PersonaId,
            item.PromptId ?? item.ItemId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            attributes, personalisedFirst ? "0" : "1", personalisedFirst, first.Length, second.Length), maxOutputTokens: 200);

    /// <summary>
    /// The persona's typed attributes as the study stored them. A study made before they were stored
    /// (schema 2), or from pairs whose text is not 'key: value' lines, has none: its text is then the
    /// release's format and is parsed here, as the judge always did for such studies.
    /// </summary>
    private static IReadOnlyDictionary<string, string> AttributesOf(string personaId, StudyPersona persona) =>
        persona.Attributes ?? Personas.PersonaInputs.ParseText(persona.Text, $"study persona {personaId}"); // foreign format: the release's `persona` text of an old study

    /// <summary>"A" or "B" from the model's answer, or null when it holds no usable choice.</summary>
    public static string? ParseChoice(string? text) => Choice.RolePlayChoice.Parse(text);

    public async Task<JudgeSummary> RunAsync(StudyDatabase db, string model, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        var personas = db.Personas();
        var done = db.JudgedBy(model);
        var items = db.Items().Where(i => i.Kind == ItemKind.Pair).ToList();
        var work = items.SelectMany(i => new[] { (Item: i, PersonalisedFirst: true), (Item: i, PersonalisedFirst: false) })
            .Where(w => !done.Contains((w.Item.ItemId, w.PersonalisedFirst))).ToList();
        var pending = new List<StudyDatabase.Judgment>();
        var finished = 0;
        var unparsed = 0;
        progress?.Report((0, work.Count));
        async Task FlushAsync(bool all)
        {
            if (pending.Count == 0 || (!all && pending.Count < 16)) return;
            List<StudyDatabase.Judgment> batch = [.. pending];
            pending.Clear();
            await db.SaveJudgmentsAsync(batch, CancellationToken.None);
        }
        try
        {
            // Results arrive on this one reader in order: no lock, and what finished before a stop is in `pending`.
            await foreach (var o in FanOut.RunAsync(work, async (w, _, token) =>
            {
                var (a, b) = w.PersonalisedFirst ? (w.Item.Personalised, w.Item.Generic) : (w.Item.Generic, w.Item.Personalised);
                var persona = personas[w.Item.PersonaId];
                var response = await chat.GetResponseAsync(CreateMessages(persona.Text, w.Item.Instruction, a, b),
                    CreateOptions(w.Item, AttributesOf(w.Item.PersonaId, persona), w.PersonalisedFirst, a, b), token).ConfigureAwait(false);
                var chose = Choice.RolePlayChoice.ChosePersonalised(ParseChoice(response.Text), w.PersonalisedFirst);
                var choice = chose is null ? null : chose.Value ? StudyLabels.Personalised : StudyLabels.Generic;
                return new StudyDatabase.Judgment(model, w.Item.ItemId, w.PersonalisedFirst, choice, response.Text);
            }, fanOut, ct).ConfigureAwait(false))
            {
                // A failed call is not stored: the next run asks it again (the fan-out counts it against --max-failure-rate).
                if (o.Result is { } j)
                {
                    pending.Add(j);
                    if (j.Choice is null) unparsed++;
                }
                progress?.Report((++finished, work.Count));
                await FlushAsync(all: false);
            }
        }
        finally
        {
            await FlushAsync(all: true); // what finished before a stop is kept
        }
        return new JudgeSummary(model, items.Count, work.Count, done.Count, unparsed);
    }
}
