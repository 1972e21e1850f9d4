using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Persona.Store;

namespace Persona.Study;

/// <summary>Expired: idle past the slot timeout and handed on. Released: the researcher reopened the place (e.g. a failed attention check).</summary>
public enum SessionState { Active, Completed, Expired, Released }

/// <summary>A rater's place in the study as a rater page needs it.</summary>
public sealed record RaterSession(
    long SessionId, string Token, long SlotId, string PersonaId, int RaterIndex, SessionState State,
    string PersonaText, int ItemCount, IReadOnlySet<int> AnsweredPositions, long LastSeenMs,
    string? ProlificPid, string? ProlificStudyId, string? ProlificSessionId, bool Consented = false, string? EndReason = null)
{
    public int? NextOpenPosition => Enumerable.Range(1, ItemCount).Cast<int?>().FirstOrDefault(p => !AnsweredPositions.Contains(p!.Value));
}

public sealed record StudyItem(long ItemId, string PersonaId, int Position, ItemKind Kind, string? PairId, string? PromptId, string Instruction, string Generic, string Personalised, int Flip);

public sealed record StoredAnswer(int Position, string Choice, string Side, string Justification);

public sealed record ProlificIds(string? Pid, string? StudyId, string? SessionId)
{
    public static readonly ProlificIds None = new(null, null, null);
}

public enum SubmitStatus { Stored, AlreadyStored, SessionCompleted, SessionExpired, BadItem, NotConsented }

/// <summary><paramref name="Excluded"/>: this answer failed an attention check, so the session was closed and its place reopened.</summary>
public sealed record SubmitResult(SubmitStatus Status, bool Completed, int? NextPosition, bool Excluded = false);

/// <summary>
/// New: a fresh place. Resumed: the participant proved they hold their place (their link's cookie or the
/// Prolific SESSION_ID of that submission). PidHasPlace: the PID holds a place but no proof came with it.
/// PidDone: the PID already took part (finished, or was returned or excluded). Full: no open place.
/// </summary>
public enum ClaimStatus { New, Resumed, PidHasPlace, PidDone, Full }

public sealed record ClaimResult(ClaimStatus Status, RaterSession? Session);

/// <summary>Why a place was closed before or instead of completion; kept with the session and in the exports.</summary>
public static class EndReasons
{
    public const string AttentionFailed = "attention-failed";
    public const string NoConsent = "no-consent";
    public const string ScreenedOut = "screened-out";
    public const string Researcher = "reopened-by-researcher";
}

/// <summary>One row of the answer export: everything needed to analyse or audit an answer.</summary>
public sealed record AnswerRow(
    string PersonaId, int RaterIndex, long SessionId, string SessionState, int Position, string ItemKind, string? PairId, string? PromptId,
    string LeftAnswer, string Side, string Choice, string Justification, string SubmittedAt,
    string? ProlificPid, string? ProlificStudyId, string? ProlificSessionId, string? SessionEndReason)
{
    /// <summary>Careless-rater flags of the session (see <see cref="StudyQuality"/>), ";"-separated; set by the export.</summary>
    public string? QualityFlags { get; init; }
}

public sealed record SessionProgress(long SessionId, string PersonaId, int RaterIndex, string State, int Answered, int Items,
    string StartedAt, string LastSeenAt, string? CompletedAt, string? ProlificPid, int AttentionPassed, int AttentionTotal,
    string? ConsentedAt = null, string? EndReason = null, long StartedMs = 0, long? ConsentedMs = null);

public sealed record PersonaProgress(string PersonaId, int Position, int Raters, int Completed, int Active, int Items);

/// <summary>
/// The study store: one SQLite database (WAL) in the study folder. Writes go through the shared <see cref="SqliteWriter"/>
/// that commits whatever has queued up in a single transaction (group commit: one fsync for many
/// raters) with synchronous=FULL, and completes each write only after that commit, so an answer is
/// on disk before the rater is told it was saved. Each write runs in its own savepoint, so one that
/// fails leaves the others of its batch intact. The (session, item) primary key stores a double submit once.
/// </summary>
public sealed class StudyDatabase : IDisposable
{
    public const string FileName = "study.sqlite";
    private const int SchemaVersion = 3;

    private readonly string _connectionString;
    private readonly SqliteWriter _writer;
    private readonly TimeProvider _clock;

    public string Path { get; }
    public StudyOptions Options { get; }
    public string EntryKey { get; }
    public string CompletionCode { get; }

