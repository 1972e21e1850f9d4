using Persona.Report;
using ScottPlot;

namespace Persona.Core.Tests.Report;

public sealed class DeterministicSvgTests
{
    private static Plot Bars(double a, double b)
    {
        var plot = new Plot();
        plot.Add.Bars([a, b]);
        plot.Title("bars");
        return plot;
    }

    [Fact]
    public void The_same_figure_drawn_after_others_gives_the_same_svg()
    {
        var first = DeterministicSvg.Of(Bars(1, 2), 300, 200);
        for (var i = 0; i < 40; i++) _ = DeterministicSvg.Of(Bars(3, i), 300, 200); // advances ScottPlot's process-wide clip-path counter (past hex-like ids)
        var again = DeterministicSvg.Of(Bars(1, 2), 300, 200);
        Assert.Equal(first, again);
        Assert.Contains("cl_0", first);
    }

    [Fact]
    public void Ids_are_renumbered_in_order_of_appearance_and_references_follow()
    {
        var svg = "<clipPath id=\"cl_17\"/><clipPath id=\"cl_db\"/><g clip-path=\"url(#cl_db)\"/><g clip-path=\"url(#cl_17)\"/>";
        Assert.Equal("<clipPath id=\"cl_0\"/><clipPath id=\"cl_1\"/><g clip-path=\"url(#cl_1)\"/><g clip-path=\"url(#cl_0)\"/>",
            DeterministicSvg.Normalize(svg));
    }
}
