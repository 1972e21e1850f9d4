using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Engine;

namespace Persona.Prompts;

/// <summary>
/// Zero-shot LM classifier: would this question draw diverse opinions? (method.md section 2, the
/// last filter.) It only needs an <see cref="IChatClient"/>; caching, retries and accounting are
/// the runtime's job, keyed on the request and on <see cref="TemplateVersionKey"/>.
/// <para>
/// An answer without a usable JSON verdict, or a call that failed for good (unrepairable JSON, an
/// HTTP 400, a timeout after retries), is a null verdict with the raw text and the reason (the
/// prompt is then excluded and the failure counted), never an exception: the shared fan-out's rule.
/// A run-level stop (budget, endpoint down, --max-failure-rate, Ctrl-C) ends the classification
/// resumably; the cache makes the re-run cheap.
/// </para>
/// </summary>
public sealed partial class ControversyClassifier
{
    /// <summary>Bump whenever <see cref="SystemPrompt"/>, the user message or the schema changes.</summary>
    public const string DefaultTemplateVersion = "prompts.controversy/1";

    public const string TemplateVersionKey = "template_version";

    public const string SystemPrompt = """
        You screen questions for a study of how people with different backgrounds and values want
        an AI assistant to answer them. Decide whether the user's question is controversial: would
        thoughtful people who differ in values, culture, religion, politics, age or life experience
        want substantially different answers to it?

        Controversial (true): questions touching moral, political, religious, social or personal-value
        judgements; advice where the right answer depends on one's values or circumstances; opinions
        on contested issues, lifestyles or relationships.
        Not controversial (false): questions with one factual or technical answer; how-to requests
        whose answer does not depend on values; greetings, small talk or tests of the assistant.

        Reply with a JSON object only: {"controversial": true or false, "reason": "<one short sentence>"}.
        """;

    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "controversial": { "type": "boolean" },
            "reason": { "type": "string" }
          },
          "required": ["controversial", "reason"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    private readonly IChatClient _chat;
    private readonly string _templateVersion;
    private readonly int _maxConcurrency;

    public ControversyClassifier(IChatClient chat, string templateVersion = DefaultTemplateVersion, int maxConcurrency = 4)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentException.ThrowIfNullOrWhiteSpace(templateVersion);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrency, 1);
        _chat = chat;
        _templateVersion = templateVersion;
        _maxConcurrency = maxConcurrency;
    }

    /// <summary>The request options; a fresh instance per call because clients may mutate them.</summary>
    public ChatOptions CreateOptions() => new()
    {
        Temperature = 0f,
        MaxOutputTokens = 256,
        ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "controversy_verdict", "Whether a question would draw diverse opinions, and why."),
        AdditionalProperties = new AdditionalPropertiesDictionary { [TemplateVersionKey] = _templateVersion },
    };

    public static IList<ChatMessage> CreateMessages(string prompt) =>
    [
        new(ChatRole.System, SystemPrompt),
        new(ChatRole.User, $"Question:\n{prompt}"),
    ];

    public async Task<ControversyVerdict> ClassifyAsync(string prompt, CancellationToken ct = default)
    {
        var response = await _chat.GetResponseAsync(CreateMessages(prompt), CreateOptions(), ct).ConfigureAwait(false);
        return ParseAnswer(response.Text);
    }

    /// <summary>Classifies on the shared fan-out (at most maxConcurrency requests in flight); verdicts come back in input order.</summary>
    public async Task<IReadOnlyList<ControversyVerdict>> ClassifyAllAsync(
        IReadOnlyList<string> prompts, IProgress<CurationProgress>? progress = null, CancellationToken ct = default, CancellationToken abort = default)
    {
        var verdicts = new List<ControversyVerdict>(prompts.Count);
        progress?.Report(new CurationProgress("classify", 0, prompts.Count));
        var options = new FanOutOptions { Concurrency = _maxConcurrency, Abort = abort };
        var deferred = 0;
        await foreach (var o in FanOut.RunAsync(prompts, async (p, _, token) => await ClassifyAsync(p, token).ConfigureAwait(false), options, ct).ConfigureAwait(false))
        {
            if (o.Failure?.Kind == ItemFailure.Deferred) { deferred++; continue; }
            verdicts.Add(o.Result ?? new ControversyVerdict(null, "call failed: " + o.Failure!.Message, o.Failure.RawText ?? ""));
            progress?.Report(new CurationProgress("classify", verdicts.Count, prompts.Count));
        }
        BatchPendingException.ThrowIf(deferred, "prompts' controversy verdicts");
        return verdicts;
    }

    /// <summary>
    /// Finds the verdict in an answer that may wrap the JSON in code fences, prose or a reasoning
    /// block: the first balanced JSON object holding a boolean "controversial" (the strings
    /// "true"/"false"/"yes"/"no" are accepted too, since small models quote them) wins.
    /// </summary>
    public static ControversyVerdict ParseAnswer(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return new ControversyVerdict(null, null, text ?? "");
        // A reasoning model may quote an example verdict while thinking; only the final answer counts.
        var answer = ThinkBlock().Replace(text, " ");
        for (int start = answer.IndexOf('{'); start >= 0; start = answer.IndexOf('{', start + 1))
        {
            int end = MatchingBrace(answer, start);
            if (end < 0) continue;
            if (TryReadVerdict(answer.AsSpan(start, end - start + 1), out var controversial, out var reason))
                return new ControversyVerdict(controversial, reason, null);
        }
        return new ControversyVerdict(null, null, text);
    }

    private static bool TryReadVerdict(ReadOnlySpan<char> json, out bool controversial, out string? reason)
    {
        controversial = false; reason = null;
        try
        {
            using var doc = JsonDocument.Parse(json.ToString(), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return false;
            JsonElement v = default;
            bool found = false;
            foreach (var p in root.EnumerateObject())
                if (string.Equals(p.Name, "controversial", StringComparison.OrdinalIgnoreCase)) { v = p.Value; found = true; break; }
            if (!found) return false;
            switch (v.ValueKind)
            {
                case JsonValueKind.True: controversial = true; break;
                case JsonValueKind.False: controversial = false; break;
                case JsonValueKind.String:
                    switch (v.GetString()!.Trim().ToLowerInvariant())
                    {
                        case "true" or "yes": controversial = true; break;
                        case "false" or "no": controversial = false; break;
                        default: return false;
                    }
                    break;
                default: return false;
            }
            foreach (var p in root.EnumerateObject())
                if (string.Equals(p.Name, "reason", StringComparison.OrdinalIgnoreCase) && p.Value.ValueKind == JsonValueKind.String)
                { reason = p.Value.GetString(); break; }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Index of the brace closing the object opened at <paramref name="start"/>, skipping braces inside strings; -1 if none.</summary>
    private static int MatchingBrace(string s, int start)
    {
        int depth = 0;
        bool inString = false, escaped = false;
        for (int i = start; i < s.Length; i++)
        {
            char c = s[i];
            if (inString)
            {
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') inString = true;
            else if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return i;
        }
        return -1;
    }

    [GeneratedRegex(@"<think>.*?(</think>|$)", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex ThinkBlock();
}
