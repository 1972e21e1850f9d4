using System.Text.Json;
using Persona.Benchmark;
using Persona.Llm;
using Persona.Personas;
using Persona.Engine;
using Persona.Prompts;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Benchmark.BenchKit;
using static Persona.Core.Tests.Llm.LlmTestKit;

using Persona.Simulation;

namespace Persona.Core.Tests.Benchmark;

public sealed class BenchVariantsTests
{
    private static double Binomial(int n, int k)
    {
        if (k < 0 || k > n) return 0;
        double r = 1;
        for (var i = 1; i <= k; i++) r = r * (n - k + i) / i;
        return r;
    }

    [Fact]
    public void The_pass_at_k_estimator_is_the_unbiased_one()
    {
        Assert.Equal(0.5, PassAtK.Estimate(2, 1, 1), 12);
        Assert.Equal(0, PassAtK.Estimate(16, 0, 16));
        Assert.Equal(1, PassAtK.Estimate(16, 1, 16)); // one pass among 16 draws: some 16 of 16 contain it
        Assert.Equal(1, PassAtK.Estimate(10, 8, 3)); // n - c < k
        // Against the definition 1 - C(n-c, k) / C(n, k), and against brute force over every k-subset for a small case.
        for (var n = 1; n <= 20; n++)
            for (var c = 0; c <= n; c++)
                for (var k = 1; k <= n; k++)
                    Assert.Equal(1 - Binomial(n - c, k) / Binomial(n, k), PassAtK.Estimate(n, c, k), 9);
        bool[] draws = [true, false, false, true, false];
        int subsets = 0, hit = 0;
        for (var mask = 0; mask < 32; mask++)
        {
            if (System.Numerics.BitOperations.PopCount((uint)mask) != 2) continue;
            subsets++;
            if (Enumerable.Range(0, 5).Any(i => (mask >> i & 1) == 1 && draws[i])) hit++;
        }
        Assert.Equal((double)hit / subsets, PassAtK.Estimate(5, 2, 2), 12);
        Assert.Throws<ArgumentException>(() => PassAtK.Estimate(3, 1, 4));
    }

    [Fact]
    public async Task Pass_at_k_recovers_the_planted_pass_probabilities_with_independent_fresh_samples()
    {
        var dir = TempDir();
        var personas = await BenchKit.Personas(dir, 72);
        var questions = BenchKit.Questions(dir, 6);
        var pairs = BenchTask.Pair(personas, questions, new BenchSampling { Pairing = "zip", PerPersona = 1, Seed = 2 });
        var prompts = BenchPrompts.Load();
        await using var rt = LlmRuntime.Open(Offline(dir));
        var modes = new[] { BenchModes.Baseline, BenchModes.OutputOnly };
        var samples = await RunAsync(BenchTask.Create(BenchTask.Items(pairs, modes, samplesPerItem: 16), prompts, [BenchTask.Critic(prompts)], temperature: 1, name: BenchTask.PassAtKTaskName), rt);
        Assert.Equal(72 * 2 * 16, samples.Count);
        // Each draw is its own conversation: one system and one user message, never an earlier answer.
        Assert.All(samples, s => Assert.Equal(2, s.Turns[0].Messages.Count));
        // The critic is asked about the real question, never an answer in its place.
        Assert.All(samples, s => Assert.Contains(s.Field("question")!.Value.GetString()!, BenchKit.CriticTurn(s).GetProperty("messages")[1].GetProperty("content").GetString()!));
        var r = PassAtK.Compute(samples, BenchTask.DefaultScoreSet, 16, resamples: 400);
        foreach (var m in r.Modes)
        {
            Assert.Equal(72, m.Items);
            Assert.Equal(16, m.Points.Count);
            Assert.Equal(m.Points[15].Estimate, m.PassAt["pass@16"]);
            foreach (var k in new[] { 1, 4, 16 })
            {
                var truth = samples.Where(s => s.Input("mode") == m.Mode && s.Input("sample") == "0")
                    .Average(s => 1 - Math.Pow(1 - rt.World().PassProbability(m.Mode, BenchObservation.From(s, "critic").Attributes), k));
                var p = m.Points[k - 1];
                Assert.True(Contains(p.Interval, truth), $"{m.Mode} pass@{k}: {p.Interval} vs planted {truth:F3}");
            }
            Assert.True(m.Points.Zip(m.Points.Skip(1)).All(x => x.First.Estimate <= x.Second.Estimate + 1e-12)); // pass@k grows with k
        }
        Assert.True(r.Modes[0].PassAt["pass@16"] < r.Modes[1].PassAt["pass@16"]);
    }

