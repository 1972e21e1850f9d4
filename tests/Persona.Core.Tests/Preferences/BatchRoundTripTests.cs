using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Persona.Llm;
using Persona.Preferences;
using Persona.Testing.FakeLlm;
using static Persona.Core.Tests.Llm.LlmTestKit;

namespace Persona.Core.Tests.Preferences;

/// <summary>The OpenAI Batch route: export a stage's requests (nothing sent, no key), run them elsewhere, import the results, export the next stage.</summary>
public sealed class BatchRoundTripTests
{
    private static string Answer(IEnumerable<(string Role, string Content)> messages)
    {
        // The structured-output layer puts its own system message first: look at every message.
        var system = string.Join("\n", messages.Where(m => m.Role == "system").Select(m => m.Content));
        if (system.Contains("You revise answers")) return "A shorter answer for you.";
        if (system.Contains("careful reviewer")) return "Evaluation: it misses the person. Suggestions: be warmer.";
        if (system.Contains("Role-play")) return """{"reasoning":"it speaks to me","preferred":"A"}""";
        return "A long generic answer that tries to serve everyone with many words and no particular person in mind.";
    }

    private static PairBuildOptions PairOptions(string personas, string prompts, string outDir) => new()
    {
        PersonasPath = personas, PromptsPath = prompts, OutputDirectory = outDir,
        Schedule = new ScheduleOptions { TrainPrompts = 4, HeldOutPrompts = 1, TrainPairs = 3 },
    };

    private static LlmRuntimeOptions Roles(string dir, string baseUrl) => Options(dir, "openai:answer", baseUrl) with
    {
        Roles = new Dictionary<string, RoleOptions> { ["critic"] = new() { Model = "openai:critic" }, ["judge"] = new() { Model = "openai:judge" } },
    };

    [Fact]
    public async Task Stage_by_stage_export_and_import_gives_the_direct_runs_pairs_and_sends_nothing()
    {
        var dir = PairFixtures.Dir();
        var personas = PairFixtures.PersonaTextFile(dir, 3);
        var prompts = PairFixtures.Prompts(dir, 8, 2);

        // The direct run, against a server.
        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = r => Answer(r.Messages);
        var direct = PairOptions(personas, prompts, Path.Combine(dir, "direct"));
        await using (var rt = LlmRuntime.Open(Roles(direct.OutputDirectory, server.BaseUrl)))
            await PairBuilder.RunAsync(direct, await PairBuilder.PlanAsync(direct, []), rt);
        var directCalls = server.TotalReceived;

        // The batch route: no server at all (an unreachable URL) and no key.
        var batch = PairOptions(personas, prompts, Path.Combine(dir, "batch"));
        var exportDir = Path.Combine(dir, "requests");
        var results = new List<string>();
        var rounds = 0;
        long exported = 0;
        var failedOnce = false;
        while (true)
        {
            rounds++;
            Assert.True(rounds < 12, "the stages never finished");
            using var writer = new BatchExportWriter(exportDir);
            await using var rt = LlmRuntime.Open(Roles(batch.OutputDirectory, FakeLlmServer.UnreachableBaseUrl()) with { BatchExport = writer });
            if (results.Count > 0) await BatchImport.ImportAsync(rt.Store, results);
            var result = await PairBuilder.RunAsync(batch, await PairBuilder.PlanAsync(batch, []), rt);
            if (result.Deferred == 0) break;
            Assert.False(File.Exists(Path.Combine(batch.OutputDirectory, PairFileWriter.JsonlFile)));
            writer.Dispose();
            // "Run" the batch: one result per request, in reverse order, some in vLLM's envelope, one failing once.
            var output = Path.Combine(dir, $"results-{rounds}.jsonl");
            var lines = new List<string>();
            foreach (var file in Directory.GetFiles(exportDir, "*.requests.jsonl"))
                foreach (var line in File.ReadAllLines(file))
                {
                    var req = JsonNode.Parse(line)!;
                    Assert.Equal("POST", req["method"]!.GetValue<string>());
                    Assert.Equal("/v1/chat/completions", req["url"]!.GetValue<string>());
                    var body = req["body"]!;
                    var model = body["model"]!.GetValue<string>();
                    Assert.Contains(model, Path.GetFileName(file)); // one model per file
                    var messages = body["messages"]!.AsArray().Select(m => (m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())).ToList();
                    var id = req["custom_id"]!.GetValue<string>();
                    exported++;
                    if (!failedOnce) { failedOnce = true; lines.Add(JsonSerializer.Serialize(new { id = "batch_req_x", custom_id = id, response = (object?)null, error = new { code = "batch_expired", message = "expired" } })); continue; }
                    var content = Answer(messages);
                    // The usage the fake server would have reported (the pair checks compare the model's own token counts).
                    var (pt, ct) = (messages.Sum(m => Words(m.Item2)) + 3 * messages.Count, Words(content));
                    var completion = new { id = "c", @object = "chat.completion", model, choices = new[] { new { index = 0, message = new { role = "assistant", content }, finish_reason = "stop" } }, usage = new { prompt_tokens = pt, completion_tokens = ct, total_tokens = pt + ct } };
                    lines.Add(lines.Count % 3 == 0
                        ? JsonSerializer.Serialize(new { id = "vllm-1", custom_id = id, response = new { status_code = 200, request_id = "r", body = completion }, error = (string?)null })
                        : JsonSerializer.Serialize(new { id = "batch_req", custom_id = id, response = new { status_code = 200, request_id = "r", body = completion }, error = (object?)null }));
                }
            lines.Reverse();
            File.WriteAllLines(output, lines);
            results.Add(output);
        }
        Assert.True(rounds >= 5, $"{rounds} rounds: expected answer, critique, revision and the two judge orders as separate stages");
        Assert.Equal(directCalls + 1, exported); // every call once, plus the one that expired and was exported again
        Assert.Equal(Sha(Path.Combine(direct.OutputDirectory, PairFileWriter.JsonlFile)), Sha(Path.Combine(batch.OutputDirectory, PairFileWriter.JsonlFile)));
        Assert.All(File.ReadAllLines(Path.Combine(batch.OutputDirectory, PairFileWriter.JsonlFile)), l => Assert.Equal("flip", JsonDocument.Parse(l).RootElement.GetProperty("verification").GetString()));
    }

