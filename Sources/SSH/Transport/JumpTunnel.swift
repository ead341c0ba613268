// ProxyJump: the next hop's SSH session runs over a `direct-tcpip` channel of the jump host's session.
import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// libssh2 needs a socket for a session, so the channel is carried over a socket pair: the next session
/// gets one end, and a pump thread moves bytes between the other end and the channel both ways.
/// From then on the jump session belongs to that thread alone (libssh2 sessions are not thread-safe).
final class JumpTunnel: SessionSocket {
    let descriptor: Int32
    let address: String
    private let finished: DispatchSemaphore

    private init(descriptor: Int32, address: String, finished: DispatchSemaphore) {
        self.descriptor = descriptor
        self.address = address
        self.finished = finished
    }

    /// Asks `jump` to connect to `host`:`port` and hands the jump session to a pump thread.
    static func open(through jump: SSHSession, to host: String, port: Int, deadline: Deadline) throws -> JumpTunnel {
        let during = "asking the jump host \(jump.options.host) to connect to \(host) port \(port)"
        let channel: OpaquePointer
        do {
            channel = try jump.retryPointer(during, deadline: deadline, function: "libssh2_channel_direct_tcpip_ex") {
                libssh2_channel_direct_tcpip_ex(jump.handle, host, Int32(port), "127.0.0.1", 0)
            }
        } catch SSHError.library(_, let code, let message) where code == LIBSSH2_ERROR_CHANNEL_FAILURE {
            // The jump host said no: it could not reach the target, or its sshd forbids forwarding.
            throw SSHError.connectFailed(host: host, port: port, reason: "the jump host \(jump.options.host) could not open a connection there (\(message))")
        }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &pair) == 0 else {
            libssh2_channel_free(channel)
            throw SSHError.connectFailed(host: host, port: port, reason: "socketpair: \(String(cString: strerror(errno)))")
        }
        let finished = DispatchSemaphore(value: 0)
        let pump = TunnelPump(jump: jump, channel: channel, descriptor: pair[1], finished: finished)
        RunningPumps.add(pump)
        let thread = Thread {
            pump.run()
            RunningPumps.remove(pump)
        }
        thread.name = "stagefix jump \(jump.options.host)"
        thread.start()
        return JumpTunnel(descriptor: pair[0], address: host, finished: finished)
    }

    deinit {
        // The pump sees end-of-file, closes the channel and the jump session, then signals.
        close(descriptor)
        _ = finished.wait(timeout: .now() + 3)
    }
}

/// The pumps still running. At exit they are stopped and waited for before OpenSSL's own exit handler
/// frees the locks libssh2's crypto uses: a pump still decrypting then crashed the process (SIGSEGV in
/// pthread_rwlock_wrlock), which a command that exits without closing its session would cause.
private enum RunningPumps {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pumps: [ObjectIdentifier: TunnelPump] = [:]
    /// Registered after libssh2 initialised OpenSSL, so it runs before OpenSSL's handler (atexit is LIFO).
    private static let exitHandler: Void = { atexit { RunningPumps.stopAll() } }()

    static func add(_ pump: TunnelPump) {
        _ = exitHandler
        lock.withLock { pumps[ObjectIdentifier(pump)] = pump }
    }

    static func remove(_ pump: TunnelPump) {
        lock.withLock { _ = pumps.removeValue(forKey: ObjectIdentifier(pump)) }
    }

    static func stopAll() {
        let running = lock.withLock { Array(pumps.values) }
        for pump in running { pump.requestStop() }
        for pump in running { pump.waitUntilFinished(seconds: 2) }
    }
}

/// Moves bytes between the socket pair's far end and the channel until the near end closes.
/// Owns the jump session and channel; touched by its thread only once started.
private final class TunnelPump: @unchecked Sendable {
    private let jump: SSHSession
    private let channel: OpaquePointer
    private let descriptor: Int32
    private let finished: DispatchSemaphore
    private static let bufferSize = 64 * 1024

    init(jump: SSHSession, channel: OpaquePointer, descriptor: Int32, finished: DispatchSemaphore) {
        self.jump = jump
        self.channel = channel
        self.descriptor = descriptor
        self.finished = finished
    }

