namespace Persona.Web;

/// <summary>
/// How a study is served. Rate limits are per rater link, and per client address for the entry link
/// (generous: a class of raters behind one university NAT shares an address).
/// </summary>
public sealed record StudyWebOptions
{
    public required string StudyDirectory { get; init; }
    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:5080"];
    /// <summary>The dashboard's bearer token; compare in constant time, never log.</summary>
    public required string AdminToken { get; init; }
    public int EntryPermitsPerMinute { get; init; } = 300;
    public int RaterBurst { get; init; } = 40;
    public int RaterPermitsPer10Seconds { get; init; } = 20;
    public TimeProvider Clock { get; init; } = TimeProvider.System;
    /// <summary>PEM certificate (chain) and private key for https:// addresses in <see cref="Urls"/>; null: Kestrel's own configuration.</summary>
    public string? CertificatePath { get; init; }
    public string? KeyPath { get; init; }
    /// <summary>
    /// Peers whose X-Forwarded-For/-Proto are believed: addresses ("10.0.0.5") or networks ("10.0.0.0/24").
    /// Empty: loopback only (a proxy on this machine). Given: only these, loopback included only if named,
    /// so a process on this machine cannot pose as a rater elsewhere when the proxy lives on another host.
    /// </summary>
    public IReadOnlyList<string> TrustedProxies { get; init; } = [];

    public const string AdminTokenVariable = "PERSONA_STUDY_ADMIN_TOKEN";
}
