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
    public let hello: RunnerHello
    private let channel: InteractiveCommand
    private let host: String
    private let timeout: Double
    private let redactor: Redactor
    private let stderr: CollectedStderr
    private let trace: (@Sendable (String) -> Void)?

    final class CollectedStderr {
        var bytes: [UInt8] = []
        func append(_ chunk: UnsafeRawBufferPointer) {
            bytes.append(contentsOf: chunk)
            if bytes.count > 65536 { bytes.removeFirst(bytes.count - 65536) }
        }
        var tail: String { String(decoding: bytes, as: UTF8.self).split(separator: "\n").suffix(8).joined(separator: "\n") }
    }

    static let source: [UInt8] = PackageResources.stagefix_runner_py

    private init(hello: RunnerHello, channel: InteractiveCommand, host: String, timeout: Double, redactor: Redactor, stderr: CollectedStderr, trace: (@Sendable (String) -> Void)?) {
        self.trace = trace
        self.hello = hello
        self.channel = channel
        self.host = host
        self.timeout = timeout
        self.redactor = redactor
        self.stderr = stderr
    }

    /// Starts the runner on `site` with `environment` (the env file's values, or none for sites whose
    /// env lives in their container) and waits for Django to load.
    static func start(site: StagingSite, environment: [(key: String, value: String)], identityKeys: [String], requireMarker: Bool, redactor: Redactor, trace: (@Sendable (String) -> Void)?) throws -> DjangoRunner {
        let watch = Stopwatch()
        let command = try ManagementCommandLine.runner(layout: site.layout)
        let stderr = CollectedStderr()
        let channel = InteractiveCommand(session: site.session, command: command, stderr: { stderr.append($0) })
        var values: [String: String] = [:]
        for (key, value) in environment { values[key] = value }
        let manage = site.layout.commandPrefix?.last ?? site.layout.manage
        channel.send(block(Array(Self.source)))
        channel.send(block(jsonBytes(["env": values, "manage": manage, "identity_keys": identityKeys, "require_marker": requireMarker])))
        let answer: [String: Any]
        do {
            answer = try readAnswer(channel, timeout: site.timeout, during: "starting Django on \(site.host)")
        } catch let early as EarlyExit {
            let output = ManagementOutput(exit: early.exit, stdout: "", stderr: redactor.redact(String(decoding: stderr.bytes, as: UTF8.self)))
            throw site.failure(of: output, arguments: ["(stagefix runner)"])
        }
        guard answer["ok"] as? Bool == true, let hello = answer["hello"] as? [String: Any] else {
            channel.terminate()
            throw error(from: answer, stderrTail: redactor.redact(stderr.tail), host: site.host)
        }
        let cookie = hello["cookie"] as? [String: Any] ?? [:]
        let runner = DjangoRunner(
            hello: RunnerHello(
                pid: hello["pid"] as? Int ?? 0, django: hello["django"] as? String ?? "?", python: hello["python"] as? String ?? "?",
                settingsModule: hello["settings"] as? String ?? "?", hasCreateSession: hello["has_create_session"] as? Bool ?? false,
                sessionEngine: hello["session_engine"] as? String ?? "?",
                cookie: SessionCookieSettings(
                    name: cookie["name"] as? String ?? "sessionid", domain: cookie["domain"] as? String, path: cookie["path"] as? String ?? "/",
                    secure: cookie["secure"] as? Bool ?? false, httpOnly: cookie["httponly"] as? Bool ?? true,
                    sameSite: cookie["samesite"] as? String ?? "Lax", maxAge: cookie["age"] as? Int ?? 1_209_600),
                identity: (hello["identity"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }),
            channel: channel, host: site.host, timeout: site.timeout, redactor: redactor, stderr: stderr, trace: trace)
        trace?("Django \(runner.hello.django) loaded on \(site.host) (runner pid \(runner.hello.pid), \(runner.hello.settingsModule), \(String(format: "%.1f", watch.milliseconds)) ms)")
        return runner
    }

    /// One request, one answer; an error answer becomes the matching StagefixError.
    func request(_ body: [String: Any], during: String) throws -> [String: Any] {
        let watch = Stopwatch()
        defer { trace?("\(during): \(String(format: "%.1f", watch.milliseconds)) ms") }
        channel.send(Self.block(Self.jsonBytes(body)))
        let answer: [String: Any]
        do {
            answer = try Self.readAnswer(channel, timeout: timeout, during: during)
        } catch SSHError.timedOut(let what, let seconds) {
            channel.terminate()
            throw SSHError.timedOut(during: what, seconds: seconds)
        } catch let early as EarlyExit {
            throw StagefixError.remoteCommandFailed(command: during, exit: early.exit, stderrTail: redactor.redact(stderr.tail))
        }
        guard answer["ok"] as? Bool == true, let result = answer["result"] as? [String: Any] else {
            throw Self.error(from: answer, stderrTail: redactor.redact(stderr.tail), host: host)
        }
        return result
    }

    public func flush() throws {
        _ = try request(["op": "flush"], during: "flush on \(host)")
    }

    public func createSessions(_ emails: [EmailAddress], options: SessionRequestOptions) throws -> [SessionKey] {
        let result = try request([
            "op": "sessions", "emails": emails.map(\.value), "builtin": options.needsBuiltin,
            "staff": options.staff, "superuser": options.superuser, "groups": options.groups,
        ], during: "creating sessions on \(host)")
        let sessions = result["sessions"] as? [[String: Any]] ?? []
        guard sessions.count == emails.count else {
            throw StagefixError.remoteCommandFailed(command: "create sessions", exit: RemoteExit(status: 1), stderrTail: "the runner answered \(sessions.count) sessions for \(emails.count) emails")
        }
        return try zip(emails, sessions).map { email, session in
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
        let result = try request(["op": "call", "args": arguments], during: "manage.py \(arguments.first ?? "") on \(host)")
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

    /// Asks the runner to end and waits for it (bounded); it never outlives the invocation.
    public func close() {
        channel.send(Self.block(Self.jsonBytes(["op": "quit"])))
        if (try? channel.finish(timeout: min(timeout, 5))) == nil { channel.terminate() }
    }

    // MARK: wire format

    struct EarlyExit: Error { var exit: RemoteExit }

    static func block(_ bytes: [UInt8]) -> [UInt8] { Array("\(bytes.count)\n".utf8) + bytes }

    static func jsonBytes(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    private static func readAnswer(_ channel: InteractiveCommand, timeout: Double, during: String) throws -> [String: Any] {
        guard let line = try channel.readLine(timeout: timeout, during: during) else {
            throw EarlyExit(exit: try channel.finish(timeout: 5))
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            throw StagefixError.remoteCommandFailed(command: during, exit: RemoteExit(status: 1), stderrTail: "the runner answered something that is not JSON")
        }
        return object
    }

    private static func error(from answer: [String: Any], stderrTail: String, host: String) -> StagefixError {
        let error = answer["error"] as? [String: Any] ?? [:]
        let message = error["message"] as? String ?? "the runner failed"
        switch error["kind"] as? String {
        case "guard": return .refusedByGuard(["database marker: \(message)"])
        case "configuration": return .configuration("\(host): \(message)" + (stderrTail.isEmpty ? "" : "\n" + stderrTail))
        case "usage": return .usage(message)
        default: return .remoteCommandFailed(command: "the Django runner on \(host)", exit: RemoteExit(status: 1), stderrTail: message)
        }
    }
}
