using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Engine;

namespace Persona.Personas;

public sealed record DriftAuditOptions
{
    /// <summary>Ask the LM whether each persona's written text contradicts its census fields.</summary>
    public bool LmCheck { get; init; } = true;
    public string TemplateVersion { get; init; } = DriftAudit.DefaultTemplateVersion;
    public int Concurrency { get; init; } = 16;
    /// <summary>theme,term CSV; null = data/personas/drift-lexicons.csv.</summary>
    public string? LexiconPath { get; init; }
    public string? ModelLabel { get; init; }
    /// <summary>The second Ctrl-C: abandons LM checks in flight.</summary>
    public CancellationToken Abort { get; init; }
}

/// <summary>Share of personas in one census group whose LM-written text mentions a theme.</summary>
public sealed record ThemeShare(string Dimension, string Group, int N, int Mentions, double Share);

public sealed record ThemeReport(string Theme, int Mentions, double Share, IReadOnlyList<ThemeShare> Groups);

/// <summary>What the audit found for one persona.</summary>
public sealed record PersonaDrift(string Id, IReadOnlyList<RuleViolation> Rules, bool? LmContradiction, IReadOnlyList<string> LmFields,
    IReadOnlyList<string> LmReasons, IReadOnlyList<string> Themes)
{
    /// <summary>Why the LM check gave no verdict for this persona (unreadable answer, or the call failed for good); null when it did.</summary>
    public string? LmFailure { get; init; }
}

public sealed record DriftAuditReport(
    string Format,
    int Personas,
    int Enriched,
    IReadOnlyList<string> WrittenBy,
    bool Simulated,
    string? AuditModel,
    string? TemplateVersion,
    int RuleFlagged,
    IReadOnlyDictionary<string, int> RuleFlaggedByRule,
    int LmChecked,
    int LmContradictions,
    int LmUnreadable,
    IReadOnlyDictionary<string, int> LmContradictionsByField,
    IReadOnlyList<ThemeReport> Themes,
    IReadOnlyList<PersonaDrift> PerPersona);

/// <summary>
/// Drift audit of a built population: where LM-written text contradicts census fields (the
/// consistency rules, then an LM check naming the contradicted fields), and panel-level theme
/// shares by census group (keyword lexicons in data/personas/drift-lexicons.csv) so a user sees
/// what the LM added: e.g. hardship written into low-income personas only, or religion everywhere.
/// </summary>
public static class DriftAudit
{
    public const string DefaultTemplateVersion = "personas.drift/1";
    public const string LexiconPath = "personas/drift-lexicons.csv";
    public const string Format = "persona-drift-audit/1";

    /// <summary>Census and survey keys the LM may name as contradicted.</summary>
    public static readonly IReadOnlyList<string> FixedFields = PersonaRecord.Keys
        .Where(k => k is not ("id" or "census" or "traits") && !PersonaEnricher.FieldKeys.Contains(k)).ToArray();

    public const string SystemPrompt = """
        You audit synthetic person profiles. Fields from age to political views come from the US
        census and survey statistics and are facts. The job description, quirks, mannerisms,
        personal time and lifestyle were written by a language model. Does the written text
        contradict any of the fact fields (a different age, job, employment status, income level,
        education, family situation, military service, religion or politics)? Ignore details the
        facts do not cover. Reply with JSON: {"contradiction": true or false, "fields": [names of
        contradicted fact fields], "reasons": ["<short reason>", ...]}.
        """;

