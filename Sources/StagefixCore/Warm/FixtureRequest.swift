// `session create` and `db flush` as data: what the command line runs itself, or hands to the warm
// agent, with one implementation of the work and of the replies (same output, same exit codes).
import Foundation

public struct FixtureRequest: Codable, Sendable, Equatable {
    public enum Action: Codable, Sendable, Equatable {
        /// `flushFirst`: the database is flushed first, in the same request (`session create --flush`).
        case sessionCreate(emails: [String], format: String, options: SessionRequestOptions, flushFirst: Bool = false)
        case databaseFlush(json: Bool)

        public var wantsJSON: Bool {
            switch self {
            case let .sessionCreate(_, format, _, _): return format == SessionOutputFormat.json.rawValue
            case let .databaseFlush(json): return json
            }
        }
    }

    public var host: String
    public var sshConfig: String?
    /// The caller's stagefix.yml by content (its working folder or `-c` decided which); nil: none, defaults.
    public var config: StagefixConfigFile?
    public var timeout: Double
    public var action: Action
    /// How long a destructive action waits for another run's fixture lock (nil: 60 s).
    public var lockTimeout: Double?
    /// The caller's STAGEFIX_LOCK_TOKENS: locks its parents hold do not make it wait (the agent
    /// has its own environment, so they travel with the request).
    public var lockTokens: String?

    public init(host: String, sshConfig: String?, config: StagefixConfigFile?, timeout: Double, action: Action, lockTimeout: Double? = nil, lockTokens: String? = nil) {
        self.host = host
        self.sshConfig = sshConfig
        self.config = config
        self.timeout = timeout
        self.action = action
        self.lockTimeout = lockTimeout
        self.lockTokens = lockTokens
    }

    public var wantsJSON: Bool { action.wantsJSON }

    /// Requests that would open the same connection share one; whether it may still be used is
    /// decided on each request (`GuardInputs`), since the files behind these paths can change.
    var connectionKey: String { [host, sshConfig ?? "", config?.path ?? "", String(timeout)].joined(separator: "\u{0}") }
}

/// What a fixture command prints and how it exits.
public struct FixtureReply: Codable, Sendable {
    public var exit: Int32
    public var stdout: String
    public var stderr: String

    /// The reply for a failure, exactly as the command line reports one.
    public static func failure(_ error: any Error, json: Bool) -> FixtureReply {
        let status = ExitStatus(for: error)
        return FixtureReply(exit: status.rawValue, stdout: json ? JSONOutput.error(error) + "\n" : "", stderr: StandardStreams.shownOnTerminal("stagefix: \(error)") + "\n")
    }
}

public enum FixtureWork {
    /// Checks what can be checked before connecting (65 for a bad email, 64 for a bad format).
    public static func validate(_ request: FixtureRequest) throws {
        if case let .sessionCreate(emails, format, _, _) = request.action {
            _ = try emails.map(EmailAddress.init)
            guard SessionOutputFormat(rawValue: format) != nil else { throw StagefixError.usage("unknown format \(format)") }
        }
    }

    /// Does the work on an open, guarded connection and returns what goes to stdout.
    public static func perform(_ request: FixtureRequest, on fixture: SiteConnection) throws -> String {
        fixture.site.lockGate = LockGate(host: fixture.siteHost, waitSeconds: request.lockTimeout ?? 60,
                                         environment: request.lockTokens.map { [HostLock.tokensVariable: $0] } ?? [:])
        switch request.action {
        case let .sessionCreate(emails, format, options, flushFirst):
            let addresses = try emails.map(EmailAddress.init)
            let keys = try fixture.site.createSessions(for: addresses, options: options, flushFirst: flushFirst)
            fixture.audit(command: (flushFirst ? "session create --flush " : "session create ") + emails.joined(separator: " "), exitStatus: 0)
            return SessionOutput.render(SessionOutputFormat(rawValue: format) ?? .key, sessions: Array(zip(addresses, keys)), host: fixture.cookieHost, cookie: fixture.cookie)
        case let .databaseFlush(json):
            try fixture.site.flushDatabase()
            fixture.audit(command: "db flush", exitStatus: 0)
            return json ? JSONOutput.encode(["ok": true, "host": request.host, "flushed": true]) + "\n" : ""
        }
    }

    /// The whole command without the agent: connect, guard, work, close.
    public static func run(_ request: FixtureRequest, trace: (@Sendable (String) -> Void)?, passphrase: @escaping PassphraseProvider) -> FixtureReply {
        do {
            try validate(request)
            let config = try StagefixConfig(file: request.config)
            let fixture = try SiteConnection.open(
                ConnectionRequest(destination: request.host, sshConfigPath: request.sshConfig, timeout: request.timeout, trace: trace, passphrase: passphrase),
                config: config)
            defer { fixture.close() }
            return FixtureReply(exit: 0, stdout: try perform(request, on: fixture), stderr: "")
        } catch {
            return .failure(error, json: request.wantsJSON)
        }
    }
}

import SSH
