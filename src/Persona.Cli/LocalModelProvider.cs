using Microsoft.Extensions.AI;
using Persona.Llm;
using Persona.Llm.Local;

namespace Persona.Cli;

/// <summary>
/// Plugs the in-process GGUF backend into the runtime's factory. It lives in the CLI because
/// Persona.Core must not carry LLamaSharp's natives, and Persona.Llm.Local already depends on Core.
/// </summary>
internal sealed class LocalModelProvider : IChatClientProvider
{
    public string Name => "local";

    public IChatClient Create(ModelSpec spec, LlmRuntimeOptions options) =>
        LocalProvider.Create(LocalProvider.PathFromSpec(spec.Identity), new LocalModelOptions { Seed = options.OfflineSeed });
}
