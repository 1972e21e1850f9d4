using Persona.Prompts;

namespace Persona.Core.Tests.Prompts;

public class PromptTextTests
{
    [Theory]
    [InlineData("Is it fair?", true)]
    [InlineData("¿Es justo", true)]
    [InlineData("Is it fair\uFF1F", true)]
    [InlineData("Tell me about fairness.", false)]
    [InlineData("", false)]
    public void QuestionMark(string text, bool expected) => Assert.Equal(expected, PromptText.HasQuestionMark(text));

    [Theory]
    [InlineData("What do you think?", 4)]
    [InlineData("What do you think, really?", 5)]
    [InlineData("  What   do\tyou\nthink  ?  ", 4)] // a lone '?' is not a word
    [InlineData("I'm in the U.S. now?", 5)]
    [InlineData("? ? ? ? ? ?", 0)]
    [InlineData("", 0)]
    public void WordCount(string text, int expected) => Assert.Equal(expected, PromptText.WordCount(text));

    [Theory]
    [InlineData("Is  ABORTION   wrong?", "is abortion wrong")]
    [InlineData("Café naïve résumé?", "cafe naive resume")]
    [InlineData("Don't you think so?!", "dont you think so")]
    [InlineData("Don’t you think so", "dont you think so")]
    [InlineData("Israel-Palestine: who's right?", "israel palestine whos right")]
    [InlineData("  ...Hello, world...  ", "hello world")]
    [InlineData("ﬁne ＡＩ", "fine ai")] // compatibility forms fold too
    [InlineData("Łódź, Øresund, Straße", "lodz oresund strasse")]
    [InlineData("cafe\u0301 ΆΘΗΝΑ", "cafe αθηνα")] // decomposed accent; non-Latin letters kept
    public void Normalize(string text, string expected) => Assert.Equal(expected, PromptText.Normalize(text));

    [Fact]
    public void Normalized_variants_are_equal()
    {
        var a = PromptText.Normalize("Is God real?");
        Assert.Equal(a, PromptText.Normalize("is god  real"));
        Assert.Equal(a, PromptText.Normalize("IS GOD REAL???"));
        Assert.NotEqual(a, PromptText.Normalize("Is God unreal?"));
    }

    [Fact]
    public void Token_set_key_ignores_order_and_repeats_but_not_different_words()
    {
        var k = PromptText.TokenSetKey(PromptText.Normalize("Is abortion right or wrong?"));
        Assert.Equal(k, PromptText.TokenSetKey(PromptText.Normalize("Is abortion wrong or right?")));
        Assert.Equal(k, PromptText.TokenSetKey(PromptText.Normalize("Is abortion right or wrong or wrong?")));
        Assert.NotEqual(k, PromptText.TokenSetKey(PromptText.Normalize("Is abortion right or not?")));
    }
}
