// One SSH connection driven in non-blocking mode: every wait is a poll(2) we bound ourselves.
import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Everything needed to open an authenticated connection; built from ssh_config by the caller.
public struct ConnectionOptions: Sendable {
    /// Where to connect: the ssh_config `HostName`.
    public var host: String
    public var port: Int
    public var user: String
    public var addressFamily: AddressFamily
    /// The name known_hosts is searched for (`HostKeyAlias`, else `host`).
    public var hostKeyName: String
    /// Bounds connecting plus authenticating (each remote command gets its own bound).
    public var timeout: Double
    /// Seconds between keepalives while waiting (ssh_config `ServerAliveInterval`); 0 = none.
    public var keepaliveInterval: Int
    public var authentication: [AuthenticationMethod]
    public var hostKeyPolicy: any HostKeyPolicy
    /// Receives `-v` trace lines (never a secret).
    public var trace: (@Sendable (String) -> Void)?
    /// Direct, through a jump host (whose own options say how it is reached), or a proxy command.
    public var route: ConnectionRoute = .direct

    public init(
        host: String, port: Int = 22, user: String, addressFamily: AddressFamily = .any,
        hostKeyName: String? = nil, timeout: Double = 30, keepaliveInterval: Int = 0,
        authentication: [AuthenticationMethod], hostKeyPolicy: any HostKeyPolicy,
        trace: (@Sendable (String) -> Void)? = nil
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.addressFamily = addressFamily
        self.hostKeyName = hostKeyName ?? host
        self.timeout = timeout
        self.keepaliveInterval = keepaliveInterval
        self.authentication = authentication
        self.hostKeyPolicy = hostKeyPolicy
        self.trace = trace
    }
}

public final class SSHSession {
    let handle: OpaquePointer
    let connection: any SessionSocket
    public let options: ConnectionOptions
    /// The server's host key, as validated by the policy.
    public private(set) var hostKey: HostKey
    /// The numeric address connected to; through a jump host or proxy command, the host name it was
    /// asked to reach.
    public var address: String { connection.address }
    /// The jump hosts this session went through, first hop first (empty when direct).
    public let jumps: [JumpRecord]
    private var isDisconnected = false

    private init(handle: OpaquePointer, connection: any SessionSocket, options: ConnectionOptions, hostKey: HostKey, jumps: [JumpRecord]) {
        self.handle = handle
        self.connection = connection
        self.options = options
        self.hostKey = hostKey
        self.jumps = jumps
    }

    deinit {
        if !isDisconnected {
            // Best effort only: a dead peer must not make deinit block.
            _ = libssh2_session_disconnect_ex(handle, SSH_DISCONNECT_BY_APPLICATION, "bye", "")
        }
        libssh2_session_free(handle)
    }

    /// Connects, checks the host key with the policy, and authenticates, all within `options.timeout`.
    /// A connection dropped by sshd's `MaxStartups` during the banner is retried with jittered backoff.
    /// Through jump hosts, each hop is such a connection (host key checked, authenticated) and one
    /// deadline bounds them all; `reachedJump` hears of each hop as it is logged in to.
    public static func connect(_ options: ConnectionOptions, reachedJump: ((JumpRecord) -> Void)? = nil) throws -> SSHSession {
        try LibSSH2.ensureInitialised()
        return try connect(options, deadline: Deadline(secondsFromNow: options.timeout), reachedJump: reachedJump)
    }

    private static func connect(_ options: ConnectionOptions, deadline: Deadline, reachedJump: ((JumpRecord) -> Void)?) throws -> SSHSession {
        var backoff = 0.05
        while true {
            do {
                return try connectOnce(options, deadline: deadline, reachedJump: reachedJump)
            } catch let drop as StartupDrop {
                // Nothing ran yet: the server refused us before the key exchange, so retrying is safe.
                let pause = min(backoff * Double.random(in: 0.5...1.5), Double(deadline.remainingMilliseconds) / 1000)
                options.trace?("server dropped the connection before key exchange (\(drop.banner)); retrying in \(Int(pause * 1000)) ms")
                if deadline.hasPassed || pause <= 0 {
                    throw SSHError.connectionLost(during: "the SSH handshake", reason: "the server kept dropping new connections (\(drop.banner)); it is busy (sshd MaxStartups)")
                }
                usleep(useconds_t(pause * 1_000_000))
                backoff = min(backoff * 2, 1)
            }
        }
    }