    [Fact]
    public async Task Leave_one_out_ranks_the_planted_attribute_influence()
    {
        var dir = TempDir();
        var personas = await BenchKit.Personas(dir, 216);
        var questions = BenchKit.Questions(dir, 20);
        var prompts = BenchPrompts.Load();
        var options = new LooOptions { Personas = 40, Questions = 20, BaseAttributes = 3, Seed = 9 };
        var (items, skipped) = LeaveOneOut.Plan(personas, questions, ["ideology", "age", "sex", "hearing difficulty"], options);
        Assert.Equal(["hearing difficulty"], skipped); // no persona has it: never asked
        Assert.Equal(3 * 40 * 20 * 2 * 2, items.Count); // both conditions, both answer orders
        Assert.All(items.GroupBy(i => (i.Attribute, i.Persona.Id, i.Question.Id, i.Order)), g => Assert.Single(g.Select(i => i.PersonalisedFirst).Distinct())); // same order with and without
        Assert.All(items, i => Assert.DoesNotContain(i.Attribute, i.Keys));
        await using var rt = LlmRuntime.Open(Offline(dir));
        var samples = await RunAsync(LeaveOneOut.Create(items, prompts), rt);
        var r = LeaveOneOut.Compute(samples, options, skipped, null);
        // Planted |weight|: ideology 2.2 > age 1.0 > sex 0.
        Assert.Equal(["ideology", "age", "sex"], r.Ranking.Select(a => a.Attribute));
        var sex = r.Ranking.Single(a => a.Attribute == "sex");
        Assert.Equal(0, sex.Disagreement);
        Assert.Equal(0, sex.Influence);
        var ideology = r.Ranking.Single(a => a.Attribute == "ideology");
        var age = r.Ranking.Single(a => a.Attribute == "age");
        Assert.True(ideology.InfluenceInterval!.Value.Lower > age.Influence, $"{ideology.InfluenceInterval} vs age {age.Influence}");
        Assert.True(age.InfluenceInterval!.Value.Lower > 0);
        // The judge sees the 3 base attributes (and the 4th with it), the personalised answer was written for the full persona.
        var with = samples.First(s => s.Input("condition") == "with");
        Assert.Equal(4, with.Field("shown_keys")!.Value.GetArrayLength());
        Assert.Equal(["model", "model", "judge"], with.Turns.Select(t => t.Role));
        Assert.Equal(800, ideology.Pairs);
        // Both orders: the test world's judge is always faithful, so no choice flips with the order.
        Assert.All(r.Ranking, a => Assert.Equal(0, a.InconsistentShare));
        Assert.Equal(2, samples.Where(s => s.Input("attribute") == "age" && s.Input("condition") == "with").GroupBy(s => (s.Input("persona_id"), s.Input("prompt_id"))).First().Count());
    }

