using Persona.Cli;

return await PersonaApp.RunAsync(args);