    private StudyDatabase(string path, TimeProvider clock)
    {
        Path = path;
        _clock = clock;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = true, DefaultTimeout = 30 }.ToString();
        using var c = ConnectWriter();
        var meta = ReadMeta(c);
        if (meta.TryGetValue("schema_version", out var old) && old == "1")
        {
            MigrateFrom1(c);
            meta = ReadMeta(c);
        }
        if (meta.TryGetValue("schema_version", out var two) && two == "2")
        {
            MigrateFrom2(c);
            meta = ReadMeta(c);
        }
        if (!meta.TryGetValue("schema_version", out var v) || v != SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new PersonaException($"'{path}' is not a study database of this version (schema {v ?? "missing"}, expected {SchemaVersion}).");
        Options = JsonSerializer.Deserialize<StudyOptions>(meta["options"], JsonOptions)!;
        EntryKey = meta["entry_key"];
        CompletionCode = meta["completion_code"];
        _writer = NewWriter();
    }

    /// <summary>
    /// Version 1 had no consent step, no reason for a closed place and no one-place-per-PID index. Its
    /// raters started before consent existed, so their sessions count as consented (started time).
    /// </summary>
    private static void MigrateFrom1(SqliteConnection c)
    {
        using var tx = c.BeginTransaction();
        if (ReadMeta(c).GetValueOrDefault("schema_version") != "1") return; // another process migrated first
        Exec(c, """
            ALTER TABLE sessions ADD COLUMN consented_ms INTEGER;
            ALTER TABLE sessions ADD COLUMN end_reason TEXT;
            UPDATE sessions SET consented_ms = started_ms;
            """ + OnePlacePerPid + """
            UPDATE meta SET value = '2' WHERE key = 'schema_version';
            """);
        tx.Commit();
    }

    /// <summary>
    /// Version 2 kept a persona only as its text. Its personas get no attributes (NULL): the judge and
    /// the analysis read such a study's text as the release's 'key: value' lines, as they did before.
    /// </summary>
    private static void MigrateFrom2(SqliteConnection c)
    {
        using var tx = c.BeginTransaction();
        if (ReadMeta(c).GetValueOrDefault("schema_version") != "2") return; // another process migrated first
        Exec(c, """
            ALTER TABLE personas ADD COLUMN attributes TEXT;
            UPDATE meta SET value = '3' WHERE key = 'schema_version';
            """);
        tx.Commit();
    }

    /// <summary>The same Prolific participant never holds two live places, whatever the code above does.</summary>
    private const string OnePlacePerPid = """
        CREATE UNIQUE INDEX IF NOT EXISTS sessions_one_place_per_pid ON sessions(prolific_pid) WHERE prolific_pid IS NOT NULL AND state IN ('active','completed');

        """;

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string PathIn(string studyDir) => System.IO.Path.Combine(studyDir, FileName);

    public static StudyDatabase Open(string studyDir, TimeProvider? clock = null)
    {
        var path = PathIn(studyDir);
        if (!File.Exists(path))
            throw new PersonaException($"No study at '{studyDir}': expected {FileName} there (create one with `persona study create`).");
        try { return new StudyDatabase(path, clock ?? TimeProvider.System); }
        catch (SqliteException ex) { throw new PersonaException($"Cannot open the study database '{path}': {ex.Message}", ex); }
    }