    [Fact]
    public async Task Dropping_an_attribute_hides_it_from_the_answerer_only_and_the_change_is_paired()
    {
        var dir = TempDir();
        var personas = await BenchKit.Personas(dir, 60);
        var questions = BenchKit.Questions(dir, 5);
        var prompts = BenchPrompts.Load();
        var options = new LooOptions { Personas = 10, Questions = 5, Seed = 4 };
        var (items, skipped) = DropOneAttribute.Plan(personas, questions, ["ideology", "age"], options, BenchModes.OutputOnly);
        Assert.Empty(skipped);
        Assert.Equal(2 * 10 * 5, items.Count(i => i.Variant!.StartsWith("drop:")));
        Assert.Equal(items.Count(i => i.Variant == "full"), items.Where(i => i.Variant == "full").Select(i => (i.Persona.Id, i.Question.Id)).Distinct().Count()); // each full sample once
        await using var rt = LlmRuntime.Open(Offline(dir));
        var samples = await RunAsync(BenchTask.Create(BenchTask.Stream(items), prompts, [BenchTask.Critic(prompts)], 0, DropOneAttribute.TaskName), rt);
        var dropped = samples.First(s => s.Input("variant") == "drop:ideology");
        Assert.DoesNotContain("ideology:", dropped.Turns[0].Messages[1].Content); // the answerer never saw it
        Assert.Contains("ideology:", CriticTurn(dropped).GetProperty("messages")[1].GetProperty("content").GetString()); // the critic judges the full persona
        var r = DropOneAttribute.Compute(samples, BenchModes.OutputOnly, "critic", options, skipped, resamples: 200);
        Assert.Equal(["age", "ideology"], r.Ranking.Select(x => x.Attribute).Order());
        // The offline world plants no effect of what the answerer saw: the critic's planted draw is the same, so every change is exactly 0.
        Assert.All(r.Ranking, x => Assert.Equal((50, 0.0), (x.Pairs, x.Change)));
        Assert.All(r.Ranking, x => Assert.Equal(x.AccuracyFull, x.AccuracyDropped));
    }

    [Fact]
    public async Task Judging_both_orders_exposes_a_position_biased_judge_as_inconsistent_choices()
    {
        // The bundled world: the judge is unfaithful for some personas (more so at 65+) and then picks by position.
        var dir = TempDir();
        // Five attributes each: a reduced persona plus race is often the same text as another one plus lifestyle, so two
        // items send the same messages and share one cached answer; that must not change any choice.
        string[] five = ["age", "sex", "race", "ideology", "lifestyle"];
        var personas = (await BenchKit.Personas(dir, 216)).Select(p => p with { Text = p.TextOf(five), Attributes = five.ToDictionary(k => k, k => p.Attributes[k]) }).ToList();
        var questions = BenchKit.Questions(dir, 10);
        var options = new LooOptions { Personas = 40, Questions = 10, Seed = 3 };
        var (items, skipped) = LeaveOneOut.Plan(personas, questions, ["age", "race", "lifestyle"], options);
        await using var rt = LlmRuntime.Open(Offline(dir) with { WorldPath = null });
        var samples = await RunAsync(LeaveOneOut.Create(items, BenchPrompts.Load()), rt);
        var ranking = LeaveOneOut.Compute(samples, options, skipped, null).Ranking;
        // Neither race (no planted weight or fidelity offset for these values) nor lifestyle (free text) moves any choice.
        Assert.All(ranking.Where(a => a.Attribute != "age"), a => { Assert.Equal(0, a.Disagreement); Assert.Equal(0, a.Influence!.Value, 9); });
        samples = samples.Where(s => s.Input("attribute") == "age").ToList();
        var flips = samples.GroupBy(s => (s.Input("persona_id"), s.Input("prompt_id"), s.Input("condition"))).Count(g => g.Select(s => s.Output).Distinct().Count() > 1);
        var age = ranking.Single(a => a.Attribute == "age");
        Assert.True(flips > 0);
        Assert.Equal(flips / (2.0 * age.Pairs), age.InconsistentShare, 12);
        // An unfaithful choice follows position (P(first) = 0.7): across the two orders it lands on the same position, i.e. on
        // different answers, with P = 0.7² + 0.3² = 0.58. Faithfulness is 0.92 by default (0.60 at 65+, 0.82 at 50-64), so
        // only a small share of choices flips.
        Assert.InRange(age.InconsistentShare, 0.01, 0.3);
    }

    private static LlmRuntimeOptions FakeRoles(string dir, FakeLlmServer model, FakeLlmServer critic, string criticModel = "openai:critic-a") =>
        Options(dir, "openai:model-under-test", model.BaseUrl) with
        {
            MaxFailureRate = 1,
            Roles = new Dictionary<string, RoleOptions> { [BenchTask.CriticRole] = new() { Model = criticModel, BaseUrls = [critic.BaseUrl] } },
        };

    private const string Verdict = """{"chain_of_thought":"c","personalization_critic":"p","helpfulness_critic":"h","conclusion":"fine","needs_revision":false}""";

