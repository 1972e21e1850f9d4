namespace Persona;

/// <summary>
/// An error caused by the user's input (a file, a flag, a model endpoint) rather than by a bug.
/// The message must say what was wrong, where (file, line, field) and what was expected, because
/// the CLI prints it as is and exits non-zero.
/// </summary>
public class PersonaException : Exception
{
    public PersonaException(string message) : base(message) { }
    public PersonaException(string message, Exception inner) : base(message, inner) { }
}