    /// <summary>Writes a new study; refuses to replace an existing one (it may hold answers).</summary>
    public static StudyDatabase Create(string studyDir, StudyPlan plan, TimeProvider? clock = null)
    {
        var path = PathIn(studyDir);
        if (File.Exists(path))
            throw new PersonaException($"'{path}' already exists: a study may hold answers and is never replaced. Choose another --out folder.");
        Directory.CreateDirectory(studyDir);
        // Built under a temporary name and renamed, so a failed create leaves no half study behind.
        var temp = System.IO.Path.Combine(studyDir, $".{FileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = temp, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString()))
            {
                c.Open();
                Exec(c, Schema + OnePlacePerPid);
                using var tx = c.BeginTransaction();
                var options = plan.Options with { CompletionCode = plan.Options.CompletionCode ?? NewCode() };
                InsertMeta(c, "schema_version", SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
                InsertMeta(c, "options", JsonSerializer.Serialize(options, JsonOptions));
                InsertMeta(c, "entry_key", NewToken(18));
                InsertMeta(c, "completion_code", options.CompletionCode!);
                InsertMeta(c, "created_at", Iso(DateTimeOffset.UtcNow));
                var pos = 0;
                foreach (var p in plan.Personas)
                {
                    Run(c, "INSERT INTO personas(persona_id, position, text, attributes) VALUES ($id, $pos, $text, $attrs)", ("$id", p.PersonaId), ("$pos", ++pos), ("$text", p.Text),
                        ("$attrs", p.Attributes is null ? null : JsonSerializer.Serialize(p.Attributes)));
                    foreach (var i in p.Items)
                        Run(c, "INSERT INTO items(persona_id, position, kind, pair_id, prompt_id, instruction, generic, personalised, flip) VALUES ($p, $pos, $k, $pair, $prompt, $ins, $g, $pe, $f)",
                            ("$p", p.PersonaId), ("$pos", i.Position), ("$k", i.Kind == ItemKind.Pair ? "pair" : "attention"), ("$pair", i.PairId), ("$prompt", i.PromptId),
                            ("$ins", i.Instruction), ("$g", i.Generic), ("$pe", i.Personalised), ("$f", i.Flip));
                    for (var r = 0; r < plan.Options.RatersPerPersona; r++)
                        Run(c, "INSERT INTO slots(persona_id, rater_index) VALUES ($p, $r)", ("$p", p.PersonaId), ("$r", r));
                }
                tx.Commit();
                Exec(c, "PRAGMA journal_mode=DELETE;");
            }
            File.Move(temp, path);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return Open(studyDir, clock);
    }

    private const string Schema = """
        PRAGMA foreign_keys=ON;
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE personas(persona_id TEXT PRIMARY KEY, position INTEGER NOT NULL UNIQUE, text TEXT NOT NULL, attributes TEXT);
        CREATE TABLE items(
            item_id INTEGER PRIMARY KEY, persona_id TEXT NOT NULL REFERENCES personas(persona_id), position INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pair','attention')), pair_id TEXT, prompt_id TEXT,
            instruction TEXT NOT NULL, generic TEXT NOT NULL, personalised TEXT NOT NULL, flip INTEGER NOT NULL,
            UNIQUE(persona_id, position));
        CREATE TABLE slots(slot_id INTEGER PRIMARY KEY, persona_id TEXT NOT NULL REFERENCES personas(persona_id), rater_index INTEGER NOT NULL, UNIQUE(persona_id, rater_index));
        CREATE TABLE sessions(
            session_id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, slot_id INTEGER NOT NULL REFERENCES slots(slot_id),
            state TEXT NOT NULL CHECK (state IN ('active','completed','expired','released')),
            started_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL, completed_ms INTEGER,
            prolific_pid TEXT, prolific_study_id TEXT, prolific_session_id TEXT, consented_ms INTEGER, end_reason TEXT);
        CREATE INDEX sessions_by_slot ON sessions(slot_id, state);
        CREATE INDEX sessions_by_pid ON sessions(prolific_pid) WHERE prolific_pid IS NOT NULL;
        CREATE TABLE answers(
            session_id INTEGER NOT NULL REFERENCES sessions(session_id), item_id INTEGER NOT NULL REFERENCES items(item_id),
            left_answer TEXT NOT NULL CHECK (left_answer IN ('generic','personalised')),
            side TEXT NOT NULL CHECK (side IN ('left','right')),
            choice TEXT NOT NULL CHECK (choice IN ('generic','personalised')),
            justification TEXT NOT NULL, submitted_ms INTEGER NOT NULL,
            prolific_pid TEXT, prolific_study_id TEXT, prolific_session_id TEXT,
            PRIMARY KEY(session_id, item_id));
        CREATE TABLE judgments(
            model TEXT NOT NULL, item_id INTEGER NOT NULL REFERENCES items(item_id), personalised_first INTEGER NOT NULL,
            choice TEXT CHECK (choice IN ('generic','personalised')), raw TEXT, created_ms INTEGER NOT NULL,
            PRIMARY KEY(model, item_id, personalised_first));
        """;

    /// <summary>A pooled connection for reading; WAL (set once, stored in the file) lets it read while the writer commits.</summary>
    private SqliteConnection Connect()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    /// <summary>The writer's connection: FULL makes every commit reach the disk before a write completes.</summary>
    private SqliteConnection ConnectWriter()
    {
        var c = Connect();
        Exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;");
        return c;
    }

    private long NowMs => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- rater side -------------------------------------------------------------------------

    /// <summary>
    /// Gives a new rater a place: the first slot with no completed and no live session, breadth-first
    /// over personas. A session idle for longer than the slot timeout is expired and its slot handed on.
    /// A Prolific participant whose PID already holds a place gets it back only with proof that they are
    /// that participant: <paramref name="heldToken"/> (their link, from the cookie set when they claimed
    /// it) or the Prolific SESSION_ID stored with it. The PID alone travels in URLs and exports, so it
    /// proves nothing; without proof the claim is refused and no second place is handed out.
    /// </summary>
    public Task<ClaimResult> ClaimAsync(ProlificIds ids, string? heldToken, CancellationToken ct) => WriteAsync(c =>
        {
            var now = NowMs;
            // The cookie of a place claimed in this browser: that rater coming back through the entry link.
            if (ids.Pid is null && heldToken is not null && LooksLikeToken(heldToken) && Read(c, heldToken) is { State: SessionState.Active or SessionState.Completed } held)
                return new ClaimResult(ClaimStatus.Resumed, held);
            if (ids.Pid is { } pid)
            {
                using (var cmd = Command(c, "SELECT token, prolific_session_id, state FROM sessions WHERE prolific_pid = $pid ORDER BY session_id DESC", ("$pid", pid)))
                using (var r = cmd.ExecuteReader())
                {
                    var pastStates = new List<string>();
                    while (r.Read())
                    {
                        var state = r.GetString(2);
                        if (state is "active" or "completed")
                        {
                            var token = r.GetString(0);
                            var proved = (heldToken is not null && SameSecret(heldToken, token)) ||
                                         (ids.SessionId is not null && !r.IsDBNull(1) && SameSecret(ids.SessionId, r.GetString(1)));
                            return proved ? new ClaimResult(ClaimStatus.Resumed, Read(c, token)) : new ClaimResult(ClaimStatus.PidHasPlace, null);
                        }
                        pastStates.Add(state);
                    }
                    // Closed by the researcher, by a failed check or by the participant's own "no": they took part.
                    // Expired only: they left and their place went on; a fresh place is fair.
                    if (pastStates.Contains("released")) return new ClaimResult(ClaimStatus.PidDone, null);
                }
            }
            var stale = now - (long)Options.SlotTimeoutMinutes * 60_000;
            var slot = Scalar<long?>(c, """
                SELECT s.slot_id FROM slots s JOIN personas p ON p.persona_id = s.persona_id
                WHERE NOT EXISTS (SELECT 1 FROM sessions x WHERE x.slot_id = s.slot_id AND (x.state = 'completed' OR (x.state = 'active' AND x.last_seen_ms >= $stale)))
                ORDER BY s.rater_index, p.position LIMIT 1
                """, ("$stale", stale));
            if (slot is null) return new ClaimResult(ClaimStatus.Full, null);
            Run(c, "UPDATE sessions SET state = 'expired' WHERE slot_id = $s AND state = 'active'", ("$s", slot.Value));
            var fresh = NewToken(24);
            Run(c, "INSERT INTO sessions(token, slot_id, state, started_ms, last_seen_ms, prolific_pid, prolific_study_id, prolific_session_id) VALUES ($t, $s, 'active', $n, $n, $pid, $sid, $ses)",
                ("$t", fresh), ("$s", slot.Value), ("$n", now), ("$pid", ids.Pid), ("$sid", ids.StudyId), ("$ses", ids.SessionId));
            return new ClaimResult(ClaimStatus.New, Read(c, fresh));
        }, ct);

    /// <summary>A place for a rater with no proof of an earlier one (lab raters, tests); null when none is given.</summary>
    public async Task<RaterSession?> ClaimAsync(ProlificIds ids, CancellationToken ct) => (await ClaimAsync(ids, null, ct)).Session;

    private static bool SameSecret(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(a)), SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(b)));

