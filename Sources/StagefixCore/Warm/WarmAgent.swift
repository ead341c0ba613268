// Warm mode: a local agent that keeps each host's guarded SSH connection and Django runner alive, so
// a later `session create` or `db flush` from any test costs milliseconds. It serves its own user only
// (a 0700 folder, a 0600 socket, the peer's uid checked), judges each request with the caller's own
// stagefix.yml (sent as text) and guards afresh when that, ssh_config or known_hosts changed, notices
// deploys (the runner sees the env file, manage.py or git's HEAD/index change before each request) and
// starts afresh, survives a dead connection or runner by reopening once before the work (never
// re-running work that may have run), and exits when idle.
import Foundation
import SSH
#if canImport(Glibc)
import Glibc
#endif

public enum AgentSocket {
    /// The request format's version, in the socket's name: an agent left running by another
    /// stagefix build is never handed requests it would read differently (it idles out).
    static let protocolVersion = 3

    /// `$STAGEFIX_AGENT_SOCKET`, else `$XDG_RUNTIME_DIR/stagefix/agent-v3.sock`, else `/tmp/stagefix-UID/agent-v3.sock`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit = environment["STAGEFIX_AGENT_SOCKET"], !explicit.isEmpty { return explicit }
        let name = "agent-v\(protocolVersion).sock"
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/stagefix/" + name }
        return "/tmp/stagefix-\(getuid())/" + name
    }

    static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw StagefixError.configuration("agent socket path \(path) is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// Reads one newline-terminated message (bounded).
    static func readLine(_ descriptor: Int32, limit: Int = 16 << 20) -> [UInt8]? {
        var message: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return nil }
            message.append(contentsOf: chunk[0..<count])
            if let newline = message.firstIndex(of: UInt8(ascii: "\n")) { return Array(message[..<newline]) }
            if message.count > limit { return nil }
        }
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}

/// Set by the signal handler; the accept loop looks at it between polls.
nonisolated(unsafe) private var agentStopRequested: sig_atomic_t = 0

public final class WarmAgent: @unchecked Sendable {
    private let socketPath: String
    private let idleSeconds: Double
    private let trace: (@Sendable (String) -> Void)?
    private let lock = NSLock()
    private var hosts: [String: WarmHost] = [:]
    private var lastActivity = Date()
    private var busy = 0

    public init(socketPath: String, idleSeconds: Double, trace: (@Sendable (String) -> Void)?) {
        self.socketPath = socketPath
        self.idleSeconds = idleSeconds
        self.trace = trace
    }

    /// Listens until idle for `idleSeconds`; returns after closing every connection.
    public func serve() throws {
        let folder = PathText.deletingLastComponent(socketPath)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var info = stat()
        guard lstat(folder, &info) == 0, info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
            throw StagefixError.configuration("the agent's folder \(folder) must belong to you with mode 0700")
        }
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw StagefixError.configuration("cannot create the agent socket: \(String(cString: strerror(errno)))") }
        defer { close(listener) }
        // A socket left by a dead agent is replaced; a live agent keeps its own.
        if connectable(socketPath) { throw StagefixError.usage("an agent already listens on \(socketPath)") }
        unlink(socketPath)
        var address = try AgentSocket.address(socketPath)
        let previousMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        umask(previousMask)
        guard bound == 0, listen(listener, 64) == 0 else {
            throw StagefixError.configuration("cannot listen on \(socketPath): \(String(cString: strerror(errno)))")
        }
        chmod(socketPath, 0o600)
        defer {
            unlink(socketPath)
            lock.withLock { hosts.values.forEach { $0.close() } }
        }
        // Our own signal handling: a parent may have left TERM ignored or blocked, which children inherit.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        for signalNumber in [SIGTERM, SIGINT, SIGHUP] {
            signal(signalNumber) { _ in agentStopRequested = 1 }
            sigaddset(&stopSignals, signalNumber)
        }
        sigprocmask(SIG_UNBLOCK, &stopSignals, nil)
        signal(SIGPIPE, SIG_IGN)
        trace?("agent listening on \(socketPath), idle exit after \(Int(idleSeconds)) s")
        while true {
            if agentStopRequested != 0 { return }
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, 200)
            if ready == 0 {
                let idle = lock.withLock { busy == 0 && Date().timeIntervalSince(lastActivity) > idleSeconds }
                if idle { return }
                continue
            }
            if ready < 0 { if errno == EINTR { continue } else { return } }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            guard peerIsUs(client) else {
                close(client)
                continue
            }
            lock.withLock {
                busy += 1
                lastActivity = Date()
            }
            Thread.detachNewThread { [self] in
                handle(client)
                lock.withLock {
                    busy -= 1
                    lastActivity = Date()
                }
            }
        }
    }

    private func peerIsUs(_ descriptor: Int32) -> Bool {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc hides the type behind _GNU_SOURCE).
        var credentials: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return false }
        return credentials.1 == getuid()
    }

    private func connectable(_ path: String) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        guard var address = try? AgentSocket.address(path) else { return false }
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } } == 0
    }

    private func handle(_ client: Int32) {
        defer { close(client) }
        guard let line = AgentSocket.readLine(client), let request = try? JSONDecoder().decode(FixtureRequest.self, from: Data(line)) else { return }
        let reply = run(request)
        if let data = try? JSONEncoder().encode(reply) { _ = AgentSocket.writeAll(client, Array(data) + [UInt8(ascii: "\n")]) }
    }

    func run(_ request: FixtureRequest) -> FixtureReply {
        let config: StagefixConfig
        do {
            try FixtureWork.validate(request)
            // The caller's config, from the text it sent: never a file near the agent.
            config = try StagefixConfig(file: request.config)
        } catch {
            return .failure(error, json: request.wantsJSON)
        }
        let host = lock.withLock { () -> WarmHost in
            if let existing = hosts[request.connectionKey] { return existing }
            let created = WarmHost(request: request, trace: trace)
            hosts[request.connectionKey] = created
            return created
        }
        return host.run(request, config: config)
    }
}

