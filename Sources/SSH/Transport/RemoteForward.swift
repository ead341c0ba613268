// `ssh -R` for one service: the server listens on its loopback, and each connection made to it
// arrives as a channel that is bridged to a new TCP connection to a service on this machine.
import CLibSSH2
import Foundation

public final class RemoteForward {
    /// Strong: the listener and its channels are freed through the session.
    private let session: SSHSession
    private var listener: OpaquePointer?
    public let remoteHost: String
    /// The port the server listens on (the one asked for, or the server's pick for 0).
    public let boundPort: Int
    private var bridges: [ForwardBridge] = []
    /// Closed channels waiting for the server's close before libssh2 can free them.
    private var closing: [OpaquePointer] = []

    /// Asks the server to listen on `remoteHost:remotePort` (its loopback by default; port 0: any).
    public init(session: SSHSession, remoteHost: String = "127.0.0.1", remotePort: Int, timeout: Double) throws {
        self.session = session
        self.remoteHost = remoteHost
        var bound: Int32 = 0
        let during = "asking \(session.options.host) to listen on \(remoteHost):\(remotePort)"
        let deadline = Deadline(secondsFromNow: timeout)
        let waiter = session.makeWaiter()
        while true {
            // A queue for bursts: libssh2 refuses connections beyond it (LIBSSH2-NOTES §8).
            if let opened = libssh2_channel_forward_listen_ex(session.handle, remoteHost, Int32(remotePort), &bound, 64) {
                listener = opened
                break
            }
            let rc = libssh2_session_last_errno(session.handle)
            if rc == LIBSSH2_ERROR_EAGAIN {
                try waiter.wait(deadline: deadline, during: during)
                continue
            }
            if rc == LIBSSH2_ERROR_REQUEST_DENIED {
                throw SSHError.library(function: "libssh2_channel_forward_listen_ex", code: rc, message:
                    "\(session.options.host) refused to listen on \(remoteHost):\(remotePort): the port is taken or privileged, or sshd forbids it (AllowTcpForwarding); pick another port")
            }
            throw LibSSH2.error(rc, function: "libssh2_channel_forward_listen_ex", during: during, session: session.handle)
        }
        boundPort = remotePort == 0 ? Int(bound) : remotePort
    }

    deinit {
        bridges.forEach { $0.close() }
        if let listener { _ = libssh2_channel_forward_cancel(listener) }
    }

    /// Bridges connections to `localHost:localPort` until `shouldStop` says so (asked at least every
    /// 200 ms). Throws when the SSH connection is lost.
    public func serve(localHost: String, localPort: Int, shouldStop: () -> Bool, onConnection: (Int) -> Void = { _ in }) throws {
        let during = "forwarding \(session.options.host)'s \(remoteHost):\(boundPort)"
        var served = 0
        while !shouldStop() {
            var progressed = false
            while let channel = libssh2_channel_forward_accept(listener) {
                progressed = true
                served += 1
                onConnection(served)
                do {
                    bridges.append(ForwardBridge(channel: channel, socket: try Self.connectLocal(localHost, localPort)))
                } catch {
                    // The local service is gone: this connection is refused, the forward stays.
                    _ = libssh2_channel_close(channel)
                }
            }
            let rc = libssh2_session_last_errno(session.handle)
            if rc != LIBSSH2_ERROR_EAGAIN && rc != 0 {
                throw LibSSH2.error(rc, function: "libssh2_channel_forward_accept", during: during, session: session.handle)
            }
            for bridge in bridges {
                if try bridge.pump(session: session, during: during) { progressed = true }
            }
            closing += bridges.filter(\.isFinished).map(\.channel)
            bridges.removeAll { $0.isFinished }
            closing.removeAll { libssh2_channel_free($0) != LIBSSH2_ERROR_EAGAIN }
            // Data libssh2 already read for a channel wakes no poll: go round again instead.
            if progressed || bridges.contains(where: \.hasQueuedData) { continue }
            try waitForAnything()
        }
    }

    /// Polls the SSH socket and every bridge's local socket, sending keepalives meanwhile.
    private func waitForAnything() throws {
        var timeout: Int32 = 200
        var next: Int32 = 0
        if session.options.keepaliveInterval > 0, libssh2_keepalive_send(session.handle, &next) == 0, next > 0 {
            timeout = min(timeout, next * 1000)
        }
        var sshEvents = Int16(POLLIN)
        if libssh2_session_block_directions(session.handle) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { sshEvents |= Int16(POLLOUT) }
        var descriptors = [pollfd(fd: session.connection.descriptor, events: sshEvents, revents: 0)]
        descriptors += bridges.map { pollfd(fd: $0.socket, events: $0.localEvents, revents: 0) }
        if poll(&descriptors, nfds_t(descriptors.count), timeout) < 0 && errno != EINTR {
            throw SSHError.connectionLost(during: "forwarding", reason: String(cString: strerror(errno)))
        }
    }