    /// <summary>
    /// The participant's answer to the consent form and the screening question. Yes to both opens the
    /// questions; otherwise the session is closed with its reason and the place goes to the next rater.
    /// Returns the session as it is now, or null for an unknown or closed one.
    /// </summary>
    public Task<RaterSession?> RecordConsentAsync(string token, bool consents, bool passedScreening, CancellationToken ct) => WriteAsync(c =>
        {
            var s = Read(c, token);
            if (s is null || s.State != SessionState.Active) return s;
            if (s.Consented) return s;
            var now = NowMs;
            if (consents && passedScreening)
                Run(c, "UPDATE sessions SET consented_ms = $n, last_seen_ms = $n WHERE session_id = $id", ("$n", now), ("$id", s.SessionId));
            else
                Run(c, "UPDATE sessions SET state = 'released', end_reason = $r, last_seen_ms = $n WHERE session_id = $id",
                    ("$r", consents ? EndReasons.ScreenedOut : EndReasons.NoConsent), ("$n", now), ("$id", s.SessionId));
            return Read(c, token);
        }, ct);

    /// <summary>The session behind a rater link, or null for an unknown token.</summary>
    public RaterSession? FindSession(string token)
    {
        if (!LooksLikeToken(token)) return null;
        using var c = Connect();
        return Read(c, token);
    }

    /// <summary>Marks the session as seen (at most once a minute), so an active rater keeps their place.</summary>
    public Task TouchAsync(RaterSession s, CancellationToken ct)
    {
        var now = NowMs;
        if (s.State != SessionState.Active || now - s.LastSeenMs < 60_000) return Task.CompletedTask;
        return WriteAsync(c => Run(c, "UPDATE sessions SET last_seen_ms = $n WHERE session_id = $id AND state = 'active'", ("$n", now), ("$id", s.SessionId)), ct);
    }

    public StudyItem? FindItem(string personaId, int position)
    {
        using var c = Connect();
        return ReadItemIn(c, personaId, position);
    }