    [Fact]
    public async Task Garbage_verdicts_are_counted_as_critic_failures_never_dropped_silently()
    {
        await using var model = await FakeLlmServer.StartAsync();
        await using var critic = await FakeLlmServer.StartAsync();
        model.Responder = _ => """{"answer_to_question":"an answer"}""";
        critic.Responder = r => r.Messages.Any(m => m.Content.Contains("topic number 3?") || m.Content.Contains("topic number 7?")) ? "I would rather not say." : Verdict;
        var dir = TempDir();
        var personas = await BenchKit.Personas(dir, 20);
        var pairs = BenchTask.Pair(personas, BenchKit.Questions(dir, 10), new BenchSampling { Pairing = "cross" });
        var prompts = BenchPrompts.Load();
        await using var rt = LlmRuntime.Open(FakeRoles(dir, model, critic));
        var samples = await RunAsync(BenchTask.Create(BenchTask.Items(pairs, [BenchModes.OutputOnly]), prompts, [BenchTask.Critic(prompts)]), rt);
        var a = BenchReport.Compute(samples, "critic", resamples: 200).Modes.Single().Accuracy;
        Assert.Equal((200, 0, 40, 160, 160), (a.Samples, a.GenerationFailures, a.CriticFailures, a.Scored, a.Passed));
        Assert.Equal(1.0, a.Accuracy);
        Assert.Equal(0.8, a.AccuracyFailuresAsFail);
        var bad = samples.First(s => s.Input("prompt_id") == "q3").Scores!["critic"];
        Assert.Equal(ItemFailure.Unparsable, bad.Failure!.Kind);
        Assert.Contains("rather not", bad.Failure.RawText);
    }

    [Fact]
    public async Task Rescoring_with_another_critic_pays_only_the_new_critics_calls()
    {
        await using var model = await FakeLlmServer.StartAsync();
        await using var criticA = await FakeLlmServer.StartAsync();
        await using var criticB = await FakeLlmServer.StartAsync();
        model.Responder = r => JsonSerializer.Serialize(new { answer_to_question = "answer to " + r.LastUserContent.Length });
        criticA.Responder = _ => Verdict;
        criticB.Responder = r => r.Messages.Any(m => m.Content.Contains("topic number 1?")) ? Verdict.Replace("false", "true") : Verdict;
        var dir = TempDir();
        var personas = await BenchKit.Personas(dir, 10);
        var pairs = BenchTask.Pair(personas, BenchKit.Questions(dir, 4), new BenchSampling { Pairing = "cross" });
        var prompts = BenchPrompts.Load();
        await using (var rt = LlmRuntime.Open(FakeRoles(dir, model, criticA)))
            await RunAsync(BenchTask.Create(BenchTask.Items(pairs, [BenchModes.OutputOnly]), prompts, [BenchTask.Critic(prompts)]), rt);
        Assert.Equal((40, 40), (model.TotalPaid, criticA.TotalPaid));
        await using (var rt = LlmRuntime.Open(FakeRoles(dir, model, criticB, "openai:critic-b")))
        {
            var rescored = await TaskRunner.RunToEndAsync(TaskRunner.RescoreAsync(rt, BenchTask.TaskName, BenchTask.Critic(prompts, "critic-b")), BenchTask.TaskName);
            Assert.Equal(40, rescored.ScoreSets["critic-b"].Scored);
            var all = SampleLogExport.Read(rt.Store, BenchTask.TaskName).ToList();
            var a = BenchReport.Compute(all, "critic", resamples: 100).Modes.Single().Accuracy;
            var b = BenchReport.Compute(all, "critic-b", resamples: 100).Modes.Single().Accuracy;
            Assert.Equal((1.0, 0.75), (a.Accuracy, b.Accuracy));
            Assert.Equal("openai:critic-b", all[0].Scores!["critic-b"].Model);
        }
        Assert.Equal((40, 40, 40), (model.TotalPaid, criticA.TotalPaid, criticB.TotalPaid));
    }