    private struct StartupDrop: Error { var banner: String }

    /// The socket the session will speak over, and the jump hosts logged in to on the way.
    private static func openSocket(_ options: ConnectionOptions, deadline: Deadline, reachedJump: ((JumpRecord) -> Void)?) throws -> (any SessionSocket, [JumpRecord]) {
        switch options.route {
        case .direct:
            return (try TCPConnection.open(host: options.host, port: options.port, family: options.addressFamily, deadline: deadline), [])
        case .command(let command):
            options.trace?("starting ProxyCommand: \(command)")
            return (try ProxyCommandProcess.start(command, host: options.host), [])
        case .jump(let through):
            let jump = try connect(through, deadline: deadline, reachedJump: reachedJump)
            let record = JumpRecord(user: through.user, host: through.host, port: through.port, address: jump.address, hostKey: jump.hostKey)
            reachedJump?(record)
            let jumps = jump.jumps + [record]
            let tunnel = try JumpTunnel.open(through: jump, to: options.host, port: options.port, deadline: deadline)
            return (tunnel, jumps)
        }
    }

    private static func connectOnce(_ options: ConnectionOptions, deadline: Deadline, reachedJump: ((JumpRecord) -> Void)?) throws -> SSHSession {
        let trace = options.trace
        var watch = Stopwatch()
        let (connection, jumps) = try openSocket(options, deadline: deadline, reachedJump: reachedJump)
        switch options.route {
        case .direct: trace?("connected to \(connection.address) port \(options.port) (\(format(watch.milliseconds)))")
        case .jump(let through): trace?("tunnel to \(options.host) port \(options.port) through \(through.host) (\(format(watch.milliseconds)))")
        case .command: trace?("ProxyCommand started for \(options.host) port \(options.port) (\(format(watch.milliseconds)))")
        }

        guard let handle = libssh2_session_init_ex(nil, nil, nil, nil) else {
            throw SSHError.library(function: "libssh2_session_init_ex", code: -1, message: "out of memory")
        }
        var handleOwned = false
        defer { if !handleOwned { libssh2_session_free(handle) } }
        libssh2_session_set_blocking(handle, 0)
        // libssh2 prefers ECDSA; OpenSSH clients record ed25519 first, so ask for what known_hosts holds.
        _ = libssh2_session_method_pref(handle, LIBSSH2_METHOD_HOSTKEY,
            "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-rsa")
        if options.keepaliveInterval > 0 {
            // want_reply 0: 1.10 queues the server's replies forever otherwise (LIBSSH2-NOTES §9).
            libssh2_keepalive_config(handle, 0, UInt32(options.keepaliveInterval))
        }

        watch = Stopwatch()
        let preBanner = try PreBannerLines.skip(descriptor: connection.descriptor, host: options.host, deadline: deadline, trace: trace)
        let waiter = SocketWaiter(handle: handle, descriptor: connection.descriptor, keepalive: options.keepaliveInterval)
        while true {
            let rc = libssh2_session_handshake(handle, libssh2_socket_t(connection.descriptor))
            if rc == 0 { break }
            if rc == LIBSSH2_ERROR_EAGAIN {
                try waiter.wait(deadline: deadline, during: "the SSH handshake with \(options.host)")
                continue
            }
            let banner = preBanner ?? libssh2_session_banner_get(handle).map { String(cString: $0) } ?? ""
            if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV) && banner.contains("Exceeded MaxStartups") {
                throw StartupDrop(banner: banner)
            }
            throw LibSSH2.error(rc, function: "libssh2_session_handshake", during: "the SSH handshake with \(options.host)", session: handle)
        }
        trace?("handshake done (\(format(watch.milliseconds)))")

