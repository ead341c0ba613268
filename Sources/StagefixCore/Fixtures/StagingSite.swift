// A staging site over one SSH connection: read its env (SFTP), run management commands with it.
import Foundation
import SSH

/// What a management command printed and how it ended.
public struct ManagementOutput: Sendable {
    public var exit: RemoteExit
    public var stdout: String
    /// Already redacted: no env value appears in it.
    public var stderr: String
}

public final class StagingSite {
    public let session: SSHSession
    /// The host as typed (the name the site is deployed under).
    public let host: String
    public let layout: SiteLayout
    public let timeout: Double
    private let trace: (@Sendable (String) -> Void)?
    /// For the runner: which env keys name the server (guard identity), and whether an unmarked database is refused.
    public var identityKeys = GuardRules.defaultIdentityKeys
    public var requireDatabaseMarker = false
    /// Globs of production names: the runner refuses to write to a database whose name or path matches.
    public var productionPatterns: [String] = []
    /// Set when the guard's "staging" rests on the database's marker: every write checks it again.
    public var requiredMarkerRole: String? {
        didSet { startedRunner?.requiredMarkerRole = requiredMarkerRole }
    }
    /// Destructive requests wait while another run holds the host's fixture lock.
    public var lockGate: LockGate? {
        didSet { startedRunner?.lockGate = lockGate }
    }
    private var startedRunner: DjangoRunner?
    /// Read once per connection; `env set` replaces it with what it wrote, so later steps see the new values.
    var cachedEnvironment: ServerEnvironment?

    public init(session: SSHSession, host: String, layout: SiteLayout, timeout: Double, trace: (@Sendable (String) -> Void)?) {
        self.session = session
        self.host = host
        self.layout = layout
        self.timeout = timeout
        self.trace = trace
    }

    /// Masks the env's values (none read yet: nothing to mask).
    public var redactor: Redactor { cachedEnvironment?.redactor ?? .none }

    /// The env file, read once per connection over SFTP. Sites with `env_file: none` have an empty one.
    public func environment() throws -> ServerEnvironment {
        if let cachedEnvironment { return cachedEnvironment }
        guard let path = layout.envFilePath else {
            let empty = ServerEnvironment(path: "(none)", text: "")
            cachedEnvironment = empty
            return empty
        }
        let watch = Stopwatch()
        let bytes: [UInt8]
        do {
            bytes = try session.readFilePipelined(path, maxBytes: Self.envFileLimit, timeout: timeout)
        } catch SSHError.remoteFile(_, "no such file") {
            throw StagefixError.configuration(
                "the env file \(path) does not exist on \(host); create it, or set site.env_file in stagefix.yml (`none` for sites without one)")
        } catch let error as SSHError {
            throw try envFileProblem(path, error)
        }
        // A NUL byte cannot reach a process environment (Python refuses it): name the line.
        if let nul = bytes.firstIndex(of: 0) {
            let line = bytes[..<nul].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            throw StagefixError.invalidData("the env file \(path) on \(host) has a NUL byte on line \(line); no process environment can hold it, so remove it")
        }
        // An expansion past stagefix's bound refuses the file (65) before anything relies on it.
        let environment = try ServerEnvironment(path: path, text: String(decoding: bytes, as: UTF8.self)).checkedForUse()
        trace?("read \(path): \(environment.values.count) values (\(String(format: "%.1f", watch.milliseconds)) ms)")
        for problem in environment.problems {
            StandardStreams.printError("stagefix: warning: \(path) line \(problem.line): \(problem.message); line skipped")
        }
        cachedEnvironment = environment
        return environment
    }

    /// The largest env file read (a real one is a few KB).
    static let envFileLimit = 4 << 20

    /// Why the env file could not be read, as a person can fix it (78): a folder, too large, unreadable.
    private func envFileProblem(_ path: String, _ error: SSHError) throws -> StagefixError {
        let sftp = try SFTPClient(session: session, timeout: timeout)
        if (try? sftp.listDirectory(path)) ?? nil != nil {
            return .configuration("the env file \(path) on \(host) is a folder, not a file; point site.env_file in stagefix.yml at the file")
        }
        if let attributes = try? sftp.attributes(of: path), attributes.size > UInt64(Self.envFileLimit) {
            return .configuration("the env file \(path) on \(host) is \(attributes.size) bytes, over the \(Self.envFileLimit >> 20) MiB an env file may have; is site.env_file the right file?")
        }
        if case .remoteFile(_, let reason) = error, reason.contains("permission denied") {
            return .configuration("the env file \(path) on \(host) cannot be read by the login user (permission denied); give it read permission for that user")
        }
        return .configuration("the env file \(path) on \(host) cannot be read: \(error)")
    }

