using Microsoft.AspNetCore.Builder;
using Persona.Study;

namespace Persona.Web.Tests;

/// <summary>A study in a temporary folder, served by a real Kestrel on 127.0.0.1 with an ephemeral port.</summary>
public sealed class TestStudy : IAsyncDisposable
{
    public const string AdminToken = "test-admin-token-0123456789abcdef";
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private readonly WebApplication _app;
    public string Directory { get; }
    public string BaseUrl { get; }
    public StudyDatabase Db { get; }
    public string EntryUrl => BaseUrl + StudyWebApp.EntryPath(Db);

    private TestStudy(string dir, WebApplication app)
    {
        Directory = dir;
        _app = app;
        BaseUrl = StudyWebApp.ListeningAddress(app);
        Db = (StudyDatabase)app.Services.GetService(typeof(StudyDatabase))!;
    }

    /// <summary>The fixture pairs (3 personas x 5 questions, one persona holding markup), or the given pairs.</summary>
    public static async Task<TestStudy> StartAsync(StudyOptions options, IReadOnlyList<PreferencePair>? pairs = null, Func<StudyWebOptions, StudyWebOptions>? web = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "persona-web-tests", Guid.NewGuid().ToString("N"));
        pairs ??= StudyInputs.ReadPairs(Fixture("pairs"));
        StudyDatabase.Create(dir, StudyPlanner.Plan(pairs, null, options)).Dispose();
        var webOptions = new StudyWebOptions { StudyDirectory = dir, Urls = ["http://127.0.0.1:0"], AdminToken = AdminToken };
        var app = StudyWebApp.Build(web?.Invoke(webOptions) ?? webOptions);
        await app.StartAsync();
        return new TestStudy(dir, app);
    }

    /// <summary>Pairs made up in code for studies larger than the fixture: personas x questions.</summary>
    public static IReadOnlyList<PreferencePair> MadeUpPairs(int personas, int questions) =>
        [.. from p in Enumerable.Range(1, personas)
            from q in Enumerable.Range(1, questions)
            select new PreferencePair($"pp{p:00}-q{q:00}", $"pp{p:00}", $"q{q:00}", $"age: {20 + p}\nsex: {(p % 2 == 0 ? "Female" : "Male")}\nlifestyle: made-up persona {p}\n",
                $"Made-up question {q}?", $"Generic answer {q}.", $"Personalised answer {q} for persona {p}.", null, "test", "test-seen")];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Db.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