/// One host's warm state: a guarded connection and its runner, used by one request at a time, and
/// what its guard verdict was drawn from.
final class WarmHost: @unchecked Sendable {
    private let lock = NSLock()
    private let trace: (@Sendable (String) -> Void)?
    private let connectionRequest: ConnectionRequest
    private var fixture: SiteConnection?
    private var guardedWith: GuardInputs?

    init(request: FixtureRequest, trace: (@Sendable (String) -> Void)?) {
        self.trace = trace
        connectionRequest = ConnectionRequest(destination: request.host, sshConfigPath: request.sshConfig, timeout: request.timeout, trace: trace)
    }

    func close() {
        lock.withLock {
            fixture?.close()
            fixture = nil
        }
    }

    func run(_ request: FixtureRequest, config: StagefixConfig) -> FixtureReply {
        lock.withLock {
            // Read before connecting: an edit made while the guard runs is seen by the next request.
            let inputs = GuardInputs(request: request, config: config)
            do {
                do {
                    return FixtureReply(exit: 0, stdout: try FixtureWork.perform(request, on: try ready(config: config, inputs: inputs)), stderr: "")
                } catch is DjangoRunner.SiteChanged {
                    // The runner refused the request untouched: start afresh (guard and all) and ask again.
                    trace?("\(connectionRequest.destination) changed (a deploy?); reconnecting and restarting Django")
                    dropFixture()
                    return FixtureReply(exit: 0, stdout: try FixtureWork.perform(request, on: try ready(config: config, inputs: inputs)), stderr: "")
                }
            } catch {
                // The work may have started: never run it again; the next request reconnects.
                if isConnectionFailure(error) { dropFixture() }
                return .failure(error, json: request.wantsJSON)
            }
        }
    }

    /// A connection and runner fit for the next request: reopened (guard and all) when the caller's
    /// stagefix.yml, ssh_config or known_hosts changed, or when the connection or the runner died.
    /// A deploy is noticed by the runner itself, on each request (`SiteChanged`). Nothing of the
    /// request has run yet.
    private func ready(config: StagefixConfig, inputs: GuardInputs) throws -> SiteConnection {
        if let fixture {
            if guardedWith != inputs {
                trace?("stagefix.yml, ssh_config or known_hosts changed for \(connectionRequest.destination); judging the guard again")
                dropFixture()
            } else if fixture.site.isRunnerAlive {
                return fixture
            } else {
                trace?("the runner or the connection to \(connectionRequest.destination) ended; reconnecting")
                dropFixture()
            }
        }
        let opened = try SiteConnection.open(connectionRequest, config: config)
        do {
            let runner = try opened.site.runner()
            runner.expectedSignature = try runner.hello().signature
        } catch {
            opened.close()
            throw error
        }
        fixture = opened
        guardedWith = inputs
        return opened
    }

    private func dropFixture() {
        fixture?.close()
        fixture = nil
        guardedWith = nil
    }

    private func isConnectionFailure(_ error: any Error) -> Bool {
        switch ExitStatus(for: error) {
        case .unreachable, .timedOut: return true
        case .remoteCommandFailed: return !(fixture?.site.isRunnerAlive ?? false)
        default: return false
        }
    }
}
