using System.Text.Json;
using Persona.Run;

namespace Persona.Core.Tests.Run;

/// <summary>Whether a whole run finished, read from manifests as `persona run` leaves them when it ends, is stopped or is killed.</summary>
public sealed class RunCompletionTests
{
    private static RunCompletion Of(string json) => RunCompletion.Of(JsonDocument.Parse(json).RootElement);

    private static string Stages(Func<string, string?> status) =>
        "{" + string.Join(", ", TestbedStages.All.Where(s => status(s) is not null).Select(s => $"\"{s}\": {{\"status\": \"{status(s)}\"}}")) + "}";

    [Fact]
    public void Only_completed_with_every_stage_completed_is_finished()
    {
        var done = Of($"{{\"status\": \"completed\", \"stages\": {Stages(_ => "completed")}}}");
        Assert.True(done.Finished);
        Assert.True(done.ResultsComplete);
        Assert.Empty(done.Unfinished);

        // Stopped in prompts: the stages before it in the registry (population, survey) completed.
        var cancelled = Of($"{{\"status\": \"cancelled\", \"stages\": {Stages(s => s is "population" or "survey" ? "completed" : s == "prompts" ? "cancelled" : null)}}}");
        Assert.False(cancelled.Finished);
        Assert.False(cancelled.ResultsComplete);
        Assert.Equal(["prompts", "pairs", "rm", "bench", "loo", "passk", "summaries", "study", "dataset", "report"], cancelled.Unfinished.Select(s => s.Stage));
        Assert.Equal("manifest.json says \"cancelled\" by Ctrl-C; cancelled: prompts; not run: pairs, rm, bench, loo, passk, summaries, study, dataset, report", cancelled.Explain());
    }

    [Fact]
    public void The_report_stage_sees_running_with_every_other_stage_completed_as_results_complete_but_verify_does_not()
    {
        // What the report stage reads: the manifest is written just before it, still "running", without the report.
        var atReport = Of($"{{\"status\": \"running\", \"stages\": {Stages(s => s == "report" ? null : "completed")}}}");
        Assert.True(atReport.ResultsComplete);
        Assert.False(atReport.Finished);
        // A stage stopped by its error, and a kill between stages.
        var failed = Of($"{{\"status\": \"failed\", \"stop_reason\": \"The study needs 20 personas.\", \"stages\": {Stages(s => s == "study" ? "failed" : s is "dataset" or "report" ? null : "completed")}}}");
        Assert.False(failed.ResultsComplete);
        Assert.StartsWith("manifest.json says \"failed\": a stage ended with an error (The study needs 20 personas); failed: study; not run: dataset, report", failed.Explain());
        var killed = Of($"{{\"status\": \"running\", \"stages\": {Stages(s => s == "population" ? "completed" : null)}}}");
        Assert.False(killed.ResultsComplete);
        Assert.Contains("the process was killed", killed.StatusText);
    }

    [Fact]
    public void A_manifest_without_stages_is_judged_by_its_status_and_digests_are_given_as_hex()
    {
        Assert.True(Of("{\"status\": \"completed\"}").Finished);
        Assert.False(Of("{}").Finished);
        Assert.False(Of("{\"status\": \"done\"}").Finished);
        var d = new string('a', 64);
        Assert.Equal(d, ManifestDigest.Normalize(" SHA256:" + d.ToUpperInvariant() + "\n"));
        Assert.Null(ManifestDigest.Normalize("abc"));
        Assert.Equal(d, ManifestDigest.ParseFile(ManifestDigest.Line(d)));
        Assert.Null(ManifestDigest.ParseFile("not a digest  manifest.json\n"));
        // The FIPS 180-2 vector: the digest is of the bytes, nothing else.
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ManifestDigest.Of("abc"u8));
    }
}
