using System.CommandLine;
using System.Globalization;
using Persona.Embeddings;
using Persona.Llm;
using Persona.Preferences;
using Persona.Run;
using Spectre.Console;

namespace Persona.Cli;

/// <summary>
/// `persona run` across machines: --shared-only (the stages every shard shares, once), --shard i/n
/// with --shared (one slice of the personas; also from Slurm's or Kubernetes' index, as `pairs
/// build` reads it) and `persona run merge` (the whole run from the shards' answers).
/// </summary>
internal sealed class RunShardOptions
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly Option<string?> _shard = new("--shard") { Description = "i/n: make the per-persona stages' calls for shard i of n (by persona) into --out; needs --shared. Default with --shared: SLURM_ARRAY_TASK_ID/COUNT, or JOB_COMPLETION_INDEX with --shard-count." };
    private readonly Option<int?> _shardCount = new Option<int?>("--shard-count") { Description = "Shards in all, for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX holds only the index)." }.Between(1, 1_000_000);
    private readonly Option<DirectoryInfo?> _shared = new("--shared") { Description = "The folder of `persona run --shared-only` (population and prompts, made once) that every shard reads." };
    private readonly Option<bool> _sharedOnly = new("--shared-only") { Description = "Make only the stages every shard shares (population, prompts) into --out, once, before a sharded run." };

    public void AddTo(Command cmd)
    {
        foreach (var o in new Option[] { _shard, _shardCount, _shared, _sharedOnly }) cmd.Options.Add(o);
    }

    /// <summary>True when this invocation is a step of a sharded run (outside one, Slurm's and Kubernetes' variables are not read).</summary>
    public bool Requested(ParseResult parse) =>
        parse.GetValue(_sharedOnly) || parse.GetValue(_shared) is not null || parse.GetValue(_shard) is not null || parse.GetValue(_shardCount) is not null;

    public async Task<int> RunAsync(IAnsiConsole console, ParseResult parse, TestbedOptions o, LlmRuntimeOptions rtOptions, bool dryRun, CancellationToken ct)
    {
        if (dryRun) throw new PersonaException("--dry-run estimates the whole unsharded run: drop --shard, --shared and --shared-only (the shards' calls add up to it).");
        if (rtOptions.Refresh) throw new PersonaException("--refresh cannot be given to a step of a sharded run: answers must be the ones every shard and the merge share.");
        var dir = o.OutputDirectory;
        OutputPaths.EnsureFolderTarget(dir, "--out");
        OutputPaths.EnsureNotInsideRun(dir, "--out", TestbedRun.Format);
        if (parse.GetValue(_sharedOnly))
        {
            if (parse.GetValue(_shared) is not null || parse.GetValue(_shard) is not null || parse.GetValue(_shardCount) is not null)
                throw new PersonaException("--shared-only makes the shared stages and no shard: give it without --shard, --shard-count and --shared.");
            await using var rt = LlmRuntime.Open(rtOptions);
            await rt.EnsureReachableAsync(ct);
            var outcome = await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var r = await RunCommand.Display(console, rt, p => TestbedShards.PrepareAsync(o, rtOptions, rt, () => new MiniLmEmbedder(), p, ct, Interrupts.Abort));
                Summary(console, $"shared stages ({string.Join(", ", TestbedShards.Stages(StageSharding.Shared))})", r);
                console.MarkupLineInterpolated($"next: every shard, with these same options: persona run ... --shared {r.Directory} --shard i/n --out SHARD_DIR; then persona run merge SHARD_DIR... --out RUN");
                return 0;
            });
            return outcome;
        }
        var sharedDir = parse.GetValue(_shared)?.FullName
            ?? throw new PersonaException("--shard needs --shared DIR: the folder of `persona run --shared-only`, run once with the same options before the shards.");
        var env = (Func<string, string?>)Environment.GetEnvironmentVariable;
        if (parse.GetValue(_shard) is null && env("SLURM_ARRAY_TASK_ID") is not { Length: > 0 } && env("JOB_COMPLETION_INDEX") is not { Length: > 0 })
            throw new PersonaException("--shared is given but not which shard this is: pass --shard i/n, or run it as a Slurm array task (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX with --shard-count).");
        var shard = Shard.Resolve(parse.GetValue(_shard), parse.GetValue(_shardCount), env);
        OutputPaths.EnsureOutsideInputs(dir, "--out", ("--shared", sharedDir));
        OutputPaths.EnsureOutsideInputs(sharedDir, "--shared", ("--out", Directory.Exists(dir) ? dir : null));
        var shared = await TestbedShards.StartShardAsync(o, shard, sharedDir, ct);
        await using (var rt = LlmRuntime.Open(rtOptions))
        {
            await rt.EnsureReachableAsync(ct);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var r = await RunCommand.Display(console, rt, p => TestbedShards.RunShardAsync(o, rtOptions, shard, shared, sharedDir, rt, () => new MiniLmEmbedder(), p, ct, Interrupts.Abort));
                Summary(console, $"shard {shard.Index}/{shard.Count} ({string.Join(", ", TestbedShards.Stages(StageSharding.PerPersona))})", r);
                console.MarkupLineInterpolated($"when every shard has finished: persona run merge SHARD_DIR... --out RUN");
                return 0;
            });
        }
    }

    private static void Summary(IAnsiConsole console, string what, TestbedShards.Outcome r)
    {
        var t = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(what)).AddColumns("role", "paid calls", "cache hits", "tokens", "est. cost");
        foreach (var (role, s) in r.Spend)
            t.AddRow(Markup.Escape(role), s.PaidCalls.ToString("N0", Inv), s.CacheHits.ToString("N0", Inv), (s.PromptTokens + s.CompletionTokens).ToString("N0", Inv), "$" + s.EstimatedCostUsd.ToString("0.00", Inv));
        console.Write(t);
        console.MarkupLineInterpolated($"written: {r.Directory}");
        if (r.Simulated) console.MarkupLine("[yellow]simulated:[/] the offline simulator wrote every answer (a planted world); nothing here is a finding.");
    }

    public static Command Merge(IAnsiConsole console)
    {
        var shards = new Argument<string[]>("SHARD_DIR") { Description = "The folders of every shard of one sharded run (--shard 0/n ... n-1/n).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<DirectoryInfo>("--out") { Description = "The run folder: the files one unsharded `persona run` of the same options writes.", Required = true };
        var cmd = new Command("merge",
            "Build the run from its shards: checks that every shard is there once, of one run and unchanged, puts their answers into one\n" +
            "store and runs the whole testbed on it without calling any model (statistics, figures, dataset, study kit, report, manifest).\n\n" +
            "Example:\n  persona run merge shard-0 shard-1 shard-2 --out run") { shards, output };
        cmd.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(output)!.FullName;
            OutputPaths.EnsureFolderTarget(dir, "--out");
            OutputPaths.EnsureOutsideInputs(dir, "--out", [.. parse.GetValue(shards)!.Select(d => ("SHARD_DIR", (string?)Path.GetFullPath(d)))]);
            var (o, rtOptions, merged) = await TestbedShards.StartMergeAsync(parse.GetValue(shards)!, dir, ct);
            await using var rt = LlmRuntime.Open(rtOptions);
            return await RuntimeOptions.UntilStoppedAsync(console, rt, async () =>
            {
                var result = await RunCommand.Display(console, rt, p => TestbedShards.MergeAsync(o, rt, () => new MiniLmEmbedder(), RunCommand.WriteReportAsync, p, ct, Interrupts.Abort, merged));
                RunCommand.WriteSummary(console, result, rt);
                return 0;
            });
        });
        return cmd;
    }
}
