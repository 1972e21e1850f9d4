using Persona.Cli;

return await PersonaApp.RunAsync(args, handleSignals: true);
