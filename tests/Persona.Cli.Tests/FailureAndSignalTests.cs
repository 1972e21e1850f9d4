using System.Diagnostics;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Persona.Testing.FakeLlm;

namespace Persona.Cli.Tests;

/// <summary>The shared stop rule as a user meets it: failure records, --max-failure-rate, and Ctrl-C on the real process.</summary>
public sealed class FailureAndSignalTests
{
    private static string Dir() => Cli.TempDir("stop-tests");

    private static string Requests(string dir, int n) => LlmCommandsTests.Requests(dir, n);

    [Fact]
    public async Task Garbage_and_http_400_for_some_items_become_error_lines_and_the_batch_completes()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = r => r.LastUserContent is "question 3" or "question 17" ? new FakeFault.Status(400) : null;
        var dir = Dir();
        var output = Path.Combine(dir, "out.jsonl");
        var (code, text) = await Cli.Run("llm", "batch", "--in", Requests(dir, 60), "--out", output, "--model", "openai:m",
            "--base-url", server.BaseUrl, "--run-dir", Path.Combine(dir, "run"), "--max-attempts", "2");
        Assert.True(code == 0, text);
        var lines = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(60, lines.Count);
        var errors = lines.Where(l => l.TryGetProperty("error", out _)).ToList();
        Assert.Equal(["r3", "r17"], errors.Select(e => e.GetProperty("id").GetString()));
        Assert.All(errors, e => Assert.Contains("400", e.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task A_plainly_broken_model_ends_the_batch_with_exit_5_and_a_resumable_message()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = r => int.Parse(r.LastUserContent["question ".Length..]) % 3 == 0 ? new FakeFault.Status(400) : null;
        var dir = Dir();
        var output = Path.Combine(dir, "out.jsonl");
        var runDir = Path.Combine(dir, "run");
        var (code, text) = await Cli.Run("llm", "batch", "--in", Requests(dir, 500), "--out", output, "--model", "openai:m",
            "--base-url", server.BaseUrl, "--run-dir", runDir, "--max-attempts", "1", "--max-failure-rate", "0.1", "--concurrency", "2");
        Assert.Equal(5, code);
        Assert.Contains("--max-failure-rate", text);
        Assert.Contains("resume", text);
        Assert.False(File.Exists(output));
        Assert.True(server.TotalReceived < 200, $"{server.TotalReceived} calls were made after the model was plainly broken");
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "manifest.json"))).RootElement;
        Assert.Equal("stopped_failure_rate", manifest.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Sigint_during_3_second_calls_lets_them_finish_and_be_saved_and_the_rerun_pays_for_none()
    {
        await using var server = await FakeLlmServer.StartAsync();
        server.FaultRule = _ => new FakeFault.Slow(TimeSpan.FromSeconds(3));
        var dir = Dir();
        var input = Requests(dir, 40);
        var output = Path.Combine(dir, "out.jsonl");
        var runDir = Path.Combine(dir, "run");
        string[] args = ["llm", "batch", "--in", input, "--out", output, "--model", "openai:m", "--base-url", server.BaseUrl,
            "--run-dir", runDir, "--concurrency", "4", "--timeout", "30"];

        // The built apphost itself, not `dotnet run` (a wrapper that would take the signal).
        var exe = Path.Combine(AppContext.BaseDirectory, "persona");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("OPENAI_API_KEY");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (server.TotalReceived < 4 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(4, server.TotalReceived);
        var signalled = Stopwatch.StartNew();
        Assert.Equal(0, Kill(p.Id, 2)); // SIGINT
        Assert.True(p.WaitForExit(30_000), "the process did not end after SIGINT");
        var said = await stdout + await stderr;
        Assert.True(p.ExitCode == 130, said);
        Assert.True(signalled.Elapsed > TimeSpan.FromSeconds(1.5), "it ended before the in-flight calls could finish");
        Assert.Equal(4, server.TotalReceived);   // nothing new started after the signal
        Assert.Equal(4, server.TotalPaid);       // ... and the four calls in flight were answered
        Assert.Contains("cancelled", said);
        Assert.Equal(4, CountResponses(Path.Combine(runDir, "store.sqlite")));
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "manifest.json"))).RootElement;
        Assert.Equal("cancelled", manifest.GetProperty("status").GetString());

        server.FaultRule = null;
        var (code, text) = await Cli.Run(args);
        Assert.True(code == 0, text);
        Assert.Equal(40, server.TotalPaid);     // 4 before the signal + 36 new: none of the four was paid again
        Assert.Equal(4, File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).Count(l => l.GetProperty("cached").GetBoolean()));
    }

    [Fact]
    public async Task A_persona_run_cancelled_in_process_after_the_prompts_stage_is_unfinished_to_verify_exit_3_and_to_report()
    {
        var dir = Path.Combine(Dir(), "run");
        using var stop = new CancellationTokenSource();
        var writer = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(writer), Ansi = Spectre.Console.AnsiSupport.No, Interactive = Spectre.Console.InteractionSupport.No,
        });
        // The default scale: a smaller population could be refused up front by the study stage's needs.
        var running = PersonaApp.RunAsync(["run", "--out", dir], console, stop.Token, error: console);
        // The first Ctrl-C (the token) once the prompts stage is recorded: pairs is under way or about to be.
        var manifestPath = Path.Combine(dir, "manifest.json");
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (!running.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            try
            {
                if (File.Exists(manifestPath) && JsonDocument.Parse(File.ReadAllText(manifestPath)).RootElement.GetProperty("stages").TryGetProperty("prompts", out _)) break;
            }
            catch (Exception ex) when (ex is IOException or JsonException or KeyNotFoundException) { }
        }
        await stop.CancelAsync();
        var code = await running;
        Assert.True(code == 130, writer.ToString());
        var manifest = JsonDocument.Parse(File.ReadAllText(manifestPath)).RootElement;
        Assert.Contains(manifest.GetProperty("status").GetString(), new[] { "cancelled", "running" });

        var (verified, stdout, stderr) = await Cli.RunSplit("verify", dir);
        Assert.True(verified == 3, stdout + stderr);
        Assert.Contains("unfinished:", stdout);
        Assert.Contains("not run:", stdout);
        Assert.DoesNotContain("verified:", stdout);

        (verified, stdout, stderr) = await Cli.RunSplit("report", dir);
        Assert.True(verified == 0, stdout + stderr);
        Assert.Contains("unfinished:", stderr);
        var html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Contains("This run did not finish", html);
        Assert.Matches(@"<td>bench</td><td[^>]*>not run</td>", html);
    }

    private static long CountResponses(string store)
    {
        using var c = new SqliteConnection($"Data Source={store};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM responses";
        return (long)cmd.ExecuteScalar()!;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