    /// <summary>
    /// An imported answer that fails its schema is repaired as a direct one is: the structured-output layer checks it,
    /// its repair request (the answer and the complaint appended) goes out in the next round, and the repaired answer is
    /// what the caller gets, the same text a direct call to a server answering the same way gives.
    /// </summary>
    [Fact]
    public async Task An_imported_answer_that_fails_its_schema_is_repaired_in_the_next_round_as_a_direct_call_is()
    {
        var dir = PairFixtures.Dir();
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"preferred":{"type":"string","enum":["A","B"]}},"required":["preferred"]}""").RootElement;
        var options = new Microsoft.Extensions.AI.ChatOptions { Temperature = 0, ResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat.ForJsonSchema(schema, "choice") };
        List<Microsoft.Extensions.AI.ChatMessage> ask = [new(Microsoft.Extensions.AI.ChatRole.User, "Which one, A or B?")];
        static string Reply(IReadOnlyList<(string Role, string Content)> messages) =>
            messages.Any(m => m.Role == "user" && m.Content.Contains("not valid for the schema")) ? """{"preferred":"B"}""" : "I would say B, probably.";

        await using var server = await FakeLlmServer.StartAsync();
        server.Responder = r => Reply(r.Messages);
        string directText;
        await using (var rt = LlmRuntime.Open(Options(Path.Combine(dir, "direct"), "openai:answer", server.BaseUrl)))
            directText = (await rt.ChatClient.GetResponseAsync(ask, options)).Text;
        Assert.Equal(2, server.TotalPaid); // the answer and its repair

        var exportDir = Path.Combine(dir, "requests");
        var results = new List<string>();
        var bodies = new List<JsonNode>();
        for (var round = 1; ; round++)
        {
            Assert.True(round <= 3, "the repair never finished");
            using var writer = new BatchExportWriter(exportDir);
            await using var rt = LlmRuntime.Open(Options(Path.Combine(dir, "batch"), "openai:answer", FakeLlmServer.UnreachableBaseUrl()) with { BatchExport = writer });
            if (results.Count > 0) await BatchImport.ImportAsync(rt.Store, results);
            try
            {
                var text = (await rt.ChatClient.GetResponseAsync(ask, options)).Text;
                Assert.Equal(directText, text);
                break;
            }
            catch (DeferredCallException) { }
            writer.Dispose();
            var line = JsonNode.Parse(File.ReadAllLines(Directory.GetFiles(exportDir, "*.requests.jsonl").Single()).Single())!;
            var body = line["body"]!;
            bodies.Add(body);
            var messages = body["messages"]!.AsArray().Select(m => (m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())).ToList();
            var completion = new { id = "c", @object = "chat.completion", model = "answer", choices = new[] { new { index = 0, message = new { role = "assistant", content = Reply(messages) }, finish_reason = "stop" } }, usage = new { prompt_tokens = 5, completion_tokens = 5, total_tokens = 10 } };
            var output = Path.Combine(dir, $"results-{round}.jsonl");
            File.WriteAllText(output, JsonSerializer.Serialize(new { custom_id = line["custom_id"]!.GetValue<string>(), response = new { status_code = 200, body = completion }, error = (object?)null }) + "\n");
            results.Add(output);
        }
        Assert.Equal(2, bodies.Count); // the answer, then its repair
        var repair = bodies[1]["messages"]!.AsArray();
        Assert.Equal("assistant", repair[^2]!["role"]!.GetValue<string>());
        Assert.Equal("I would say B, probably.", repair[^2]!["content"]!.GetValue<string>());
        Assert.Contains("not valid for the schema", repair[^1]!["content"]!.GetValue<string>());
    }

    [Fact]
    public void The_exported_body_is_what_a_server_would_get()
    {
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"a":{"type":"string"}}}""").RootElement;
        var body = BatchExportChatClient.Body("m", [new(Microsoft.Extensions.AI.ChatRole.User, "hi")],
            new Microsoft.Extensions.AI.ChatOptions { Temperature = 0.5f, MaxOutputTokens = 9, ResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat.ForJsonSchema(schema, "x") });
        Assert.Equal("m", body.GetProperty("model").GetString());
        Assert.Equal(0.5, body.GetProperty("temperature").GetDouble());
        Assert.Equal(9, body.GetProperty("max_completion_tokens").GetInt32()); // what the OpenAI client of a direct run sends
        Assert.Equal("json_schema", body.GetProperty("response_format").GetProperty("type").GetString());
        Assert.Equal("x", body.GetProperty("response_format").GetProperty("json_schema").GetProperty("name").GetString());
        // The schema as the direct client sends it: made strict (closed objects), not the raw one a hand-written body carried.
        Assert.False(body.GetProperty("response_format").GetProperty("json_schema").GetProperty("schema").GetProperty("additionalProperties").GetBoolean());
    }

    private static int Words(string s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
