using Persona.Study;

namespace Persona.Web.Tests;

/// <summary>Many raters at once against a real Kestrel: nothing lost, nothing stored twice.</summary>
public sealed class LoadTests
{
    [Fact]
    public async Task Fifty_raters_submitting_concurrently_store_every_answer_exactly_once()
    {
        const int raters = 50, items = 10;
        await using var study = await TestStudy.StartAsync(
            new StudyOptions { Personas = 13, RatersPerPersona = 4, ItemsPerPersona = items, MinJustificationChars = 10 },
            TestStudy.MadeUpPairs(13, items), w => w with { EntryPermitsPerMinute = 1000 });
        var entry = StudyWebApp.EntryPath(study.Db);
        var clients = Enumerable.Range(0, raters).Select(_ => new RaterClient(study.BaseUrl)).ToList();
        try
        {
            // A gate, not a Barrier: fifty blocked pool threads would starve the clients' continuations.
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var runs = clients.Select((c, i) => Task.Run(async () =>
            {
                await start.Task;
                Assert.NotNull(await c.ClaimAsync(entry, $"pid{i:0000}"));
                // Half the raters post every answer twice, as a retry or a second tab would.
                return await c.CompleteAsync(position => (position + i) % 2, resubmit: i % 2 == 0);
            })).ToList();
            start.SetResult();
            var pages = await Task.WhenAll(runs);
            Assert.All(pages, p => Assert.Contains(study.Db.CompletionCode, p));

            var rows = study.Db.Answers().ToList();
            Assert.Equal(raters * items, rows.Count);
            Assert.Equal(raters * items, rows.Select(r => (r.SessionId, r.Position)).Distinct().Count());
            var sessions = study.Db.SessionProgress();
            Assert.Equal(raters, sessions.Count);
            Assert.All(sessions, s => Assert.Equal(("completed", items), (s.State, s.Answered)));
            // Each stored side is the one its rater chose.
            foreach (var (c, i) in clients.Select((c, i) => (c, i)))
            {
                var id = study.Db.FindSession(c.Token!)!.SessionId;
                Assert.All(rows.Where(r => r.SessionId == id), r => Assert.Equal((r.Position + i) % 2 == 0 ? "left" : "right", r.Side));
                Assert.All(rows.Where(r => r.SessionId == id), r => Assert.Equal($"pid{i:0000}", r.ProlificPid));
            }
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }
}
