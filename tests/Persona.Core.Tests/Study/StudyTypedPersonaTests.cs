using Microsoft.Data.Sqlite;
using Persona.Llm;
using Persona.Study;

using Persona.Simulation;

namespace Persona.Core.Tests.Study;

/// <summary>
/// The study keeps each persona typed: the LM judge's hint and the analysis's groups read the stored
/// attributes, never the persona's text. The texts here lie (a parsable text naming the other
/// ideology) or cannot be parsed at all, so a stage that parsed the text back would judge or group
/// these personas wrongly, or fail.
/// </summary>
public sealed class StudyTypedPersonaTests : IDisposable
{
    private readonly string _dir = StudyFixtures.TempDir();

    // A judge that follows the planted world exactly: conservatives always prefer the personalised answer, liberals the generic one.
    private static readonly SimulatedWorld World = new()
    {
        Source = "test", Sha256 = "-", Description = "ideology decides", FidelityDefault = 1, PreferenceIntercept = 0,
        PreferenceWeights = new Dictionary<string, IReadOnlyList<(string, double)>> { ["ideology"] = [("Conservative", 30.0), ("Liberal", -30.0)] },
    };

    private static Dictionary<string, string> Attrs(string ideology) => new() { ["age"] = "41", ["sex"] = "Female", ["ideology"] = ideology };

    /// <summary>p01 is Conservative but its text says Liberal; p02 is Liberal with a text that is no 'key: value' lines.</summary>
    private static Dictionary<string, StudyPersona> Personas() => new()
    {
        ["p01"] = new("age: 41\nsex: Female\nideology: Liberal\n", Attrs("Conservative")),
        ["p02"] = new("A woman in her forties who votes with the left", Attrs("Liberal")),
    };

    private StudyDatabase Create() => StudyDatabase.Create(_dir, StudyPlanner.Plan(StudyFixtures.Pairs(2, 3), Personas(),
        new StudyOptions { Personas = 2, RatersPerPersona = 1, ItemsPerPersona = 3, AttentionChecks = 0 }));

    [Fact]
    public async Task The_judge_follows_the_stored_attributes_not_the_text_raters_read()
    {
        using var db = Create();
        // Raters and the judge still read the text as given.
        Assert.Equal(Personas().ToDictionary(kv => kv.Key, kv => kv.Value.Text), db.PersonaTexts());
        Assert.Equal("Conservative", db.Personas()["p01"].Attributes!["ideology"]);

        await new StudyJudge(new OfflineSimulator(0, World), 2).RunAsync(db, "offline", null, default);
        var items = db.Items().ToDictionary(i => i.ItemId);
        var judged = db.Judgments();
        Assert.Equal(12, judged.Count); // 2 personas x 3 items x 2 orders, none failed on p02's unparsable text
        foreach (var j in judged)
        {
            var expected = items[j.ItemId].PersonaId == "p01" ? StudyLabels.Personalised : StudyLabels.Generic;
            Assert.Equal(expected, j.Choice);
        }
    }

    [Fact]
    public void The_analysis_groups_by_the_stored_attributes()
    {
        using var db = Create();
        Assert.Equal("Conservative", StudyAnalysis.GroupValue(db.Personas()["p01"], "ideology"));
        Assert.Equal("Liberal", StudyAnalysis.GroupValue(db.Personas()["p02"], "ideology"));
        Assert.Equal(Persona.Statistics.Bands.Age(41), StudyAnalysis.GroupValue(db.Personas()["p02"], "age"));
    }

    [Fact]
    public async Task A_study_made_before_attributes_were_stored_opens_and_its_judge_reads_the_text()
    {
        // A schema-2 study: the personas table has no attributes column. Built from the current one by
        // dropping the column, as a study of the earlier version is on disk.
        var plan = StudyPlanner.Plan(StudyFixtures.Pairs(2, 3), null, new StudyOptions { Personas = 2, RatersPerPersona = 1, ItemsPerPersona = 3, AttentionChecks = 0 });
        StudyDatabase.Create(_dir, plan).Dispose();
        SqliteConnection.ClearAllPools();
        using (var c = new SqliteConnection($"Data Source={StudyDatabase.PathIn(_dir)};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "ALTER TABLE personas DROP COLUMN attributes; UPDATE meta SET value = '2' WHERE key = 'schema_version';";
            cmd.ExecuteNonQuery();
        }
        using var db = StudyDatabase.Open(_dir);
        Assert.All(db.Personas().Values, p => Assert.Null(p.Attributes));
        var world = new SimulatedWorld
        {
            Source = "test", Sha256 = "-", Description = "sex decides", FidelityDefault = 1, PreferenceIntercept = 0,
            PreferenceWeights = new Dictionary<string, IReadOnlyList<(string, double)>> { ["sex"] = [("Female", 30.0), ("Male", -30.0)] },
        };
        await new StudyJudge(new OfflineSimulator(0, world), 2).RunAsync(db, "offline", null, default);
        var items = db.Items().ToDictionary(i => i.ItemId);
        // StudyFixtures: even personas are Female in their text, odd ones Male.
        Assert.All(db.Judgments(), j => Assert.Equal(items[j.ItemId].PersonaId == "p02" ? StudyLabels.Personalised : StudyLabels.Generic, j.Choice));
        Assert.Equal("Female", StudyAnalysis.GroupValue(db.Personas()["p02"], "sex"));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
