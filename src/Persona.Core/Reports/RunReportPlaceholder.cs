namespace Persona.Reports;

// PLACEHOLDER until the report branch merges (delete then).
public static class RunReport
{
    public static Task WriteAsync(string runDir, CancellationToken ct) => File.WriteAllTextAsync(Path.Combine(runDir, "report.html"), "<html></html>", ct);
}