    /// Runs `manage.py ARGS` on exec channels with the server's env delivered on stdin (never on a
    /// command line); several at once share the connection (one channel each). No database checks run
    /// here: stagefix's own commands go through the runner (`relayManagement`).
    public func manage(_ argumentLists: [[String]]) throws -> [ManagementOutput] {
        let environment = try environment()
        let redactor = environment.redactor
        let script = EnvDelivery.script(environment.values)
        let outputs = argumentLists.map { _ in (out: BoundedTail(), err: BoundedTail()) }
        let commands = argumentLists.enumerated().map { index, arguments in
            RemoteCommand(
                ManagementCommandLine.build(layout: layout, arguments: arguments, deliversEnv: true),
                stdin: FixedStdin(script),
                stdout: { outputs[index].out.append($0) },
                stderr: { outputs[index].err.append($0) })
        }
        for arguments in argumentLists {
            trace?("running manage.py \(redactor.redact(arguments.joined(separator: " "))) in \(layout.projectPath) with \(environment.values.count) env values on stdin")
        }
        let watch = Stopwatch()
        let exits = try session.runConcurrently(commands, timeout: timeout)
        trace?("management command(s) done (\(String(format: "%.1f", watch.milliseconds)) ms)")
        return zip(exits, outputs).map { exit, output in
            ManagementOutput(exit: exit, stdout: output.out.text, stderr: redactor.redact(output.err.text))
        }
    }

    /// Turns a failed management command into the error a person can act on.
    func failure(of output: ManagementOutput, arguments: [String]) -> StagefixError {
        Self.failure(of: output, arguments: arguments, layout: layout, host: host)
    }

    static func failure(of output: ManagementOutput, arguments: [String], layout: SiteLayout, host: String) -> StagefixError {
        if let prologue = ManagementCommandLine.prologueFailure(exit: output.exit, stderr: output.stderr) {
            switch prologue {
            case .missingProject:
                return .configuration("the site folder \(layout.projectPath) does not exist on \(host); deploy the site there or set site.path for this host in stagefix.yml")
            case .missingInterpreter:
                return .configuration("the interpreter \(layout.pythonPath) is missing or not executable on \(host); create the virtualenv or set site.python in stagefix.yml")
            case .missingManage:
                return .configuration("\(layout.managePath) does not exist on \(host); set site.manage in stagefix.yml")
            case .envRejected:
                return .invalidData("the server's shell could not load the env values from \(layout.envFilePath ?? "the env file")")
            }
        }
        if output.stderr.contains("Unknown command: '\(arguments.first ?? "")'") {
            return .configuration("the site on \(host) has no `\(arguments.first ?? "")` management command; add it to one of the site's apps")
        }
        let tail = output.stderr.split(separator: "\n", omittingEmptySubsequences: true).suffix(8).joined(separator: "\n")
        return .remoteCommandFailed(command: "manage.py " + arguments.joined(separator: " "), exit: output.exit, stderrTail: tail)
    }

    /// The Django runner for this connection, started on first use: every session and flush of one
    /// invocation shares its one interpreter start.
    public func runner() throws -> DjangoRunner {
        if let startedRunner { return startedRunner }
        let environment = try environment()
        let runner = try DjangoRunner.start(
            site: self, environment: environment.values, identityKeys: identityKeys,
            requireMarker: requireDatabaseMarker, productionPatterns: productionPatterns, redactor: environment.redactor, trace: trace)
        runner.requiredMarkerRole = requiredMarkerRole
        runner.lockGate = lockGate
        startedRunner = runner
        return runner
    }

    /// Whether the started runner is still there to take requests (false when none was started).
    public var isRunnerAlive: Bool { startedRunner?.isAlive ?? false }

    /// Ends the runner, if one was started.
    public func closeRunner() {
        startedRunner?.close()
        startedRunner = nil
    }

    /// A logged-in session per email, in order: the site's `create_session` when it has one (checked
    /// the way Django's get_user would), else made by the runner itself.
    public func createSessions(for emails: [EmailAddress], options: SessionRequestOptions = SessionRequestOptions(), flushFirst: Bool = false) throws -> [SessionKey] {
        flushFirst ? try runner().flushThenCreateSessions(emails, options: options) : try runner().createSessions(emails, options: options)
    }

    /// `flush` (every table emptied) after the database marker allows it, in the runner.
    public func flushDatabase() throws {
        try runner().flush()
    }

    /// The cookie as the server sets it (its SESSION_COOKIE_* settings), with stagefix.yml's explicit overrides.
    public func cookieSettings(_ settings: HostSettings) -> SessionCookieSettings {
        guard var cookie = startedRunner?.knownHello?.cookie else { return settings.cookie }
        let configured = settings.cookie
        for key in settings.explicitCookieKeys {
            switch key {
            case "cookie_name": cookie.name = configured.name
            case "cookie_domain": cookie.domain = configured.domain
            case "cookie_path": cookie.path = configured.path
            case "cookie_secure": cookie.secure = configured.secure
            case "cookie_httponly": cookie.httpOnly = configured.httpOnly
            case "cookie_samesite": cookie.sameSite = configured.sameSite
            default: break
            }
        }
        return cookie
    }

    /// Any management command, in the runner after the database checks (any command can write), its
    /// output relayed as whole lines as it arrives, values masked; returns its exit status.
    public func relayManagement(_ arguments: [String], stdout: @escaping (String) -> Void, stderr: @escaping (String) -> Void) throws -> Int32 {
        try runner().manage(arguments, stdout: stdout, stderr: stderr)
    }
}