    [Fact]
    public async Task Few_shot_preferences_show_the_personas_own_train_pairs_but_never_the_pair_of_the_question_asked()
    {
        var dir = TempDir();
        var personas = await BenchKit.Personas(dir, 3);
        var questions = BenchKit.Questions(dir, 4);
        BenchKit.WritePairs(dir, from p in personas
                                 from x in questions.Select((q, i) => (q, i))
                                 select (p.Id, p, x.q, "generic " + x.q.Id, $"chosen {p.Id[..6]} {x.q.Id}", x.i < 3 ? "train" : "test-seen"));
        var examples = PreferencePairsFile.TrainExamples(dir, [(personas[1], questions[0])], 3);
        var items = new List<BenchItem>();
        await foreach (var i in BenchTask.Items([(personas[1], questions[0])], [BenchModes.FewShotPreferences], examples: examples, shots: 3)) items.Add(i);
        var shown = Assert.Single(items).Examples!;
        Assert.Equal(["q1", "q2"], shown.Select(e => e.PromptId)); // q0 is being asked; q3 is a test pair
        Assert.All(shown, e => Assert.Equal(personas[1].Id, e.PersonaId));
        Assert.All(shown, e => Assert.Null(e.PersonaText)); // an example shows no persona: the kept pairs do not hold one text per pair
        var user = BenchTask.SolverMessages(items[0], BenchPrompts.Load())[1].Text;
        Assert.Contains($"chosen {personas[1].Id[..6]} q1", user);
        Assert.DoesNotContain("chosen " + personas[1].Id[..6] + " q0", user);
        await Assert.ThrowsAsync<PersonaException>(async () => { await foreach (var _ in BenchTask.Items([(personas[0], questions[0])], [BenchModes.FewShotPreferences])) { } });
    }

    [Fact]
    public async Task Few_shot_examples_keep_only_the_prefix_the_bench_can_show_and_show_the_same_pairs_as_the_whole_file()
    {
        var dir = TempDir();
        var personas = await BenchKit.Personas(dir, 3);
        var questions = BenchKit.Questions(dir, 12);
        // Persona 0 is matched by text only (its pairs carry another id), persona 1 by id; persona 2 has no pairs.
        BenchKit.WritePairs(dir, from x in new[] { (p: personas[0], id: "other-id"), (p: personas[1], id: personas[1].Id) }
                                 from q in questions
                                 select (x.id, x.p, q, "g", "c " + q.Id, q.Id == "q5" ? "test-seen" : "train"));
        // Persona 1 is asked q0 and q2, which are among its first train pairs; persona 0 is asked q9.
        (PersonaInput, QuestionInput)[] asked = [(personas[1], questions[0]), (personas[1], questions[2]), (personas[0], questions[9])];
        var examples = PreferencePairsFile.TrainExamples(dir, asked, 3);
        Assert.Equal(["q0", "q1", "q2", "q3", "q4"], examples[personas[1].Id].Select(e => e.PromptId)); // 3 shots + the 2 about its questions
        Assert.Equal(["q0", "q1", "q2"], examples[personas[0].Id].Select(e => e.PromptId)); // q9 lies past the prefix
        Assert.False(examples.ContainsKey(personas[2].Id));
        var shown = new List<string>();
        await foreach (var i in BenchTask.Items(asked, [BenchModes.FewShotPreferences], examples: examples, shots: 3))
            shown.Add(string.Join(",", i.Examples!.Select(e => e.PromptId)));
        // What the whole file would show: the first three train pairs not about the question asked (q5 is a test pair).
        Assert.Equal(["q1,q2,q3", "q0,q1,q3", "q0,q1,q2"], shown);
    }