    private static readonly JsonElement Schema = JsonDocument.Parse($$"""
        {
          "type": "object",
          "properties": {
            "contradiction": { "type": "boolean" },
            "fields": { "type": "array", "items": { "type": "string", "enum": [{{string.Join(",", FixedFields.Select(f => "\"" + f + "\""))}}] }, "maxItems": 6 },
            "reasons": { "type": "array", "items": { "type": "string" }, "maxItems": 5 }
          },
          "required": ["contradiction", "fields", "reasons"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    public static IList<ChatMessage> CreateMessages(PersonaRecord p) =>
    [
        new(ChatRole.System, SystemPrompt),
        new(ChatRole.User, "Profile:\n" + PersonaRenderer.Render(p) + "\nDoes the written text contradict any fact field?"),
    ];

    public static ChatOptions CreateOptions(string templateVersion) => new()
    {
        Temperature = 0f,
        MaxOutputTokens = 400,
        ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "drift_verdict", "Whether LM-written text contradicts census fields."),
        AdditionalProperties = new AdditionalPropertiesDictionary { [LlmMetadata.TemplateVersion] = templateVersion },
    };

    /// <summary>Theme name and its compiled word-boundary pattern, in file order.</summary>
    public static IReadOnlyList<(string Theme, Regex Pattern)> LoadLexicons(string? path = null)
    {
        var rows = SmallCsv.Read(path ?? BundledData.Path(LexiconPath), ["theme", "term"]);
        return rows.GroupBy(r => r.Fields[0], StringComparer.Ordinal)
            .Select(g => (g.Key, new Regex(@"\b(" + string.Join("|", g.Select(r => Regex.Escape(r.Fields[1]).Replace(@"\ ", @"\s+"))) + @")\b",
                RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled)))
            .ToArray();
    }

    /// <summary>The census groupings of the panel comparison, as (dimension, group of a persona).</summary>
    public static IReadOnlyList<(string Dimension, Func<PersonaRecord, string> Group)> Dimensions { get; } =
    [
        ("age band", p => p.Age switch { < 18 => "0-17", < 30 => "18-29", < 45 => "30-44", < 65 => "45-64", _ => "65+" }),
        ("sex", p => p.Sex ?? "(none)"),
        ("race", p => p.Race ?? "(none)"),
        ("education", p => EducationBand(p.Education)),
        ("income band", p => p.Income switch { null => "not in universe", <= 0 => "none or loss", < 25_000 => "under $25k", < 75_000 => "$25k-75k", _ => "$75k+" }),
        ("religion", p => p.Religion ?? "(none)"),
    ];

    public static string EducationBand(string? education) => education switch
    {
        null => "not in universe",
        "Regular high school diploma" or "GED or alternative credential" => "high school",
        "Some college, but less than 1 year" or "1 or more years of college credit, no degree" or "Associate's degree" => "some college",
        "Bachelor's degree" or "Master's degree" or "Professional degree beyond a bachelor's degree" or "Doctorate degree" => "bachelor's or higher",
        _ => "less than high school",
    };

    public static async Task<DriftAuditReport> RunAsync(IReadOnlyList<PersonaRecord> personas, IChatClient? chat, DriftAuditOptions? options = null,
        IProgress<(int Done, int Total)>? progress = null, CancellationToken ct = default)
    {
        options ??= new DriftAuditOptions();
        if (options.LmCheck && chat is null) throw new ArgumentException("An LM check needs a chat client.", nameof(chat));
        if (options.Concurrency < 1) throw new PersonaException($"--concurrency must be at least 1 (got {options.Concurrency}).");
        var lexicons = LoadLexicons(options.LexiconPath);
        var enriched = personas.Where(p => ConsistencyRules.AllText(p).Length > 0).ToArray();
        if (enriched.Length == 0)
            throw new PersonaException("None of the personas has LM-written fields (detailed_job_description ... lifestyle); build them with `persona personas build` first.");

        var results = new PersonaDrift[enriched.Length];
        var done = 0;
        progress?.Report((0, enriched.Length));
        var fanOut = new FanOutOptions { Concurrency = options.Concurrency, Abort = options.Abort };
        async ValueTask<PersonaDrift> AuditOne(PersonaRecord p, long _, CancellationToken abort)
        {
            var text = ConsistencyRules.AllText(p);
            var themes = lexicons.Where(l => l.Pattern.IsMatch(text)).Select(l => l.Theme).ToArray();
            bool? contradiction = null;
            IReadOnlyList<string> fields = [], reasons = [];
            string? failure = null;
            if (options.LmCheck)
            {
                try
                {
                    var response = await chat!.GetResponseAsync(CreateMessages(p), CreateOptions(options.TemplateVersion), abort).ConfigureAwait(false);
                    (contradiction, fields, reasons) = ParseVerdict(response.Text);
                    if (contradiction is null) failure = "no readable verdict";
                }
                catch (LlmCallException ex)
                {
                    // Only this persona's check failed; a budget or outage stop is not caught here and ends the audit resumably.
                    failure = ex.Message;
                }
            }
            return new PersonaDrift(p.Id, ConsistencyRules.Check(p), contradiction, fields, reasons, themes) { LmFailure = failure };
        }
        await foreach (var o in FanOut.RunAsync(enriched, AuditOne, fanOut, ct).ConfigureAwait(false))
        {
            results[o.Index] = o.Result!;
            progress?.Report((++done, enriched.Length));
        }

        var byRule = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in results) foreach (var v in r.Rules) byRule[v.Rule] = byRule.GetValueOrDefault(v.Rule) + 1;
        var byField = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in results.Where(r => r.LmContradiction == true)) foreach (var f in r.LmFields.Distinct()) byField[f] = byField.GetValueOrDefault(f) + 1;

        var themesReport = lexicons.Select(l =>
        {
            var mentions = results.Count(r => r.Themes.Contains(l.Theme));
            var groups = new List<ThemeShare>();
            foreach (var (dimension, group) in Dimensions)
                foreach (var g in enriched.Select((p, i) => (Group: group(p), Hit: results[i].Themes.Contains(l.Theme)))
                             .GroupBy(x => x.Group, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
                {
                    var n = g.Count();
                    var m = g.Count(x => x.Hit);
                    groups.Add(new ThemeShare(dimension, g.Key, n, m, Math.Round((double)m / n, 4)));
                }
            return new ThemeReport(l.Theme, mentions, Math.Round((double)mentions / enriched.Length, 4), groups);
        }).ToArray();

        var writtenBy = enriched.Select(p => p.Enrichment?.Model ?? "unknown").Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        return new DriftAuditReport(Format, personas.Count, enriched.Length, writtenBy, enriched.Any(p => p.Enrichment?.Simulated == true),
            options.LmCheck ? options.ModelLabel : null, options.LmCheck ? options.TemplateVersion : null,
            results.Count(r => r.Rules.Count > 0), byRule,
            options.LmCheck ? results.Length : 0, results.Count(r => r.LmContradiction == true),
            options.LmCheck ? results.Count(r => r.LmContradiction is null) : 0, byField, themesReport, results);
    }

    internal static (bool?, IReadOnlyList<string>, IReadOnlyList<string>) ParseVerdict(string? text)
    {
        if (!JsonExtraction.TryExtract(text, out var root, out _) || root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("contradiction", out var c) || c.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            return (null, [], []);
        static string[] Strings(JsonElement root, string key) =>
            root.TryGetProperty(key, out var a) && a.ValueKind == JsonValueKind.Array
                ? a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToArray() : [];
        return (c.ValueKind == JsonValueKind.True, Strings(root, "fields"), Strings(root, "reasons"));
    }

    public static Task WriteAsync(string path, DriftAuditReport report, CancellationToken ct = default) =>
        BuildJson.WriteAsync(path, JsonSerializer.Serialize(report, BuildJson.Options), ct);
}
