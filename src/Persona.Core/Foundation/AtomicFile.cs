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

    /// <summary>
    /// A file written over time (streamed while its content is made, so it is never held whole) that
    /// appears at <paramref name="path"/> only at <see cref="AtomicFileWriter.CommitAsync"/>; disposed
    /// uncommitted (a failure, a cancel), it leaves nothing but the previous file.
    /// </summary>
    public static AtomicFileWriter Open(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        string temp = "";
        try
        {
            Directory.CreateDirectory(dir);
            OutputPaths.CleanStaleTemps(full);
            temp = OutputPaths.TempSibling(full);
            return new AtomicFileWriter(full, temp, new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (temp.Length > 0) TryDelete(temp);
            throw Failure(full, dir, temp, ex);
        }
    }

    internal static PersonaException Failure(string full, string dir, string temp, Exception ex)
    {
        var reason = ex switch
        {
            UnauthorizedAccessException => $"permission denied in '{dir}'",
            FileNotFoundException or DirectoryNotFoundException => $"the folder '{dir}' does not accept new files",
            _ => temp.Length == 0 ? ex.Message : ex.Message.Replace(temp, "its temporary file", StringComparison.Ordinal),
        };
        return new PersonaException($"Cannot write '{full}': {reason}.", ex);
    }

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
            throw Failure(full, dir, temp, ex);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    internal static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>An output being streamed to its temporary sibling; see <see cref="AtomicFile.Open"/>.</summary>
public sealed class AtomicFileWriter : IAsyncDisposable
{
    private readonly string _full, _temp;
    private bool _done;

    internal AtomicFileWriter(string full, string temp, FileStream stream) => (_full, _temp, Stream) = (full, temp, stream);

    public Stream Stream { get; }

    /// <summary>Flushes, closes and renames the temporary file over <c>path</c>.</summary>
    public async Task CommitAsync(CancellationToken ct = default)
    {
        if (_done) throw new InvalidOperationException("The file was committed or abandoned already.");
        _done = true;
        try
        {
            await Stream.FlushAsync(ct).ConfigureAwait(false);
            await Stream.DisposeAsync().ConfigureAwait(false);
            File.Move(_temp, _full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            AtomicFile.TryDelete(_temp);
            throw AtomicFile.Failure(_full, Path.GetDirectoryName(_full)!, _temp, ex);
        }
        catch
        {
            AtomicFile.TryDelete(_temp);
            throw;
        }
    }

    /// <summary>Uncommitted: removes the temporary file, leaving the previous file (or nothing).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_done) return;
        _done = true;
        await Stream.DisposeAsync().ConfigureAwait(false);
        AtomicFile.TryDelete(_temp);
    }
}
