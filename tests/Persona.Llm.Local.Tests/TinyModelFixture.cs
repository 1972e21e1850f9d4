namespace Persona.Llm.Local.Tests;

/// <summary>Writes the tiny models once per test class and loads them; deletes them afterwards.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public TinyModelFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("persona-local-").FullName;
        PlainPath = Path.Combine(Directory, "tiny-plain.gguf");
        ChatMlPath = Path.Combine(Directory, "tiny-chatml.gguf");
        TinyGguf.Write(PlainPath, seed: 11);
        TinyGguf.Write(ChatMlPath, seed: 11, chatTemplate: TinyGguf.ChatMl);
        Plain = LocalProvider.Load(PlainPath, new LocalModelOptions { Threads = 1 });
        ChatMl = LocalProvider.Load(ChatMlPath, new LocalModelOptions { Threads = 1 });
    }

    public string Directory { get; }
    public string PlainPath { get; }
    public string ChatMlPath { get; }

    /// <summary>The tiny model without a chat template (fallback prompt format).</summary>
    public LocalChatClient Plain { get; }

    /// <summary>The same weights with a ChatML template in the GGUF.</summary>
    public LocalChatClient ChatMl { get; }

    public void Dispose()
    {
        Plain.Dispose();
        ChatMl.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
