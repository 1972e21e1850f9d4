namespace Persona.Statistics;

public static class Proportion
{
    /// <summary>
    /// Wilson's (1927) score interval for a proportion of <paramref name="successes"/> out of
    /// <paramref name="n"/>; unlike the Wald interval it stays inside [0, 1] and keeps its coverage
    /// near 0 and 1. Undefined for n = 0.
    /// </summary>
    public static Interval Wilson(int successes, int n, double level = 0.95)
    {
        if (n < 0 || successes < 0 || successes > n)
            throw new ArgumentException($"{successes} successes out of {n} is not a proportion.");
        return Wilson(n == 0 ? 0 : successes / (double)n, n, level);
    }

    /// <summary>
    /// Wilson's interval for an estimated proportion with a (possibly fractional) sample size, e.g.
    /// a weighted share with Kish's effective sample size.
    /// </summary>
    public static Interval Wilson(double proportion, double n, double level = 0.95)
    {
        if (!(n > 0)) throw new UndefinedStatisticException("The Wilson interval", "the sample is empty");
        if (!(proportion >= 0 && proportion <= 1)) throw new ArgumentOutOfRangeException(nameof(proportion), proportion, "A proportion lies in [0, 1].");
        var z = Stat.Z(level);
        var z2 = z * z;
        var centre = (proportion + z2 / (2 * n)) / (1 + z2 / n);
        var half = z / (1 + z2 / n) * Math.Sqrt(proportion * (1 - proportion) / n + z2 / (4 * n * n));
        return new Interval(Math.Max(0, centre - half), Math.Min(1, centre + half));
    }
}
