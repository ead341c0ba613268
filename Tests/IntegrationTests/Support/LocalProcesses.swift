// Small local helpers for tests: run a tool, find a free port, a TCP listener that never speaks.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@discardableResult
func runLocal(_ path: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw RigFailure(message: "\(path) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// Binds port 0 on `address`, reads the port, closes: nothing listens there afterwards.
func freePort(on address: String) throws -> Int {
    let listener = try SilentListener(address: address)
    return listener.port
}

/// Accepts TCP connections (the kernel does, via the backlog) and never sends a byte.
final class SilentListener {
    let descriptor: Int32
    let port: Int

    init(address: String) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = 0
        inet_pton(AF_INET, address, &socketAddress.sin_addr)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else { throw RigFailure(message: "cannot listen on \(address)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(descriptor, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: socketAddress.sin_port))
    }

    deinit { close(descriptor) }
}