    public IReadOnlyList<StudyItem> Items()
    {
        using var c = Connect();
        using var cmd = Command(c, "SELECT i.item_id, i.persona_id, i.position, i.kind, i.pair_id, i.prompt_id, i.instruction, i.generic, i.personalised, i.flip FROM items i JOIN personas p ON p.persona_id = i.persona_id ORDER BY p.position, i.position");
        using var r = cmd.ExecuteReader();
        var list = new List<StudyItem>();
        while (r.Read()) list.Add(ReadItem(r));
        return list;
    }

    public StoredAnswer? FindAnswer(long sessionId, long itemId)
    {
        using var c = Connect();
        using var cmd = Command(c, "SELECT i.position, a.choice, a.side, a.justification FROM answers a JOIN items i ON i.item_id = a.item_id WHERE a.session_id = $s AND a.item_id = $i",
            ("$s", sessionId), ("$i", itemId));
        using var r = cmd.ExecuteReader();
        return r.Read() ? new StoredAnswer(r.GetInt32(0), r.GetString(1), r.GetString(2), r.GetString(3)) : null;
    }

    /// <summary>
    /// Stores one answer once: a repeat of an answered item (a second tab, a retry) changes nothing
    /// and reports <see cref="SubmitStatus.AlreadyStored"/>. The last answer completes the session in
    /// the same transaction. Returns after the commit reached the disk.
    /// </summary>
    public Task<SubmitResult> SubmitAsync(string token, int position, string side, string justification, ProlificIds ids, CancellationToken ct)
    {
        if (side is not ("left" or "right")) throw new ArgumentException("side must be left or right", nameof(side));
        return WriteAsync(c =>
        {
            var s = Read(c, token);
            if (s is null) return new SubmitResult(SubmitStatus.BadItem, false, null);
            if (s.State is SessionState.Expired or SessionState.Released) return new SubmitResult(SubmitStatus.SessionExpired, false, null);
            var item = ReadItemIn(c, s.PersonaId, position);
            if (item is null) return new SubmitResult(SubmitStatus.BadItem, false, s.NextOpenPosition);
            if (s.State == SessionState.Completed) return new SubmitResult(SubmitStatus.SessionCompleted, true, null);
            if (!s.Consented) return new SubmitResult(SubmitStatus.NotConsented, false, null);
            var personalisedLeft = StudyPlan.PersonalisedLeft(item.Flip, s.RaterIndex);
            var choice = (side == "left") == personalisedLeft ? "personalised" : "generic";
            var now = NowMs;
            var inserted = Run(c, """
                INSERT OR IGNORE INTO answers(session_id, item_id, left_answer, side, choice, justification, submitted_ms, prolific_pid, prolific_study_id, prolific_session_id)
                VALUES ($s, $i, $l, $side, $c, $j, $n, $pid, $sid, $ses)
                """,
                ("$s", s.SessionId), ("$i", item.ItemId), ("$l", personalisedLeft ? "personalised" : "generic"), ("$side", side), ("$c", choice),
                ("$j", justification), ("$n", now), ("$pid", ids.Pid ?? s.ProlificPid), ("$sid", ids.StudyId ?? s.ProlificStudyId), ("$ses", ids.SessionId ?? s.ProlificSessionId));
            if (inserted == 1 && item.Kind == ItemKind.Attention && choice != "personalised")
            {
                // A failed attention check ends the place at once: the answers stay (exports, flagged by the
                // reason), the analysis drops the session with every non-completed one, the next rater gets the slot.
                Run(c, "UPDATE sessions SET state = 'released', end_reason = $r, last_seen_ms = $n WHERE session_id = $s",
                    ("$r", EndReasons.AttentionFailed), ("$n", now), ("$s", s.SessionId));
                return new SubmitResult(SubmitStatus.Stored, false, null, Excluded: true);
            }
            var answered = Scalar<long>(c, "SELECT COUNT(*) FROM answers WHERE session_id = $s", ("$s", s.SessionId));
            var completed = answered >= s.ItemCount;
            Run(c, completed
                    ? "UPDATE sessions SET last_seen_ms = $n, state = 'completed', completed_ms = $n WHERE session_id = $s"
                    : "UPDATE sessions SET last_seen_ms = $n WHERE session_id = $s",
                ("$n", now), ("$s", s.SessionId));
            var answeredNow = new HashSet<int>(s.AnsweredPositions) { position };
            var next = Enumerable.Range(1, s.ItemCount).Cast<int?>().FirstOrDefault(p => !answeredNow.Contains(p!.Value));
            return new SubmitResult(inserted == 1 ? SubmitStatus.Stored : SubmitStatus.AlreadyStored, completed, completed ? null : next);
        }, ct);
    }

    // ---- researcher side --------------------------------------------------------------------

