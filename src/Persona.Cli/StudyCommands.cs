using System.CommandLine;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
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
        return cmd;
    }

    private static Command CreateStudy(IAnsiConsole console)
    {
        var d = new StudyOptions();
        var pairs = new Option<string>("--pairs") { Description = $"Folder holding {StudyInputs.PairsFile} (pair_id, persona_id, prompt_id, persona, instruction, original, data, ...).", Required = true };
        var personas = new Option<string?>("--personas") { Description = "personas.jsonl whose rendered text is shown to raters (default: the \"persona\" text carried by the pairs)." };
        var output = new Option<string>("--out") { Description = $"Study folder to create ({StudyDatabase.FileName} inside); an existing study is never replaced.", Required = true };
        var count = new Option<int>("--persona-count") { Description = "Personas in the study.", DefaultValueFactory = _ => d.Personas };
        var raters = new Option<int>("--raters") { Description = "Raters per persona (each rater sees one persona).", DefaultValueFactory = _ => d.RatersPerPersona };
        var items = new Option<int>("--items") { Description = "Questions per persona.", DefaultValueFactory = _ => d.ItemsPerPersona };
        var attention = new Option<int>("--attention-checks") { Description = "Attention-check questions added per rater (excluded from the statistics).", DefaultValueFactory = _ => 0 };
        var seed = new Option<long>("--seed") { Description = "Seed of the persona and item draw and of the answer sides.", DefaultValueFactory = _ => d.Seed };
        var splits = new Option<string[]>("--splits") { Description = "Draw only pairs of these splits (e.g. test-seen,test-heldout). Default: all.", AllowMultipleArgumentsPerToken = true };
        var minWhy = new Option<int>("--min-justification") { Description = "Minimum length of a written justification, in characters.", DefaultValueFactory = _ => d.MinJustificationChars };
        var timeout = new Option<int>("--slot-timeout") { Description = "Minutes without activity after which a rater's place is offered to the next rater.", DefaultValueFactory = _ => d.SlotTimeoutMinutes };
        var title = new Option<string>("--title") { Description = "Title shown to raters.", DefaultValueFactory = _ => d.Title };
        var code = new Option<string?>("--completion-code") { Description = "Completion code shown at the end (Prolific: the study's code). Default: a random code." };
        var prolific = new Option<bool>("--prolific") { Description = "Send finished raters to Prolific's completion URL with --completion-code." };
        var cmd = new Command("create",
            "Create a study: draw personas and questions from preference pairs (seeded), give every persona its rater places with the\n" +
            "answer sides counterbalanced across its raters, and store it all in STUDY/study.sqlite. Defaults follow the original:\n" +
            "20 personas x 4 raters x 10 questions, each a question with the generic and the personalised answer.\n\n" +
            "Examples:\n" +
            "  persona study create --pairs pairs/ --out study1\n" +
            "  persona study create --pairs pairs/ --personas personas.jsonl --out pilot --persona-count 5 --raters 2 --items 6 --attention-checks 1\n" +
            "  persona study create --pairs pairs/ --out prolific1 --splits test-heldout --prolific --completion-code C1A2B3");
        foreach (var o in new Option[] { pairs, personas, output, count, raters, items, attention, seed, splits, minWhy, timeout, title, code, prolific })
            cmd.Options.Add(o);
        cmd.SetAction(async (parse, ct) =>
        {
            var options = new StudyOptions
            {
                Personas = parse.GetValue(count), RatersPerPersona = parse.GetValue(raters), ItemsPerPersona = parse.GetValue(items),
                AttentionChecks = parse.GetValue(attention), Seed = parse.GetValue(seed),
                Splits = parse.GetValue(splits)?.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList(),
                MinJustificationChars = parse.GetValue(minWhy), SlotTimeoutMinutes = parse.GetValue(timeout), Title = parse.GetValue(title)!,
                CompletionCode = parse.GetValue(code), ProlificRedirect = parse.GetValue(prolific),
            };
            options.Validate();
            var outDir = parse.GetValue(output)!;
            if (File.Exists(StudyDatabase.PathIn(outDir)))
                throw new PersonaException($"'{StudyDatabase.PathIn(outDir)}' already exists: a study may hold answers and is never replaced. Choose another --out folder.");
            var pairList = StudyInputs.ReadPairs(parse.GetValue(pairs)!);
            var texts = parse.GetValue(personas) is { } pf ? await StudyInputs.ReadPersonaTextsAsync(pf, ct) : null;
            var plan = StudyPlanner.Plan(pairList, texts, options);
            using var db = StudyDatabase.Create(outDir, plan);
            var t = new Table().Border(TableBorder.Rounded).AddColumn("study create").AddColumn("");
            void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));
            Row("pairs read", pairList.Count.ToString("N0", Inv));
            Row("personas", $"{plan.Personas.Count} x {options.RatersPerPersona} raters = {plan.Personas.Count * options.RatersPerPersona} rater places");
            Row("questions", $"{options.ItemsPerPersona} per persona{(options.AttentionChecks > 0 ? $" + {options.AttentionChecks} attention check(s)" : "")}");
            Row("seed", options.Seed.ToString(Inv));
            Row("completion code", db.CompletionCode + (options.ProlificRedirect ? " (Prolific redirect on)" : ""));
            Row("study", Path.GetFullPath(db.Path));
            console.Write(t);
            console.MarkupLineInterpolated($"Next: persona study serve {outDir}");
            return 0;
        });
        return cmd;
    }

    private static Command Serve(IAnsiConsole console)
    {
        var study = new Argument<string>("STUDY") { Description = "Study folder made by `study create`." };
        var urls = new Option<string[]>("--urls") { Description = "Addresses to listen on.", DefaultValueFactory = _ => ["http://127.0.0.1:5080"], AllowMultipleArgumentsPerToken = true };
        var publicUrl = new Option<string?>("--public-url") { Description = "Base URL raters reach (behind a reverse proxy), used in the printed links. Default: the first listening address." };
        var cmd = new Command("serve",
            "Serve the study: the rater entry link (post it on Prolific or mail it) and the researcher dashboard.\n" +
            $"The dashboard token comes from {StudyWebOptions.AdminTokenVariable}, else a fresh one is printed. Ctrl-C stops the server;\n" +
            "every acknowledged answer is already on disk.\n\n" +
            "Examples:\n" +
            "  persona study serve study1\n" +
            "  persona study serve study1 --urls http://0.0.0.0:8080 --public-url https://study.example.org");
        cmd.Arguments.Add(study);
        cmd.Options.Add(urls);
        cmd.Options.Add(publicUrl);
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(study)!;
            var token = Environment.GetEnvironmentVariable(StudyWebOptions.AdminTokenVariable);
            var generated = string.IsNullOrEmpty(token);
            if (generated) token = StudyDatabase.NewToken(24);
            var listen = parse.GetValue(urls)!.SelectMany(u => u.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            await using var app = StudyWebApp.Build(new StudyWebOptions { StudyDirectory = dir, Urls = listen, AdminToken = token! });
            try { await app.StartAsync(ct); }
            catch (IOException ex) { throw new PersonaException($"Cannot listen on {string.Join(", ", listen)}: {ex.Message}"); }
            var db = app.Services.GetService(typeof(StudyDatabase)) as StudyDatabase ?? throw new InvalidOperationException("study database not registered");
            var baseUrl = (parse.GetValue(publicUrl) ?? StudyWebApp.ListeningAddress(app)).TrimEnd('/');
            var entry = baseUrl + StudyWebApp.EntryPath(db);
            console.MarkupLineInterpolated($"[green]Serving[/] {Path.GetFullPath(db.Path)}");
            console.MarkupLineInterpolated($"Rater entry link:  {entry}");
            console.MarkupLineInterpolated($"Prolific study URL: {entry}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}&SESSION_ID={{{{%SESSION_ID%}}}}");
            console.MarkupLineInterpolated($"Dashboard:         {baseUrl}/admin/login?token={token}");
            if (generated) console.MarkupLineInterpolated($"[grey]A new admin token was made for this run; set {StudyWebOptions.AdminTokenVariable} to keep one across restarts.[/]");
            console.MarkupLine("Press Ctrl-C to stop.");
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { }
            await app.StopAsync(CancellationToken.None);
            console.MarkupLine("stopped; every acknowledged answer is in the study database.");
            return 0;
        });
        return cmd;
    }
}
