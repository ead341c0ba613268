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

    /// The folder the socket's safety rests on; "." for a bare name (`--socket agent.sock`).
    static func folder(of socketPath: String) -> String {
        let folder = PathText.deletingLastComponent(socketPath)
        return folder.isEmpty ? "." : folder
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
        try AgentSocketFolder.prepare(AgentSocket.folder(of: socketPath))
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw StagefixError.configuration("cannot create the agent socket: \(String(cString: strerror(errno)))") }
        defer { close(listener) }
        try removeStaleSocket()
        var address = try AgentSocket.address(socketPath)
        let previousMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        umask(previousMask)
        guard bound == 0, listen(listener, 64) == 0 else {
            throw StagefixError.configuration("cannot listen on \(socketPath): \(String(cString: strerror(errno)))")
        }
        chmod(socketPath, 0o600)
        let ownSocket = fileIdentity(socketPath)
        defer {
            // Only the socket this agent made: whatever took its place since is left alone.
            if let ownSocket, fileIdentity(socketPath) == ownSocket { unlink(socketPath) }
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
        PeerCredentials.uid(of: descriptor) == getuid()
    }

    /// Clears the way for our socket: only a socket of ours that no agent answers on (a dead agent's)
    /// is removed. Anything else at the path is someone's file, link or socket and stays untouched.
    private func removeStaleSocket() throws {
        var info = stat()
        guard lstat(socketPath, &info) == 0 else {
            let code = errno
            if code == ENOENT { return }
            throw StagefixError.configuration("cannot inspect \(socketPath): \(String(cString: strerror(code)))")
        }
        let kind: String? = switch info.st_mode & S_IFMT {
        case S_IFSOCK: info.st_uid == getuid() ? nil : "a socket of uid \(info.st_uid)"
        case S_IFLNK: "a symbolic link"
        case S_IFDIR: "a folder"
        case S_IFREG: "a regular file"
        default: "not a socket"
        }
        if let kind {
            throw StagefixError.configuration("\(socketPath) is \(kind), not an agent socket of yours; the agent leaves it alone: move it away or use another --socket")
        }
        if connectable(socketPath) { throw StagefixError.usage("an agent already listens on \(socketPath)") }
        unlink(socketPath)
    }

    /// Device and inode: tells our socket apart from anything put at its path later.
    private func fileIdentity(_ path: String) -> [UInt64]? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
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
