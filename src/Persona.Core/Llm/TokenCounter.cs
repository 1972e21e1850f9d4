using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace Persona.Llm;

/// <summary>
/// Counts tokens when a server reports no usage. Uses the o200k_base vocabulary (GPT-4o family),
/// shipped inside the Microsoft.ML.Tokenizers.Data.O200kBase package, so it works with no network.
/// For other model families the count is an estimate (their vocabularies differ by roughly ±20%),
/// and every count made here is flagged <c>tokens_estimated</c> in the store.
/// </summary>
public static class TokenCounter
{
    private static readonly Lazy<Tokenizer> s_tokenizer = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public static int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : s_tokenizer.Value.CountTokens(text);

    /// <summary>Prompt tokens of a chat, with the few framing tokens per message that chat formats add.</summary>
    public static int CountPrompt(IEnumerable<ChatMessage> messages)
    {
        var total = 3;
        foreach (var m in messages) total += 4 + Count(m.Text);
        return total;
    }
}
