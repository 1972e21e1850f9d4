namespace Persona.Store;

/// <summary>
/// Remembers what a run directory looked like before a verb opened its store, so that a run which
/// fails before any call was made (a validation error, an unreachable server) can take back what it
/// created: the empty store, and the folder itself if it made it. Anything holding a logged call is kept.
/// </summary>
public sealed class RunDirectoryUndo
{
    private static readonly string[] StoreFiles = ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "manifest.json"];
    private readonly string _dir;
    private readonly bool _dirExisted;
    private readonly HashSet<string> _existing;

    private RunDirectoryUndo(string dir)
    {
        _dir = Path.GetFullPath(dir);
        _dirExisted = Directory.Exists(_dir);
        _existing = _dirExisted ? StoreFiles.Where(f => File.Exists(Path.Combine(_dir, f))).ToHashSet() : [];
    }

    public static RunDirectoryUndo Note(string runDirectory) => new(runDirectory);

    /// <summary>Runs a verb's work over <paramref name="runDirectory"/>; on a user error before any call, takes back the empty store.</summary>
    public static async Task<T> GuardAsync<T>(string runDirectory, Func<Task<T>> work)
    {
        var undo = Note(runDirectory);
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (PersonaException)
        {
            undo.UndoIfNothingRan();
            throw;
        }
    }

    /// <summary>Call after the store is closed. Removes what this run created if the store logged no call.</summary>
    public void UndoIfNothingRan()
    {
        try
        {
            var store = Path.Combine(_dir, "store.sqlite");
            if (_existing.Contains("store.sqlite") || !File.Exists(store)) return;
            using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store};Mode=ReadOnly;Pooling=False"))
            {
                c.Open();
                using var cmd = c.CreateCommand();
                cmd.CommandText = "SELECT COUNT(*) FROM calls";
                if (Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0) return;
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in StoreFiles.Where(f => !_existing.Contains(f)))
                File.Delete(Path.Combine(_dir, f));
            if (!_dirExisted && !Directory.EnumerateFileSystemEntries(_dir).Any())
                Directory.Delete(_dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            // Best effort: a leftover empty store is untidy, not harmful.
        }
    }
}
