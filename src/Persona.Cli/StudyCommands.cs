using System.CommandLine;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Persona.Llm;
using Persona.Personas;
using Persona.Store;
using Persona.Study;
using Persona.Web;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona study ...`: the human role-play study (create, serve, judge, analyze).</summary>
internal static class StudyCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var cmd = new Command("study", "The human role-play study: raters role-play a persona and pick the answer it would prefer; agreement with LMs.");
        cmd.Subcommands.Add(CreateStudy(console));
        cmd.Subcommands.Add(Serve(console));
        cmd.Subcommands.Add(Judge(console));
        cmd.Subcommands.Add(Analyze(console));
        return cmd;
    }

    private static Command CreateStudy(IAnsiConsole console)
    {
        var d = new StudyOptions();
        var pairs = new Option<string>("--pairs") { Description = $"Folder holding {StudyInputs.PairsFile} (pair_id, persona_id, prompt_id, persona, instruction, original, data, ...).", Required = true };
        var personas = new Option<string?>("--personas") { Description = "A `personas build` folder (its personas.jsonl) or a personas.jsonl file, whose rendered text is shown to raters (default: the \"persona\" text carried by the pairs)." };
        var output = new Option<string>("--out") { Description = $"Study folder to create ({StudyDatabase.FileName} inside); an existing study is never replaced.", Required = true };
        var count = new Option<int>("--persona-count") { Description = "Personas in the study.", DefaultValueFactory = _ => d.Personas }.AtMost(100_000);
        var raters = new Option<int>("--raters") { Description = "Raters per persona (each rater sees one persona).", DefaultValueFactory = _ => d.RatersPerPersona }.AtMost(10_000);
        var items = new Option<int>("--items") { Description = "Questions per persona.", DefaultValueFactory = _ => d.ItemsPerPersona }.AtMost(10_000);
        var attention = new Option<int>("--attention-checks") { Description = "Attention-check questions added per rater (excluded from the statistics).", DefaultValueFactory = _ => 0 }.AtMost(1_000);
        var seed = new Option<long>("--seed") { Description = "Seed of the persona and item draw and of the answer sides.", DefaultValueFactory = _ => d.Seed };
        var splits = new Option<string[]>("--splits") { Description = "Draw only pairs of these splits (e.g. test-seen,test-heldout). Default: all.", AllowMultipleArgumentsPerToken = true };
        var minWhy = new Option<int>("--min-justification") { Description = "Minimum length of a written justification, in characters.", DefaultValueFactory = _ => d.MinJustificationChars };
        var timeout = new Option<int>("--slot-timeout") { Description = "Minutes without activity after which a rater's place is offered to the next rater.", DefaultValueFactory = _ => d.SlotTimeoutMinutes };
        var title = new Option<string>("--title") { Description = "Title shown to raters.", DefaultValueFactory = _ => d.Title };
        var code = new Option<string?>("--completion-code") { Description = "Completion code shown at the end (Prolific: the study's code). Default: a random code." };
        var prolific = new Option<bool>("--prolific") { Description = "Send finished raters to Prolific's completion URL with --completion-code." };
        var returnCode = new Option<string?>("--return-code") { Description = "Prolific completion code whose action is \"request a return\": raters who do not consent, fail the screening question or an attention check are sent back with it." };
        var cmd = new Command("create",
            "Create a study: draw personas and questions from preference pairs (seeded), give every persona its rater places with the\n" +
            "answer sides counterbalanced across its raters, and store it all in STUDY/study.sqlite. Defaults follow the original:\n" +
            "20 personas x 4 raters x 10 questions, each a question with the generic and the personalised answer.\n\n" +
            "Examples:\n" +
            "  persona study create --pairs pairs/ --out study1\n" +
            "  persona study create --pairs pairs/ --personas personas.jsonl --out pilot --persona-count 5 --raters 2 --items 6 --attention-checks 1\n" +
            "  persona study create --pairs pairs/ --out prolific1 --splits test-heldout --prolific --completion-code C1A2B3 --return-code R9X8Y7");
        foreach (var o in new Option[] { pairs, personas, output, count, raters, items, attention, seed, splits, minWhy, timeout, title, code, prolific, returnCode })
            cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var options = new StudyOptions
            {
                Personas = parse.GetValue(count), RatersPerPersona = parse.GetValue(raters), ItemsPerPersona = parse.GetValue(items),
                AttentionChecks = parse.GetValue(attention), Seed = parse.GetValue(seed),
                Splits = parse.GetValue(splits)?.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList(),
                MinJustificationChars = parse.GetValue(minWhy), SlotTimeoutMinutes = parse.GetValue(timeout), Title = parse.GetValue(title)!,
                CompletionCode = parse.GetValue(code), ProlificRedirect = parse.GetValue(prolific), ReturnCode = parse.GetValue(returnCode),
            };
            options.Validate();
            var outDir = parse.GetValue(output)!;
            var pairsPath = parse.GetValue(pairs)!;
            // A `personas build` folder, as `pairs build --personas` takes it, or the file inside it.
            var personasPath = parse.GetValue(personas) is { } pf && Directory.Exists(pf) ? Path.Combine(pf, PersonaBuilder.PersonasJsonl) : parse.GetValue(personas);
            if (personasPath is not null && !File.Exists(personasPath))
                throw new PersonaException(Directory.Exists(parse.GetValue(personas))
                    ? $"--personas: the folder '{parse.GetValue(personas)}' has no {PersonaBuilder.PersonasJsonl} (give a `personas build` folder or a personas.jsonl file)."
                    : $"--personas: '{personasPath}' does not exist.");
            OutputPaths.EnsureFolderTarget(outDir, "--out");
            OutputPaths.EnsureFolderSparesInputs(outDir, "--out", [StudyDatabase.FileName],
                ("--pairs", Directory.Exists(pairsPath) ? Path.Combine(pairsPath, StudyInputs.PairsFile) : pairsPath), ("--personas", personasPath));
            if (File.Exists(StudyDatabase.PathIn(outDir)))
                throw new PersonaException($"'{StudyDatabase.PathIn(outDir)}' already exists: a study may hold answers and is never replaced. Choose another --out folder.");
            var texts = personasPath is not null ? await StudyInputs.ReadPersonasAsync(personasPath, ct) : null;
            var (plan, pairsRead, failed) = StudyInputs.Plan(pairsPath, texts, options);
            using var db = StudyDatabase.Create(outDir, plan);
            var t = new Table().Border(TableBorder.Rounded).AddColumn("study create").AddColumn("");
            void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
            Row("pairs read", pairsRead.ToString("N0", Inv) + (failed > 0 ? $" ({failed.ToString("N0", Inv)} failed pairs left out)" : ""));
            Row("personas", $"{plan.Personas.Count} x {options.RatersPerPersona} raters = {plan.Personas.Count * options.RatersPerPersona} rater places");
            Row("questions", $"{options.ItemsPerPersona} per persona{(options.AttentionChecks > 0 ? $" + {options.AttentionChecks} attention check(s)" : "")}");
            Row("seed", options.Seed.ToString(Inv));
            Row("completion code", db.CompletionCode + (options.ProlificRedirect ? " (Prolific redirect on)" : ""));
            if (options.ReturnCode is not null) Row("return code", options.ReturnCode);
            Row("study", Path.GetFullPath(db.Path));
            console.Write(t);
            // Absolute and quoted: the line is meant to be pasted into a shell, from any folder, spaces and all.
            console.MarkupLineInterpolated($"Next: persona study serve {ShellQuote(Path.GetFullPath(outDir))}");
            return 0;
        });
        return cmd;
    }

    private static Command Serve(IAnsiConsole console)
    {
        var study = new Argument<string>("STUDY") { Description = "Study folder made by `study create`." };
        var urls = new Option<string[]>("--urls") { Description = "Addresses to listen on.", DefaultValueFactory = _ => ["http://127.0.0.1:5080"], AllowMultipleArgumentsPerToken = true };
        var publicUrl = new Option<string?>("--public-url") { Description = "Base URL raters reach (behind a reverse proxy), used in the printed links. Default: the first listening address." };
        var cert = new Option<string?>("--cert") { Description = "TLS certificate (PEM, chain allowed) for https:// addresses in --urls; with --key. Kestrel's own certificate configuration works too." };
        var key = new Option<string?>("--key") { Description = "Private key (PEM) of --cert." };
        var trusted = new Option<string[]>("--trusted-proxy") { Description = "Reverse proxy whose X-Forwarded-For/-Proto are believed: an address or a CIDR network; repeatable. Default: loopback only. Once given, only the named ones (name 127.0.0.1 to keep a local proxy).", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("serve",
            "Serve the study: the rater entry link (post it on Prolific or mail it) and the researcher dashboard.\n" +
            $"The dashboard token comes from {StudyWebOptions.AdminTokenVariable}, else a fresh one is printed. Ctrl-C stops the server;\n" +
            "every acknowledged answer is already on disk.\n\n" +
            "Examples:\n" +
            "  persona study serve study1\n" +
            "  persona study serve study1 --urls http://0.0.0.0:8080 --public-url https://study.example.org\n" +
            "  persona study serve study1 --urls https://0.0.0.0:8443 --cert fullchain.pem --key privkey.pem\n" +
            "  persona study serve study1 --urls http://10.0.0.2:5080 --trusted-proxy 10.0.0.1 --public-url https://study.example.org");
        cmd.Arguments.Add(study);
        foreach (var o in new Option[] { urls, publicUrl, cert, key, trusted }) cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = Path.GetFullPath(parse.GetValue(study)!); // the current directory, not the binary's
            if (!File.Exists(StudyDatabase.PathIn(dir)))
                throw new PersonaException($"No study at '{dir}': expected {StudyDatabase.FileName} there (create one with `persona study create`).");
            var token = Environment.GetEnvironmentVariable(StudyWebOptions.AdminTokenVariable);
            var generated = string.IsNullOrEmpty(token);
            if (generated) token = StudyDatabase.NewToken(24);
            var listen = parse.GetValue(urls)!.SelectMany(u => u.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            foreach (var u in listen)
                if (!Uri.TryCreate(u, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/")
                    throw new PersonaException($"--urls: '{u}' is not a listening address; expected e.g. http://127.0.0.1:5080 or http://0.0.0.0:8080.");
            if (parse.GetValue(publicUrl) is { } pub && (!Uri.TryCreate(pub, UriKind.Absolute, out var p) || p.Scheme is not ("http" or "https")))
                throw new PersonaException($"--public-url: '{pub}' is not an http(s) URL.");
            var trustedProxies = (parse.GetValue(trusted) ?? []).SelectMany(u => u.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            if (parse.GetValue(cert) is not null && !listen.Any(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
                throw new PersonaException("--cert is for https:// addresses: give one in --urls, e.g. --urls https://0.0.0.0:8443.");
            await using var app = StudyWebApp.Build(new StudyWebOptions
            {
                StudyDirectory = dir, Urls = listen, AdminToken = token!, CertificatePath = parse.GetValue(cert), KeyPath = parse.GetValue(key), TrustedProxies = trustedProxies,
            });
            try { await app.StartAsync(ct); }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or FormatException)
            {
                throw new PersonaException($"Cannot listen on {string.Join(", ", listen)}: {ex.Message}");
            }
            var db = app.Services.GetService(typeof(StudyDatabase)) as StudyDatabase ?? throw new InvalidOperationException("study database not registered");
            var baseUrl = (parse.GetValue(publicUrl) ?? StudyWebApp.ListeningAddress(app)).TrimEnd('/');
            var entry = baseUrl + StudyWebApp.EntryPath(db);
            console.MarkupLineInterpolated($"[green]Serving[/] {db.Path}");
            console.MarkupLineInterpolated($"Forwarded headers believed from: {(trustedProxies.Count == 0 ? "loopback only" : string.Join(", ", trustedProxies))}");
            console.MarkupLineInterpolated($"Rater entry link:  {entry}");
            console.MarkupLineInterpolated($"Prolific study URL: {entry}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}&SESSION_ID={{{{%SESSION_ID%}}}}");
            if (generated)
            {
                console.MarkupLineInterpolated($"Dashboard:         {baseUrl}/admin/login?token={token}");
                console.MarkupLineInterpolated($"[grey]A new admin token was made for this run; set {StudyWebOptions.AdminTokenVariable} to keep one across restarts.[/]");
            }
            else // a token from the environment is a secret the researcher already holds: never echo it
                console.MarkupLineInterpolated($"Dashboard:         {baseUrl}/admin/login?token=<{StudyWebOptions.AdminTokenVariable}>");
            console.MarkupLine("Press Ctrl-C to stop.");
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { }
            await app.StopAsync(CancellationToken.None);
            console.MarkupLine("stopped; every acknowledged answer is in the study database.");
            return 0;
        });
        return cmd;
    }

    /// <summary>A path as one POSIX shell word: bare when it has only safe characters, else in single quotes.</summary>
    internal static string ShellQuote(string path) =>
        path.Length > 0 && path.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '/' or '.' or '_' or '-' or '+' or ':' or '=' or ',')
            ? path
            : "'" + path.Replace("'", "'\\''") + "'";

    private static Command Judge(IAnsiConsole console)
    {
        var runtime = new RuntimeOptions(full: true, runDirDefault: "STUDY/lm/<model> (so re-running the same command resumes)");
        var study = new Argument<string>("STUDY") { Description = "Study folder made by `study create`." };
        var cmd = new Command("judge",
            "Let an LM role-play every persona of the study on the same questions the raters saw, in both answer orders,\n" +
            "and store its choices in the study database (resumable; cached). `study analyze` then compares it with the raters.\n\n" +
            RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n" +
            "  persona study judge study1 --model offline\n" +
            "  persona study judge study1 --model openai:gpt-4o --max-cost 5\n" +
            "  persona study judge study1 --model ollama:llama3.1\n" +
            "  persona study judge study1 --model offline --world my-world.json --label offline-biased");
        var label = new Option<string?>("--label") { Description = "Name the judgments are stored and reported under (default: the --model value); e.g. to compare two prompts or settings of one model." };
        cmd.Arguments.Add(study);
        cmd.Options.Add(label);
        runtime.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(study)!;
            using var db = StudyDatabase.Open(dir);
            var model = parse.GetValue(label) ?? parse.GetValue(runtime.Model)!;
            if (model.Length is 0 or > 100) throw new PersonaException("--label must be 1-100 characters.");
            var options = runtime.Build(parse, Path.Combine(dir, "lm", StudyPlots.FileNameOf(model)));
            await using var rt = LlmRuntime.Open(options);
            await rt.EnsureReachableAsync(ct);
            var judge = new StudyJudge(rt.ChatClient, Persona.Engine.RuntimeFanOut.FanOutOptions(rt, rt.Default, Interrupts.Abort));
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var summary = await StageProgress.RunAsync(console, _ => $"{model} role-plays the personas", p =>
                    judge.RunAsync(db, model, new SyncProgress<(int Done, int Total)>(x => p.Report("judge", x.Done, x.Total)), ct));
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?> { ["items"] = summary.Items, ["requested"] = summary.Requested, ["unparsed"] = summary.Unparsed });
                console.MarkupLineInterpolated($"{model}: {summary.Items} questions x 2 orders; {summary.Requested} judged now, {summary.AlreadyJudged} already stored, {summary.Unparsed} unreadable answers.");
                if (rt.Simulated) console.MarkupLine("[yellow]simulated:[/] the offline simulator judged; its choices say nothing about a real model.");
                return 0;
            });
        });
        return cmd;
    }

    private static Command Analyze(IAnsiConsole console)
    {
        var study = new Argument<string>("STUDY") { Description = "Study folder made by `study create`." };
        var output = new Option<string>("--out") { Description = "Output folder: analysis.json, confusion-<model>.png/.svg, kappa-per-persona-<model>.png/.svg.", Required = true };
        var majority = new Option<int?>("--majority") { Description = "Votes a human label needs (default: 3 of 4, i.e. ceil(3/4 of the raters per persona))." };
        var groupBy = new Option<string[]>("--group-by") { Description = "Persona attributes to report groups by (age is banded).", DefaultValueFactory = _ => ["sex", "age"], AllowMultipleArgumentsPerToken = true };
        var resamples = new Option<int>("--resamples") { Description = "Bootstrap resamples of the intervals.", DefaultValueFactory = _ => 1000 }.Between(100, OptionRules.MaxResamples, "an interval needs at least 100");
        var seed = new Option<ulong>("--seed") { Description = "Bootstrap seed.", DefaultValueFactory = _ => 1 };
        var cmd = new Command("analyze",
            "Agreement of the study: the human label of a question is the majority of its persona's raters (3 of 4 by default);\n" +
            "Cohen's kappa of each judged model against it (both answer orders; flip rate), human-human Fleiss' kappa and\n" +
            "Krippendorff's alpha, model-model kappa, each with an interval, overall, per persona and per group; figures and JSON.\n\n" +
            "Examples:\n" +
            "  persona study analyze study1 --out study1/analysis\n" +
            "  persona study analyze study1 --out a --majority 4 --group-by sex,race,ideology --resamples 2000");
        cmd.Arguments.Add(study);
        foreach (var o in new Option[] { output, majority, groupBy, resamples, seed }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var dir = parse.GetValue(study)!;
            using var db = StudyDatabase.Open(dir);
            var options = new AnalysisOptions
            {
                MajorityVotes = parse.GetValue(majority),
                GroupBy = parse.GetValue(groupBy)!.SelectMany(g => g.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList(),
                Resamples = parse.GetValue(resamples),
                Seed = parse.GetValue(seed),
            };
            if (options.Resamples < 100) throw new PersonaException("--resamples must be at least 100.");
            var outDir = parse.GetValue(output)!;
            OutputPaths.EnsureFolderTarget(outDir, "--out");
            OutputPaths.EnsureFolderSparesInputs(outDir, "--out", ["analysis.json"], ("STUDY", db.Path));
            var result = StudyAnalysis.Analyze(db, options);
            var json = Path.Combine(outDir, "analysis.json");
            AtomicFile.WriteAllText(json, StudyReport.ToJson(result));
            var figures = StudyPlots.Write(result, outDir);
            WriteSummary(console, result);
            console.MarkupLineInterpolated($"wrote {json} and {figures.Count} figure files");
            return 0;
        });
        return cmd;
    }

    private static void WriteSummary(IAnsiConsole console, StudyAnalysisResult r)
    {
        string F(Estimate e) => Markup.Escape(StudyReport.Format(e));
        var t = new Table().Border(TableBorder.Rounded).AddColumn("study analyze").AddColumn("");
        t.AddRow("personas", $"{r.Personas} ({r.CompletePersonas} with all {r.RatersPerPersona} raters complete)");
        t.AddRow("questions", $"{r.Items}; {r.FullyRatedItems} fully rated; {r.LabelledItems} with a {r.MajorityVotes}-of-{r.RatersPerPersona} majority, {r.NoMajorityItems} without");
        t.AddRow("humans choose personalised", F(r.HumansChoosePersonalised));
        t.AddRow("human-human Fleiss' kappa", F(r.Humans.FleissKappa));
        t.AddRow("human-human Krippendorff's alpha", F(r.Humans.KrippendorffAlpha));
        if (r.Attention.Checks > 0) t.AddRow("attention checks", $"{r.Attention.Passed} of {r.Attention.Checks} passed; {r.Attention.SessionsFailingAny} of {r.Attention.Sessions} raters failed one (excluded, place reopened)");
        if (r.Quality is { } q)
        {
            t.AddRow("careless-rater flags", $"{q.Flagged} rater(s): {string.Join(", ", q.FlagCounts.Select(kv => $"{kv.Key} {kv.Value}"))}");
            t.AddRow("closed places", $"{q.NoConsent} declined consent, {q.ScreenedOut} screened out, {q.ReopenedByResearcher} reopened by the researcher");
            t.AddRow("expired places", $"{q.Expired.Sessions} ({q.Expired.NeverConsented} before consenting)" +
                (q.Expired.StoppedAfterAnswers.Count > 0 ? "; stopped after " + string.Join(", ", q.Expired.StoppedAfterAnswers.Select(kv => $"{kv.Key} answers: {kv.Value}")) : ""));
        }
        if (r.WithoutFlagged is { } w)
        {
            t.AddRow("without flagged raters", $"{w.ExcludedSessions?.Count ?? 0} left out; {w.LabelledItems} questions labelled; Fleiss' kappa {F(w.Humans.FleissKappa)}" +
                string.Concat(w.Models.Select(m => $"; {Markup.Escape(m.Model)} kappa {F(m.KappaVsHumans)}")));
        }
        console.Write(t);
        if (r.Models.Count > 0)
        {
            var m = new Table().Border(TableBorder.Rounded).AddColumns("model", "kappa vs humans", "personalised first", "generic first", "flip rate", "accuracy", "units");
            foreach (var x in r.Models)
                m.AddRow(Markup.Escape(x.Model), F(x.KappaVsHumans), F(x.KappaPersonalisedFirst), F(x.KappaGenericFirst), F(x.FlipRate), F(x.AccuracyVsHumans), x.Units.ToString(Inv));
            console.Write(m);
            foreach (var p in r.ModelPairs) console.MarkupLineInterpolated($"model-model kappa {p.A} vs {p.B}: {StudyReport.Format(p.Kappa)}");
            var g = new Table().Border(TableBorder.Rounded).AddColumn("group").AddColumn("personas").AddColumn("Fleiss' kappa");
            foreach (var x in r.Models) g.AddColumn(Markup.Escape(x.Model));
            foreach (var s in r.PerGroup)
                g.AddRow([Markup.Escape(s.Name), s.Personas.ToString(Inv), F(s.Humans.FleissKappa), .. r.Models.Select(x => F(s.KappaVsHumans[x.Model]))]);
            console.Write(g);
        }
        else console.MarkupLine("[grey]no LM judgments yet: run `persona study judge STUDY --model M` to compare models with the raters.[/]");
        if (r.Models.Any(x => x.Model.StartsWith("offline", StringComparison.Ordinal)))
            console.MarkupLine("[yellow]simulated:[/] judgments of the offline simulator are in this analysis.");
    }
}