    /// <summary>
    /// Reopens a rater's place (say, after a failed attention check or a rejected Prolific
    /// submission): the session is marked released, its answers stay in the database and the
    /// exports but leave the analysis, and the next rater who arrives gets the place. False when
    /// there is no such session or it was already expired or released.
    /// </summary>
    public Task<bool> ReleaseAsync(long sessionId, CancellationToken ct) => WriteAsync(c =>
        Run(c, "UPDATE sessions SET state = 'released', end_reason = $r WHERE session_id = $id AND state IN ('active','completed')",
            ("$id", sessionId), ("$r", EndReasons.Researcher)) == 1, ct);

    public IReadOnlyList<PersonaProgress> PersonaProgress()
    {
        using var c = Connect();
        using var cmd = Command(c, """
            SELECT p.persona_id, p.position,
                   (SELECT COUNT(*) FROM slots s WHERE s.persona_id = p.persona_id),
                   (SELECT COUNT(*) FROM sessions x JOIN slots s ON s.slot_id = x.slot_id WHERE s.persona_id = p.persona_id AND x.state = 'completed'),
                   (SELECT COUNT(*) FROM sessions x JOIN slots s ON s.slot_id = x.slot_id WHERE s.persona_id = p.persona_id AND x.state = 'active'),
                   (SELECT COUNT(*) FROM items i WHERE i.persona_id = p.persona_id)
            FROM personas p ORDER BY p.position
            """);
        using var r = cmd.ExecuteReader();
        var list = new List<PersonaProgress>();
        while (r.Read()) list.Add(new PersonaProgress(r.GetString(0), r.GetInt32(1), r.GetInt32(2), r.GetInt32(3), r.GetInt32(4), r.GetInt32(5)));
        return list;
    }

    public IReadOnlyList<SessionProgress> SessionProgress()
    {
        using var c = Connect();
        using var cmd = Command(c, """
            SELECT x.session_id, s.persona_id, s.rater_index, x.state,
                   (SELECT COUNT(*) FROM answers a WHERE a.session_id = x.session_id),
                   (SELECT COUNT(*) FROM items i WHERE i.persona_id = s.persona_id),
                   x.started_ms, x.last_seen_ms, x.completed_ms, x.prolific_pid,
                   (SELECT COUNT(*) FROM answers a JOIN items i ON i.item_id = a.item_id WHERE a.session_id = x.session_id AND i.kind = 'attention' AND a.choice = 'personalised'),
                   (SELECT COUNT(*) FROM answers a JOIN items i ON i.item_id = a.item_id WHERE a.session_id = x.session_id AND i.kind = 'attention'),
                   x.consented_ms, x.end_reason
            FROM sessions x JOIN slots s ON s.slot_id = x.slot_id JOIN personas p ON p.persona_id = s.persona_id
            ORDER BY p.position, s.rater_index, x.session_id
            """);
        using var r = cmd.ExecuteReader();
        var list = new List<SessionProgress>();
        while (r.Read())
            list.Add(new SessionProgress(r.GetInt64(0), r.GetString(1), r.GetInt32(2), r.GetString(3), r.GetInt32(4), r.GetInt32(5),
                IsoMs(r.GetInt64(6)), IsoMs(r.GetInt64(7)), r.IsDBNull(8) ? null : IsoMs(r.GetInt64(8)), r.IsDBNull(9) ? null : r.GetString(9), r.GetInt32(10), r.GetInt32(11),
                r.IsDBNull(12) ? null : IsoMs(r.GetInt64(12)), r.IsDBNull(13) ? null : r.GetString(13), r.GetInt64(6), r.IsDBNull(12) ? null : r.GetInt64(12)));
        return list;
    }

    /// <summary>Every stored answer, including those of expired sessions (marked), in study order.</summary>
    public IEnumerable<AnswerRow> Answers()
    {
        using var c = Connect();
        using var cmd = Command(c, """
            SELECT s.persona_id, s.rater_index, x.session_id, x.state, i.position, i.kind, i.pair_id, i.prompt_id,
                   a.left_answer, a.side, a.choice, a.justification, a.submitted_ms, a.prolific_pid, a.prolific_study_id, a.prolific_session_id, x.end_reason
            FROM answers a JOIN sessions x ON x.session_id = a.session_id JOIN slots s ON s.slot_id = x.slot_id
                 JOIN items i ON i.item_id = a.item_id JOIN personas p ON p.persona_id = s.persona_id
            ORDER BY p.position, s.rater_index, x.session_id, i.position
            """);
        using var r = cmd.ExecuteReader();
        while (r.Read())
            yield return new AnswerRow(r.GetString(0), r.GetInt32(1), r.GetInt64(2), r.GetString(3), r.GetInt32(4), r.GetString(5),
                r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.GetString(8), r.GetString(9), r.GetString(10), r.GetString(11),
                IsoMs(r.GetInt64(12)), r.IsDBNull(13) ? null : r.GetString(13), r.IsDBNull(14) ? null : r.GetString(14), r.IsDBNull(15) ? null : r.GetString(15),
                r.IsDBNull(16) ? null : r.GetString(16));
    }

