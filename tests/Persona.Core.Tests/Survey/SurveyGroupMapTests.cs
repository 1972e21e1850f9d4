using Persona.Census;
using Persona.Personas;
using Persona.Engine;
using Persona.Survey;

namespace Persona.Core.Tests.Survey;

public class SurveyGroupMapTests
{
    private static PersonaRecord Person(int age = 40, string state = "36", string? education = "Master's degree", string? sex = "Female", string? ideology = "Very liberal",
        long? income = 120_000, string? party = "Democrat", string? race = "White alone", long hisp = 1, string? religion = "Mainline Protestant") => new()
    {
        Id = "p",
        Age = age,
        Sex = sex,
        Race = race,
        Education = education,
        Income = income,
        Ideology = ideology,
        PoliticalViews = party,
        Religion = religion,
        Census = new PersonaCensus("2024-1yr", "2024HU1", 1, state, "00100", 50, [new PumsCode("HISP", hisp, null)]),
        Traits = new PersonaTraits("conditional", 1),
    };

    private static string[] Groups(PersonaRecord p) => SurveyGroupMap.GroupsOf(p).Select(g => g.ToString()).ToArray();

    [Fact]
    public void A_New_York_liberal_Democrat_with_a_masters_degree_is_in_one_group_of_each_attribute()
    {
        Assert.Equal(["CREGION=Northeast", "EDUCATION=College graduate/some postgrad", "SEX=Female", "POLIDEOLOGY=Liberal", "INCOME=$100,000 or more",
            "POLPARTY=Democrat", "RACE=White", "RELIG=Protestant"], Groups(Person()));
    }

    [Fact]
    public void Middle_values_fall_in_no_group_and_Hispanic_origin_comes_before_race()
    {
        // Illinois (Midwest), a high-school diploma, $50,000, a Republican leaner, Catholic, White and Hispanic.
        var p = Person(state: "17", education: "Regular high school diploma", ideology: "Moderate", income: 50_000, party: "Lean Republican", hisp: 2, religion: "Catholic");
        Assert.Equal(["SEX=Female", "POLIDEOLOGY=Moderate", "RACE=Hispanic"], Groups(p));
        // Texas, grade 9, no income, conservative Republican, Black, atheist.
        var q = Person(state: "48", education: "Grade 9", ideology: "Conservative", income: 0, party: "Republican", race: "Black or African American alone", religion: "Atheist", sex: "Male");
        Assert.Equal(["CREGION=South", "EDUCATION=Less than high school", "SEX=Male", "POLIDEOLOGY=Conservative", "INCOME=Less than $30,000",
            "POLPARTY=Republican", "RACE=Black", "RELIG=Atheist"], Groups(q));
    }

    [Fact]
    public async Task A_panelists_text_is_its_rendered_persona_whether_held_or_rebuilt_from_its_attributes()
    {
        // The attributes trim values, so a padded one's text is not their lines and must be kept as it is.
        PersonaRecord[] people = [Person(), Person(education: "Master's degree "), Person(age: 17)];
        static async IAsyncEnumerable<PersonaRecord> Stream(IEnumerable<PersonaRecord> ps)
        {
            foreach (var p in ps) { await Task.Yield(); yield return p; }
        }
        var panel = await SurveyStage.PanelAsync(Stream(people));
        Assert.Equal([PersonaRenderer.Render(people[0]), PersonaRenderer.Render(people[1])], panel.Select(p => p.Text));
        Assert.Contains("education: Master's degree \n", panel[1].Text);
    }

    [Fact]
    public void Minors_are_in_no_group()
    {
        Assert.Empty(Groups(Person(age: 17)));
    }

    [Fact]
    public void Groups_are_census_weighted_and_small_ones_withheld()
    {
        var survey = SurveySetFile.Read(SurveySet.BundledPath);
        var dem = new SurveyGroup("POLPARTY", "Democrat");
        // Weights 1 and 3: the group's shares are (1 x [1,0,0] + 3 x [0,0,1]) / 4.
        SurveyAnswer A(string id, double w, double[] d) => new(id, "natspac", w, [dem], d);
        var (predictions, withheld) = SurveyPanel.Aggregate([A("a", 1, [1, 0, 0]), A("b", 3, [0, 0, 1])], survey, minPersonas: 2);
        var p = Assert.Single(predictions);
        Assert.Equal([0.25, 0, 0.75], p.Distribution);
        Assert.Equal(21, withheld.Count);
        var (_, all) = SurveyPanel.Aggregate([A("a", 1, [1, 0, 0]), A("b", 3, [0, 0, 1])], survey, minPersonas: 3);
        Assert.Equal(2, all.Single(w => w.Group == dem).Personas);
    }

    [Theory]
    [InlineData("""{"A": 0.2, "B": 0.6, "C": 0.2}""", new[] { 0.2, 0.6, 0.2 })]
    [InlineData("""Sure: {"A": 1, "B": 3, "C": 0}""", new[] { 0.25, 0.75, 0 })] // renormalised, JSON found in prose
    public void A_stated_distribution_is_read_and_renormalised(string text, double[] expected)
    {
        var d = SurveyTask.Parse(text, ["A", "B", "C"]);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], d[i], 12);
    }

    [Theory]
    [InlineData("""{"A": 0.5, "B": 0.5}""", "no probability for option C")]
    [InlineData("""{"A": 0, "B": 0, "C": 0}""", "every probability is 0")]
    [InlineData("""{"A": -1, "B": 1, "C": 1}""", "no probability for option A")]
    [InlineData("I'd rather not say.", "not a JSON object")]
    public void A_reply_without_a_distribution_is_a_failed_item(string text, string expected)
    {
        var ex = Assert.Throws<ItemFailedException>(() => SurveyTask.Parse(text, ["A", "B", "C"]));
        Assert.Equal(ItemFailure.Unparsable, ex.Kind);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Ranks_follow_the_ordinal_values_and_mark_options_off_the_scale()
    {
        Assert.Equal([0, 1, 2, -1], SurveyTask.Ranks([1, 2, 3, -1]));
        Assert.Equal([2, 0, 1], SurveyTask.Ranks([3, 1, 1.5]));
    }
}
