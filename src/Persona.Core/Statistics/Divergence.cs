namespace Persona.Statistics;

public static class Divergence
{
    /// <summary>
    /// Total variation distance between two categorical distributions: half the L1 distance between
    /// their shares over the union of categories (a category missing from one side has share 0
    /// there). 0 for identical distributions, 1 for disjoint supports. Both sides are normalised,
    /// so weights need not be on the same scale.
    /// </summary>
    public static double TotalVariation(WeightedDistribution p, WeightedDistribution q)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(q);
        if (p.Total <= 0 || q.Total <= 0)
            throw new PersonaException("Total variation distance needs two non-empty distributions (positive total weight on each side).");
        double sum = 0;
        foreach (var c in p.Categories.Union(q.Categories, StringComparer.Ordinal))
            sum += Math.Abs(p.Share(c) - q.Share(c));
        return Math.Clamp(sum / 2, 0.0, 1.0);
    }

    /// <summary>
    /// Expected TVD between a simple random sample of <paramref name="n"/> draws and the population
    /// <paramref name="population"/> it was drawn from, by the normal approximation
    /// E|p̂ - p| ≈ sqrt(2 p (1 - p) / (π n)) per category. A measured TVD near this value is sampling
    /// noise, not a fidelity problem; the approximation is rough for categories with n·p below ~5,
    /// where it overstates the noise slightly.
    /// </summary>
    public static double ExpectedSamplingTotalVariation(WeightedDistribution population, int n)
    {
        ArgumentNullException.ThrowIfNull(population);
        if (n <= 0) throw new PersonaException($"Sample size must be positive, got {n}.");
        double sum = 0;
        foreach (var c in population.Categories)
        {
            double p = population.Share(c);
            sum += Math.Sqrt(2 * p * (1 - p) / (Math.PI * n));
        }
        return sum / 2;
    }
}