    static func connectLocal(_ host: String, _ port: Int) throws -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw SSHError.connectFailed(host: host, port: port, reason: "not an IPv4 address")
        }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SSHError.connectFailed(host: host, port: port, reason: String(cString: strerror(errno))) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw SSHError.connectFailed(host: host, port: port, reason: reason)
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        return descriptor
    }
}

/// One forwarded connection: the channel on one side, the local socket on the other, each
/// direction buffered while its receiver is not ready, EOF passed along.
final class ForwardBridge {
    let channel: OpaquePointer
    let socket: Int32
    private var toLocal: [UInt8] = []
    private var toRemote: [UInt8] = []
    private var remoteEnded = false
    private var localEnded = false
    private var localShutDown = false
    private(set) var isFinished = false
    private var buffer = [UInt8](repeating: 0, count: 32768)

    init(channel: OpaquePointer, socket: Int32) {
        self.channel = channel
        self.socket = socket
    }

    var hasQueuedData: Bool {
        guard !isFinished else { return false }
        var queued: UInt = 0
        _ = libssh2_channel_window_read_ex(channel, &queued, nil)
        return queued > 0
    }

    var localEvents: Int16 {
        var events: Int16 = 0
        if !localEnded && toRemote.isEmpty { events |= Int16(POLLIN) }
        if !toLocal.isEmpty { events |= Int16(POLLOUT) }
        return events
    }

    /// Moves what can move without blocking; true when anything did.
    func pump(session: SSHSession, during: String) throws -> Bool {
        guard !isFinished else { return false }
        var progressed = false
        // Server side -> local service.
        if toLocal.isEmpty && !remoteEnded {
            let count = buffer.withUnsafeMutableBytes { libssh2_channel_read_ex(channel, 0, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
            if count > 0 {
                toLocal = Array(buffer[0..<count])
                progressed = true
            } else if count == 0 || count == Int(LIBSSH2_ERROR_CHANNEL_CLOSED) {
                if libssh2_channel_eof(channel) != 0 || count != 0 { remoteEnded = true; progressed = true }
            } else if count != Int(LIBSSH2_ERROR_EAGAIN) {
                throw LibSSH2.error(Int32(count), function: "libssh2_channel_read_ex", during: during, session: session.handle)
            }
        }
        if !toLocal.isEmpty {
            let written = toLocal.withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
            if written > 0 {
                toLocal.removeFirst(written)
                progressed = true
            } else if written < 0 && errno != EAGAIN && errno != EINTR {
                finish()  // the local service closed: nothing more can be delivered
                return true
            }
        }
        if remoteEnded && toLocal.isEmpty && !localShutDown {
            shutdown(socket, Int32(SHUT_WR))
            localShutDown = true
        }
        // Local service -> server side.
        if toRemote.isEmpty && !localEnded {
            let count = buffer.withUnsafeMutableBytes { read(socket, $0.baseAddress, $0.count) }
            if count > 0 {
                toRemote = Array(buffer[0..<count])
                progressed = true
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                localEnded = true
                progressed = true
            }
        }
        if !toRemote.isEmpty {
            let written = toRemote.withUnsafeBytes { libssh2_channel_write_ex(channel, 0, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
            if written > 0 {
                toRemote.removeFirst(written)
                progressed = true
            } else if written == Int(LIBSSH2_ERROR_CHANNEL_CLOSED) || written == Int(LIBSSH2_ERROR_CHANNEL_EOF_SENT) {
                toRemote = []
                localEnded = true
            } else if written < 0 && written != Int(LIBSSH2_ERROR_EAGAIN) {
                throw LibSSH2.error(Int32(written), function: "libssh2_channel_write_ex", during: during, session: session.handle)
            }
        }
        // The local service said all it will: the remote client gets EOF and the channel closes.
        if localEnded && toRemote.isEmpty {
            finish()
            return true
        }
        return progressed
    }

    private func finish() {
        guard !isFinished else { return }
        isFinished = true
        _ = libssh2_channel_send_eof(channel)
        _ = libssh2_channel_close(channel)
        Glibc.close(socket)
    }

    func close() { finish() }
}