    /// Ends the pump as if the session over it had closed (its far end sees end-of-file).
    func requestStop() {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    /// Waits (bounded) for the pump to end, leaving the signal for the tunnel that also waits for it.
    func waitUntilFinished(seconds: Double) {
        if finished.wait(timeout: .now() + seconds) == .success { finished.signal() }
    }

    func run() {
        defer {
            close(descriptor)
            finished.signal()
        }
        pump()
        // Bounded: a jump host that is gone does not hold us.
        let deadline = Deadline(secondsFromNow: 1)
        _ = try? jump.retry("closing the tunnel", deadline: deadline, function: "libssh2_channel_close") { libssh2_channel_close(channel) }
        libssh2_channel_free(channel)
        jump.disconnect()
    }

    private func pump() {
        let toLocal = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 1)
        let toRemote = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 1)
        defer {
            toLocal.deallocate()
            toRemote.deallocate()
        }
        var localStart = 0, localEnd = 0, remoteStart = 0, remoteEnd = 0
        var remoteClosed = false, localShutDown = false, localClosed = false, eofSent = false
        let base = { (buffer: UnsafeMutableRawBufferPointer) in buffer.baseAddress!.assumingMemoryBound(to: CChar.self) }

        while true {
            var progress = false
            // Channel → socket pair. Read until libssh2 has nothing buffered (LIBSSH2-NOTES §4, starvation).
            if localStart == localEnd && !remoteClosed {
                let count = libssh2_channel_read_ex(channel, 0, base(toLocal), Self.bufferSize)
                if count > 0 {
                    localStart = 0; localEnd = count; progress = true
                } else if count == 0 || libssh2_channel_eof(channel) != 0 {
                    if libssh2_channel_eof(channel) != 0 { remoteClosed = true; progress = true }
                } else if Int32(count) != LIBSSH2_ERROR_EAGAIN {
                    return
                }
            }
            if localStart < localEnd {
                // send, not write: the session may have closed its end, and a SIGPIPE would end the process.
                let written = send(descriptor, toLocal.baseAddress! + localStart, localEnd - localStart, Int32(MSG_NOSIGNAL))
                if written > 0 {
                    localStart += written; progress = true
                } else if written < 0 && errno != EAGAIN && errno != EINTR {
                    return
                }
            }
            if remoteClosed && localStart == localEnd && !localShutDown {
                shutdown(descriptor, Int32(SHUT_WR))
                localShutDown = true
            }
            // Socket pair → channel.
            if remoteStart == remoteEnd && !localClosed {
                let count = read(descriptor, toRemote.baseAddress!, Self.bufferSize)
                if count > 0 {
                    remoteStart = 0; remoteEnd = count; progress = true
                } else if count == 0 {
                    localClosed = true; progress = true
                } else if errno != EAGAIN && errno != EINTR {
                    localClosed = true
                }
            }
            if remoteStart < remoteEnd {
                let written = libssh2_channel_write_ex(channel, 0, base(toRemote) + remoteStart, remoteEnd - remoteStart)
                if written > 0 {
                    remoteStart += written; progress = true
                } else if Int32(written) != LIBSSH2_ERROR_EAGAIN {
                    return
                }
            }
            if localClosed && remoteStart == remoteEnd {
                // The session over the tunnel is over: say so to the target and stop.
                if !eofSent {
                    let rc = libssh2_channel_send_eof(channel)
                    if rc == LIBSSH2_ERROR_EAGAIN { waitOnJump(sendingToo: true); continue }
                    eofSent = true
                }
                return
            }
            if !progress {
                waitForEither(localWritable: localStart < localEnd, localReadable: remoteStart == remoteEnd && !localClosed, channelOpen: !remoteClosed)
            }
        }
    }

    /// Polls the jump session's socket (as libssh2 asks) and the socket pair's end, sending the jump
    /// session's keepalives meanwhile.
    private func waitForEither(localWritable: Bool, localReadable: Bool, channelOpen: Bool) {
        var timeout: Int32 = 1000
        var next: Int32 = 0
        if jump.options.keepaliveInterval > 0, libssh2_keepalive_send(jump.handle, &next) == 0, next > 0 {
            timeout = min(timeout, next * 1000)
        }
        var sshEvents = Int16(POLLIN)
        if libssh2_session_block_directions(jump.handle) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { sshEvents |= Int16(POLLOUT) }
        var localEvents: Int16 = 0
        if localWritable { localEvents |= Int16(POLLOUT) }
        if localReadable { localEvents |= Int16(POLLIN) }
        var descriptors = [
            // Once the target's side has closed, a jump socket at end-of-file must not wake us in a loop.
            pollfd(fd: channelOpen ? jump.connection.descriptor : -1, events: sshEvents, revents: 0),
            pollfd(fd: descriptor, events: localEvents, revents: 0),
        ]
        _ = poll(&descriptors, 2, timeout)
    }

    private func waitOnJump(sendingToo: Bool) {
        var entry = pollfd(fd: jump.connection.descriptor, events: Int16(POLLIN) | (sendingToo ? Int16(POLLOUT) : 0), revents: 0)
        _ = poll(&entry, 1, 1000)
    }
}
