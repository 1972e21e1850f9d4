using System.Text.RegularExpressions;
using Persona.Run;
using YamlDotNet.RepresentationModel;

namespace Persona.Cli.Tests;

/// <summary>
/// The README's recipes for a sharded `persona run`: the Kubernetes Indexed Job is read as YAML and
/// its fields checked (there is no cluster here); the Slurm blocks are the ones tests/slurm/run.sh
/// submits to a real cluster, checked here for the shape that script relies on.
/// </summary>
public sealed class ShardedRunRecipeTests
{
    private static string Readme()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "README.md")) && File.Exists(Path.Combine(d.FullName, "Persona.slnx")))
                return File.ReadAllText(Path.Combine(d.FullName, "README.md"));
        throw new InvalidOperationException("README.md not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The fenced block right after <c>&lt;!-- marker --&gt;</c>, as tests/slurm/run.sh extracts it.</summary>
    private static string Block(string marker)
    {
        var m = Regex.Match(Readme(), $@"<!-- {Regex.Escape(marker)} -->\n```[a-z]*\n(.*?)\n```", RegexOptions.Singleline);
        Assert.True(m.Success, $"README.md has no block after <!-- {marker} -->");
        return m.Groups[1].Value;
    }

    private static YamlNode At(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            Assert.True(node is YamlMappingNode map && map.Children.ContainsKey(new YamlScalarNode(key)), $"the manifest has no '{key}' (path {string.Join(".", path)})");
            node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        }
        return node;
    }

    private static string Scalar(YamlNode node, params string[] path) => ((YamlScalarNode)At(node, path)).Value!;

    [Fact]
    public void The_Kubernetes_Indexed_Job_for_persona_run_has_one_completion_per_shard_and_passes_its_index_and_count()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(Block("k8s-run")));
        var job = yaml.Documents.Single().RootNode;
        Assert.Equal("batch/v1", Scalar(job, "apiVersion"));
        Assert.Equal("Job", Scalar(job, "kind"));
        Assert.Equal("Indexed", Scalar(job, "spec", "completionMode"));
        var completions = int.Parse(Scalar(job, "spec", "completions"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(completions > 1);
        Assert.Equal(completions.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(job, "spec", "parallelism"));
        // A pod that fails is retried in place; the shard then resumes and pays nothing twice.
        Assert.Contains(Scalar(job, "spec", "template", "spec", "restartPolicy"), new[] { "OnFailure", "Never" });
        var container = Assert.Single(((YamlSequenceNode)At(job, "spec", "template", "spec", "containers")).Children);
        var command = ((YamlSequenceNode)At(container, "command")).Children.Select(c => ((YamlScalarNode)c).Value!).ToList();
        Assert.Equal(["sh", "-c"], command.Take(2));
        var line = Assert.Single(command.Skip(2));
        Assert.StartsWith("persona run ", line);
        Assert.Matches($@"--shard-count {completions}(\s|$)", line);
        Assert.Matches(@"--out \S*\$JOB_COMPLETION_INDEX", line);
        Assert.Matches(@"--shared \S+", line);
        Assert.DoesNotContain("--shard ", line); // the index comes from JOB_COMPLETION_INDEX
    }

    [Fact]
    public void The_Slurm_recipe_is_one_shared_step_an_array_over_the_shards_and_a_merge_of_exactly_them()
    {
        Assert.Matches(@"^persona run .*--shared-only --out (\S+)$", Block("slurm-shared"));
        var shared = Regex.Match(Block("slurm-shared"), @"--out (\S+)").Groups[1].Value;
        var job = Block("slurm-array").Split('\n');
        Assert.Equal("#!/bin/bash", job[0]);
        var array = Regex.Match(string.Join('\n', job), @"^#SBATCH --array=0-(\d+)$", RegexOptions.Multiline);
        Assert.True(array.Success, "the job has no #SBATCH --array=0-N line");
        var n = int.Parse(array.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 1;
        var run = Assert.Single(job, l => l.StartsWith("persona run ", StringComparison.Ordinal));
        Assert.Contains($"--shared {shared} ", run);
        Assert.Matches(@"--out (\S*)\$SLURM_ARRAY_TASK_ID$", run);
        var prefix = Regex.Match(run, @"--out (\S*)\$SLURM_ARRAY_TASK_ID$").Groups[1].Value;
        // The shard's options are the shared step's (a shard of other options is refused).
        Assert.Equal(Regex.Replace(Block("slurm-shared"), @" --shared-only --out \S+$", ""), Regex.Replace(run, @" --shared \S+ --out \S+$", ""));
        var merge = Block("slurm-merge");
        Assert.Equal($"persona run merge {string.Join(' ', Enumerable.Range(0, n).Select(i => prefix + i))} --out run", merge);
    }

    [Fact]
    public void Every_stage_of_the_registry_says_how_a_sharded_run_splits_it()
    {
        foreach (var stage in TestbedStages.All) _ = TestbedShards.Sharding(stage);
        Assert.Equal([TestbedStages.Population, TestbedStages.Prompts], TestbedShards.Stages(StageSharding.Shared));
        // A stage that calls no model is made once, by the merge; one that calls a model is shared or per persona.
        foreach (var s in TestbedStages.Registry)
            Assert.Equal(s.Roles.Count == 0, TestbedShards.Sharding(s.Name) == StageSharding.Aggregate);
    }
}
