namespace Persona.Core.Tests.Foundation;

public sealed class RecordClockTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Unset_is_now_and_a_value_is_that_many_seconds_after_1970()
    {
        Assert.Equal(Now, RecordClock.From(null, Now));
        Assert.Equal(Now, RecordClock.From(" ", Now));
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 22, 13, 20, TimeSpan.Zero), RecordClock.From("1700000000", Now));
        Assert.Equal(DateTimeOffset.UnixEpoch, RecordClock.From("0", Now));
    }

    [Theory]
    [InlineData("-5")]
    [InlineData("1.5")]
    [InlineData("2026-12-06")]
    [InlineData("99999999999999999")]
    public void A_value_that_is_not_whole_seconds_is_a_short_error_naming_the_variable(string value)
    {
        var ex = Assert.Throws<PersonaException>(() => RecordClock.From(value, Now));
        Assert.StartsWith($"SOURCE_DATE_EPOCH='{value}': expected whole seconds", ex.Message);
    }
}
