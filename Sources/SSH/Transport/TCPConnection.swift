// Opens the TCP connection: resolve the name, try each address in turn, each bounded by the deadline.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum AddressFamily: String, Sendable {
    case any, inet, inet6

    var posixValue: Int32 {
        switch self {
        case .any: return AF_UNSPEC
        case .inet: return AF_INET
        case .inet6: return AF_INET6
        }
    }
}

/// A connected, non-blocking TCP socket with `TCP_NODELAY` set (see LIBSSH2-NOTES §10: without it
/// every handshake and first channel open stalls about 40 ms on Nagle and delayed ACKs).
final class TCPConnection {
    let descriptor: Int32
    /// The numeric address actually connected to, e.g. `127.0.0.2` or `::1`.
    let address: String
    let port: Int

    private init(descriptor: Int32, address: String, port: Int) {
        self.descriptor = descriptor
        self.address = address
        self.port = port
    }

    deinit { close(descriptor) }

    /// Numeric addresses of `host`, in the resolver's order.
    static func resolve(host: String, port: Int, family: AddressFamily) throws -> [(storage: sockaddr_storage, length: socklen_t, text: String)] {
        var hints = addrinfo()
        hints.ai_family = family.posixValue
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        var status = getaddrinfo(host, String(port), &hints, &list)
        if status == EAI_NONAME, hints.ai_flags != 0 {
            // AI_ADDRCONFIG hides loopback-only names on hosts with no global address: ask again without it.
            hints.ai_flags = 0
            status = getaddrinfo(host, String(port), &hints, &list)
        }
        guard status == 0, let first = list else {
            throw SSHError.unresolvable(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var results: [(sockaddr_storage, socklen_t, String)] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { target in
                target.copyMemory(from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
            }
            results.append((storage, info.pointee.ai_addrlen, numericHost(info.pointee.ai_addr, info.pointee.ai_addrlen)))
            cursor = info.pointee.ai_next
        }
        return results
    }

    static func numericHost(_ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let status = getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
        guard status == 0 else { return "?" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Connects to the first address of `host` that accepts, within `deadline`.
    static func open(host: String, port: Int, family: AddressFamily, deadline: Deadline) throws -> TCPConnection {
        let addresses = try resolve(host: host, port: port, family: family)
        var failures: [String] = []
        for (storage, length, text) in addresses {
            if deadline.hasPassed { break }
            do {
                let descriptor = try connect(storage: storage, length: length, deadline: deadline)
                return TCPConnection(descriptor: descriptor, address: text, port: port)
            } catch let error as ConnectFailure {
                failures.append(addresses.count > 1 ? "\(text): \(error.reason)" : error.reason)
                if error.timedOut, deadline.hasPassed {
                    throw SSHError.timedOut(during: "connecting to \(host) port \(port)", seconds: deadline.seconds)
                }
            }
        }
        if failures.isEmpty {
            throw SSHError.timedOut(during: "connecting to \(host) port \(port)", seconds: deadline.seconds)
        }
        throw SSHError.connectFailed(host: host, port: port, reason: failures.joined(separator: "; "))
    }

    private struct ConnectFailure: Error {
        var reason: String
        var timedOut = false
    }

    private static func connect(storage: sockaddr_storage, length: socklen_t, deadline: Deadline) throws -> Int32 {
        let family = Int32(storage.ss_family)
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ConnectFailure(reason: String(cString: strerror(errno))) }
        var keepOpen = false
        defer { if !keepOpen { close(descriptor) } }

        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))

        var address = storage
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, length) }
        }
        if status != 0 {
            guard errno == EINPROGRESS else { throw ConnectFailure(reason: String(cString: strerror(errno))) }
            var pollEntry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            while true {
                let ready = poll(&pollEntry, 1, deadline.remainingMilliseconds)
                if ready < 0 && errno == EINTR { continue }
                if ready == 0 { throw ConnectFailure(reason: "no answer", timedOut: true) }
                break
            }
            var socketError: Int32 = 0
            var errorLength = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &socketError, &errorLength)
            if socketError != 0 { throw ConnectFailure(reason: String(cString: strerror(socketError))) }
        }
        keepOpen = true
        return descriptor
    }
}

/// Name resolution as the transport does it, for evidence that compares addresses (the guard).
public enum TCPAddresses {
    public static func resolve(_ host: String, port: Int, family: AddressFamily = .any) throws -> [String] {
        try TCPConnection.resolve(host: host, port: port, family: family).map(\.text)
    }
}