    [Fact]
    public async Task Streamed_pairing_reads_a_persona_only_when_its_pairs_are_due_and_pairs_as_the_list_does()
    {
        var dir = TempDir();
        var personas = (await BenchKit.Personas(dir, 30)).Select((p, i) => p with { Split = i % 3 == 0 ? "test" : "train" }).ToList();
        var questions = BenchKit.Questions(dir, 7);
        var pulled = 0;
        async IAsyncEnumerable<PersonaInput> Source()
        {
            foreach (var p in personas) { pulled++; yield return p; }
            await Task.CompletedTask;
        }
        foreach (var sampling in new[]
        {
            new BenchSampling { Pairing = "random", PerPersona = 3, Seed = 9 },
            new BenchSampling { Pairing = "zip", PerPersona = 2, PersonaSplit = "train" },
            new BenchSampling { Pairing = "cross", PersonaSplit = "test" },
        })
        {
            pulled = 0;
            var streamed = new List<(PersonaInput Persona, QuestionInput Question)>();
            var pulledAtFirst = -1;
            await foreach (var x in BenchTask.PairAsync(Source(), questions, sampling))
            {
                if (pulledAtFirst < 0) pulledAtFirst = pulled;
                streamed.Add(x);
            }
            // The first persona of the split is the only one read when its first pair comes out.
            Assert.Equal(sampling.PersonaSplit == "train" ? 2 : 1, pulledAtFirst);
            var listed = BenchTask.Pair(personas, questions, sampling);
            Assert.Equal(listed.Select(x => (x.Persona.Id, x.Question.Id)), streamed.Select(x => (x.Persona.Id, x.Question.Id)));
        }
        // Zip cycles through the questions across the split's personas: the 2nd train persona starts at the 3rd question.
        var zipped = BenchTask.Pair(personas, questions, new BenchSampling { Pairing = "zip", PerPersona = 2, PersonaSplit = "train" });
        Assert.Equal(["q0", "q1", "q2", "q3", "q4", "q5", "q6", "q0"], zipped.Take(8).Select(x => x.Question.Id));
        var none = personas.Select(p => p with { Split = null }).ToList();
        async IAsyncEnumerable<PersonaInput> NoSplit() { foreach (var p in none) yield return p; await Task.CompletedTask; }
        var error = await Assert.ThrowsAsync<PersonaException>(async () => { await foreach (var _ in BenchTask.PairAsync(NoSplit(), questions, new BenchSampling { PersonaSplit = "test" })) { } });
        Assert.Contains("No persona is in split 'test'", error.Message);
    }

    [Fact]
    public async Task Few_shot_examples_read_the_persona_texts_only_when_some_persona_has_no_pair_under_its_id()
    {
        var dir = TempDir();
        var personas = await BenchKit.Personas(dir, 2);
        var questions = BenchKit.Questions(dir, 4);
        // Persona 0's pairs carry its id; persona 1's carry another id and its text.
        BenchKit.WritePairs(dir, from x in new[] { (p: personas[0], id: personas[0].Id), (p: personas[1], id: "other-id") }
                                 from q in questions
                                 select (x.id, x.p, q, "g", "c " + q.Id, "train"));
        var reads = 0;
        IEnumerable<(string, string)> Texts() { reads++; foreach (var p in personas) yield return (p.Id, p.Text); }
        var byId = PreferencePairsFile.TrainExamples(dir, [(personas[0].Id, [questions[3]])], Texts(), 2);
        Assert.Equal(0, reads);
        Assert.Equal(["q0", "q1"], byId[personas[0].Id].Select(e => e.PromptId)); // two shots; q3 lies past them
        var byText = PreferencePairsFile.TrainExamples(dir, [(personas[0].Id, [questions[3]]), (personas[1].Id, [questions[0]])], Texts(), 2);
        Assert.Equal(1, reads);
        Assert.Equal(["q0", "q1", "q2"], byText[personas[1].Id].Select(e => e.PromptId)); // matched by its text: 2 shots + q0, which is asked
    }

    [Fact]
    public void Modes_parse_one_a_list_or_all_and_unknown_ones_are_named()
    {
        Assert.Equal(BenchModes.Original, BenchModes.Parse("all", false));
        Assert.Equal(BenchModes.All, BenchModes.Parse("all", true));
        Assert.Equal([BenchModes.Baseline, BenchModes.DemographicSummary], BenchModes.Parse("baseline, demographic_summary", false));
        Assert.Contains("'chain'", Assert.Throws<PersonaException>(() => BenchModes.Parse("chain", false)).Message);
        Assert.Contains("--pairs", Assert.Throws<PersonaException>(() => BenchModes.Parse("few_shot_preferences", false)).Message);
    }
}
