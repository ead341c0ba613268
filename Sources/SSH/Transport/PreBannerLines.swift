// What a server may send before its `SSH-` version line (RFC 4253 §4.2 allows other lines): read and
// dropped here, with bounds on their number, their length and the time they take. libssh2 reads them
// itself without returning to our poll loop, so an endless stream before the banner would hang a
// connect past any timeout.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum PreBannerLines {
    /// OpenSSH's client gives up after 1024 lines; a real server sends none or a few.
    static let maximumLines = 64
    /// Longer than any version line (255 bytes) or a greeting a person would write.
    static let maximumLineBytes = 4096

    /// Consumes lines until the socket's next bytes are `SSH-` (left for libssh2), within `deadline`;
    /// returns the first line dropped (sshd's "Exceeded MaxStartups" comes this way before it hangs up).
    @discardableResult
    static func skip(descriptor: Int32, host: String, deadline: Deadline, trace: ((String) -> Void)?) throws -> String? {
        var lines = 0
        var first: String?
        var buffer = [UInt8](repeating: 0, count: maximumLineBytes + 1)
        while true {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, deadline.remainingMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { throw timedOut(host, deadline) }
            let peeked = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_PEEK)) }
            if peeked < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            // Closed, or an error: libssh2's handshake reports it as it always has.
            guard peeked > 0 else { return first }
            let bytes = buffer[0..<peeked]
            let prefix = Array("SSH-".utf8)
            if bytes.starts(with: prefix) { return first }
            if prefix.starts(with: bytes) {
                // "SS" so far: the rest of the version line is on its way.
                Thread.sleep(forTimeInterval: 0.005)
                try checkTime(deadline, host: host)
                continue
            }
            guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
                if peeked > maximumLineBytes {
                    throw SSHError.connectionLost(during: "waiting for the SSH banner of \(host)", reason: "it sent a line of more than \(maximumLineBytes) bytes before its banner; it is not an SSH server")
                }
                Thread.sleep(forTimeInterval: 0.005)
                try checkTime(deadline, host: host)
                continue
            }
            // Drop exactly that line.
            let length = newline + 1
            var dropped = 0
            while dropped < length {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, length - dropped, 0) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return first }
                dropped += count
            }
            if first == nil { first = String(decoding: bytes[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            lines += 1
            if lines == 1 { trace?("\(host) sent lines before its SSH banner; skipping them") }
            if lines > maximumLines {
                throw SSHError.connectionLost(during: "waiting for the SSH banner of \(host)", reason: "it sent more than \(maximumLines) lines before its banner; it is not an SSH server")
            }
            try checkTime(deadline, host: host)
        }
    }

    private static func checkTime(_ deadline: Deadline, host: String) throws {
        if deadline.remainingMilliseconds <= 0 { throw timedOut(host, deadline) }
    }

    private static func timedOut(_ host: String, _ deadline: Deadline) -> SSHError {
        .timedOut(during: "the SSH handshake with \(host) (waiting for its banner)", seconds: deadline.seconds)
    }
}
