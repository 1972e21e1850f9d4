using Persona.Engine;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Store;
using Spectre.Console;

using Persona.Simulation;

namespace Persona.Cli;

/// <summary>`persona llm ...`: run a batch of chat requests through the LM runtime, or check an endpoint.</summary>
internal static class LlmCommands
{
    private const string ExitCodes =
        "Exit codes: 0 done (failed ids carry an \"error\"), 1 bad input or unreachable server (nothing paid),\n" +
        "  3 stopped by --max-cost/--max-calls (resumable), 4 circuit open: endpoint down (resumable), 130 cancelled (resumable).";

    public static Command Create(IAnsiConsole console)
    {
        var llm = new Command("llm", "Language-model runtime: cached, budgeted, retrying calls to any OpenAI-compatible server, a local model or the offline simulator.");
        llm.Subcommands.Add(CreateBatch(console));
        llm.Subcommands.Add(CreatePing(console));
        return llm;
    }

    private static Command CreateBatch(IAnsiConsole console)
    {
        var common = new RuntimeOptions(full: true);
        var input = new Option<FileInfo>("--in") { Description = "requests.jsonl: one {\"id\", \"messages\": [{\"role\", \"content\"}], \"temperature\"?, \"max_tokens\"?, \"sample_index\"?} per line.", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "results.jsonl: one {\"id\", \"content\", \"usage\", \"cached\", \"error\"?} per input id, in input order; written atomically when every id has an outcome.", Required = true };

        var cmd = new Command("batch",
            "Send every request of a JSONL file through the runtime: cached (a completed call is never paid twice; a rerun resumes),\n" +
            "budgeted, retried with backoff, spread over endpoints. Progress shows calls/s, tokens and cost.\n\n" +
            ExitCodes + "\n\n" +
            "Examples:\n" +
            "  persona llm batch --in requests.jsonl --out results.jsonl --model offline\n" +
            "  OPENAI_API_KEY=... persona llm batch --in r.jsonl --out out.jsonl --model openai:gpt-4o-mini --max-cost 5\n" +
            "  persona llm batch --in r.jsonl --out out.jsonl --model openai:llama-3.1-8b --base-url http://gpu1:8000/v1,http://gpu2:8000/v1 --concurrency 64\n" +
            "  persona llm batch --in r.jsonl --out out.jsonl --model ollama:llama3.1 --run-dir runs/pilot --max-calls 100");
        common.AddTo(cmd);
        cmd.Options.Add(input);
        cmd.Options.Add(output);

        cmd.SetAction(async (parse, ct) =>
        {
            var inFile = parse.GetValue(input)!;
            var outFile = parse.GetValue(output)!.FullName;
            OutputPaths.EnsureFileTarget(outFile, "--out");
            OutputPaths.EnsureNotAnInput(outFile, "--out", ("--in", inFile.FullName));
            var requests = BatchRequestReader.Read(inFile.FullName); // bad input fails here, before anything is paid
            var options = common.Build(parse, Path.Combine("runs", Path.GetFileNameWithoutExtension(inFile.Name)));
            var dir = options.RunDirectory;
            OutputChecks.SparesRunStore(outFile, dir);
            return await RunDirectoryUndo.GuardAsync(dir, async () => {
            await using var runtime = LlmRuntime.Open(options);
            var counters = new BatchCounters();
            var sw = Stopwatch.StartNew();
            BatchOutcome outcome = null!;
            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask(Describe(runtime, counters, sw), maxValue: Math.Max(1, requests.Count));
                    var run = BatchRunner.RunAsync(runtime, requests, parse.GetValue(output)!.FullName, counters, ct, Interrupts.Abort);
                    while (!run.IsCompleted)
                    {
                        await Task.WhenAny(run, Task.Delay(250, CancellationToken.None));
                        task.Value = counters.Done;
                        task.Description = Describe(runtime, counters, sw);
                    }
                    outcome = await run;
                    task.Value = counters.Done;
                    task.Description = Describe(runtime, counters, sw);
                });
            PrintSummary(console, runtime, outcome, dir, sw.Elapsed);
            return outcome.ExitCode;
            });
        });
        return cmd;
    }

    private static Command CreatePing(IAnsiConsole console)
    {
        var common = new RuntimeOptions(full: false);
        var cmd = new Command("ping",
            "Send one tiny call (not cached) and print the latency and the model that answered.\n\n" +
            "Examples:\n" +
            "  persona llm ping --model ollama:llama3.1\n" +
            "  persona llm ping --model openai:qwen2.5-7b --base-url http://localhost:8000/v1");
        common.AddTo(cmd);
        cmd.SetAction(async (parse, ct) =>
        {
            // --base-url takes several values per token, so a flag ping lacks lands there; name it instead.
            if (parse.GetValue(common.BaseUrl)?.FirstOrDefault(u => u.StartsWith('-')) is { } flag)
                throw new PersonaException($"llm ping does not take {flag}; it takes --model, --base-url, --timeout, --offline-seed and --offline-noise.");
            var dir = Path.Combine(Path.GetTempPath(), "persona-ping-" + Guid.NewGuid().ToString("N"));
            try
            {
                var options = new LlmRuntimeOptions
                {
                    Model = parse.GetValue(common.Model)!,
                    BaseUrls = parse.GetValue(common.BaseUrl),
                    RunDirectory = dir,
                    Refresh = true,
                    OfflineSeed = parse.GetValue(common.OfflineSeed),
                    WorldPath = parse.GetValue(common.World)?.FullName,
                    Resilience = new ResilienceOptions { Concurrency = 1, MaxAttempts = 1, Timeout = RuntimeOptions.Seconds(parse.GetValue(common.Timeout), "--timeout") },
                };
                await using (var runtime = LlmRuntime.Open(options))
                {
                    await runtime.EnsureReachableAsync(ct);
                    var sw = Stopwatch.StartNew();
                    ChatResponse response;
                    try
                    {
                        response = await runtime.ChatClient.GetResponseAsync(
                            [new ChatMessage(ChatRole.User, "Reply with the single word: pong")],
                            new ChatOptions { Temperature = 0, MaxOutputTokens = 8 }, ct);
                    }
                    catch (Exception ex) when (ex is LlmCallException or RunStoppedException)
                    {
                        console.MarkupLineInterpolated($"[red]ping failed:[/] {SecretScrubber.Scrub(ex.Message)}");
                        return ex is RunStoppedException rs ? rs.ExitCode : CircuitOpenException.Code;
                    }
                    var table = new Table().AddColumns("model", "answered by", "endpoint", "latency", "reply");
                    table.AddRow(Markup.Escape(runtime.Model.Identity), Markup.Escape(response.ModelId ?? "?"),
                        Markup.Escape(string.Join(", ", runtime.Endpoints)), $"{sw.Elapsed.TotalMilliseconds:0} ms",
                        Markup.Escape(Shorten(response.Text, 60)));
                    console.Write(table);
                    if (runtime.Simulated) console.MarkupLine("[yellow]simulated:[/] the offline simulator answered, not a model.");
                }
                return 0;
            }
            finally
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            }
        });
        return cmd;
    }

    private static string Describe(LlmRuntime runtime, BatchCounters c, Stopwatch sw)
    {
        var spend = runtime.Budget.Snapshot();
        var rate = c.Done / Math.Max(0.001, sw.Elapsed.TotalSeconds);
        var waiting = runtime.Waiting.Describe(runtime.Options.Resilience.Timeout, showAfter: TimeSpan.FromSeconds(5));
        // Waiting goes first: on a narrow terminal the end of the description is cut.
        return Markup.Escape((waiting.Length > 0 ? waiting + "  " : "") + string.Create(CultureInfo.InvariantCulture,
            $"{c.Done}/{c.Total} calls  {rate:0.0}/s  cached {c.Cached}  failed {c.Failed}  tokens {spend.PromptTokens + spend.CompletionTokens:N0}  ${spend.CostUsd:0.0000}"));
    }

    private static void PrintSummary(IAnsiConsole console, LlmRuntime runtime, BatchOutcome o, string dir, TimeSpan elapsed)
    {
        var t = new Table().AddColumns("", "");
        t.AddRow("status", Markup.Escape(o.Status));
        t.AddRow("model", Markup.Escape(runtime.Model.Identity) + (o.Simulated ? " [yellow](simulated)[/]" : ""));
        t.AddRow("requests", o.Total.ToString(CultureInfo.InvariantCulture));
        t.AddRow("completed (cached)", $"{o.Completed} ({o.Cached})");
        t.AddRow("failed", o.Failed.ToString(CultureInfo.InvariantCulture));
        t.AddRow("not run", o.NotRun.ToString(CultureInfo.InvariantCulture));
        t.AddRow("paid calls", o.Spend.Completed.ToString(CultureInfo.InvariantCulture));
        t.AddRow("tokens (prompt/completion)", $"{o.Spend.PromptTokens:N0} / {o.Spend.CompletionTokens:N0}");
        t.AddRow("estimated cost", string.Create(CultureInfo.InvariantCulture, $"${o.Spend.CostUsd:0.0000}") + (o.Spend.UnpricedCalls ? " [yellow](model not in price table: counted as 0)[/]" : ""));
        t.AddRow("elapsed", $"{elapsed.TotalSeconds:0.0} s");
        t.AddRow("run dir", Markup.Escape(dir));
        console.Write(t);
        if (o.StopReason is not null)
            console.MarkupLineInterpolated($"[yellow]stopped:[/] {o.StopReason} Run the same command again to resume (exit code {o.ExitCode}).");
    }

    private static string Shorten(string s, int n) => s.Length <= n ? s : s[..(n - 3)] + "...";
}
