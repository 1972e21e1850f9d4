using Persona.Fidelity;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Data.Sqlite;
using Persona.Benchmark;
using Persona.Personas;
using Persona.Preferences;
using Persona.Prompts;

namespace Persona.Report;

/// <summary>One stage file: its value, or why it could not be read; both null when the file is absent (stage not run).</summary>
public sealed record Loaded<T>(T? Value, string? Error) where T : class
{
    public static readonly Loaded<T> Missing = new(null, null);
    public bool Ran => Value is not null || Error is not null;
}

/// <summary>A figure a stage wrote, embedded as is (its bytes are the stage's, so the report adds no rendering of its own to drift).</summary>
public sealed record ReportFigure(string Title, string RelativePath, string MediaType, byte[] Bytes);

/// <summary>A stage folder's own LM manifest (manifest.json), or the run's.</summary>
public sealed record StageManifest(string Stage, string RelativePath, JsonElement Json);

/// <summary>What study.sqlite holds, read without opening it for writing (the study may be live).</summary>
public sealed record StudySummary(int Personas, int RaterPlaces, int PairItems, int AttentionItems, int Sessions, int CompletedSessions, int Answers,
    IReadOnlyList<string> JudgeModels, string? Title, long? Seed);

/// <summary>A file of the run with its SHA-256, so a reader can tell two runs' outputs apart without diffing them.</summary>
public sealed record FileHash(string RelativePath, long Bytes, string Sha256);

