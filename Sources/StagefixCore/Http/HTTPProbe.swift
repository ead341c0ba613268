// One HTTP GET from this machine, for playbooks' `http_get` smoke checks, through the local `curl`
// (HTTPS, proxies and CA settings as the machine has them, and no HTTP stack loaded into every
// stagefix run). Headers travel in curl's config on stdin, so a session cookie is never in argv.
// Redirects are not followed: a login redirect must not pass as 200.
import Foundation

public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: String
}

public enum HTTPProbe {
    public static func get(_ url: String, headers: [(String, String)], timeout: Double) throws -> HTTPResponse {
        guard let target = URL(string: url), let scheme = target.scheme?.lowercased(), ["http", "https"].contains(scheme), target.host != nil else {
            throw StagefixError.invalidData("http_get: `\(url)` is not an http(s) URL")
        }
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
        let body = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        process.waitUntilExit()
        switch process.terminationStatus {
        case 0: break
        case 28: throw StagefixError.timedOut("GET \(url) got no answer within \(formatSeconds(timeout))")
        default: throw StagefixError.unreachable("GET \(url) failed: \(message.isEmpty ? "curl exited \(process.terminationStatus)" : message)")
        }
        var text = String(decoding: body, as: UTF8.self)
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]), status > 0 else {
            throw StagefixError.unreachable("GET \(url) gave no HTTP response")
        }
        text.removeSubrange(newline...)
        return HTTPResponse(status: status, body: text)
    }

    /// A value in curl's config syntax: double quotes, with `\` and `"` escaped.
    static func curlQuoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r") + "\""
    }
}
