using System.Globalization;

namespace Persona.Cli.Tests;

/// <summary>The dry run's survey lines: one per mode asked, with the calls of that mode and the tokens of its elicitation.</summary>
public sealed class SurveyDryRunTests
{
    private static Dictionary<string, (long Calls, long Prompt, long Completion)> SurveyLines(string text, string elicitation)
    {
        var lines = new Dictionary<string, (long, long, long)>();
        foreach (var line in text.Split('\n').Where(l => l.Contains("survey answers, mode", StringComparison.Ordinal)))
        {
            var cells = line.Split('│', StringSplitOptions.TrimEntries);
            var step = cells.Single(c => c.StartsWith("survey answers, mode", StringComparison.Ordinal));
            Assert.Contains($"({elicitation}; 12 questions", step);
            var mode = step["survey answers, mode ".Length..step.IndexOf(' ', "survey answers, mode ".Length)];
            long N(int i) => long.Parse(cells[i], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            var at = Array.IndexOf(cells, step);
            lines[mode] = (N(at + 1), N(at + 2), N(at + 3));
        }
        return lines;
    }

    [Fact]
    public async Task The_dry_run_has_one_survey_line_per_mode_with_its_elicitations_tokens()
    {
        var dir = Cli.TempDir("survey-dry");
        var (code, text) = await Cli.Run("run", "--out", dir, "--dry-run", "--personas", "50", "--survey-modes", "persona,none,steer-qa", "--survey-elicitation", "sample:3");
        Assert.True(code == 0, text);
        var sampled = SurveyLines(text, "sample:3");
        Assert.Equal(["persona", "none", "steer-qa"], sampled.Keys);
        // 12 questions, 3 answers each: every panelist (the adults in a survey group among 50 personas, at their share of the
        // census draws, as the label says), one unsteered answer, each of the 22 GSS groups.
        var panel = System.Text.RegularExpressions.Regex.Match(text, @"sample:3; 12 questions; (\d+) panelists").Groups[1].Value;
        Assert.True(int.TryParse(panel, out var panelists) && panelists is > 0 and < 50, text);
        Assert.Equal(panelists * 12 * 3, sampled["persona"].Calls);
        Assert.Equal(12 * 3, sampled["none"].Calls);
        Assert.Equal(22 * 12 * 3, sampled["steer-qa"].Calls);
        // The persona's profile is in the prompt of mode persona only.
        Assert.True(sampled["persona"].Prompt / sampled["persona"].Calls > sampled["none"].Prompt / sampled["none"].Calls + 300);

        (code, text) = await Cli.Run("run", "--out", dir, "--dry-run", "--personas", "50", "--survey-modes", "persona,none,steer-qa", "--survey-elicitation", "logprobs");
        Assert.True(code == 0, text);
        var logprobs = SurveyLines(text, "logprobs");
        Assert.Equal(12, logprobs["none"].Calls);
        Assert.Equal(panelists * 12, logprobs["persona"].Completion); // one token per call
        (code, text) = await Cli.Run("run", "--out", dir, "--dry-run", "--personas", "50", "--survey-modes", "persona,none,steer-qa");
        Assert.True(code == 0, text);
        var stated = SurveyLines(text, "verbalized");
        Assert.Equal(panelists * 12, stated["persona"].Calls);
        // A probability per option costs more than one letter, which costs more than one token.
        Assert.True(stated["persona"].Completion / stated["persona"].Calls > sampled["persona"].Completion / sampled["persona"].Calls);
        Assert.True(sampled["persona"].Completion / sampled["persona"].Calls > 1);
        Assert.False(Directory.Exists(Path.Combine(dir, "survey")), "a dry run wrote stage output");
    }
}