/// <summary>Everything the run report shows, read from a run folder (see <see cref="RunReportData.Load"/>).</summary>
public sealed partial record RunReportData(
    string RunName,
    JsonElement? RunManifest,
    IReadOnlyList<StageManifest> StageManifests,
    Loaded<PersonaBuildReport> Build,
    Loaded<FidelityReport> Fidelity,
    IReadOnlyList<ReportFigure> FidelityFigures,
    Loaded<PromptCurationReport> Prompts,
    Loaded<PairReportData> Pairs,
    Loaded<BenchResults> Bench,
    IReadOnlyList<ReportFigure> BenchFigures,
    Loaded<LooResults> Loo,
    IReadOnlyList<ReportFigure> LooFigures,
    Loaded<PassAtKResults> PassK,
    IReadOnlyList<ReportFigure> PassKFigures,
    Loaded<SummaryResults> Summaries,
    IReadOnlyList<ReportFigure> SummaryFigures,
    Loaded<StudySummary> Study,
    IReadOnlyList<FileHash> Hashes)
{
    /// <summary>Why the run's manifest.json could not be read (it is damaged), in words; null when it was read or is absent.</summary>
    public string? ManifestProblem { get; init; }

    /// <summary>Whether the whole run finished (from manifest.json); null when the folder has no whole-run manifest (stages made by the verbs one by one).</summary>
    public Persona.Run.RunCompletion? Completion => RunManifest is { } m && Persona.Run.RunCompletion.IsWholeRun(m) ? Persona.Run.RunCompletion.Of(m) : null;

    /// <summary>The stages of a whole run that did not complete, when its results are not all in (see <see cref="Testbed.RunCompletion.ResultsComplete"/>); empty otherwise.</summary>
    public IReadOnlyList<Persona.Run.StageState> UnfinishedStages =>
        Completion is { ResultsComplete: false } c ? c.Unfinished : [];

    /// <summary>
    /// For a run made with --dataset: its model under test against the dataset run's, on the same bench
    /// samples (paired, per mode), or why that could not be read. Null for other runs.
    /// </summary>
    public Loaded<BenchComparison> DatasetComparison { get; init; } = Loaded<BenchComparison>.Missing;

    /// <summary>The dataset run named by the manifest, read-only; its absence or a store without bench samples is said, not fatal.</summary>
    private static Loaded<BenchComparison> CompareWithDataset(string runDir, JsonElement? manifest)
    {
        if (manifest is not { } m || !m.TryGetProperty("dataset", out var ds) || ds.ValueKind != JsonValueKind.Object
            || !ds.TryGetProperty("run", out var r) || r.ValueKind != JsonValueKind.String || r.GetString() is not { } datasetRun) return Loaded<BenchComparison>.Missing;
        try
        {
            const int resamples = 1000;
            var columns = BenchCompare.Load(datasetRun, BenchTask.DefaultScoreSet, resamples, "dataset run " + Path.GetFileName(Path.TrimEndingDirectorySeparator(datasetRun)))
                .Concat(BenchCompare.Load(runDir, BenchTask.DefaultScoreSet, resamples, "this run")).ToList();
            return new Loaded<BenchComparison>(BenchCompare.Compare(columns, resamples), null);
        }
        catch (Exception ex) when (ex is PersonaException or SqliteException or IOException)
        {
            return new Loaded<BenchComparison>(null, $"the dataset run {Path.GetFileName(Path.TrimEndingDirectorySeparator(datasetRun))} could not be compared: {ex.Message}");
        }
    }

    // Paths relative to the run folder, in the layout `persona run` writes.
    public const string ManifestFile = "manifest.json";
    public const string BuildReportPath = "population/" + PersonaBuilder.ReportFile;
    public const string FidelityDir = "population/fidelity";
    public const string FidelityPath = FidelityDir + "/fidelity.json";
    public const string PromptsReportPath = "prompts/" + PromptCurationWriter.ReportFile;
    public const string PairsReportPath = "pairs/pairs-report.json";
    public const string BenchResultsPath = "bench/results.json";
    public const string LooPath = "bench/loo/loo.json";
    public const string PassKPath = "bench/passk/passk.json";
    public const string SummariesPath = "bench/summaries/summaries.json";
    public const string StudyPath = "study/" + global::Persona.Study.StudyDatabase.FileName;

    /// <summary>Files whose presence makes a folder a run (one finished stage is enough: a partial run still gets its report).</summary>
    public static readonly IReadOnlyList<string> StageMarkers =
        [BuildReportPath, FidelityPath, PromptsReportPath, PairsReportPath, BenchResultsPath, LooPath, PassKPath, SummariesPath, StudyPath];

    /// <summary>Stage folders whose LM manifests are shown, in pipeline order.</summary>
    public static readonly IReadOnlyList<(string Stage, string Folder)> ManifestFolders =
        [("population", "population"), ("prompts", "prompts"), ("pairs", "pairs"), ("bench", "bench"), ("bench loo", "bench/loo"), ("bench passk", "bench/passk")];

    /// <summary>
    /// The outputs hashed in the reproducibility section (inputs of later stages included; report.html
    /// itself is not, nor the study database, which holds fresh secret entry keys and later the raters' answers).
    /// </summary>
    public static readonly IReadOnlyList<string> HashedFiles =
    [
        "population/personas.jsonl", "population/split.json", "population/rejections.jsonl", BuildReportPath, FidelityPath,
        "prompts/prompts.jsonl", "prompts/rejected.jsonl", PromptsReportPath,
        "pairs/pairs.jsonl", PairsReportPath, "pairs/shard.json",
        "bench/samples.jsonl", BenchResultsPath, "bench/loo/samples.jsonl", LooPath, "bench/passk/samples.jsonl", PassKPath,
        "bench/summaries/samples.jsonl", SummariesPath, "study/study-plan.json",
    ];

    // Missing or null required fields fail the read (and become the stage's error) instead of a
    // null the renderer would trip over: a file of another format version is named, never a crash.
    public static readonly JsonSerializerOptions Json = new()
    {
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        PropertyNameCaseInsensitive = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>True when the folder holds at least one stage's output or a run manifest with stages.</summary>
    public static bool IsRun(string runDir) =>
        StageMarkers.Any(m => File.Exists(Path.Combine(runDir, m))) || ReadManifest(Path.Combine(runDir, ManifestFile)).Json is { } m2 && m2.TryGetProperty("stages", out _);

    /// <summary>Reads a run folder. A stage that is absent is "not run"; a file that cannot be read becomes its stage's error, never an exception.</summary>
    public static RunReportData Load(string runDir, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runDir);
        var full = Path.GetFullPath(runDir);
        if (File.Exists(full))
            throw new PersonaException($"'{runDir}' is a file: give the run folder (the one holding population/, prompts/, ... and manifest.json).");
        if (!Directory.Exists(full))
            throw new PersonaException($"'{runDir}' does not exist: give the folder a `persona run` wrote.");
        if (!IsRun(full))
        {
            // A damaged manifest is named as such, as `persona verify` names it, not as "not a run".
            if (ReadManifest(Path.Combine(full, ManifestFile)).Problem is { } damaged)
                throw new PersonaException($"{Path.Combine(runDir, ManifestFile)}{damaged[ManifestFile.Length..]}, and the folder holds no stage output to report on.");
            throw new PersonaException($"'{runDir}' is not a run folder: expected manifest.json with stages or a stage output " +
                                       "(population/, prompts/, pairs/, bench/, study/) as `persona run` writes them.");
        }
        string P(string relative) => Path.Combine(full, relative);

        var (runManifest, manifestProblem) = ReadManifest(P(ManifestFile));
        var manifests = new List<StageManifest>();
        foreach (var (stage, folder) in ManifestFolders)
            if (ReadManifest(P(folder + "/" + ManifestFile)).Json is { } m) manifests.Add(new StageManifest(stage, folder + "/" + ManifestFile, m));
        ct.ThrowIfCancellationRequested();

        var fidelity = Read<FidelityReport>(full, FidelityPath);
        var fidelityFigures = new List<ReportFigure>();
        if (fidelity.Value is { } f)
            foreach (var a in f.Attributes)
                if (Figure(full, $"{FidelityDir}/{FidelityPlots.FileName(a.Attribute)}", a.Attribute.Replace('_', ' ')) is { } fig) fidelityFigures.Add(fig);
        ct.ThrowIfCancellationRequested();

        var hashes = new List<FileHash>();
        foreach (var rel in HashedFiles)
        {
            ct.ThrowIfCancellationRequested();
            var path = P(rel);
            if (!File.Exists(path)) continue;
            try
            {
                using var s = File.OpenRead(path);
                hashes.Add(new FileHash(rel, s.Length, Convert.ToHexStringLower(SHA256.HashData(s))));
            }
            catch (IOException) { } // a file that vanished or is locked is left out of the list, not fatal
        }

        return new RunReportData(
            Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar)),
            runManifest, manifests,
            Read<PersonaBuildReport>(full, BuildReportPath),
            fidelity, fidelityFigures,
            Read<PromptCurationReport>(full, PromptsReportPath),
            Read<PairReportData>(full, PairsReportPath),
            Read<BenchResults>(full, BenchResultsPath),
            Figures(full, ("bench/figures/accuracy-by-mode", "Accuracy by mode"), ("bench/figures/accuracy-by-group", "Accuracy per group")),
            Read<LooResults>(full, LooPath),
            Figures(full, ("bench/loo/figures/loo-influence", "Leave-one-attribute-out influence")),
            Read<PassAtKResults>(full, PassKPath),
            Figures(full, ("bench/passk/figures/pass-at-k", "pass@k")),
            Read<SummaryResults>(full, SummariesPath),
            Figures(full, ("bench/summaries/figures/summaries-dropped", "Attributes dropped by demographic summaries")),
            ReadStudy(full),
            hashes)
        {
            ManifestProblem = manifestProblem is null ? null : manifestProblem + Consequence,
            DatasetComparison = CompareWithDataset(full, runManifest),
            SurveyFidelity = LoadSurvey(full),
            Rm = ReadRm(full), RmFigures = ReadRmFigures(full), BestOfN = ReadBestOfN(full),
        };
    }

    private const string Consequence = ": the report leaves out the run's stages, costs and recorded hashes, and `persona verify` cannot check the run";

    /// <summary>Stages whose outputs say the offline simulator (or any simulated role) produced them.</summary>
    public IReadOnlyList<string> SimulatedStages()
    {
        var list = new List<string>();
        if (RunManifest is { } rm && Bool(rm, "simulated")) list.Add("run");
        foreach (var m in StageManifests)
            if (Bool(m.Json, "simulated") || (m.Json.TryGetProperty("roles", out var roles) && roles.ValueKind == JsonValueKind.Object &&
                                              roles.EnumerateObject().Any(r => Bool(r.Value, "simulated"))))
                list.Add(m.Stage);
        if (Build.Value?.Simulated == true) list.Add("population");
        if (SurveyFidelity.Value?.Simulated == true) list.Add("survey");
        if (Pairs.Value?.Simulated == true) list.Add("pairs");
        if (Bench.Value?.Simulated == true) list.Add("bench");
        if (Loo.Value?.Simulated == true) list.Add("bench loo");
        if (PassK.Value?.Simulated == true) list.Add("bench passk");
        if (Summaries.Value?.Simulated == true) list.Add("bench summaries");
        return list.Distinct(StringComparer.Ordinal).ToList();
    }

    internal static bool Bool(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    /// <summary>
    /// A manifest, or why it could not be read (named by its file name only: the page never shows the
    /// machine's paths). A manifest is provenance, not a result: a damaged one loses the costs table and
    /// the stage statuses, and is said so, in the words `persona verify` uses.
    /// </summary>
    private static (JsonElement? Json, string? Problem) ReadManifest(string path)
    {
        if (!File.Exists(path)) return (null, null);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, $"{ManifestFile} could not be read ({ex.Message.TrimEnd('.')})");
        }
        if (Run.RunFingerprint.Damage(bytes, ManifestFile) is { } damage) return (null, damage);
        using var doc = JsonDocument.Parse(bytes);
        return (doc.RootElement.Clone(), null);
    }

    private static Loaded<T> Read<T>(string runDir, string relative) where T : class
    {
        var path = Path.Combine(runDir, relative);
        if (!File.Exists(path)) return Loaded<T>.Missing;
        try
        {
            var bytes = File.ReadAllBytes(path);
            // Parsed first, so a cut-off or garbled file is told apart from valid JSON of another shape.
            try { using var _ = JsonDocument.Parse(bytes); }
            catch (JsonException ex) { return new Loaded<T>(null, $"{relative} line {(ex.LineNumber ?? 0) + 1}: not valid JSON ({Syntax(ex, bytes)}){Left}"); }
            var value = JsonSerializer.Deserialize<T>(bytes, Json);
            return value is null ? new Loaded<T>(null, $"{relative} is empty (null){Left}") : new Loaded<T>(value, null);
        }
        catch (JsonException ex)
        {
            return new Loaded<T>(null, $"{relative}{Shape(ex)}{Left}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return new Loaded<T>(null, $"{relative} could not be read ({ex.Message.TrimEnd('.')}){Left}");
        }
    }

    private const string Left = "; its section of the report is left out (rerun the stage that writes it).";

    /// <summary>A parser error in words: a file that ends early is the common case (a copy or a write cut off).</summary>
    private static string Syntax(JsonException ex, byte[] bytes)
    {
        var text = JsonErrorText.Of(ex);
        return EndsEarly(ex, bytes) || text.Contains("end of data", StringComparison.Ordinal) || text.Contains("Expected depth to be zero", StringComparison.Ordinal)
            ? "the file ends before its JSON does: cut off?"
            : text;
    }

    /// <summary>Whether the parser stopped at the last byte of content: whatever it says ("'2' is an invalid end of a number"), the file was cut there.</summary>
    private static bool EndsEarly(JsonException ex, byte[] bytes)
    {
        var end = bytes.Length;
        while (end > 0 && bytes[end - 1] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') end--;
        long lines = 0, lastStart = 0;
        for (var i = 0; i < end; i++)
            if (bytes[i] == (byte)'\n') { lines++; lastStart = i + 1; }
        return ex.LineNumber == lines && ex.BytePositionInLine >= end - lastStart - 1;
    }

    /// <summary>
    /// Valid JSON of the wrong shape, in words: the deserializer's message names our .NET types
    /// ("could not be converted to Persona.Benchmark.BenchResults"), which mean nothing to a user; the
    /// JSON path and the missing field names do.
    /// </summary>
    private static string Shape(JsonException ex)
    {
        if (MissingFields().Match(JsonErrorText.StripCoordinates(ex.Message)) is { Success: true } m)
            return $" is not the file this version writes: it lacks {m.Groups[1].Value.TrimEnd('.')}";
        var where = ex.Path is { Length: > 1 } p && p != "$" ? $" at {p}" : " at its top level";
        return $" is not the file this version writes: a value{where} is not of the type expected there";
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"missing required properties including: (.+)$", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex MissingFields();

    private static IReadOnlyList<ReportFigure> Figures(string runDir, params (string Stem, string Title)[] figures) =>
        figures.Select(f => Figure(runDir, f.Stem, f.Title)).OfType<ReportFigure>().ToList();

    /// <summary>The SVG of a figure when the stage wrote one (smaller, sharp at any zoom), else its PNG, else null.</summary>
    private static ReportFigure? Figure(string runDir, string stem, string title)
    {
        foreach (var (ext, media) in new[] { (".svg", "image/svg+xml"), (".png", "image/png") })
        {
            var path = Path.Combine(runDir, stem + ext);
            if (!File.Exists(path)) continue;
            try { return new ReportFigure(title, stem + ext, media, File.ReadAllBytes(path)); }
            catch (IOException) { }
        }
        return null;
    }

    private static Loaded<StudySummary> ReadStudy(string runDir)
    {
        var path = Path.Combine(runDir, StudyPath);
        if (!File.Exists(path)) return Loaded<StudySummary>.Missing;
        try
        {
            // Unpooled and query-only: the report must never change a study that may be collecting answers.
            // Opened read-write where it can be: a read-only connection that is the study's last one
            // leaves a -wal and -shm behind; a query-only one closes them like any reader.
            SqliteConnection c;
            try
            {
                c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
                c.Open();
                using var q = c.CreateCommand();
                q.CommandText = "PRAGMA query_only = 1";
                q.ExecuteNonQuery();
            }
            catch (SqliteException)
            {
                c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
                c.Open();
            }
            using var _ = c;
            long Scalar(string sql)
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = sql;
                return Convert.ToInt64(cmd.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
            }
            var judges = new List<string>();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT DISTINCT model FROM judgments ORDER BY model";
                using var r = cmd.ExecuteReader();
                while (r.Read()) judges.Add(r.GetString(0));
            }
            string? title = null;
            long? seed = null;
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT value FROM meta WHERE key = 'options'";
                if (cmd.ExecuteScalar() is string options)
                {
                    using var doc = JsonDocument.Parse(options);
                    if (doc.RootElement.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String) title = t.GetString();
                    if (doc.RootElement.TryGetProperty("seed", out var s) && s.ValueKind == JsonValueKind.Number) seed = s.GetInt64();
                }
            }
            return new Loaded<StudySummary>(new StudySummary(
                (int)Scalar("SELECT COUNT(*) FROM personas"), (int)Scalar("SELECT COUNT(*) FROM slots"),
                (int)Scalar("SELECT COUNT(*) FROM items WHERE kind = 'pair'"), (int)Scalar("SELECT COUNT(*) FROM items WHERE kind = 'attention'"),
                (int)Scalar("SELECT COUNT(*) FROM sessions"), (int)Scalar("SELECT COUNT(*) FROM sessions WHERE state = 'completed'"),
                (int)Scalar("SELECT COUNT(*) FROM answers"), judges, title, seed), null);
        }
        catch (Exception ex) when (ex is SqliteException or JsonException or InvalidCastException or FormatException)
        {
            return new Loaded<StudySummary>(null, $"{StudyPath} could not be read: {ex.Message}");
        }
    }
}