        var keyLength = 0
        var keyType: Int32 = 0
        guard let keyPointer = libssh2_session_hostkey(handle, &keyLength, &keyType),
            let hostKey = HostKey(blob: Array(UnsafeRawBufferPointer(start: keyPointer, count: keyLength)))
        else {
            throw SSHError.library(function: "libssh2_session_hostkey", code: -1, message: "the server sent no host key")
        }
        let endpoint = HostKeyEndpoint(hostName: options.hostKeyName, port: options.port, address: connection.address)
        try options.hostKeyPolicy.validate(hostKey: hostKey, for: endpoint)
        trace?("host key \(hostKey.algorithm) \(hostKey.fingerprint) accepted for \(endpoint.knownHostsName)")

        let session = SSHSession(handle: handle, connection: connection, options: options, hostKey: hostKey, jumps: jumps)
        handleOwned = true
        watch = Stopwatch()
        try Authenticator(session: session, waiter: waiter, deadline: deadline).authenticate()
        trace?("authenticated as \(options.user) (\(format(watch.milliseconds)))")
        return session
    }

    /// Politely ends the session (bounded: a dead peer does not hold us).
    public func disconnect() {
        guard !isDisconnected else { return }
        isDisconnected = true
        let deadline = Deadline(secondsFromNow: 1)
        let waiter = makeWaiter()
        while libssh2_session_disconnect_ex(handle, SSH_DISCONNECT_BY_APPLICATION, "bye", "") == LIBSSH2_ERROR_EAGAIN {
            if (try? waiter.wait(deadline: deadline, during: "disconnect")) == nil { break }
        }
    }

    func makeWaiter() -> SocketWaiter {
        SocketWaiter(handle: handle, descriptor: connection.descriptor, keepalive: options.keepaliveInterval)
    }

    /// Calls `body` until it stops returning EAGAIN, waiting on the socket in between.
    func retry(_ during: String, deadline: Deadline, function: String, _ body: () -> Int32) throws {
        let waiter = makeWaiter()
        while true {
            let rc = body()
            if rc >= 0 { return }
            if rc != LIBSSH2_ERROR_EAGAIN {
                throw LibSSH2.error(rc, function: function, during: during, session: handle)
            }
            try waiter.wait(deadline: deadline, during: during)
        }
    }

    /// As `retry`, for calls that return a pointer (NULL + last errno EAGAIN means "again").
    func retryPointer<T>(_ during: String, deadline: Deadline, function: String, _ body: () -> T?) throws -> T {
        let waiter = makeWaiter()
        while true {
            if let result = body() { return result }
            let rc = libssh2_session_last_errno(handle)
            if rc != LIBSSH2_ERROR_EAGAIN {
                throw LibSSH2.error(rc, function: function, during: during, session: handle)
            }
            try waiter.wait(deadline: deadline, during: during)
        }
    }
}

/// Waits on the session's socket in the directions libssh2 asks for, sending keepalives meanwhile.
struct SocketWaiter {
    let handle: OpaquePointer
    let descriptor: Int32
    let keepalive: Int

    func wait(deadline: Deadline, during: String) throws {
        let directions = libssh2_session_block_directions(handle)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        try wait(events: events, deadline: deadline, during: during)
    }

    func wait(events: Int16, deadline: Deadline, during: String) throws {
        if deadline.hasPassed { throw SSHError.timedOut(during: during, seconds: deadline.seconds) }
        var timeout = deadline.remainingMilliseconds
        if keepalive > 0 {
            var nextKeepalive: Int32 = 0
            if libssh2_keepalive_send(handle, &nextKeepalive) == 0, nextKeepalive > 0 {
                timeout = min(timeout, nextKeepalive * 1000)
            }
        }
        // Quick-ack mode lapses after each ACK; re-armed before every wait so our ACKs are never
        // delayed (a delayed ACK lets sshd's Nagle hold back its next small packet ~40 ms).
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_QUICKACK, &one, socklen_t(MemoryLayout<Int32>.size))
        var entry = pollfd(fd: descriptor, events: events, revents: 0)
        let ready = poll(&entry, 1, timeout)
        if ready < 0 && errno != EINTR {
            throw SSHError.connectionLost(during: during, reason: String(cString: strerror(errno)))
        }
        if ready == 0 && deadline.hasPassed {
            throw SSHError.timedOut(during: during, seconds: deadline.seconds)
        }
    }
}

func format(_ milliseconds: Double) -> String {
    String(format: "%.1f ms", milliseconds)
}
