using Microsoft.Extensions.AI;

namespace Persona.Llm.Local.Tests;

public sealed class GgufLoadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("persona-gguf-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Model(int seed = 1, string name = "tiny.gguf", string? template = null)
    {
        var path = Path.Combine(_dir, name);
        TinyGguf.Write(path, seed, template);
        return path;
    }

    [Fact]
    public void TinyGguf_writes_a_well_formed_llama_gguf_v3()
    {
        var path = Model();
        var info = GgufFile.Read(path);

        Assert.Equal(3u, info.Version);
        Assert.Equal("llama", info.Architecture);
        Assert.Equal(32u, info.Alignment);
        Assert.Equal(256L, info.TrainedContextLength);
        Assert.Equal(3 + 9 * TinyGguf.Layers, info.Tensors.Count);
        Assert.Equal((long)TinyGguf.Vocabulary.Count, info.ArrayLengths["tokenizer.ggml.tokens"]);
        Assert.Equal(0, info.DataOffset % 32);
        Assert.All(info.Tensors, t => Assert.Equal(0, t.Offset % 32));
        var embd = info.Tensors.Single(t => t.Name == "token_embd.weight");
        Assert.Equal(new long[] { TinyGguf.Embd, TinyGguf.Vocabulary.Count }, embd.Shape);
        Assert.Equal(TinyGguf.Embd * TinyGguf.Vocabulary.Count * 4L, embd.ByteSize);
        var last = info.Tensors.MaxBy(t => t.Offset)!;
        Assert.True(info.DataOffset + last.Offset + last.ByteSize <= info.FileLength);
        Assert.InRange(info.FileLength, 200_000, 1_000_000);
    }

    [Fact]
    public void TinyGguf_is_deterministic_in_its_seed()
    {
        var a = File.ReadAllBytes(Model(7, "a.gguf"));
        var b = File.ReadAllBytes(Model(7, "b.gguf"));
        var c = File.ReadAllBytes(Model(8, "c.gguf"));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public async Task Different_weights_give_different_greedy_answers()
    {
        using var one = LocalProvider.Load(Model(1, "one.gguf"));
        using var two = LocalProvider.Load(Model(2, "two.gguf"));
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        ChatMessage[] messages = [new(ChatRole.User, "Hello")];
        var a = await one.GetResponseAsync(messages, options);
        var b = await two.GetResponseAsync(messages, options);
        Assert.NotEqual(a.Text, b.Text);
    }

    [Fact]
    public void Create_returns_a_working_IChatClient_and_takes_the_options()
    {
        // llama.cpp rounds the context up to a multiple of 256, so ask for a multiple.
        using var client = LocalProvider.Create(Model(), new LocalModelOptions { ContextSize = 512, Threads = 1 });
        var local = Assert.IsType<LocalChatClient>(client);
        Assert.Equal(512, local.ContextSize);
    }

    [Fact]
    public void Missing_file_is_a_clear_error_naming_the_path()
    {
        var path = Path.Combine(_dir, "nope", "model.gguf");
        var e = Assert.Throws<PersonaException>(() => LocalProvider.Create(path, new LocalModelOptions()));
        Assert.Contains("not found", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains(".gguf", e.Message);
    }

    [Fact]
    public void A_directory_is_not_a_model()
    {
        var e = Assert.Throws<PersonaException>(() => LocalProvider.Create(_dir, new LocalModelOptions()));
        Assert.Contains("directory", e.Message);
    }

    [Theory]
    [InlineData("{\"weights\": [1, 2, 3]}\n")]
    [InlineData("PK\u0003\u0004 a zip file, maybe safetensors")]
    [InlineData("GG")]
    [InlineData("")]
    public void A_file_that_is_not_gguf_is_rejected_before_loading(string content)
    {
        var path = Path.Combine(_dir, "garbage.gguf");
        File.WriteAllText(path, content);
        var e = Assert.Throws<PersonaException>(() => LocalProvider.Create(path, new LocalModelOptions()));
        Assert.Contains("not a GGUF model", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Random_bytes_are_rejected()
    {
        var path = Path.Combine(_dir, "random.gguf");
        var bytes = new byte[4096];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<PersonaException>(() => LocalProvider.Create(path, new LocalModelOptions()));
        Assert.Contains("not a GGUF model", e.Message);
    }

    [Theory]
    [InlineData(0.5)]   // cut inside the tensor data
    [InlineData(0.999)] // only the last few bytes missing
    [InlineData(0.01)]  // cut inside the vocabulary metadata
    [InlineData(0.0001)] // cut inside the header counts
    public void A_truncated_file_is_rejected_before_loading(double keep)
    {
        var path = Model();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * keep)]);
        var e = Assert.Throws<PersonaException>(() => LocalProvider.Create(path, new LocalModelOptions()));
        Assert.Contains("truncated", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_future_gguf_version_is_rejected()
    {
        var path = Model();
        var bytes = File.ReadAllBytes(path);
        bytes[4] = 9; // version field
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<PersonaException>(() => GgufFile.Read(path));
        Assert.Contains("version 9", e.Message);
    }

    [Fact]
    public void An_architecture_llama_cpp_does_not_know_is_reported_from_the_native_loader()
    {
        var path = Path.Combine(_dir, "alien.gguf");
        new GgufWriter()
            .Str("general.architecture", "no-such-architecture")
            .U32("general.alignment", GgufWriter.Alignment)
            .Tensor("token_embd.weight", [4, 4], new float[16])
            .Write(path);
        var e = Assert.Throws<PersonaException>(() => LocalProvider.Create(path, new LocalModelOptions()));
        Assert.Contains("could not load", e.Message);
        Assert.Contains("no-such-architecture", e.Message);
    }

    [Fact]
    public void A_gguf_without_tensors_is_rejected()
    {
        var path = Path.Combine(_dir, "vocab-only.gguf");
        new GgufWriter().Str("general.architecture", "llama").Write(path);
        var e = Assert.Throws<PersonaException>(() => LocalProvider.Create(path, new LocalModelOptions()));
        Assert.Contains("no tensors", e.Message);
    }

    [Theory]
    [InlineData(0, null, 0)]
    [InlineData(null, 0, 0)]
    [InlineData(null, null, -1)]
    public void Bad_options_are_rejected(int? contextSize, int? threads, int gpuLayers)
    {
        var options = new LocalModelOptions { ContextSize = contextSize, Threads = threads, GpuLayerCount = gpuLayers };
        Assert.Throws<PersonaException>(() => LocalProvider.Create(Model(), options));
    }

    [Fact]
    public void PathFromSpec_strips_the_prefix_and_resolves_the_path()
    {
        Assert.Equal(Path.GetFullPath("models/x.gguf"), LocalProvider.PathFromSpec("local:models/x.gguf"));
        Assert.Equal("/abs/x.gguf", LocalProvider.PathFromSpec("local:/abs/x.gguf"));
        Assert.Throws<PersonaException>(() => LocalProvider.PathFromSpec("local:"));
    }
}
