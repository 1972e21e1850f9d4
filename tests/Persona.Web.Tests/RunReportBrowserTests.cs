using Microsoft.Playwright;
using Persona.Testing;

namespace Persona.Web.Tests;

/// <summary>
/// report.html of a real small run (built with the `persona` verbs, see RunFolderFixture) opened
/// from disk in an offline browser: no console error, no request beyond the file itself, every
/// figure loaded, the simulated banner on screen.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class RunReportBrowserTests(BrowserFixture fixture, RunFolderFixture run) : IClassFixture<RunFolderFixture>
{
    [Fact]
    public async Task The_report_opens_offline_with_every_figure_loaded_and_the_simulated_banner_visible()
    {
        await RunFolderFixture.Step("report", run.Run);
        var path = Path.Combine(run.Run, "report.html");

        await using var context = await fixture.Browser.NewContextAsync(new() { Offline = true, ViewportSize = new() { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(90_000); // a loaded CI machine runs four test projects beside the browser
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        var requests = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); };
        page.PageError += (_, e) => errors.Add(e);
        page.Request += (_, r) => requests.Add(r.Url);
        var url = new Uri(path).AbsoluteUri;
        var response = await page.GotoAsync(url, new() { WaitUntil = WaitUntilState.Load });
        Assert.NotNull(response);

        Assert.Empty(errors);
        // The page is self-contained: the file itself and data: URIs, nothing fetched from anywhere.
        Assert.All(requests, r => Assert.True(r == url || r.StartsWith("data:", StringComparison.Ordinal), r));

        // Every figure: 24 fidelity histograms, accuracy by mode and per group, loo, pass@k, summaries, the survey's heat map.
        // naturalWidth alone comes from a PNG's header, and a truncated image still "decodes" (partly): each figure is drawn
        // and its last pixel read, which every stage's figure paints (an opaque background) and a cut image leaves transparent.
        var widths = await page.EvaluateAsync<int[]>("""
            () => Promise.all([...document.images].map(async i => {
              try { await i.decode(); } catch { return -1; }
              const c = document.createElement('canvas');
              c.width = i.naturalWidth; c.height = i.naturalHeight;
              const g = c.getContext('2d');
              g.drawImage(i, 0, 0);
              return g.getImageData(c.width - 1, c.height - 1, 1, 1).data[3] > 0 ? i.naturalWidth : 0;
            }))
            """);
        Assert.Equal(24 + 2 + 5 + 1, widths.Length); // fidelity histograms, reward-model figures, bench figures, the survey's heat map
        Assert.All(widths, w => Assert.True(w > 0, "an image did not load"));
        var captions = await page.Locator("figure figcaption").AllInnerTextsAsync();
        foreach (var title in new[] { "age", "occupation category", "Accuracy by mode", "Accuracy per group", "Leave-one-attribute-out influence", "pass@k", "Attributes dropped by demographic summaries", "Distance per question and group" })
            Assert.Contains(captions, c => c.StartsWith(title + " (", StringComparison.Ordinal));

        // The banner: first thing on screen, and repeated in each of the ten sections (the survey's and the reward models' among them).
        var banners = page.Locator(".simulated");
        Assert.Equal(11, await banners.CountAsync());
        var top = await banners.First.BoundingBoxAsync();
        Assert.NotNull(top);
        Assert.True(top.Y + top.Height < 900, $"the top banner is below the first screen (y = {top.Y})");
        Assert.Contains("SIMULATED", await banners.First.InnerTextAsync());
        for (var i = 0; i < 11; i++) Assert.True(await banners.Nth(i).IsVisibleAsync(), $"banner {i} is hidden");
        foreach (var id in new[] { "population", "survey", "prompts", "pairs", "bench", "study", "costs", "reproducibility" })
            Assert.True(await page.Locator($"section#{id} > .simulated").IsVisibleAsync(), id);
    }
}
