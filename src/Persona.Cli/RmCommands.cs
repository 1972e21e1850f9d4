using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Persona.Embeddings;
using Persona.Llm;
using Persona.Personas;
using Persona.Preferences;
using Persona.Prompts;
using Persona.Rewards;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>`persona rm`: the reward-model track (train and evaluate on a pairs folder; score pairs with a saved model).</summary>
internal static class RmCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(IAnsiConsole console)
    {
        var cmd = new Command("rm", "Reward models trained on the pairs (global, per-persona, persona-conditioned, PAL-style mixture), evaluated on seen and held-out personas per group.");
        cmd.Subcommands.Add(Train(console));
        cmd.Subcommands.Add(Score(console));
        return cmd;
    }

    private static Command Train(IAnsiConsole console)
    {
        var pairs = new Option<string>("--pairs") { Description = "A `pairs build` output folder (a run's pairs/) or its pairs.jsonl.", Required = true };
        var personas = new Option<string?>("--personas") { Description = "The population the pairs were built for (census weights, attributes). Default: the population/ beside the pairs folder, else the personas in the pairs (weight 1)." };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder: rm-results.json, models/NAME/model.json, features-cache/.", Required = true };
        var features = new Option<string>("--features") { Description = "lexical: hashed word 1-2-grams with TF-IDF weights (fast); embedding: the bundled sentence-embedding model (batched, about 70 texts/s on 2 cores).", DefaultValueFactory = _ => FeaturiserSpec.Lexical };
        var seed = new Option<long>("--seed") { Description = "Seed of the persona split and the models.", DefaultValueFactory = _ => 1 };
        var unseen = new Option<double>("--unseen-share") { Description = "Share of personas held out entirely (unseen).", DefaultValueFactory = _ => 0.2 };
        var evalShare = new Option<double>("--eval-share") { Description = "Share of each unseen persona's pairs kept for evaluation (the rest is its adaptation pool).", DefaultValueFactory = _ => 0.3 };
        var resamples = new Option<int>("--resamples") { Description = "Bootstrap resamples of the intervals.", DefaultValueFactory = _ => 1000 }.Between(100, 1_000_000);
        var dim = new Option<int>("--dim") { Description = "Hashed feature dimensions (a power of two); the conditioned and mixture models hold several vectors of this size.", DefaultValueFactory = _ => 1 << 14 };
        var rank = new Option<int>("--rank") { Description = "Rank of the persona-conditioned model.", DefaultValueFactory = _ => 4 };
        var prototypes = new Option<int>("--prototypes") { Description = "Prototypes (K) of the PAL-style mixture.", DefaultValueFactory = _ => 4 };
        var norm = new Option<string>("--norm") { Description = "l2: each text's TF-IDF vector scaled to unit length; none: weights per occurrence.", DefaultValueFactory = _ => "l2" };
        var minDf = new Option<int>("--min-df") { Description = "Drop n-grams found in fewer training texts than this.", DefaultValueFactory = _ => 1 }.Between(1, 1_000_000);
        var which = new Option<string>("--models") { Description = "Comma-separated models to train (global always): " + string.Join(", ", RmOptions.AllModels) + ".", DefaultValueFactory = _ => string.Join(",", RmOptions.AllModels) };
        var lambda = new Option<double>("--lambda") { Description = "L2 strength on the shared weights.", DefaultValueFactory = _ => new RmTrainOptions().Lambda };
        var shrink = new Option<double>("--shrink") { Description = "Pull of a persona's own weights (and a new person's mixture) back to the shared ones.", DefaultValueFactory = _ => new RmTrainOptions().Shrink };
        var iterations = new Option<int>("--max-iterations") { Description = "L-BFGS iterations per fit.", DefaultValueFactory = _ => 150 };
        var runtime = RuntimeOptions.ForRole("OUT (the judge's answers are cached there)", Persona.Run.TestbedRoles.Judge);
        var judgePairs = new Option<int>("--judge-pairs-per-persona") { Description = "With --judge-model: at most this many of each persona's test pairs (a seen persona's) or evaluation pairs (an unseen one's) are judged, 2 calls a pair (one per order).", DefaultValueFactory = _ => RmJudge.DefaultPairsPerPersona }.Between(1, 1_000_000);
        var cmd = new Command("train",
            "Train and evaluate the reward models on a pairs folder: a seeded share of personas is held out (unseen); the models learn from seen personas'\n" +
            "train pairs and are scored on their test pairs, per group, and on unseen personas after k = 0, 1, 2, 5, 10, 20, 50, 100 of their pairs.\n\n" +
            "With --judge-model, the judge role is also scored as a generative reward model (the role-play choice in both orders on up to\n" +
            "--judge-pairs-per-persona test pairs of each persona; a pair whose two orders disagree counts half), a reference row `judge` beside the trained models.\n\n" +
            RuntimeOptions.ExitCodes + "\n\n" +
            "Examples:\n  persona rm train --pairs out/pairs --out rm\n  persona rm train --pairs out/pairs --personas out/population --features embedding --out rm-emb\n" +
            "  persona rm train --pairs out/pairs --out rm --judge-model offline --judge-pairs-per-persona 2")
        {
            pairs, personas, output, features, seed, unseen, evalShare, resamples, dim, rank, prototypes, iterations, lambda, shrink, norm, minDf, which, judgePairs,
        };
        runtime.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            var pairsFile = PairRewardRows.FileOf(parse.GetValue(pairs)!);
            var outDir = parse.GetValue(output)!.FullName;
            OutputPaths.EnsureFolderTarget(outDir, "--out");
            OutputPaths.EnsureOutsideInputs(outDir, "--out", ("--pairs", Path.GetDirectoryName(Path.GetFullPath(pairsFile))));
            var (rows, simulated) = PairRewardRows.Load(pairsFile);
            if (rows.Count == 0) throw new PersonaException($"{pairsFile} holds no completed pairs; nothing to train on.");
            var population = await LoadPersonasAsync(parse.GetValue(personas), pairsFile, rows, ct);
            var kind = parse.GetValue(features)!;
            var normName = parse.GetValue(norm)!;
            if (normName is not ("l2" or "none")) throw new PersonaException($"--norm '{normName}': expected l2 or none.");
            using var embedder = kind == FeaturiserSpec.Embedding ? new MiniLmEmbedder() : null;
            var s = parse.GetValue(seed);
            var o = new RmOptions
            {
                Holdout = new HoldoutOptions { UnseenShare = parse.GetValue(unseen), EvalShare = parse.GetValue(evalShare), Seed = s },
                Train = new RmTrainOptions { Seed = s, Rank = parse.GetValue(rank), Prototypes = parse.GetValue(prototypes), MaxIterations = parse.GetValue(iterations), Lambda = parse.GetValue(lambda), Shrink = parse.GetValue(shrink) },
                Models = [GlobalBt.ModelName, .. parse.GetValue(which)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(m => m != GlobalBt.ModelName)],
                Features = kind, L2 = normName == "l2", MinDf = parse.GetValue(minDf), Dimensions = parse.GetValue(dim), Resamples = parse.GetValue(resamples),
            };
            void Step(string step) => console.MarkupLineInterpolated($"[grey]rm: {step}[/]");
            // The judge is optional: the other models are CPU-only and need no runtime.
            if (runtime.RoleModel(parse, Persona.Run.TestbedRoles.Judge) is null)
            {
                var r = await RmTrack.RunAsync(population, rows, simulated, outDir, o, embedder, Step, ct);
                Render(console, r, outDir);
                return 0;
            }
            var options = runtime.Build(parse, outDir);
            if (parse.GetResult(runtime.Model) is not { Implicit: false })
                options = options with { Model = options.Roles[Persona.Run.TestbedRoles.Judge].Model ?? options.Model, BaseUrls = options.Roles[Persona.Run.TestbedRoles.Judge].BaseUrls ?? options.BaseUrls };
            await using var rt = LlmRuntime.Open(options);
            await rt.EnsureReachableAsync(ct);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                long shown = -1;
                var judge = new RmJudge(rt, Persona.Run.TestbedRoles.Judge, parse.GetValue(judgePairs), (step, done, total) =>
                {
                    if (done == total && done != shown) { shown = done; Step($"{step}: {done}/{total} calls"); }
                }, Interrupts.Abort);
                var r = await RmTrack.RunAsync(population, rows, simulated || rt.Role(Persona.Run.TestbedRoles.Judge).Identity.Simulated, outDir, o, embedder, Step, ct, judge);
                await rt.WriteManifestAsync("completed", new Dictionary<string, object?> { ["judge_pairs"] = r.Models.FirstOrDefault(m => m.Judge is not null)?.Judge?.Pairs });
                Render(console, r, outDir);
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>The population: --personas, else population/ beside the pairs folder, else the personas in the pairs themselves.</summary>
    internal static async Task<IReadOnlyList<RmPersonaInfo>> LoadPersonasAsync(string? path, string pairsFile, IReadOnlyList<RmPair> rows, CancellationToken ct)
    {
        var sibling = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(pairsFile)))!, "population");
        var from = path ?? (File.Exists(Path.Combine(sibling, PersonaBuilder.PersonasJsonl)) ? sibling : null);
        if (from is null)
            // Foreign format: with no population at hand, the pairs.jsonl's `persona` column (the release's text) is all there is.
            return [.. rows.GroupBy(r => r.PersonaId, StringComparer.Ordinal).Select(g => new RmPersonaInfo(g.Key, PersonaInputs.ParseText(g.First().PersonaText, $"{pairsFile}, pair {g.First().PairId}"), 1, g.First().PersonaText))];
        var loaded = await PersonaInputs.LoadAsync(from, ct);
        return [.. loaded.Select(p => new RmPersonaInfo(p.Id, p.Attributes, p.Weight, p.Text))];
    }

    private static void Render(IAnsiConsole console, RmResults r, string outDir)
    {
        string Acc(double a, RmInterval i) => double.IsNaN(a) ? "-" : string.Create(Inv, $"{a:P1} [{i.Lower:P1}, {i.Upper:P1}]");
        var t = new Table().Border(TableBorder.Rounded).AddColumn("model").AddColumn("seen personas").AddColumn("unseen, k = 0").AddColumn("unseen, largest k").AddColumn("worst group").AddColumn("train s");
        foreach (var m in r.Models)
        {
            var k0 = m.UnseenCurve.FirstOrDefault();
            var kn = m.UnseenCurve.LastOrDefault();
            t.AddRow(Markup.Escape(m.Name), Markup.Escape(Acc(m.Seen.Accuracy, m.Seen.Interval)), k0 is null ? "-" : Markup.Escape(Acc(k0.Accuracy, k0.Interval)),
                kn is null ? "-" : Markup.Escape($"k={kn.K}: " + Acc(kn.Accuracy, kn.Interval)),
                m.WorstGroup is { } w ? Markup.Escape($"{w.Attribute}={w.Group} " + Acc(w.Accuracy, w.Interval)) : "-", r.TrainSeconds.GetValueOrDefault(m.Name).ToString("0.0", Inv));
        }
        console.Write(t);
        var tax = r.MajorityTax.Where(x => x.Tax > 0).OrderByDescending(x => x.Tax).Take(5).ToList();
        if (tax.Count > 0)
            console.MarkupLineInterpolated($"majority tax (the global model's loss against the best personalised one), largest: {string.Join("; ", tax.Select(x => string.Create(Inv, $"{x.Attribute}={x.Group} {x.Tax:+0.0%;-0.0%} ({x.Model})")))}");
        foreach (var j in r.Models.Where(m => m.Judge is not null).Select(m => m.Judge!))
            console.MarkupLineInterpolated($"judge {j.Model}: {j.Pairs} pairs judged in both orders, {j.Inconsistent} order-inconsistent (counted half), {j.Failed} left out (an order failed)");
        console.MarkupLineInterpolated($"{r.SeenPersonas} seen / {r.UnseenPersonas} unseen personas; {r.TrainPairs} train pairs; texts featurised {r.TextsFeaturised} (cache hits {r.CacheHits}); results: {Path.Combine(outDir, RmTrack.ResultsFile)}");
        // One machine-readable line for perf/rm/run.sh (timings are not results and stay out of rm-results.json).
        console.WriteLine("timings: " + JsonSerializer.Serialize(new { texts_featurised = r.TextsFeaturised, cache_hits = r.CacheHits, featurise_s = r.FeaturiseSeconds, train_s = r.TrainSeconds }));
        if (r.Simulated) console.MarkupLine("[yellow]simulated:[/] the pairs were made by the offline simulator (a planted world); nothing here is a finding.");
    }

    private static Command Score(IAnsiConsole console)
    {
        var model = new Option<string>("--model") { Description = "A saved model folder (OUT/models/NAME of `rm train`).", Required = true };
        var pairs = new Option<string>("--pairs") { Description = "Pairs to score: a `pairs build` folder or a pairs.jsonl.", Required = true };
        var output = new Option<FileInfo?>("--out") { Description = "Write one JSON line per pair here (pair_id, persona_id, p_personalised, label, correct)." };
        var personas = new Option<string?>("--personas") { Description = "The population the pairs were built for (their attributes). Default: the population/ beside the pairs folder, else the personas in the pairs." };
        var cmd = new Command("score", "Score pairs with a saved reward model: the probability each persona prefers the personalised answer, and the accuracy where the judge's verdict is known.\n\n" +
                                       "Example:\n  persona rm score --model rm/models/per_persona --pairs other-run/pairs --out scores.jsonl")
        {
            model, pairs, output, personas,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var m = RmTrack.Load(parse.GetValue(model)!);
            var pairsFile = PairRewardRows.FileOf(parse.GetValue(pairs)!);
            var outFile = parse.GetValue(output)?.FullName;
            if (outFile is not null)
            {
                OutputPaths.EnsureFileTarget(outFile, "--out", "scores.jsonl");
                OutputPaths.EnsureNotAnInput(outFile, "--out", ("--pairs", pairsFile), ("--model", Path.GetFullPath(parse.GetValue(model)!)));
            }
            var (rows, _) = PairRewardRows.Load(pairsFile);
            if (rows.Count == 0) throw new PersonaException($"{pairsFile} holds no completed pairs; nothing to score.");
            using var embedder = m.Featuriser.Kind == FeaturiserSpec.Embedding ? new MiniLmEmbedder() : null;
            var population = await LoadPersonasAsync(parse.GetValue(personas), pairsFile, rows, ct);
            var scored = await RmTrack.ScoreAsync(m, rows, population, embedder, ct);
            if (outFile is not null)
                AtomicFile.WriteAllText(outFile, string.Concat(scored.Select(x => JsonSerializer.Serialize(new
                {
                    pair_id = x.PairId, persona_id = x.PersonaId, margin = Math.Round(x.Margin, 6), p_personalised = Math.Round(x.PA, 6),
                    label = x.Label == 0 ? null : x.Label > 0 ? "personalised" : "generic", correct = x.Correct, known_persona = x.KnownPersona,
                }) + "\n")));
            var labelled = scored.Where(x => x.Correct is not null).ToList();
            var acc = labelled.Count == 0 ? "-" : ((double)labelled.Count(x => x.Correct == true) / labelled.Count).ToString("P1", Inv);
            console.MarkupLineInterpolated($"{m.Name}: scored {scored.Count} pairs ({scored.Count(x => !x.KnownPersona)} of personas the model never saw); accuracy on the {labelled.Count} with a verdict: {acc}{(outFile is null ? "" : "; written to " + outFile)}");
            return 0;
        });
        return cmd;
    }
}
