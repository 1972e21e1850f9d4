using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Run;
using Persona.Testing.FakeLlm;

using Persona.Simulation;

namespace Persona.Cli.Tests;

/// <summary>
/// The Batch route over the whole testbed: `persona run --batch-export` round after round, each round's
/// request files answered by the same server a direct run talks to, imported with --batch-import, until
/// the run completes; its outputs must be the direct run's byte for byte.
/// </summary>
public sealed class RunBatchTests
{
    /// <summary>The answers of a real-looking model: the offline simulator's, a pure function of what the server is sent (schema-valid when asked for one).</summary>
    private static readonly OfflineSimulator Model = new(7);

    private static string Answer(FakeRequest r)
    {
        var messages = r.Messages.Select(m => new ChatMessage(new ChatRole(m.Role), m.Content)).ToList();
        var options = new ChatOptions { Temperature = (float?)r.Temperature, MaxOutputTokens = r.MaxTokens };
        if (r.ResponseFormat is { } format && JsonDocument.Parse(format).RootElement is var f
            && f.TryGetProperty("json_schema", out var js) && js.TryGetProperty("schema", out var schema))
            // Re-serialized so the answer follows the schema's content, not how a JSON writer escaped it on the way (a server parses it).
            options.ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonSerializer.SerializeToElement(JsonNode.Parse(schema.GetRawText())), js.TryGetProperty("name", out var n) ? n.GetString() : null);
        return Model.GetResponseAsync(messages, options).GetAwaiter().GetResult().Text;
    }

    private static string[] Args(string dir, string baseUrl) =>
        ["run", "--out", dir, "--personas", "40", "--model", "openai:sim", "--base-url", baseUrl];

    private static SortedDictionary<string, string> Outputs(string dir) =>
        new(JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, TestbedRun.ManifestFile))).RootElement.GetProperty("outputs")
            .EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!), StringComparer.Ordinal);

    [Fact]
    public async Task Export_answer_import_rounds_over_every_stage_give_the_direct_runs_outputs()
    {
        var root = Cli.TempDir("run-batch");
        await using var server = await FakeLlmServer.StartAsync();
        server.RecordRequests = false;
        server.Responder = Answer;

        var direct = Path.Combine(root, "direct");
        var (code, text) = await Cli.Run(Args(direct, server.BaseUrl));
        Assert.True(code == 0, text);
        var directPaid = server.TotalPaid;

        // The batch route: the run never reaches a server (an unreachable URL, no key); the requests go out as files.
        var batch = Path.Combine(root, "batch");
        var requests = Path.Combine(root, "requests");
        var results = new List<string>();
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl.TrimEnd('/') + "/") };
        var stagesSeen = new HashSet<string>(StringComparer.Ordinal);
        long exported = 0;
        for (var round = 1; ; round++)
        {
            Assert.True(round < 60, "the run never finished");
            string[] args = [.. Args(batch, FakeLlmServer.UnreachableBaseUrl()), "--batch-export", requests];
            if (results.Count > 0) args = [.. args, "--batch-import", .. results];
            (code, text) = await Cli.Run(args);
            if (code == 0) break;
            Assert.True(code == BatchPendingException.Code, $"round {round}: exit {code}: {text}");
            Assert.Contains("--batch-import", text);
            var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(batch, TestbedRun.ManifestFile))).RootElement;
            Assert.Equal("stopped", manifest.GetProperty("status").GetString());
            foreach (var s in manifest.GetProperty("stages").EnumerateObject())
                if (s.Value.GetProperty("status").GetString() == "stopped") stagesSeen.Add(s.Name);
            Assert.False(File.Exists(Path.Combine(batch, TestbedStages.ReportFile)), $"round {round}: the report exists before the run is done");

            // "Run" the batch: each request's body sent to the server, its answer wrapped as the Batch API returns it.
            var lines = new List<string>();
            foreach (var file in Directory.GetFiles(requests, "*.requests.jsonl").Order(StringComparer.Ordinal))
                foreach (var line in File.ReadAllLines(file))
                {
                    var req = JsonNode.Parse(line)!;
                    using var response = await http.PostAsync("chat/completions", JsonContent.Create(req["body"]));
                    response.EnsureSuccessStatusCode();
                    var body = JsonNode.Parse(await response.Content.ReadAsStringAsync());
                    lines.Add(new JsonObject
                    {
                        ["id"] = "batch_req_" + exported, ["custom_id"] = req["custom_id"]!.GetValue<string>(),
                        ["response"] = new JsonObject { ["status_code"] = 200, ["request_id"] = "r", ["body"] = body }, ["error"] = null,
                    }.ToJsonString());
                    exported++;
                }
            Assert.True(lines.Count > 0, $"round {round} stopped for batch results but wrote no request");
            lines.Reverse(); // results come back in any order
            var output = Path.Combine(root, $"results-{round}.jsonl");
            File.WriteAllLines(output, lines);
            results.Add(output);
        }

        // Every stage that calls a model waited for batch results at least once.
        foreach (var stage in TestbedStages.Registry.Where(s => s.Roles.Count > 0))
            Assert.Contains(stage.Name, stagesSeen);
        var a = Outputs(direct);
        var b = Outputs(batch);
        Assert.Equal(a.Keys, b.Keys);
        // The study database and the Every Eval Ever aggregate (it records when it was written) are made afresh by every run.
        var differ = a.Keys.Where(k => k != "study/study.sqlite" && !(k.StartsWith("survey/every-eval-ever/", StringComparison.Ordinal) && k.EndsWith(".json", StringComparison.Ordinal))
            && a[k] != b[k]).ToList();
        Assert.True(differ.Count == 0, "outputs differ from the direct run: " + string.Join(", ", differ));
        // Nothing was asked twice: the batch rounds sent the server what the direct run paid for, plus the schema repairs both made.
        Assert.Equal(directPaid, exported);
    }
}
