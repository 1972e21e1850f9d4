using System.Text.Json;

namespace Persona.Cli.Tests;

public sealed class SurveyLogprobsRunTests
{
    [Fact]
    public async Task An_offline_run_elicits_the_survey_by_logprobs()
    {
        var dir = Cli.TempDir("survey-logprobs");
        try
        {
            var (code, text) = await Cli.Run("run", "--out", dir, "--personas", "40", "--survey-modes", "persona,none", "--survey-elicitation", "logprobs");
            Assert.True(code == 0, text);
            var samples = File.ReadAllLines(Path.Combine(dir, "survey", "samples.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.NotEmpty(samples);
            Assert.All(samples, s =>
            {
                Assert.Equal("ok", s.GetProperty("status").GetString());
                Assert.Equal("logprobs", s.GetProperty("inputs").GetProperty("elicitation").GetString());
                // What the simulator answered: the first token's candidates, as the provider layer writes them.
                Assert.Contains("persona-logprobs/1", s.GetProperty("turns")[0].GetProperty("output").GetString());
                var d = s.GetProperty("data").GetProperty("distribution").EnumerateArray().Select(x => x.GetDouble()).ToList();
                Assert.Equal(1, d.Sum(), 9);
            });
            using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "survey", "survey-results.json")));
            Assert.True(results.RootElement.GetProperty("simulated").GetBoolean());
            using var eee = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(Path.Combine(dir, "survey", "every-eval-ever"), "*.json").Single()));
            Assert.Equal("logprobs", eee.RootElement.GetProperty("source_metadata").GetProperty("additional_details").GetProperty("elicitation").GetString());
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
