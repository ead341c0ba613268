// One HTTP GET from this machine, for playbooks' `http_get` smoke checks, through the local `curl`
// (HTTPS, proxies and CA settings as the machine has them, and no HTTP stack loaded into every
// stagefix run). Headers travel in curl's config on stdin, so a session cookie is never in argv.
// Redirects are not followed: a login redirect must not pass as 200.
import Foundation

public struct HTTPResponse: Sendable {
    public var status: Int
    /// The body, or its first `HTTPProbe.maximumBodyBytes` when it was longer (`isTruncated`).
    public var body: String
    public var isTruncated = false
    /// The whole body's size, including what was not kept.
    public var bodyBytes = 0
}

public enum HTTPProbe {
    /// What is kept of a body: smoke checks look for text near the top of a page; a server that
    /// sends gigabytes is read to the end (within the timeout) without keeping them.
    public static let maximumBodyBytes = 8 << 20

    public static func get(_ url: String, headers: [(String, String)], timeout: Double, maximumBodyBytes: Int = HTTPProbe.maximumBodyBytes) throws -> HTTPResponse {
        guard let target = URL(string: url), let scheme = target.scheme?.lowercased(), ["http", "https"].contains(scheme), target.host != nil else {
            throw StagefixError.invalidData("http_get: `\(TerminalText.escaped(url))` is not an http(s) URL")
        }
        for (name, value) in headers { try HeaderField.validate(name: name, value: value) }
        guard let curl = ["/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"].first(where: FileManager.default.isExecutableFile) else {
            throw StagefixError.configuration("http_get needs curl on this machine (apt-get install curl)")
        }
        var config = "url = \(curlQuoted(url))\n"
        for (name, value) in headers { config += "header = \(curlQuoted("\(name): \(value)"))\n" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl)
        // The status goes last on its own line, after the body.
        process.arguments = ["--silent", "--show-error", "--max-time", String(format: "%.1f", timeout), "--config", "-", "--write-out", "\n%{http_code}"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(config.utf8))
        try? input.fileHandleForWriting.close()
        // curl's stderr is one message: read it beside the body so neither pipe can fill up and stall.
        let messageReader = BoundedPipeRead(errors.fileHandleForReading.fileDescriptor, limit: 64 << 10)
        var stream = HeadAndTail(headLimit: maximumBodyBytes, tailLimit: 8)
        readAll(output.fileHandleForReading.fileDescriptor) { stream.append($0) }
        let message = String(decoding: messageReader.finish(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        process.waitUntilExit()
        switch process.terminationStatus {
        case 0: break
        case 28: throw StagefixError.timedOut("GET \(url) got no answer within \(formatSeconds(timeout))")
        default: throw StagefixError.unreachable("GET \(url) failed: \(message.isEmpty ? "curl exited \(process.terminationStatus)" : TerminalText.escaped(message))")
        }
        // `\n` + up to 3 digits of status end the stream.
        let ending = stream.last(4)
        guard let newline = ending.lastIndex(of: UInt8(ascii: "\n")), let status = Int(String(decoding: ending[(newline + 1)...], as: UTF8.self)), status > 0 else {
            throw StagefixError.unreachable("GET \(url) gave no HTTP response")
        }
        let bodyBytes = stream.total - (ending.count - newline)
        let body = stream.head.prefix(bodyBytes)
        return HTTPResponse(status: status, body: String(decoding: body, as: UTF8.self), isTruncated: bodyBytes > maximumBodyBytes, bodyBytes: bodyBytes)
    }

    /// Reads a descriptor to EOF in 64 KiB chunks.
    private static func readAll(_ descriptor: Int32, _ body: (ArraySlice<UInt8>) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            body(buffer[0..<count])
        }
    }

    /// A value in curl's config syntax: double quotes, with `\` and `"` escaped.
    static func curlQuoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r") + "\""
    }
}
