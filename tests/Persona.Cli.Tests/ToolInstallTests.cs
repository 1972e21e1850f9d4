using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Persona.Cli.Tests;

/// <summary>
/// `persona` the .NET way: pack the CLI as a tool, install it from that folder alone (no network),
/// and run the installed command, which must find its bundled data next to itself.
/// </summary>
public sealed partial class ToolInstallTests : IDisposable
{
    private readonly string _dir = Cli.TempDir("tool-install");

    [GeneratedRegex(@"^(?<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?:\+(?<commit>[0-9a-f]{40}))?$")]
    private static partial Regex VersionLine();

    [Fact]
    public async Task The_packed_tool_installs_from_a_local_folder_and_the_installed_command_reports_its_version_and_samples_from_bundled_data()
    {
        var project = Metadata("PersonaCliProject");
        var configuration = Metadata("BuildConfiguration");
        var nupkg = Path.Combine(_dir, "nupkg");
        var toolPath = Path.Combine(_dir, "tools");
        // Only the local folder as a source: the install must not need (or wait on) a registry.
        var config = Path.Combine(_dir, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="persona-local" value="{nupkg}" />
              </packageSources>
            </configuration>
            """);

        // --no-build: the binaries this test project was built against, so the test checks what was built,
        // adds no second compilation on a loaded machine, and needs no restore.
        var pack = await Run("dotnet", ["pack", project, "--no-build", "-c", configuration, "-o", nupkg,
            $"-p:PublishDir={Path.Combine(_dir, "publish")}/", "-nologo"], _dir, TimeSpan.FromMinutes(10));
        Assert.True(pack.Code == 0, "dotnet pack failed:\n" + pack.Output);
        var expectedVersion = ProjectVersion(project);
        Assert.True(File.Exists(Path.Combine(nupkg, $"Persona.Cli.{expectedVersion}.nupkg")), pack.Output);

        var install = await Run("dotnet", ["tool", "install", "--tool-path", toolPath, "--configfile", config, "Persona.Cli",
            "--version", expectedVersion], _dir, TimeSpan.FromMinutes(5));
        Assert.True(install.Code == 0, "dotnet tool install failed:\n" + install.Output);
        var persona = Path.Combine(toolPath, OperatingSystem.IsWindows() ? "persona.exe" : "persona");
        Assert.True(File.Exists(persona), install.Output);

        var version = await Run(persona, ["--version"], _dir, TimeSpan.FromMinutes(2));
        Assert.True(version.Code == 0, version.Output);
        var match = VersionLine().Match(version.Stdout.Trim());
        Assert.True(match.Success, $"'persona --version' printed '{version.Stdout.Trim()}', not VERSION[+COMMIT]");
        Assert.Equal(expectedVersion, match.Groups["version"].Value);
        if (await HeadCommit(Path.GetDirectoryName(project)!) is { } head)
            Assert.True(match.Groups["commit"].Value == head,
                $"built from a git checkout at {head}, but --version says '{version.Stdout.Trim()}' (rebuild if you committed after building)");

        // A real verb, from a folder that holds nothing: the census extract must come from the installed package.
        var work = Directory.CreateDirectory(Path.Combine(_dir, "work")).FullName;
        var sample = await Run(persona, ["census", "sample", "--n", "5", "--seed", "3", "--out", "x.jsonl"], work, TimeSpan.FromMinutes(3));
        Assert.True(sample.Code == 0, sample.Output);
        var lines = File.ReadAllLines(Path.Combine(work, "x.jsonl"));
        Assert.Equal(5, lines.Length);
        Assert.All(lines, l => Assert.Contains("\"vintage\":\"2024-1yr\"", l, StringComparison.Ordinal)); // the bundled 2024 extract
        Assert.Contains(Path.Combine(toolPath, ".store"), sample.Output.Replace("\n", "").Replace("│", "").Replace(" ", ""), StringComparison.Ordinal);
    }

    private static string Metadata(string key) =>
        typeof(ToolInstallTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    private static string ProjectVersion(string project) =>
        XDocument.Load(project).Descendants("Version").Single().Value.Trim();

    /// <summary>HEAD of the checkout the project lives in, or null when that is no git checkout or git is absent.</summary>
    private static async Task<string?> HeadCommit(string dir)
    {
        try
        {
            var r = await Run("git", ["rev-parse", "HEAD"], dir, TimeSpan.FromMinutes(1));
            return r.Code == 0 && r.Stdout.Trim() is { Length: 40 } sha ? sha : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git on PATH
        }
    }

    private sealed record Result(int Code, string Stdout, string Output);

    private static async Task<Result> Run(string exe, string[] args, string cwd, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(exe, args)
        {
            WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // The test host's MSBuild variables would point a child dotnet at the test run's SDK state.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{exe} {string.Join(' ', args)}' did not finish in {timeout.TotalMinutes} min:\n{await stdout}{await stderr}");
        }
        var output = new StringBuilder().Append(await stdout).Append(await stderr).ToString();
        return new Result(p.ExitCode, await stdout, output);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
