// The Swift end of the Django runner: starts it on the site (its code and the env travel on stdin),
// asks it for work in line-delimited JSON, and turns its answers into typed results and errors.
import Foundation
import SSH

/// What the runner says once Django is loaded.
public struct RunnerHello: Sendable {
    public var pid: Int
    public var django: String
    public var python: String
    public var settingsModule: String
    public var hasCreateSession: Bool
    public var sessionEngine: String
    /// The server's own SESSION_COOKIE_* settings.
    public var cookie: SessionCookieSettings
    /// The runner's own environment for the guard's identity keys, and settings.ALLOWED_HOSTS.
    public var identity: [String: String]
    /// What a deploy changes (env file, manage.py, git HEAD/index), as the runner saw it at start.
    public var signature: String
}

public struct SessionRequestOptions: Sendable, Equatable, Codable {
    /// Make the session in the runner even when the site has its own create_session.
    public var builtin = false
    public var staff = false
    public var superuser = false
    public var groups: [String] = []

    public init(builtin: Bool = false, staff: Bool = false, superuser: Bool = false, groups: [String] = []) {
        self.builtin = builtin
        self.staff = staff
        self.superuser = superuser
        self.groups = groups
    }

    /// Staff, superuser and groups need the runner's own user handling.
    var needsBuiltin: Bool { builtin || staff || superuser || !groups.isEmpty }
}

public final class DjangoRunner {
    /// Known once the first answer (or `hello()`) has read it.
    public private(set) var knownHello: RunnerHello?
    private let channel: InteractiveCommand
    private let started = Stopwatch()
    private let startFailure: @Sendable (RemoteExit, String) -> StagefixError
    private let host: String
    private let timeout: Double
    private let redactor: Redactor
    private let stderr: BoundedTail
    private let trace: (@Sendable (String) -> Void)?

    static let source: [UInt8] = PackageResources.stagefix_runner_py

    private init(channel: InteractiveCommand, host: String, timeout: Double, redactor: Redactor, stderr: BoundedTail, trace: (@Sendable (String) -> Void)?, startFailure: @escaping @Sendable (RemoteExit, String) -> StagefixError) {
        self.trace = trace
        self.startFailure = startFailure
        self.channel = channel
        self.host = host
        self.timeout = timeout
        self.redactor = redactor
        self.stderr = stderr
    }

    /// Starts the runner on `site` with `environment` (the env file's values, or none for sites whose
    /// env lives in their container). Nothing waits for Django here: the first request travels with
    /// the start, and its answer follows Django's "ready" line (one round trip saved).
    static func start(site: StagingSite, environment: [(key: String, value: String)], identityKeys: [String], requireMarker: Bool, productionPatterns: [String], redactor: Redactor, trace: (@Sendable (String) -> Void)?) throws -> DjangoRunner {
        let command = try ManagementCommandLine.runner(layout: site.layout)
        let stderr = BoundedTail()
        let channel = InteractiveCommand(session: site.session, command: command, stderr: { stderr.append($0) })
        var values: [String: String] = [:]
        for (key, value) in environment { values[key] = value }
        let manage = site.layout.commandPrefix?.last ?? site.layout.manage
        channel.send(block(Array(Self.source)))
        var watch = [site.layout.managePath, site.layout.projectPath + "/.git/HEAD", site.layout.projectPath + "/.git/index"]
        if let envFile = site.layout.envFilePath { watch.insert(envFile, at: 0) }
        channel.send(block(jsonBytes(["env": values, "manage": manage, "identity_keys": identityKeys, "require_marker": requireMarker, "production_patterns": productionPatterns, "watch": watch])))
        let startFailure: @Sendable (RemoteExit, String) -> StagefixError = { [layout = site.layout, host = site.host] exit, stderrText in
            let output = ManagementOutput(exit: exit, stdout: "", stderr: stderrText)
            return StagingSite.failure(of: output, arguments: ["(stagefix runner)"], layout: layout, host: host)
        }
        return DjangoRunner(channel: channel, host: site.host, timeout: site.timeout, redactor: redactor, stderr: stderr, trace: trace, startFailure: startFailure)
    }

