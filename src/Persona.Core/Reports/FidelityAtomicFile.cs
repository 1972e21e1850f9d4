namespace Persona.Reports;

/// <summary>Atomic writes for report outputs: a temp file in the destination folder, then a rename over the target.</summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string text) =>
        Write(path, tmp => File.WriteAllText(tmp, text, new System.Text.UTF8Encoding(false)));

    public static void Write(string path, Action<string> writeTemp)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PersonaException($"Cannot create output folder {dir}: {e.Message}", e);
        }
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            writeTemp(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PersonaException($"Cannot write {full}: {e.Message}", e);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
