namespace Persona.Statistics;

/// <summary>
/// One calibration margin: every record's category index (0..Targets.Length-1) and the population
/// total each category must reach.
/// </summary>
public sealed record RakingMargin(string Name, IReadOnlyList<int> CategoryOfRecord, IReadOnlyList<double> Targets);

/// <summary>How closely one margin is met after raking (errors in weight units and relative to the target).</summary>
public sealed record MarginFit(string Name, int Categories, double MaxAbsoluteError, double MaxRelativeError);

public sealed record RakingResult(
    IReadOnlyList<double> Weights,
    int Iterations,
    bool Converged,
    double MaxRelativeError,
    IReadOnlyList<MarginFit> Fits);

/// <summary>
/// Raking (iterative proportional fitting, Deming-Stephan): rescale weights margin by margin until
/// every weighted category total matches its target. Converges whenever the targets are
/// consistent with the records (every category with a positive target has a record with positive
/// weight and all margins share one grand total), which is why those are checked up front.
/// </summary>
public static class Raking
{
    public static RakingResult Rake(
        IReadOnlyList<double> initialWeights,
        IReadOnlyList<RakingMargin> margins,
        double tolerance = 1e-6,
        int maxIterations = 1000)
    {
        ArgumentNullException.ThrowIfNull(initialWeights);
        ArgumentNullException.ThrowIfNull(margins);
        if (margins.Count == 0) throw new PersonaException("Raking needs at least one margin.");
        int n = initialWeights.Count;
        var w = new double[n];
        for (int i = 0; i < n; i++)
        {
            double x = initialWeights[i];
            if (!double.IsFinite(x) || x < 0)
                throw new PersonaException($"Raking: initial weight of record {i} is {x}; weights must be finite and >= 0.");
            w[i] = x;
        }
        Validate(margins, w);

        int iteration = 0;
        double error = MaxRelativeError(margins, w);
        while (error >= tolerance && iteration < maxIterations)
        {
            foreach (var m in margins)
            {
                var totals = Totals(m, w);
                var factor = new double[totals.Length];
                for (int k = 0; k < factor.Length; k++)
                    factor[k] = totals[k] > 0 ? m.Targets[k] / totals[k] : 0.0;
                for (int i = 0; i < n; i++) w[i] *= factor[m.CategoryOfRecord[i]];
            }
            iteration++;
            error = MaxRelativeError(margins, w);
        }

        var fits = margins.Select(m =>
        {
            var totals = Totals(m, w);
            double abs = 0, rel = 0;
            for (int k = 0; k < totals.Length; k++)
            {
                double e = Math.Abs(totals[k] - m.Targets[k]);
                abs = Math.Max(abs, e);
                if (m.Targets[k] > 0) rel = Math.Max(rel, e / m.Targets[k]);
            }
            return new MarginFit(m.Name, m.Targets.Count, abs, rel);
        }).ToList();
        return new RakingResult(w, iteration, error < tolerance, error, fits);
    }

    static void Validate(IReadOnlyList<RakingMargin> margins, double[] w)
    {
        double? grand = null;
        foreach (var m in margins)
        {
            if (m.CategoryOfRecord.Count != w.Length)
                throw new PersonaException($"Raking margin '{m.Name}' has {m.CategoryOfRecord.Count} category indices for {w.Length} records.");
            var support = new bool[m.Targets.Count];
            for (int i = 0; i < w.Length; i++)
            {
                int c = m.CategoryOfRecord[i];
                if (c < 0 || c >= m.Targets.Count)
                    throw new PersonaException($"Raking margin '{m.Name}': record {i} has category {c}, expected 0..{m.Targets.Count - 1}.");
                if (w[i] > 0) support[c] = true;
            }
            double sum = 0;
            for (int k = 0; k < m.Targets.Count; k++)
            {
                double t = m.Targets[k];
                if (!double.IsFinite(t) || t < 0)
                    throw new PersonaException($"Raking margin '{m.Name}': target of category {k} is {t}; expected a finite total >= 0.");
                if (t > 0 && !support[k])
                    throw new PersonaException($"Raking margin '{m.Name}': category {k} has target {t} but no record with positive weight; collapse it with a neighbour.");
                sum += t;
            }
            if (grand is { } g && Math.Abs(sum - g) > 1e-9 * Math.Max(1, g))
                throw new PersonaException($"Raking margin '{m.Name}' totals {sum} but an earlier margin totals {g}; all margins must describe the same population.");
            grand ??= sum;
        }
    }

    static double[] Totals(RakingMargin m, double[] w)
    {
        var totals = new double[m.Targets.Count];
        for (int i = 0; i < w.Length; i++) totals[m.CategoryOfRecord[i]] += w[i];
        return totals;
    }

    static double MaxRelativeError(IReadOnlyList<RakingMargin> margins, double[] w)
    {
        double worst = 0;
        foreach (var m in margins)
        {
            var totals = Totals(m, w);
            for (int k = 0; k < totals.Length; k++)
                if (m.Targets[k] > 0) worst = Math.Max(worst, Math.Abs(totals[k] - m.Targets[k]) / m.Targets[k]);
        }
        return worst;
    }
}
