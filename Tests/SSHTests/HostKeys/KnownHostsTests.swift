// known_hosts as OpenSSH reads it: ports, hashed names (made by ssh-keygen -H), @revoked, CRLF, bad lines.
import Foundation
import SSH
import Testing

struct KnownHostsTests {
    let directory: String
    let key: HostKey
    let otherKey: HostKey
    let keyLine: String
    let otherLine: String

    init() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-kh-\(UUID().uuidString.prefix(8))").path
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func make(_ name: String) throws -> (HostKey, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
            process.arguments = ["-q", "-t", "ed25519", "-N", "", "-f", directory + "/" + name]
            try process.run()
            process.waitUntilExit()
            let line = try String(contentsOfFile: directory + "/\(name).pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
            let blob = [UInt8](Data(base64Encoded: String(line.split(separator: " ")[1]))!)
            return (HostKey(algorithm: "ssh-ed25519", blob: blob), line)
        }
        (key, keyLine) = try make("server")
        (otherKey, otherLine) = try make("other")
    }

    private func policy(_ text: String, strictness: KnownHostsPolicy.Strictness = .strict) throws -> KnownHostsPolicy {
        let path = directory + "/known_hosts-\(UUID().uuidString.prefix(6))"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return KnownHostsPolicy(strictness: strictness, userFiles: [path], globalFiles: [])
    }

    private let endpoint2222 = HostKeyEndpoint(hostName: "staging.example.com", port: 2222, address: "10.0.0.1")
    private let endpoint22 = HostKeyEndpoint(hostName: "staging.example.com", port: 22, address: "10.0.0.1")

    @Test func aBracketedPortEntryMatchesOnlyThatPort() throws {
        let known = try policy("[staging.example.com]:2222 \(keyLine)\n")
        try known.validate(hostKey: key, for: endpoint2222)
        #expect(throws: SSHError.self) { try known.validate(hostKey: key, for: self.endpoint22) }
    }

    @Test func aPlainEntryDoesNotMatchAnotherPort() throws {
        // libssh2's own check would accept this (LIBSSH2-NOTES §1); OpenSSH does not.
        let known = try policy("staging.example.com \(keyLine)\n")
        try known.validate(hostKey: key, for: endpoint22)
        #expect(throws: SSHError.self) { try known.validate(hostKey: key, for: self.endpoint2222) }
    }

    @Test func hashedEntriesFromSSHKeygenMatch() throws {
        let path = directory + "/hashed"
        try "[staging.example.com]:2222 \(keyLine)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-q", "-H", "-f", path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let hashed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(hashed.hasPrefix("|1|"))
        let known = KnownHostsPolicy(strictness: .strict, userFiles: [path], globalFiles: [])
        try known.validate(hostKey: key, for: endpoint2222)
        #expect(throws: SSHError.self) { try known.validate(hostKey: key, for: self.endpoint22) }
    }

    @Test func aChangedKeyNamesBothFingerprintsAndTheLine() throws {
        let known = try policy("# header\n\n[staging.example.com]:2222 \(otherLine)\n", strictness: .off)
        #expect {
            try known.validate(hostKey: key, for: endpoint2222)
        } throws: { error in
            guard case let .hostKeyChanged(_, offered, recorded, at)? = error as? SSHError else { return false }
            return offered == key.fingerprint && recorded == otherKey.fingerprint && at.line == 3
        }
    }

    @Test func revokedBeatsAMatch() throws {
        let known = try policy("[staging.example.com]:2222 \(keyLine)\n@revoked * \(keyLine)\n")
        #expect {
            try known.validate(hostKey: key, for: endpoint2222)
        } throws: { error in
            if case .hostKeyRevoked(_, _, let at)? = error as? SSHError { return at.line == 2 }
            return false
        }
    }

    @Test func crlfMalformedLinesAndPatternsAreHandled() throws {
        let text = "garbage\r\n*.example.com,!prod.example.com \(keyLine)\r\n"
        let known = try policy(text)
        try known.validate(hostKey: key, for: endpoint22)
        #expect(throws: SSHError.self) {
            try known.validate(hostKey: key, for: HostKeyEndpoint(hostName: "prod.example.com", port: 22, address: ""))
        }
    }

    @Test func acceptNewRecordsAHashedLineThatSSHKeygenFinds() throws {
        let path = directory + "/sub/known_hosts"
        let known = KnownHostsPolicy(strictness: .acceptNew, userFiles: [path], globalFiles: [], hashNewEntries: true)
        try known.validate(hostKey: key, for: endpoint2222)
        try known.validate(hostKey: key, for: endpoint2222)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines[0].hasPrefix("|1|"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-F", "[staging.example.com]:2222", "-f", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        #expect(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("ssh-ed25519"))
    }

    @Test func theFingerprintIsWhatSSHKeygenPrints() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-l", "-f", directory + "/server.pub"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(printed.split(separator: " ")[1] == Substring(key.fingerprint))
    }

    /// A file written byte for byte: `# Zo\xEB server`, a Latin-1 comment, is not UTF-8.
    private func latin1File(_ text: String) throws -> String {
        let path = directory + "/known_hosts-latin1-\(UUID().uuidString.prefix(6))"
        try Data(text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aChangedKeyNextToANonUTF8CommentIsRefusedByAcceptNewAndTheFileIsUntouched() throws {
        let path = try latin1File("# Zo\u{EB} server\n[staging.example.com]:2222 \(otherLine)\n")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let known = KnownHostsPolicy(strictness: .acceptNew, userFiles: [path], globalFiles: [])
        #expect {
            try known.validate(hostKey: key, for: endpoint2222)
        } throws: { error in
            guard case let .hostKeyChanged(_, _, _, at)? = error as? SSHError else { return false }
            return at == FileLocation(path: path, line: 2)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test(arguments: [KnownHostsPolicy.Strictness.strict, .acceptNew, .off])
    func aRevokedKeyInAFileWithNonUTF8BytesIsRefusedWhateverTheMode(_ strictness: KnownHostsPolicy.Strictness) throws {
        let path = try latin1File("\u{FF}\u{FE} not a line\n@revoked * \(keyLine) Zo\u{EB}\n")
        let known = KnownHostsPolicy(strictness: strictness, userFiles: [path], globalFiles: [])
        #expect {
            try known.validate(hostKey: key, for: endpoint22)
        } throws: { error in
            if case .hostKeyRevoked? = error as? SSHError { return true }
            return false
        }
    }

    @Test func theProductionKeyLookupFindsEntriesInAFileWithNonUTF8Bytes() throws {
        let path = try latin1File("# Zo\u{EB}\nwww.example.com \(keyLine) Zo\u{EB}\r\n")
        let found = KnownHostsLookup.keys(for: HostKeyEndpoint(hostName: "www.example.com", port: 22, address: ""), in: [path])
        #expect(found == [key])
    }

    @Test func aMalformedLineIsReportedThroughTheTrace() throws {
        let path = try latin1File("staging.example.com ssh-ed25519 not-base64\nstaging.example.com \(keyLine)\n")
        let warnings = WarningLog()
        let known = KnownHostsPolicy(strictness: .strict, userFiles: [path], globalFiles: [], trace: { warnings.append($0) })
        try known.validate(hostKey: key, for: endpoint22)
        #expect(warnings.lines.contains("\(path):1: not a known_hosts key; line skipped"))
    }
}