    /// What the runner said once Django loaded (read now if no request has read it yet).
    public func hello() throws -> RunnerHello {
        if let knownHello { return knownHello }
        let answer: [String: Any]
        do {
            answer = try Self.readAnswer(channel, timeout: timeout, during: "starting Django on \(host)")
        } catch let early as EarlyExit {
            throw startFailure(early.exit, redactor.redact(stderr.text))
        }
        guard answer["ok"] as? Bool == true, let hello = answer["hello"] as? [String: Any] else {
            channel.terminate()
            throw Self.error(from: answer, stderrTail: redactor.redact(stderr.lastLines(8)), host: host, redactor: redactor)
        }
        let parsed = RunnerHello(
            pid: hello["pid"] as? Int ?? 0, django: hello["django"] as? String ?? "?", python: hello["python"] as? String ?? "?",
            settingsModule: hello["settings"] as? String ?? "?", hasCreateSession: hello["has_create_session"] as? Bool ?? false,
            sessionEngine: hello["session_engine"] as? String ?? "?",
            cookie: try Self.cookieSettings(from: hello["cookie"] as? [String: Any] ?? [:], host: host),
            identity: (hello["identity"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String },
            signature: hello["signature"] as? String ?? "")
        knownHello = parsed
        trace?("Django \(parsed.django) loaded on \(host) (runner pid \(parsed.pid), \(parsed.settingsModule), \(String(format: "%.1f", started.milliseconds)) ms)")
        return parsed
    }

    /// The server's SESSION_COOKIE_* settings, refused (78) when a field cannot be part of a cookie;
    /// the age clamped to what browsers keep (any integer Python sends, without trapping).
    static func cookieSettings(from cookie: [String: Any], host: String) throws -> SessionCookieSettings {
        let settings = SessionCookieSettings(
            name: cookie["name"] as? String ?? "sessionid", domain: cookie["domain"] as? String, path: cookie["path"] as? String ?? "/",
            secure: cookie["secure"] as? Bool ?? false, httpOnly: cookie["httponly"] as? Bool ?? true,
            sameSite: cookie["samesite"] as? String ?? "Lax",
            maxAge: CookieFields.clampedAge(CookieFields.age(fromJSON: cookie["age"]) ?? 1_209_600))
        try CookieFields.validate(settings, origin: "\(host)'s Django settings")
        return settings
    }

    /// Set by warm mode: every request first checks the site is as it was when the runner started,
    /// and is refused untouched (`SiteChanged`) when not.
    public var expectedSignature: String?

    /// The site changed under a warm runner; nothing of the request ran.
    public struct SiteChanged: Error {}

    /// Which step of the last failed `steps` request failed (nil: not a steps request, or no step ran).
    private var failedStep: Int?

    /// Set when the guard's "staging" rests on the database's marker: every request re-checks it.
    public var requiredMarkerRole: String?

    /// Destructive requests carry the host's fixture lock, and wait while another run holds it.
    public var lockGate: LockGate?

    /// One request, one answer; an error answer becomes the matching StagefixError. A `destructive`
    /// request waits (up to the gate's time) while another run holds the host's fixture lock.
    func request(_ body: [String: Any], during: String, destructive: Bool = false, onStream: ((String, String) -> Void)? = nil) throws -> [String: Any] {
        guard destructive, let lockGate else { return try requestOnce(body, during: during, onStream: onStream) }
        return try lockGate.waitWhileHeld(trace: trace) { nonces in
            var body = body
            body["lock"] = ["path": lockGate.path, "nonces": nonces] as [String: Any]
            return try requestOnce(body, during: during, onStream: onStream)
        }
    }

    private func requestOnce(_ body: [String: Any], during: String, onStream: ((String, String) -> Void)?) throws -> [String: Any] {
        failedStep = nil
        let watch = Stopwatch()
        defer { trace?("\(during): \(String(format: "%.1f", watch.milliseconds)) ms") }
        var body = body
        if let expectedSignature { body["expect_signature"] = expectedSignature }
        if let requiredMarkerRole { body["require_role"] = requiredMarkerRole }
        channel.send(Self.block(Self.jsonBytes(body)))
        _ = try hello()  // the request is already on its way; Django's "ready" comes first
        let answer: [String: Any]
        do {
            answer = try Self.readAnswer(channel, timeout: timeout, during: during, onStream: onStream)
        } catch SSHError.timedOut(let what, let seconds) {
            channel.terminate()
            throw SSHError.timedOut(during: what, seconds: seconds)
        } catch let early as EarlyExit {
            throw StagefixError.remoteCommandFailed(command: during, exit: early.exit, stderrTail: redactor.redact(stderr.lastLines(8)))
        }
        guard answer["ok"] as? Bool == true, let result = answer["result"] as? [String: Any] else {
            failedStep = (answer["error"] as? [String: Any])?["step"] as? Int
            if (answer["error"] as? [String: Any])?["kind"] as? String == "stale" { throw SiteChanged() }
            if (answer["error"] as? [String: Any])?["kind"] as? String == "locked" {
                throw LockHeld(runnerMessage: (answer["error"] as? [String: Any])?["message"] as? String ?? "")
            }
            throw Self.error(from: answer, stderrTail: redactor.redact(stderr.lastLines(8)), host: host, redactor: redactor)
        }
        return result
    }

    public func flush() throws {
        _ = try request(["op": "flush"], during: "flush on \(host)", destructive: true)
    }

    /// Any management command through `call_command`, after the marker check, in this process; its
    /// output handed to `stdout`/`stderr` as whole lines, masked. Returns its exit status.
    public func manage(_ arguments: [String], stdout: @escaping (String) -> Void, stderr: @escaping (String) -> Void) throws -> Int32 {
        var pending: [String: String] = [:]
        let redactor = redactor
        func deliver(_ stream: String, _ text: String) {
            (stream == "stdout" ? stdout : stderr)(redactor.redact(text))
        }
        let result = try request(["op": "manage", "args": arguments], during: "manage.py \(arguments.first ?? "") on \(host)", destructive: true) { stream, data in
            // Whole lines only, so a secret split across writes is still masked.
            var buffered = (pending[stream] ?? "") + data
            if let newline = buffered.lastIndex(of: "\n") {
                deliver(stream, String(buffered[...newline]))
                buffered = String(buffered[buffered.index(after: newline)...])
            }
            pending[stream] = buffered
        }
        for (stream, rest) in pending.sorted(by: { $0.key < $1.key }) where !rest.isEmpty { deliver(stream, rest) }
        return Int32(truncatingIfNeeded: result["exit"] as? Int ?? 1)
    }

    /// Creates the fixture lock file (O_EXCL) with `record`; nil when taken, else what the shell
    /// version prints about the holder: `held NOW MTIME`, then the lock file's text.
    func takeLock(path: String, record: String) throws -> String? {
        let result = try request(["op": "lock_acquire", "path": path, "record": record], during: "taking the fixture lock on \(host)")
        if result["acquired"] as? Bool == true { return nil }
        let held = result["held"] as? [String: Any] ?? [:]
        return "held \(held["now"] as? Int ?? 0) \(held["mtime"] as? Int ?? 0)\n" + (held["record"] as? String ?? "")
    }

    /// Removes the fixture lock if it still names `nonce`; whether it did.
    func releaseLock(path: String, nonce: String) throws -> Bool {
        try request(["op": "lock_release", "path": path, "nonce": nonce], during: "releasing the fixture lock on \(host)")["released"] as? Bool ?? false
    }

    public func createSessions(_ emails: [EmailAddress], options: SessionRequestOptions) throws -> [SessionKey] {
        let result = try request(Self.sessionsRequest(emails, options: options), during: "creating sessions on \(host)")
        return try sessionKeys(from: result, emails: emails)
    }

    /// The per-test fixture in one request (one round trip): the flush, then the sessions, which
    /// never run when the flush fails.
    public func flushThenCreateSessions(_ emails: [EmailAddress], options: SessionRequestOptions) throws -> [SessionKey] {
        do {
            return try flushThenCreateSessionsByStep(emails, options: options).keys
        } catch let failure as StepFailure {
            throw failure.error
        }
    }

    /// A `steps` request that failed: the step (0-based) and its error.
    public struct StepFailure: Error {
        public let step: Int
        public let error: any Error
    }

    /// `flushThenCreateSessions` for a playbook's flush and create_session steps: the flush's time on
    /// the server, and a failure as `StepFailure` naming its step.
    public func flushThenCreateSessionsByStep(_ emails: [EmailAddress], options: SessionRequestOptions) throws -> (keys: [SessionKey], flushMilliseconds: Double) {
        let results: [[String: Any]]
        do {
            let result = try request(["op": "steps", "steps": [["op": "flush"], Self.sessionsRequest(emails, options: options)]],
                                     during: "flushing and creating sessions on \(host)", destructive: true)
            guard let answered = result["results"] as? [[String: Any]], answered.count == 2 else {
                throw StagefixError.remoteCommandFailed(command: "flush and create sessions", exit: RemoteExit(status: 1), stderrTail: "the runner answered something other than two results")
            }
            results = answered
        } catch {
            // No step named: the request never got that far (the flush's to answer for).
            throw StepFailure(step: failedStep ?? 0, error: error)
        }
        do {
            let keys = try sessionKeys(from: results[1], emails: emails)
            return (keys, results[0]["ms"] as? Double ?? 0)
        } catch {
            throw StepFailure(step: 1, error: error)
        }
    }

    private static func sessionsRequest(_ emails: [EmailAddress], options: SessionRequestOptions) -> [String: Any] {
        ["op": "sessions", "emails": emails.map(\.value), "builtin": options.needsBuiltin,
         "staff": options.staff, "superuser": options.superuser, "groups": options.groups]
    }

    private func sessionKeys(from result: [String: Any], emails: [EmailAddress]) throws -> [SessionKey] {
        let sessions = result["sessions"] as? [[String: Any]] ?? []
        guard sessions.count == emails.count else {
            throw StagefixError.remoteCommandFailed(command: "create sessions", exit: RemoteExit(status: 1), stderrTail: "the runner answered \(sessions.count) sessions for \(emails.count) emails")
        }
        return try zip(emails, sessions).map { email, session in
            // The site's own command: its output, read as for any create_session (warnings before the
            // key are fine; a last line that is no key is an error showing the output's tail).
            if let output = session["output"] as? String {
                return try SessionKey.parse(commandOutput: redactor.redact(output), email: email.value)
            }
            let text = session["key"] as? String ?? ""
            guard let key = SessionKey(text) else {
                throw StagefixError.remoteCommandFailed(command: "create_session \(email)", exit: RemoteExit(status: 1), stderrTail: "not a session key: \(redactor.redact(String(text.prefix(200))))")
            }
            return key
        }
    }

    /// A management command through `call_command`, in the runner (after the marker check); its
    /// output captured, an exception a typed error with its last line.
    public func call(_ arguments: [String]) throws -> (stdout: String, stderr: String) {
        let result = try request(["op": "call", "args": arguments], during: "manage.py \(arguments.first ?? "") on \(host)", destructive: true)
        return (redactor.redact(result["stdout"] as? String ?? ""), redactor.redact(result["stderr"] as? String ?? ""))
    }

    /// The role recorded in the site's database (nil: unmarked), and which database that is.
    public func marker() throws -> (role: String?, database: String) {
        let result = try request(["op": "marker"], during: "reading the database marker on \(host)")
        return (result["marker"] as? String, result["database"] as? String ?? "?")
    }

    public func mark(_ role: String) throws {
        _ = try request(["op": "mark", "role": role], during: "marking the database on \(host)")
    }

    /// False once the runner's process has ended (it died, or the connection did).
    public var isAlive: Bool { channel.isAliveAfterPolling() }

    /// Asks the runner to end without waiting for it (Python's shutdown is ~100 ms nobody needs to
    /// wait for): the quit, or the channel closing with the connection, ends it on the server.
    public func close() {
        channel.send(Self.block(Self.jsonBytes(["op": "quit"])))
        channel.closeInput()
        channel.flushWithoutWaiting()
    }

    // MARK: wire format

    struct EarlyExit: Error { var exit: RemoteExit }

    static func block(_ bytes: [UInt8]) -> [UInt8] { Array("\(bytes.count)\n".utf8) + bytes }

    static func jsonBytes(_ object: [String: Any]) -> [UInt8] {
        // The runner reads a dictionary: keys JSONSerialization would order with a collator (the env's)
        // go in byte order instead.
        if let text = JSONText.serialize(object, escapingSlashes: true, otherKeys: .byteOrder) { return Array(text.utf8) }
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    /// The answer line; output lines a management command streams before it go to `onStream`.
    private static func readAnswer(_ channel: InteractiveCommand, timeout: Double, during: String, onStream: ((String, String) -> Void)? = nil) throws -> [String: Any] {
        while true {
            guard let line = try channel.readLine(timeout: timeout, during: during) else {
                throw EarlyExit(exit: try channel.finish(timeout: 5))
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw StagefixError.remoteCommandFailed(command: during, exit: RemoteExit(status: 1), stderrTail: "the runner answered something that is not JSON")
            }
            if let stream = object["stream"] as? String, object["ok"] == nil {
                onStream?(stream, object["data"] as? String ?? "")
                continue
            }
            return object
        }
    }

    /// The runner's error as stagefix's, its message masked (an exception can quote a DATABASE_URL).
    private static func error(from answer: [String: Any], stderrTail: String, host: String, redactor: Redactor) -> StagefixError {
        let error = answer["error"] as? [String: Any] ?? [:]
        let message = redactor.redact(error["message"] as? String ?? "the runner failed")
        switch error["kind"] as? String {
        case "guard": return .refusedByGuard(["database marker: \(message)"])
        case "configuration": return .configuration("\(host): \(message)" + (stderrTail.isEmpty ? "" : "\n" + stderrTail))
        case "usage": return .usage(message)
        default: return .remoteCommandFailed(command: "the Django runner on \(host)", exit: RemoteExit(status: 1), stderrTail: message)
        }
    }
}
