using LLama;
using LLama.Common;
using LLama.Exceptions;
using Microsoft.Extensions.AI;

namespace Persona.Llm.Local;

/// <summary>
/// Entry point for the <c>local:PATH.gguf</c> model spec: checks the file, loads it once with
/// LLamaSharp on the CPU and returns a <see cref="LocalChatClient"/>. Every problem with the file is
/// reported as a <see cref="PersonaException"/> before any inference runs.
/// </summary>
public static class LocalProvider
{
    /// <summary>The spec prefix this provider answers to.</summary>
    public const string Prefix = "local:";

    public static IChatClient Create(string ggufPath, LocalModelOptions? options = null) => Load(ggufPath, options);

    /// <summary>Like <see cref="Create"/>, typed, for callers that want the prompt format or token counting.</summary>
    public static LocalChatClient Load(string ggufPath, LocalModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ggufPath);
        options ??= new LocalModelOptions();
        options.Validate();

        var info = GgufFile.Read(ggufPath);
        if (info.Architecture is null)
            throw new PersonaException($"GGUF model '{info.Path}' has no general.architecture entry; expected a llama.cpp language model.");
        if (info.Tensors.Count == 0)
            throw new PersonaException($"GGUF model '{info.Path}' holds no tensors (a vocabulary-only file?); expected a model with weights.");

        var contextSize = options.ContextSize
            ?? (int)Math.Min(info.TrainedContextLength ?? LocalModelOptions.MaxDefaultContextSize, LocalModelOptions.MaxDefaultContextSize);
        var parameters = new ModelParams(info.Path)
        {
            ContextSize = (uint)contextSize,
            GpuLayerCount = options.GpuLayerCount,
            Threads = options.Threads ?? Environment.ProcessorCount,
            BatchThreads = options.Threads ?? Environment.ProcessorCount,
            BatchSize = (uint)options.BatchSize,
            UBatchSize = (uint)options.BatchSize,
        };

        NativeRuntime.EnsureConfigured();
        NativeRuntime.TakeRecentProblems();
        LLamaWeights weights;
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
        }
        catch (Exception e) when (e is LoadWeightsFailedException or RuntimeError)
        {
            throw new PersonaException(
                $"llama.cpp could not load GGUF model '{info.Path}' (architecture '{info.Architecture}'){Said()}. " +
                "Expected a model this llama.cpp build supports (LLamaSharp 0.30.0).", e);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            throw new PersonaException(
                $"The llama.cpp native library could not be loaded for the local provider ({e.GetBaseException().Message}). " +
                "Expected LLamaSharp.Backend.Cpu's runtimes/ folder beside the binaries.", e);
        }

        try
        {
            var context = weights.CreateContext(parameters);
            return new LocalChatClient(info, weights, context, options);
        }
        catch (Exception e) when (e is RuntimeError or LLamaDecodeError)
        {
            weights.Dispose();
            throw new PersonaException($"llama.cpp could not create a {contextSize}-token context for '{info.Path}'{Said()}. Try a smaller context size.", e);
        }
    }

    /// <summary>
    /// Parses the part of a <c>local:PATH.gguf</c> spec after the prefix; relative paths are taken
    /// from the current directory.
    /// </summary>
    public static string PathFromSpec(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var path = spec.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? spec[Prefix.Length..] : spec;
        if (string.IsNullOrWhiteSpace(path))
            throw new PersonaException($"Model spec '{spec}' names no file; expected local:PATH.gguf.");
        return Path.GetFullPath(path);
    }

    private static string Said()
    {
        var lines = NativeRuntime.TakeRecentProblems();
        return lines.Count == 0 ? "" : ": " + string.Join(" | ", lines.TakeLast(3));
    }
}
