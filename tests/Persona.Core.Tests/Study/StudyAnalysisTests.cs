using Persona.Study;

namespace Persona.Core.Tests.Study;

/// <summary>Analysis of a study whose answers and judgments are constructed so that the right results are known.</summary>
public sealed class StudyAnalysisTests : IDisposable
{
    private readonly string _dir = StudyFixtures.TempDir();

    /// <summary>The planted human majority of (persona index, position): both labels occur within every persona.</summary>
    private static string Truth(int persona, int position) => (persona + position) % 3 != 0 ? StudyLabels.Personalised : StudyLabels.Generic;

    private static string Other(string label) => label == StudyLabels.Personalised ? StudyLabels.Generic : StudyLabels.Personalised;

    private async Task<StudyDatabase> BuildAsync()
    {
        var db = StudyDatabase.Create(_dir, StudyPlanner.Plan(StudyFixtures.Pairs(4, 5), null,
            new StudyOptions { Personas = 4, RatersPerPersona = 4, ItemsPerPersona = 5, AttentionChecks = 1 }));
        var personaIndex = db.PersonaTexts().Keys.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);
        // Rater 1 of each persona is first taken by someone who answers against the truth and fails the
        // attention check: the place closes at that answer and reopens for a rater who passes.
        var failedOnce = new HashSet<long>();
        while (await db.ClaimConsentedAsync(ProlificIds.None) is { } s)
        {
            var p = personaIndex[s.PersonaId];
            var careless = s.RaterIndex == 0 && failedOnce.Add(s.SlotId);
            for (var pos = 1; pos <= s.ItemCount; pos++)
            {
                var item = db.FindItem(s.PersonaId, pos)!;
                string want;
                if (item.Kind == ItemKind.Attention) want = careless ? StudyLabels.Generic : StudyLabels.Personalised;
                else
                {
                    var truth = Truth(p, pos);
                    // Personas 0 and 1: unanimous. Personas 2 and 3: the last rater dissents everywhere (3 of 4).
                    want = careless || (p >= 2 && s.RaterIndex == 3) ? Other(truth) : truth;
                }
                var left = StudyPlan.PersonalisedLeft(item.Flip, s.RaterIndex);
                var side = (want == StudyLabels.Personalised) == left ? "left" : "right";
                var result = await db.SubmitAsync(s.Token, pos, side, $"constructed answer {pos}", ProlificIds.None, default);
                if (result.Excluded) break;
            }
        }
        Assert.Equal(4, failedOnce.Count);
        var judgments = new List<StudyDatabase.Judgment>();
        foreach (var item in db.Items().Where(i => i.Kind == ItemKind.Pair))
        {
            var truth = Truth(personaIndex[item.PersonaId], item.Position);
            foreach (var pf in new[] { true, false })
            {
                judgments.Add(new("perfect", item.ItemId, pf, truth, null));
                judgments.Add(new("contrarian", item.ItemId, pf, Other(truth), null));
                judgments.Add(new("first-answer", item.ItemId, pf, pf ? StudyLabels.Personalised : StudyLabels.Generic, null));
            }
        }
        judgments.Add(new("unreadable", db.Items()[0].ItemId, true, null, "no idea"));
        await db.SaveJudgmentsAsync(judgments, default);
        return db;
    }

    [Fact]
    public async Task Known_answers_give_known_agreement()
    {
        using var db = await BuildAsync();
        var r = StudyAnalysis.Analyze(db, new AnalysisOptions { Resamples = 200 });
        Assert.Equal((4, 4, 3, 20, 20, 20, 0), (r.Personas, r.CompletePersonas, r.MajorityVotes, r.Items, r.FullyRatedItems, r.LabelledItems, r.NoMajorityItems));
        // 16 completed raters passed; the 4 who failed are counted, and none of their answers is in a statistic
        // (they chose against the human label everywhere, yet the perfect model below agrees perfectly).
        Assert.Equal(new AttentionSummary(20, 20, 16, 4), r.Attention);
        Assert.Equal(4, r.Quality!.ExcludedAttention);
        var failed = db.SessionProgress().Where(x => x.EndReason == EndReasons.AttentionFailed).ToList();
        Assert.Equal(4, failed.Count);
        Assert.All(failed, x => Assert.Equal("released", x.State));
        // Kept in the export, flagged with the reason.
        var rows = StudyExport.Rows(db).Where(a => failed.Any(f => f.SessionId == a.SessionId)).ToList();
        Assert.NotEmpty(rows);
        Assert.All(rows, a => Assert.Equal(EndReasons.AttentionFailed, a.SessionEndReason));
        Assert.All(rows, a => Assert.Contains(",attention-failed,", StudyExport.CsvLine(a) + ","));

        var perfect = r.Models.Single(m => m.Model == "perfect");
        Assert.Equal(1.0, perfect.KappaVsHumans.Value!.Value, 9);
        Assert.Equal(0.0, perfect.FlipRate.Value!.Value);
        Assert.Equal(1.0, perfect.AccuracyVsHumans.Value!.Value);
        Assert.Equal(40, perfect.Units);
        Assert.Equal(0, perfect.Confusion[0][1] + perfect.Confusion[1][0]);

        var contrarian = r.Models.Single(m => m.Model == "contrarian");
        Assert.True(contrarian.KappaVsHumans.Value < -0.5);
        Assert.Equal(0.0, contrarian.AccuracyVsHumans.Value!.Value);

        // Always picking the first answer: every item flips between orders, and each order alone carries no information.
        var first = r.Models.Single(m => m.Model == "first-answer");
        Assert.Equal(1.0, first.FlipRate.Value!.Value);
        Assert.Equal(0.5, first.ChoosesPersonalised.Value!.Value);
        Assert.Equal(0.0, first.KappaPersonalisedFirst.Value!.Value, 9);
        Assert.Equal(0.0, first.KappaGenericFirst.Value!.Value, 9);

        var unreadable = r.Models.Single(m => m.Model == "unreadable");
        Assert.Equal(1, unreadable.Unparsed);
        Assert.NotNull(unreadable.KappaVsHumans.Undefined);

        var pair = r.ModelPairs.Single(p => p.A == "contrarian" && p.B == "perfect");
        Assert.Equal(contrarian.KappaVsHumans.Value!.Value, pair.Kappa.Value!.Value, 9);

        // Unanimous personas agree perfectly; the ones with a dissenter less so; overall lies between.
        var ids = db.PersonaTexts().Keys.ToList();
        var unanimous = r.PerPersona.Single(p => p.Name == ids[0]);
        var split = r.PerPersona.Single(p => p.Name == ids[2]);
        Assert.Equal(1.0, unanimous.Humans.FleissKappa.Value!.Value, 9);
        Assert.Equal(1.0, unanimous.Humans.KrippendorffAlpha.Value!.Value, 9);
        Assert.True(split.Humans.FleissKappa.Value < 0.5);
        Assert.InRange(r.Humans.FleissKappa.Value!.Value, split.Humans.FleissKappa.Value!.Value, 1.0);
        Assert.True(r.Humans.FleissKappa.Lower <= r.Humans.FleissKappa.Value && r.Humans.FleissKappa.Value <= r.Humans.FleissKappa.Upper);
        Assert.True(r.Humans.KrippendorffAlpha.Lower <= r.Humans.KrippendorffAlpha.Value && r.Humans.KrippendorffAlpha.Value <= r.Humans.KrippendorffAlpha.Upper);

        Assert.Equal(["age=25-34", "sex=Female", "sex=Male"], r.PerGroup.Select(g => g.Name).Order(StringComparer.Ordinal));
        Assert.Equal(2, r.PerGroup.Single(g => g.Name == "sex=Female").Personas);
        Assert.Equal(1.0, r.PerGroup.Single(g => g.Name == "sex=Male").KappaVsHumans["perfect"].Value!.Value, 9);
    }

    [Fact]
    public async Task A_stricter_majority_leaves_split_questions_unlabelled()
    {
        using var db = await BuildAsync();
        var r = StudyAnalysis.Analyze(db, new AnalysisOptions { MajorityVotes = 4, Resamples = 200 });
        Assert.Equal(10, r.LabelledItems); // only the unanimous personas' questions
        Assert.Equal(10, r.NoMajorityItems);
        Assert.Throws<PersonaException>(() => StudyAnalysis.Analyze(db, new AnalysisOptions { MajorityVotes = 5 }));
    }

    [Fact]
    public async Task Figures_are_written_as_png_and_svg()
    {
        using var db = await BuildAsync();
        var r = StudyAnalysis.Analyze(db, new AnalysisOptions { Resamples = 100 });
        var files = StudyPlots.Write(r, Path.Combine(_dir, "figures"));
        Assert.Equal(r.Models.Count * 4, files.Count);
        Assert.All(files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)), f => Assert.Equal(0x89, File.ReadAllBytes(f)[0]));
        Assert.All(files.Where(f => f.EndsWith(".svg", StringComparison.Ordinal)), f => Assert.Contains("<svg", File.ReadAllText(f)));
        Assert.Contains("\"labelled_items\": 20", StudyReport.ToJson(r));
    }

    [Theory]
    [InlineData("{\"choice\": \"A\", \"reason\": \"x\"}", "A")]
    [InlineData("```json\n{\"choice\":\"b\"}\n```", "B")]
    [InlineData("{\"choice\": \"Answer B\"}", "B")]
    [InlineData("{\"choice\": \"C\"}", null)]
    [InlineData("A", null)]
    public void The_judges_choice_is_read_from_its_json(string text, string? expected) => Assert.Equal(expected, StudyJudge.ParseChoice(text));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
