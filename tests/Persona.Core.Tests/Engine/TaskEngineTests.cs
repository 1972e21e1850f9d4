using System.Text.Json;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Engine;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Engine;

public sealed class TaskEngineTests
{
    private sealed record Question(string Id, string Text);

    private static async IAsyncEnumerable<Question> Questions(int n)
    {
        for (var i = 0; i < n; i++) yield return new Question($"q{i}", $"question {i}");
        await Task.CompletedTask;
    }

    private static readonly JsonElement VerdictSchema = JsonDocument.Parse("""
        {"type":"object","properties":{"good":{"type":"boolean"}},"required":["good"]}
        """).RootElement.Clone();

    /// <summary>Answer with the default role; the judge scorer grades the stored answer with the "judge" role.</summary>
    private static EvalTask<Question> AnswerThenJudge(IAsyncEnumerable<Question> data) => new()
    {
        Name = "qa",
        Version = "qa/1",
        Dataset = data,
        Inputs = q => new Dictionary<string, string> { ["prompt_id"] = q.Id },
        Solver = async (q, ctx, ct) =>
        {
            var r = await ctx.CallAsync(LlmRuntime.DefaultRole, [new ChatMessage(ChatRole.User, q.Text)], new ChatOptions { Temperature = 0 }, ct, "answer");
            return new SolverResult(r.Text, JsonSerializer.SerializeToElement(new { question = q.Text }));
        },
        Scorers = [JudgeScorer("judge")],
    };

    private static Scorer JudgeScorer(string name) => new(name, async (sample, ctx, ct) =>
    {
        var question = sample.Field("question")!.Value.GetString();
        var r = await ctx.CallAsync("judge", [new ChatMessage(ChatRole.User, $"grade: {question} -> {sample.Output}")],
            new ChatOptions { Temperature = 0, ResponseFormat = ChatResponseFormat.ForJsonSchema(VerdictSchema, "verdict") }, ct, "judge");
        var good = JsonDocument.Parse(r.Text).RootElement.GetProperty("good").GetBoolean();
        return new Score(good ? 1 : 0, good ? "good" : "bad", null, name, ctx.Role("judge").Identity.Identity, null, null);
    });

    private static LlmRuntimeOptions TwoRoles(string dir, FakeLlmServer answerer, FakeLlmServer judge, string judgeModel = "openai:judge-model") =>
        Options(dir, "openai:answer-model", answerer.BaseUrl) with
        {
            Roles = new Dictionary<string, RoleOptions> { ["judge"] = new() { Model = judgeModel, BaseUrls = [judge.BaseUrl], Concurrency = 2 } },
        };

