// A real capture server on 127.0.0.1, any free port, over a fresh temporary Maildir; stopped and removed after the test body.
import Foundation
@testable import MailCapture

struct CaptureFixture {
    let server: SMTPCaptureServer
    let maildir: String
    let notified: NotifiedMessages

    var port: Int { server.localAddress.port }

    /// Files in new/, by name.
    func newMessages() throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: maildir + "/new") {
            files[name] = Array(try Data(contentsOf: URL(fileURLWithPath: maildir + "/new/" + name)))
        }
        return files
    }

    func tmpFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: maildir + "/tmp")
    }
}

/// What onMessage reported, gathered from the server's event loop.
final class NotifiedMessages: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [StoredMessage] = []

    func append(_ message: StoredMessage) {
        lock.withLock { messages.append(message) }
    }

    var all: [StoredMessage] {
        lock.withLock { messages }
    }
}

func withCaptureServer(
    maxMessageBytes: Int = 25 * 1024 * 1024,
    configure: (inout CaptureServerConfiguration) -> Void = { _ in },
    _ body: (CaptureFixture) async throws -> Void
) async throws {
    let maildir = FileManager.default.temporaryDirectory
        .appendingPathComponent("mailcapture-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: maildir) }
    let notified = NotifiedMessages()
    var configuration = CaptureServerConfiguration(maildir: maildir, maxMessageBytes: maxMessageBytes)
    configure(&configuration)
    let server = try await SMTPCaptureServer.start(
        configuration,
        onMessage: { notified.append($0) }
    )
    let fixture = CaptureFixture(server: server, maildir: maildir, notified: notified)
    do {
        try await body(fixture)
    } catch {
        try await server.stop()
        throw error
    }
    try await server.stop()
}

/// A stored file cut into its three capture headers and the message as received.
struct StoredFile: Equatable {
    var peer: String
    var mailFrom: String
    var rcptTo: String
    var message: [UInt8]

    init(_ bytes: [UInt8]) throws {
        var rest = bytes[...]
        var values: [String] = []
        for name in ["X-Peer: ", "X-MailFrom: ", "X-RcptTo: "] {
            guard let end = rest.firstIndex(of: 0x0A), end > rest.startIndex, rest[end - 1] == 0x0D else {
                throw StoredFileError.missingHeader(name)
            }
            let line = String(decoding: rest[rest.startIndex..<(end - 1)], as: UTF8.self)
            guard line.hasPrefix(name) else { throw StoredFileError.missingHeader(name) }
            values.append(String(line.dropFirst(name.count)))
            rest = rest[(end + 1)...]
        }
        peer = values[0]
        mailFrom = values[1]
        rcptTo = values[2]
        message = Array(rest)
    }
}

enum StoredFileError: Error {
    case missingHeader(String)
}
