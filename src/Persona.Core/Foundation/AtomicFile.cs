namespace Persona;

/// <summary>
/// Writes a file through a temporary sibling and a final rename, so readers never see a partial
/// file and a failed run leaves the previous file (or nothing) in place.
/// </summary>
public static class AtomicFile
{
    public static Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write, CancellationToken ct) =>
        ViaTempAsync(path, async temp =>
        {
            await using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await write(stream, ct);
            await stream.FlushAsync(ct);
        });

    /// <summary>For writers that only take a file name (e.g. ScottPlot's SavePng).</summary>
    public static void Write(string path, Action<string> writeTemp) =>
        ViaTempAsync(path, temp =>
        {
            writeTemp(temp);
            return Task.CompletedTask;
        }).GetAwaiter().GetResult();

    public static void WriteAllText(string path, string text) =>
        Write(path, temp => File.WriteAllText(temp, text, new System.Text.UTF8Encoding(false)));

    private static async Task ViaTempAsync(string path, Func<string, Task> writeTemp)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PersonaException($"Cannot create the output folder '{dir}': {ex.Message}", ex);
        }
        OutputPaths.CleanStaleTemps(full); // what a killed earlier run of this output left
        var temp = OutputPaths.TempSibling(full);
        try
        {
            await writeTemp(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            // The message names our temporary sibling, which the user never asked for; say what failed instead.
            var reason = ex switch
            {
                UnauthorizedAccessException => $"permission denied in '{dir}'",
                FileNotFoundException or DirectoryNotFoundException => $"the folder '{dir}' does not accept new files",
                _ => ex.Message.Replace(temp, "its temporary file", StringComparison.Ordinal),
            };
            throw new PersonaException($"Cannot write '{full}': {reason}.", ex);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
