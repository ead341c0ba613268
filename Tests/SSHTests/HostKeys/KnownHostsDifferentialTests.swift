// known_hosts files that are not clean UTF-8 text, read by us and by OpenSSH (`ssh-keygen -F`): the
// same lines must match the same host names, whatever bytes, line ends and lengths surround them.
import Foundation
@testable import SSH
import Testing

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen"), "needs OpenSSH's ssh-keygen -F"))
struct KnownHostsDifferentialTests {
    static let names = ["staging.example.com", "[staging.example.com]:2222", "other.example.com", "zo\u{EB}.example.com"]

    /// Files as bytes; `K` is replaced by a real ed25519 key (`ssh-ed25519 AAAA...`). `ssh-keygen -F`
    /// matches host names without decoding keys, so every key here is a valid one (bad keys are
    /// tested on their own in KnownHostsTests).
    static let corpus: [(label: String, bytes: [UInt8])] = [
        ("a Latin-1 comment line", latin1("# Zo\u{EB} server\nstaging.example.com K\n")),
        ("a Latin-1 comment after the key", latin1("staging.example.com K Zo\u{EB} server\n[staging.example.com]:2222 K\n")),
        ("CRLF line ends", latin1("# header\r\nstaging.example.com K\r\n\r\n[staging.example.com]:2222\tK comment\r\n")),
        ("a lone CR inside the host field", latin1("staging.example.com\rother.example.com K\nother.example.com K\n")),
        ("a pattern list with a Latin-1 name", latin1("zo\u{EB}.example.com,staging.example.com K\n")),
        ("@revoked with a Latin-1 comment", latin1("@revoked staging.example.com K Zo\u{EB}\nstaging.example.com K\n")),
        ("a marker followed by a tab", latin1("@revoked\tstaging.example.com K\n@revoked \t[staging.example.com]:2222 K\n")),
        ("an unknown marker", latin1("@trusted staging.example.com K\n@revoked @revoked staging.example.com K\nother.example.com K\n")),
        ("a line separator inside a comment", Array("# note\u{2028}staging.example.com K\nother.example.com K\n".utf8)),
        ("garbage and truncated lines", latin1("\u{FF}\u{FE}garbage\nstaging.example.com\nstaging.example.com ssh-ed25519\nstaging.example.com #K\nother.example.com K\n")),
        ("leading white space and no final newline", latin1("  \t staging.example.com K")),
        ("a 2 MiB garbage line before an entry", latin1("staging.example.com " + String(repeating: "x", count: 2 << 20) + "\nother.example.com K\n")),
        ("an entry with a 3 MiB comment", latin1("staging.example.com K " + String(repeating: "c", count: 3 << 20) + "\n[staging.example.com]:2222 K\n")),
    ]

    static func latin1(_ text: String) -> [UInt8] {
        text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
    }

    let directory: String
    let keyText: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-khd-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try Self.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", directory + "/key"])
        keyText = try String(contentsOfFile: directory + "/key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self)
    }

    /// The file with `K` replaced by the key (only where `K` is a whole field).
    private func write(_ bytes: [UInt8]) throws -> String {
        var filled: [UInt8] = []
        for (index, byte) in bytes.enumerated() {
            let before = index == 0 ? UInt8(ascii: " ") : bytes[index - 1]
            let after = index + 1 < bytes.count ? bytes[index + 1] : UInt8(ascii: "\n")
            let isWholeField = byte == UInt8(ascii: "K") && [UInt8(ascii: " "), UInt8(ascii: "\t")].contains(before)
                && [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(after)
            if isWholeField { filled += Array(keyText.utf8) } else { filled.append(byte) }
        }
        let path = directory + "/known_hosts-\(UUID().uuidString.prefix(6))"
        try Data(filled).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `# Host NAME found: line N [REVOKED]` for each line OpenSSH matches.
    private func openSSHMatches(_ name: String, in path: String) throws -> [String] {
        try Self.run("/usr/bin/ssh-keygen", ["-F", name, "-f", path]).split(separator: "\n")
            .filter { $0.hasPrefix("# Host ") }
            .compactMap { line in line.range(of: "found: ").map { line[$0.upperBound...].trimmingCharacters(in: .whitespaces) } }
    }

    private func ourMatches(_ name: String, in path: String) -> [String] {
        KnownHostsFiles.entries(in: [path], warn: nil) { $0.matches(name) }
            .map { "line \($0.location.line)" + ($0.marker == .revoked ? " REVOKED" : "") }
    }

    @Test(arguments: corpus)
    func theSameLinesMatchAsForSSHKeygen(_ file: (label: String, bytes: [UInt8])) throws {
        let path = try write(file.bytes)
        for name in Self.names {
            let expected = try openSSHMatches(name, in: path)
            #expect(ourMatches(name, in: path) == expected, "\(file.label), \(name)")
        }
    }

    @Test func theCorpusIsNotTrivial() throws {
        // Guards the differential test against a broken key substitution (nothing would match anywhere).
        let path = try write(Self.corpus[0].bytes)
        #expect(try openSSHMatches("staging.example.com", in: path) == ["line 2"])
    }

    @Test func aSkippedLineIsReportedWithItsNumberAndTheRestStillCounts() throws {
        let path = try write(Self.latin1("staging.example.com ssh-ed25519 !!!!\n# Zo\u{EB}\nstaging.example.com K\n"))
        let warnings = WarningLog()
        let found = KnownHostsFiles.entries(in: [path], warn: warnings.append) { $0.matches("staging.example.com") }
        #expect(found.map(\.location.line) == [3])
        #expect(warnings.lines == ["\(path):1: not a known_hosts key; line skipped"])
    }

    @Test func anOverlongLineCostsOnlyItsKeptStart() {
        var splitter = LineSplitter(keptLimit: 8)
        var lines: [BoundedLine] = []
        let chunk = Array("0123456789abcdef\nshort\nlast".utf8)
        // Fed in awkward pieces, as read(2) may return them.
        for piece in stride(from: 0, to: chunk.count, by: 3) {
            splitter.feed(chunk[piece..<min(piece + 3, chunk.count)]) { lines.append($0) }
        }
        splitter.finish { lines.append($0) }
        #expect(lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["01234567", "short", "last"])
        #expect(lines.map(\.isTruncated) == [true, false, false])
        #expect(lines.map(\.number) == [1, 2, 3])
    }
}

/// Warnings collected from a callback.
final class WarningLog: @unchecked Sendable {
    private(set) var lines: [String] = []
    func append(_ line: String) { lines.append(line) }
}