    public IReadOnlyDictionary<string, string> PersonaTexts()
    {
        using var c = Connect();
        using var cmd = Command(c, "SELECT persona_id, text FROM personas ORDER BY position");
        using var r = cmd.ExecuteReader();
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        while (r.Read()) d[r.GetString(0)] = r.GetString(1);
        return d;
    }

    /// <summary>
    /// Each persona with its typed attributes (a JSON object in the persona's order, as stored at
    /// create). Studies made before attributes were stored (schema 2) read back null attributes.
    /// </summary>
    public IReadOnlyDictionary<string, StudyPersona> Personas()
    {
        using var c = Connect();
        using var cmd = Command(c, "SELECT persona_id, text, attributes FROM personas ORDER BY position");
        using var r = cmd.ExecuteReader();
        var d = new Dictionary<string, StudyPersona>(StringComparer.Ordinal);
        while (r.Read())
        {
            global::Persona.Personas.PersonaInputs.OrderedAttributes? attributes = null;
            if (!r.IsDBNull(2))
            {
                attributes = new global::Persona.Personas.PersonaInputs.OrderedAttributes();
                using var doc = JsonDocument.Parse(r.GetString(2));
                foreach (var p in doc.RootElement.EnumerateObject()) attributes.TryAdd(p.Name, p.Value.GetString() ?? "");
            }
            d[r.GetString(0)] = new StudyPersona(r.GetString(1), attributes);
        }
        return d;
    }

    /// <summary>A consistent copy of the whole database (SQLite online backup), safe while raters are writing.</summary>
    public void BackupTo(string path)
    {
        using var c = Connect();
        using var dest = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        dest.Open();
        c.BackupDatabase(dest);
    }

    // ---- LM judgments -----------------------------------------------------------------------

    public sealed record Judgment(string Model, long ItemId, bool PersonalisedFirst, string? Choice, string? Raw);

    public ISet<(long ItemId, bool PersonalisedFirst)> JudgedBy(string model)
    {
        using var c = Connect();
        using var cmd = Command(c, "SELECT item_id, personalised_first FROM judgments WHERE model = $m", ("$m", model));
        using var r = cmd.ExecuteReader();
        var set = new HashSet<(long, bool)>();
        while (r.Read()) set.Add((r.GetInt64(0), r.GetInt64(1) != 0));
        return set;
    }

    public Task SaveJudgmentsAsync(IReadOnlyList<Judgment> judgments, CancellationToken ct) => WriteAsync(c =>
        {
            foreach (var j in judgments)
                Run(c, "INSERT OR REPLACE INTO judgments(model, item_id, personalised_first, choice, raw, created_ms) VALUES ($m, $i, $f, $c, $r, $n)",
                    ("$m", j.Model), ("$i", j.ItemId), ("$f", j.PersonalisedFirst ? 1 : 0), ("$c", j.Choice), ("$r", j.Raw), ("$n", NowMs));
            return judgments.Count;
        }, ct);

    public IReadOnlyList<Judgment> Judgments()
    {
        using var c = Connect();
        using var cmd = Command(c, "SELECT model, item_id, personalised_first, choice, raw FROM judgments ORDER BY model, item_id, personalised_first");
        using var r = cmd.ExecuteReader();
        var list = new List<Judgment>();
        while (r.Read()) list.Add(new Judgment(r.GetString(0), r.GetInt64(1), r.GetInt64(2) != 0, r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
        return list;
    }

    // ---- helpers ----------------------------------------------------------------------------

    private static RaterSession? Read(SqliteConnection c, string token)
    {
        using var cmd = Command(c, """
            SELECT x.session_id, x.token, x.slot_id, s.persona_id, s.rater_index, x.state, p.text,
                   (SELECT COUNT(*) FROM items i WHERE i.persona_id = s.persona_id), x.last_seen_ms, x.prolific_pid, x.prolific_study_id, x.prolific_session_id,
                   x.consented_ms, x.end_reason
            FROM sessions x JOIN slots s ON s.slot_id = x.slot_id JOIN personas p ON p.persona_id = s.persona_id WHERE x.token = $t
            """, ("$t", token));
        using var r = cmd.ExecuteReader();
        if (!r.Read()) return null;
        var sessionId = r.GetInt64(0);
        var answered = new HashSet<int>();
        using (var a = Command(c, "SELECT i.position FROM answers a JOIN items i ON i.item_id = a.item_id WHERE a.session_id = $s", ("$s", sessionId)))
        using (var ar = a.ExecuteReader())
            while (ar.Read()) answered.Add(ar.GetInt32(0));
        return new RaterSession(sessionId, r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetInt32(4),
            r.GetString(5) switch { "active" => SessionState.Active, "completed" => SessionState.Completed, "released" => SessionState.Released, _ => SessionState.Expired },
            r.GetString(6), r.GetInt32(7), answered, r.GetInt64(8),
            r.IsDBNull(9) ? null : r.GetString(9), r.IsDBNull(10) ? null : r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11),
            !r.IsDBNull(12), r.IsDBNull(13) ? null : r.GetString(13));
    }

    private static StudyItem? ReadItemIn(SqliteConnection c, string personaId, int position)
    {
        using var cmd = Command(c, "SELECT item_id, persona_id, position, kind, pair_id, prompt_id, instruction, generic, personalised, flip FROM items WHERE persona_id = $p AND position = $pos",
            ("$p", personaId), ("$pos", position));
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadItem(r) : null;
    }

    private static StudyItem ReadItem(SqliteDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), r.GetInt32(2), r.GetString(3) == "pair" ? ItemKind.Pair : ItemKind.Attention,
            r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.GetString(6), r.GetString(7), r.GetString(8), r.GetInt32(9));