    [Fact]
    public async Task Two_roles_on_two_servers_share_one_store_one_budget_and_one_manifest()
    {
        await using var a = await FakeLlmServer.StartAsync();
        await using var b = await FakeLlmServer.StartAsync();
        b.Responder = _ => """{"good": true}""";
        var dir = TempDir();
        await using (var rt = LlmRuntime.Open(TwoRoles(dir, a, b)))
        {
            var summary = await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(AnswerThenJudge(Questions(12)), rt), "qa");
            Assert.Equal(12, summary.Succeeded);
            Assert.Equal(12, summary.ScoreSets["judge"].Scored);
            Assert.Equal(1.0, summary.ScoreSets["judge"].Mean);
            await rt.WriteManifestAsync("completed");
            Assert.Equal(24, rt.Budget.Snapshot().Completed); // one budget for both roles
        }
        Assert.Equal(12, a.TotalPaid);
        Assert.Equal(12, b.TotalPaid);
        Assert.All(a.Requests, r => Assert.Equal("answer-model", r.Model));
        Assert.All(b.Requests, r => Assert.Equal("judge-model", r.Model));
        var roles = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json"))).RootElement.GetProperty("roles");
        Assert.Equal(12, roles.GetProperty("model").GetProperty("paid_calls").GetInt64());
        Assert.Equal(12, roles.GetProperty("judge").GetProperty("paid_calls").GetInt64());
        Assert.Equal("openai:judge-model", roles.GetProperty("judge").GetProperty("model").GetString());
        Assert.Equal(b.BaseUrl, roles.GetProperty("judge").GetProperty("endpoints")[0].GetString());
        Assert.Equal(2, roles.GetProperty("judge").GetProperty("concurrency").GetInt32());
        Assert.Single(Directory.GetFiles(dir, "store.sqlite"));
    }

    [Fact]
    public async Task A_logged_sample_or_score_is_not_reused_once_its_role_is_another_model()
    {
        await using var a = await FakeLlmServer.StartAsync();
        await using var b = await FakeLlmServer.StartAsync();
        b.Responder = _ => """{"good": true}""";
        var dir = TempDir();
        var task = AnswerThenJudge(Questions(6)) with { Scorers = [JudgeScorer("judge") with { Role = "judge" }] };
        async Task<List<SampleRecord>> Run(LlmRuntimeOptions o)
        {
            await using var rt = LlmRuntime.Open(o);
            var list = new List<SampleRecord>();
            await foreach (var s in TaskRunner.RunAsync(task, rt)) list.Add(s);
            return list;
        }
        await Run(TwoRoles(dir, a, b));
        Assert.Equal((6, 6), (a.TotalPaid, b.TotalPaid));
        await Run(TwoRoles(dir, a, b));
        Assert.Equal((6, 6), (a.TotalPaid, b.TotalPaid)); // same models: the log is reused, nothing is asked

        var judged = await Run(TwoRoles(dir, a, b, judgeModel: "openai:judge-2"));
        Assert.Equal((6, 12), (a.TotalPaid, b.TotalPaid)); // a new judge grades again; the answers are kept
        Assert.All(judged, s => Assert.Equal("openai:judge-2", s.Scores!["judge"].Model));

        var answered = await Run(TwoRoles(dir, a, b, judgeModel: "openai:judge-2") with { Model = "openai:answer-b" });
        Assert.Equal(12, a.TotalPaid); // a new model under test answers again, under its own name
        Assert.All(answered, s => Assert.Equal("openai:answer-b", s.Turns.Single(t => t.Step == "answer").Model));
    }

    [Fact]
    public async Task The_call_cap_covers_all_roles_together()
    {
        await using var a = await FakeLlmServer.StartAsync();
        await using var b = await FakeLlmServer.StartAsync();
        b.Responder = _ => """{"good": false}""";
        await using var rt = LlmRuntime.Open(TwoRoles(TempDir(), a, b) with { MaxCalls = 10 });
        await Assert.ThrowsAsync<BudgetExceededException>(() => TaskRunner.RunToEndAsync(TaskRunner.RunAsync(AnswerThenJudge(Questions(50)), rt), "qa"));
        Assert.Equal(10, a.TotalPaid + b.TotalPaid);
    }

    [Fact]
    public async Task Rescoring_with_another_judge_pays_only_the_new_judges_calls()
    {
        await using var a = await FakeLlmServer.StartAsync();
        await using var b = await FakeLlmServer.StartAsync();
        await using var c = await FakeLlmServer.StartAsync();
        b.Responder = _ => """{"good": true}""";
        c.Responder = r => r.LastUserContent.Contains("question 1") ? """{"good": false}""" : """{"good": true}""";
        var dir = TempDir();
        await using (var rt = LlmRuntime.Open(TwoRoles(dir, a, b)))
            await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(AnswerThenJudge(Questions(20)), rt), "qa");
        Assert.Equal((20, 20), (a.TotalPaid, b.TotalPaid));

        await using (var rt = LlmRuntime.Open(TwoRoles(dir, a, c, "openai:second-judge")))
        {
            var rescored = await TaskRunner.RunToEndAsync(TaskRunner.RescoreAsync(rt, "qa", JudgeScorer("judge2")), "qa");
            Assert.Equal(20, rescored.ScoreSets["judge2"].Scored);
            // "question 1" and "question 10".."question 19" contain "question 1": 11 bad of 20.
            Assert.Equal(9 / 20.0, rescored.ScoreSets["judge2"].Mean!.Value, 6);
            var all = SampleLogExport.Read(rt.Store, "qa").ToList();
            Assert.All(all, s => Assert.Equal(["judge", "judge2"], s.Scores!.Keys.Order()));
        }
        Assert.Equal((20, 20, 20), (a.TotalPaid, b.TotalPaid, c.TotalPaid)); // generation and the first judge were never asked again
    }

    [Fact]
    public async Task A_garbage_verdict_is_a_recorded_score_failure_and_a_failed_answer_a_failed_sample()
    {
        await using var a = await FakeLlmServer.StartAsync();
        await using var b = await FakeLlmServer.StartAsync();
        a.FaultRule = r => r.LastUserContent == "question 3" ? new FakeFault.Status(400) : null;
        b.Responder = r => r.Messages.Any(m => m.Content.Contains("question 5")) ? "I refuse to answer in JSON" : """{"good": true}""";
        var dir = TempDir();
        await using var rt = LlmRuntime.Open(TwoRoles(dir, a, b) with { MaxFailureRate = 0.5 });
        var samples = new List<SampleRecord>();
        var summary = await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(AnswerThenJudge(Questions(10)), rt), "qa", samples.Add);
        Assert.Equal(9, summary.Succeeded);
        Assert.Equal(1, summary.Failed);
        var failed = Assert.Single(samples, s => s.Status == SampleRecord.StatusFailed);
        Assert.Equal("q3", failed.Inputs["prompt_id"]);
        Assert.Equal(ItemFailure.CallFailed, failed.Failure!.Kind);
        Assert.Contains("400", failed.Failure.Message);
        var bad = samples.Single(s => s.Inputs["prompt_id"] == "q5").Scores!["judge"];
        Assert.Null(bad.Value);
        Assert.Equal(ItemFailure.Unparsable, bad.Failure!.Kind);
        Assert.Contains("I refuse", bad.Failure.RawText);
        Assert.Equal(1, summary.ScoreSets["judge"].Failed);
    }

    [Fact]
    public async Task The_log_exports_as_jsonl_and_parquet_with_ids_turns_and_score_sets_and_a_rerun_reuses_it()
    {
        await using var a = await FakeLlmServer.StartAsync();
        await using var b = await FakeLlmServer.StartAsync();
        b.Responder = _ => """{"good": true}""";
        var dir = TempDir();
        await using (var rt = LlmRuntime.Open(TwoRoles(dir, a, b)))
        {
            await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(AnswerThenJudge(Questions(30)), rt), "qa");
            Assert.Equal(30, await SampleLogExport.WriteJsonlAsync(rt.Store, "qa", Path.Combine(dir, "samples.jsonl")));
            Assert.Equal(30, await SampleLogExport.WriteParquetAsync(rt.Store, "qa", Path.Combine(dir, "samples.parquet")));
        }
        var lines = File.ReadAllLines(Path.Combine(dir, "samples.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"q{i}"), lines.Select(l => l.GetProperty("inputs").GetProperty("prompt_id").GetString()));
        var first = lines[0];
        Assert.Equal(SampleRecord.ComputeId("qa", "qa/1", new Dictionary<string, string> { ["prompt_id"] = "q0" }), first.GetProperty("id").GetString());
        Assert.Equal("echo: question 0", first.GetProperty("output").GetString());
        var turn = first.GetProperty("turns")[0];
        Assert.Equal("model", turn.GetProperty("role").GetString());
        Assert.Equal("openai:answer-model", turn.GetProperty("model").GetString());
        Assert.Equal(1.0, first.GetProperty("scores").GetProperty("judge").GetProperty("value").GetDouble());

        await using (var fs = File.OpenRead(Path.Combine(dir, "samples.parquet")))
        await using (var reader = await Parquet.ParquetReader.CreateAsync(fs))
        {
            var names = reader.Schema.GetDataFields().Select(f => f.Name).ToArray();
            Assert.Contains("input:prompt_id", names);
            Assert.Contains("score:judge", names);
            Assert.Equal(30, reader.Metadata!.NumRows);
        }

        // A rerun of the same task reuses the log: no call is made at all (not even a cache hit), and nothing is paid.
        await using (var rt = LlmRuntime.Open(TwoRoles(dir, a, b)))
        {
            var callsBefore = rt.Store.Cache.ReadCalls().Count;
            var again = await TaskRunner.RunToEndAsync(TaskRunner.RunAsync(AnswerThenJudge(Questions(30)), rt), "qa");
            Assert.Equal(30, again.Succeeded);
            Assert.Equal(30, again.ScoreSets["judge"].Scored);
            await rt.Store.FlushAsync();
            Assert.Equal(callsBefore, rt.Store.Cache.ReadCalls().Count);
        }
        Assert.Equal((30, 30), (a.TotalPaid, b.TotalPaid));
    }
}
