// A plain blocking TCP client for what smtplib will not do: pipelining in one write, hanging up mid-DATA.
import Foundation

struct ServerReply: Equatable {
    var code: Int
    var lines: [String]
}

enum RawClientError: Error {
    case socket(String)
    case closedEarly([UInt8])
    case malformed(String)
}

final class RawSMTPClient {
    private let descriptor: Int32
    private var received: [UInt8] = []
    private var isClosed = false

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawClientError.socket("socket: \(errno)") }
        // A hung server fails the test in seconds instead of hanging it.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(descriptor)
            throw RawClientError.socket("connect: \(errno)")
        }
    }

    deinit {
        close()
    }

    /// One write() call for the whole text: several commands land in one TCP segment.
    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw RawClientError.socket("send: \(errno)") }
            offset += sent
        }
    }

    func readReply() throws -> ServerReply {
        var lines: [String] = []
        while true {
            let line = try readLine()
            guard line.count >= 4, let code = Int(line.prefix(3)) else { throw RawClientError.malformed(line) }
            lines.append(String(line.dropFirst(4)))
            if line[line.index(line.startIndex, offsetBy: 3)] == " " {
                return ServerReply(code: code, lines: lines)
            }
        }
    }

    /// Reads until the server closes; what came before the close.
    func readToEnd() throws -> [UInt8] {
        while try fill() {}
        defer { received = [] }
        return received
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(descriptor)
    }

    private func readLine() throws -> String {
        while true {
            if let newline = received.firstIndex(of: 0x0A) {
                let line = received[..<newline]
                received.removeSubrange(...newline)
                guard line.last == 0x0D else { throw RawClientError.malformed("reply line without CRLF") }
                return String(decoding: line.dropLast(), as: UTF8.self)
            }
            guard try fill() else { throw RawClientError.closedEarly(received) }
        }
    }

    /// false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw RawClientError.socket("recv: \(errno)") }
        received += chunk[..<count]
        return count > 0
    }
}