    private static Dictionary<string, string> ReadMeta(SqliteConnection c)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var cmd = Command(c, "SELECT key, value FROM meta");
            using var r = cmd.ExecuteReader();
            while (r.Read()) d[r.GetString(0)] = r.GetString(1);
        }
        catch (SqliteException) { }
        return d;
    }

    private static void InsertMeta(SqliteConnection c, string key, string value) =>
        Run(c, "INSERT INTO meta(key, value) VALUES ($k, $v)", ("$k", key), ("$v", value));

    private static SqliteCommand Command(SqliteConnection c, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        return cmd;
    }

    private static int Run(SqliteConnection c, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = Command(c, sql, args);
        return cmd.ExecuteNonQuery();
    }

    private static T? Scalar<T>(SqliteConnection c, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = Command(c, sql, args);
        var v = cmd.ExecuteScalar();
        if (v is null or DBNull) return default;
        var t = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)Convert.ChangeType(v, t, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>An unguessable URL-safe token: <paramref name="bytes"/> random bytes, base64url.</summary>
    public static string NewToken(int bytes) =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string NewCode() => Convert.ToHexString(RandomNumberGenerator.GetBytes(5));

    private static bool LooksLikeToken(string s) => s.Length is > 8 and < 100 && s.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_');

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
    private static string IsoMs(long ms) => Iso(DateTimeOffset.FromUnixTimeMilliseconds(ms));

    // ---- the writer ---------------------------------------------------------------------------

    private abstract class WriteOp
    {
        public abstract void Run(SqliteConnection c);
        public abstract void Complete();
        public abstract void Fail(Exception ex);
    }

    private sealed class WriteOp<T>(Func<SqliteConnection, T> work) : WriteOp
    {
        private T _result = default!;
        public TaskCompletionSource<T> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public override void Run(SqliteConnection c) => _result = work(c);
        public override void Complete() => Done.TrySetResult(_result);
        public override void Fail(Exception ex) => Done.TrySetException(ex);
    }

    /// <summary>The study's writes as a part of the shared writer: each op runs its own SQL and hears its fate.</summary>
    private sealed class OpPart(SqliteConnection c) : SqliteWritePart
    {
        public override bool TryApply(object item)
        {
            if (item is not WriteOp op) return false;
            op.Run(c);
            return true;
        }

        public override void Committed(object item) => (item as WriteOp)?.Complete();

        public override void Failed(object item, Exception error) => (item as WriteOp)?.Fail(error);
    }

    private SqliteWriter NewWriter() => new(Path, ConnectWriter, c => [new OpPart(c)], new SqliteWriterOptions
    {
        MaxBatch = 256,
        // Each answer in its own savepoint: one that breaks a constraint fails alone and the others
        // of its commit are stored; a failed commit fails its batch, and the study carries on.
        SavepointPerItem = true,
        FaultIsFatal = false,
    });

    private Task<T> WriteAsync<T>(Func<SqliteConnection, T> work, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var op = new WriteOp<T>(work);
        _writer.Enqueue(op);
        // A cancelled caller stops waiting; its write still commits or fails with its batch.
        return op.Done.Task.WaitAsync(ct);
    }

    public void Dispose()
    {
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult(); // queued writes finish before the database is let go
        // Pooled connections would keep the file open: its journal (-wal, -shm) would stay beside it and
        // the last answers outside study.sqlite until the process ends. Closing them checkpoints.
        using var pooled = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(pooled);
    }
}
