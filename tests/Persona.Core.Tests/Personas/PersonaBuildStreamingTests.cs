using System.Text.Json;
using Persona.Core.Tests.Census;
using Persona.Llm;
using Persona.Personas;

namespace Persona.Core.Tests.Personas;

/// <summary>
/// The build streams its population to its files instead of holding it (memory flat in personas):
/// what it writes must be what the held population would have given, and a build that stops
/// must leave no file behind.
/// </summary>
public sealed class PersonaBuildStreamingTests : IDisposable
{
    private readonly CensusFixtures.TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private LlmRuntime Offline(string name) => LlmRuntime.Open(new LlmRuntimeOptions
    {
        Model = "offline",
        RunDirectory = _tmp.File(name),
        Environment = _ => null,
    });

    [Fact]
    public async Task A_written_build_streams_the_population_the_held_build_returns()
    {
        var outDir = _tmp.File("out");
        PersonaBuildResult written, held;
        await using (var rt = Offline("rw"))
            written = await PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(25, outDir) with { ModelLabel = rt.ModelIdentity }, rt.ChatClient);
        await using (var rt = Offline("rh"))
            held = await PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(25, null) with { ModelLabel = rt.ModelIdentity }, rt.ChatClient);

        Assert.Equal(held.Personas, written.Personas);
        Assert.Equal(held.Rejections.Count, written.Rejections.Count);
        Assert.Equal(held.Rejections.Select(Json), written.Rejections.Select(Json));
        Assert.True(held.Report.Rejected > 0, "the simulator's coin-flip verdicts must reject some draws, or the log is not exercised");
        Assert.Equal(Json(held.Report), Json(written.Report));
        Assert.Equal(Json(held.Split), Json(written.Split));

        // The files hold exactly the held population: the JSONL and parquet writers given the records
        // write the bytes the streamed build wrote.
        var jsonl = new MemoryStream();
        await PersonaJsonl.WriteAsync(jsonl, held.Personas, default);
        Assert.Equal(jsonl.ToArray(), File.ReadAllBytes(Path.Combine(outDir, PersonaBuilder.PersonasJsonl)));
        var parquet = new MemoryStream();
        await PersonaParquet.WriteAsync(parquet, held.Personas, default);
        Assert.Equal(parquet.ToArray(), File.ReadAllBytes(Path.Combine(outDir, PersonaBuilder.PersonasParquet)));
        Assert.Equal(held.Rejections.Select(Json), PersonaBuilder.ReadRejections(Path.Combine(outDir, PersonaBuilder.RejectionsFile)).Select(Json));
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp", SearchOption.AllDirectories).Concat(Directory.GetFiles(outDir, ".*")));
    }

    [Theory]
    [InlineData(7)]  // several row groups, the last one short
    [InlineData(25)] // one group, exactly full
    [InlineData(100)]
    public async Task Parquet_written_from_the_jsonl_has_the_bytes_of_the_records_written_whole(int groupSize)
    {
        var outDir = _tmp.File("g" + groupSize);
        PersonaBuildResult built;
        await using (var rt = Offline("r" + groupSize))
            built = await PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(25, outDir) with { ModelLabel = rt.ModelIdentity }, rt.ChatClient);
        var records = built.Personas.ToList();
        var whole = new MemoryStream();
        await PersonaParquet.WriteAsync(whole, records, groupSize, default);
        var streamed = new MemoryStream();
        await PersonaParquet.WriteFromJsonlAsync(streamed, Path.Combine(outDir, PersonaBuilder.PersonasJsonl), records.Count, groupSize, default);
        Assert.Equal(whole.ToArray(), streamed.ToArray());
        // Read back, group by group, the file holds the personas of the JSONL, in order.
        var file = Path.Combine(outDir, "streamed.parquet");
        await File.WriteAllBytesAsync(file, streamed.ToArray());
        Assert.Equal(await PersonaFiles.ReadAsync(Path.Combine(outDir, PersonaBuilder.PersonasJsonl)), await PersonaFiles.ReadAsync(file));

        // A file shorter than the count it is written for is refused, not padded.
        var err = await Assert.ThrowsAsync<PersonaException>(() =>
            PersonaParquet.WriteFromJsonlAsync(new MemoryStream(), Path.Combine(outDir, PersonaBuilder.PersonasJsonl), records.Count + 1, groupSize, default));
        Assert.Contains("holds 25 personas", err.Message);
    }

    [Fact]
    public async Task A_build_stopped_midway_leaves_no_file_and_no_temporary_file()
    {
        var outDir = _tmp.File("stopped");
        using var stop = new CancellationTokenSource();
        await using var rt = Offline("rs");
        var progress = new SyncProgress<PersonaBuildProgress>(p => { if (p.Stage == "personas" && p.Done >= 5) stop.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(40, outDir) with { ModelLabel = rt.ModelIdentity, Concurrency = 1 }, rt.ChatClient, progress, stop.Token));
        Assert.True(Directory.Exists(outDir), "the build had opened its files");
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Fact]
    public async Task An_atomic_file_opened_for_streaming_appears_only_when_committed()
    {
        var path = _tmp.File("atomic/a.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "previous");
        await using (var w = AtomicFile.Open(path))
        {
            await w.Stream.WriteAsync("half"u8.ToArray());
            Assert.Equal("previous", File.ReadAllText(path));
        }
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));

        await using (var w = AtomicFile.Open(path))
        {
            await w.Stream.WriteAsync("whole"u8.ToArray());
            await w.CommitAsync();
        }
        Assert.Equal("whole", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public async Task Personas_read_back_share_their_labels_but_not_their_free_text()
    {
        var outDir = _tmp.File("shared");
        await using (var rt = Offline("rl"))
            await PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(20, outDir) with { ModelLabel = rt.ModelIdentity }, rt.ChatClient);
        var a = await PersonaFiles.ReadAsync(Path.Combine(outDir, PersonaBuilder.PersonasJsonl));
        var b = await PersonaFiles.ReadAsync(Path.Combine(outDir, PersonaBuilder.PersonasJsonl));
        // The same label read twice (two reads of one file) is one string, in every labelled place.
        Assert.Same(a[0].Sex, b[0].Sex);
        Assert.Same(a[0].Census.Vintage, b[0].Census.Vintage);
        Assert.Same(a[0].Census.Codes[0].Variable, b[0].Census.Codes[0].Variable);
        Assert.Same(a[0].Enrichment!.Model, b[0].Enrichment!.Model);
        Assert.Same(a[0].BigFiveScores!.Openness, b[0].BigFiveScores!.Openness);
        var sexes = a.Select(p => p.Sex).OfType<string>().GroupBy(x => x).Where(g => g.Count() > 1).First();
        Assert.All(sexes, s => Assert.Same(sexes.First(), s));
        // Free text is each persona's own: never pooled, so a population of long texts cannot fill the pool.
        Assert.NotSame(a[0].DetailedJobDescription, b[0].DetailedJobDescription);
        Assert.Equal(a[0].DetailedJobDescription, b[0].DetailedJobDescription);
    }

    [Fact]
    public async Task A_parquet_file_is_read_a_row_group_at_a_time_and_counted_from_its_footer()
    {
        var outDir = _tmp.File("groups");
        PersonaBuildResult built;
        await using (var rt = Offline("rg"))
            built = await PersonaBuilder.BuildAsync(PersonaBuilderTests.Options(25, outDir) with { ModelLabel = rt.ModelIdentity }, rt.ChatClient);
        var file = Path.Combine(outDir, "g7.parquet");
        await using (var s = File.Create(file)) await PersonaParquet.WriteAsync(s, built.Personas, 7, default);
        Assert.Equal(25, await PersonaParquet.CountAsync(file));
        Assert.Equal(built.Personas, await PersonaParquet.ReadAsync(file));

        // The last group's census column made unreadable: a reader that decodes the file whole fails
        // before its first record; one that reads a group at a time gives the three whole groups first,
        // and names the first bad row by its place in the file, not in its group.
        var broken = Path.Combine(outDir, "broken.parquet");
        await CopyGroupsAsync(file, broken, (group, field) => group == 3 && field == "census" ? "{" : null);
        Assert.Equal(25, await PersonaParquet.CountAsync(broken)); // the footer is whole
        var read = new List<PersonaRecord>();
        var err = await Assert.ThrowsAsync<PersonaException>(async () => { await foreach (var p in PersonaFiles.StreamAsync(broken)) read.Add(p); });
        Assert.Equal(built.Personas.Take(21), read);
        Assert.Contains("row 22", err.Message);

        // A Parquet file that is not a persona file is refused by its missing columns, counted or read.
        var foreign = Path.Combine(outDir, "foreign.parquet");
        await CopyGroupsAsync(file, foreign, (_, _) => null, keep: f => f is "id" or "age");
        foreach (var act in new Func<Task>[] { () => PersonaParquet.CountAsync(foreign), () => PersonaParquet.ReadAsync(foreign) })
        {
            var message = (await Assert.ThrowsAsync<PersonaException>(act)).Message;
            Assert.Contains("is not a persona parquet file: it lacks the column(s) ", message);
            Assert.Contains("income", message);
            Assert.DoesNotContain(" age,", message);
        }
        Assert.Contains("does not exist", (await Assert.ThrowsAsync<PersonaException>(() => PersonaParquet.CountAsync(Path.Combine(outDir, "none.parquet")))).Message);
    }

    /// <summary>Rewrites a persona Parquet file group by group, a string cell replaced where <paramref name="replace"/> says, only the columns <paramref name="keep"/> keeps.</summary>
    private static async Task CopyGroupsAsync(string from, string to, Func<int, string, string?> replace, Func<string, bool>? keep = null)
    {
        await using var src = File.OpenRead(from);
        await using var reader = await Parquet.ParquetReader.CreateAsync(src);
        var fields = reader.Schema.GetDataFields().Where(f => keep?.Invoke(f.Name) ?? true).ToArray();
        await using var dst = File.Create(to);
        await using var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(fields), dst);
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            var n = (int)rg.RowCount;
            using var wg = writer.CreateRowGroup();
            foreach (var f in fields)
            {
                if (f.ClrType == typeof(int))
                {
                    var a = new int[n];
                    await rg.ReadAsync<int>(f, a.AsMemory(), null, default);
                    await wg.WriteAsync<int>(f, a, null, null, default);
                }
                else if (f.ClrType == typeof(long))
                {
                    var a = new long?[n];
                    await rg.ReadAsync<long>(f, a.AsMemory(), null, default);
                    await wg.WriteAsync<long>(f, a, null, null, default);
                }
                else
                {
                    var a = new string?[n];
                    await rg.ReadAsync(f, a.AsMemory(), null, default);
                    await wg.WriteAsync(f, a.Select(x => replace(g, f.Name) ?? x).ToArray()!, null);
                }
            }
        }
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, BuildJson.Options);
}
