using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Persona.Web.Tests;

/// <summary>
/// Debian's nginx with TLS (a fresh self-signed certificate from openssl) in front of a study server,
/// all on loopback: nginx listens on 127.0.0.1 and connects to the app from 127.0.0.2 (proxy_bind), so
/// the app can tell its proxy (trusted) from everyone else (not), and clients may connect from other
/// 127.x addresses to stand for different raters. The site block is the README's, with test paths.
/// </summary>
public sealed class NginxProxy : IAsyncDisposable
{
    public const string NginxPath = "/usr/sbin/nginx";
    public const string ProxyAddress = "127.0.0.2";

    private readonly Process _nginx;
    private readonly string _dir;
    public string BaseUrl { get; }
    public string CertificatePath { get; }
    public string KeyPath { get; }
    public X509Certificate2 Certificate { get; }

    private NginxProxy(Process nginx, string dir, int port, string cert, string key, X509Certificate2 certificate)
    {
        _nginx = nginx;
        _dir = dir;
        BaseUrl = $"https://127.0.0.1:{port}";
        CertificatePath = cert;
        KeyPath = key;
        Certificate = certificate;
    }

    /// <summary>Fails with what to do when nginx or openssl is missing: a test that needs the proxy never passes without one.</summary>
    public static void EnsureInstalled()
    {
        if (!File.Exists(NginxPath))
            throw new InvalidOperationException($"{NginxPath} is missing: install Debian's nginx (apt-get install -y nginx, or run tests/study-proxy/run.sh); .ci/run does this.");
        if (!File.Exists("/usr/bin/openssl"))
            throw new InvalidOperationException("/usr/bin/openssl is missing: apt-get install -y openssl.");
    }

    /// <summary>A self-signed certificate for 127.0.0.1 and localhost in <paramref name="dir"/>: (cert.pem, key.pem).</summary>
    public static async Task<(string Cert, string Key)> MakeCertificateAsync(string dir)
    {
        EnsureInstalled();
        Directory.CreateDirectory(dir);
        var cert = Path.Combine(dir, "cert.pem");
        var key = Path.Combine(dir, "key.pem");
        await RunAsync("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
        return (cert, key);
    }

    public static async Task<NginxProxy> StartAsync(string upstream)
    {
        EnsureInstalled();
        var dir = Path.Combine(Path.GetTempPath(), "persona-nginx", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "tmp"));
        // nginx's workers run as an unprivileged user when the tests run as root; they write proxy buffers here.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(dir, "tmp"), (UnixFileMode)0x1FF);
        var (cert, key) = await MakeCertificateAsync(dir);
        var port = FreePort();
        var conf = Path.Combine(dir, "nginx.conf");
        await File.WriteAllTextAsync(conf, $$"""
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/tmp/body;
                proxy_temp_path {{dir}}/tmp/proxy;
                fastcgi_temp_path {{dir}}/tmp/fastcgi;
                uwsgi_temp_path {{dir}}/tmp/uwsgi;
                scgi_temp_path {{dir}}/tmp/scgi;
                upstream persona_study { server {{upstream}}; keepalive 32; }
                server {
                    listen 127.0.0.1:{{port}} ssl;
                    server_name localhost;
                    ssl_certificate {{cert}};
                    ssl_certificate_key {{key}};
                    ssl_protocols TLSv1.2 TLSv1.3;
                    client_max_body_size 64k;
                    location / {
                        proxy_pass http://persona_study;
                        proxy_bind {{ProxyAddress}};
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_set_header X-Forwarded-Proto $scheme;
                    }
                }
            }
            """);
        var psi = new ProcessStartInfo(NginxPath, ["-p", dir, "-c", conf, "-e", Path.Combine(dir, "error.log"), "-g", "daemon off;"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // Everything that can fail comes before nginx starts: nothing may leave an nginx running behind a failed test.
        var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(cert)); // the certificate alone: clients pin it
        var nginx = Process.Start(psi)!;
        var proxy = new NginxProxy(nginx, dir, port, cert, key, certificate);
        // Ready when it accepts connections; an exit first means a broken configuration, shown with nginx's own words.
        for (var i = 0; i < 200; i++)
        {
            if (nginx.HasExited)
                throw new InvalidOperationException($"nginx exited ({nginx.ExitCode}): {await nginx.StandardError.ReadToEndAsync()} {ReadLog(dir)}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return proxy;
            }
            catch (SocketException) { await Task.Delay(50); }
        }
        await proxy.DisposeAsync();
        throw new InvalidOperationException("nginx did not start listening within 10 s: " + ReadLog(dir));
    }

    private static string ReadLog(string dir) => File.Exists(Path.Combine(dir, "error.log")) ? File.ReadAllText(Path.Combine(dir, "error.log")) : "";

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>
    /// A client that connects from <paramref name="from"/> (a loopback address standing for one rater's
    /// machine) and accepts exactly this proxy's certificate, nothing else.
    /// </summary>
    public SocketsHttpHandler Handler(string from = "127.0.0.1")
    {
        var thumbprint = Certificate.Thumbprint;
        return new SocketsHttpHandler
        {
            UseCookies = true, CookieContainer = new CookieContainer(), AllowAutoRedirect = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && string.Equals(new X509Certificate2(cert).Thumbprint, thumbprint, StringComparison.Ordinal),
            },
            ConnectCallback = async (ctx, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
                    await socket.ConnectAsync(ctx.DnsEndPoint.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(ctx.DnsEndPoint.Host), ctx.DnsEndPoint.Port, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
    }

    private static async Task RunAsync(string file, string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        var err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed ({p.ExitCode}): {await err}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_nginx.HasExited)
        {
            // SIGQUIT: nginx's graceful stop; a kill after 10 s if it hangs.
            using (var quit = Process.Start("kill", ["-QUIT", _nginx.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await quit.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _nginx.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { _nginx.Kill(); }
        }
        _nginx.Dispose();
        Certificate.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
