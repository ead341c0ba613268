// OpenSSH known_hosts, checked by stagefix itself: libssh2 1.10's checker lets a plain `host` entry
// match any port, ignores @revoked and breaks on CRLF (LIBSSH2-NOTES §1).
import Crypto
import Foundation

/// One usable known_hosts line.
struct KnownHostsEntry {
    enum Marker { case none, revoked, certAuthority }
    enum Hosts {
        case patterns([String])
        /// `|1|salt|hash`: HMAC-SHA1 of the host string keyed by the salt.
        case hashed(salt: [UInt8], hash: [UInt8])
    }

    var marker: Marker
    var hosts: Hosts
    var key: HostKey
    var location: FileLocation

    /// OpenSSH's rule: the lookup name is `host` for port 22, `[host]:port` otherwise.
    func matches(_ lookupName: String) -> Bool {
        switch hosts {
        case let .hashed(salt, hash):
            let code = HMAC<Insecure.SHA1>.authenticationCode(for: Array(lookupName.utf8), using: SymmetricKey(data: salt))
            return Array(code) == hash
        case let .patterns(patterns):
            var matched = false
            for pattern in patterns {
                if pattern.hasPrefix("!") {
                    if GlobPattern.matches(String(pattern.dropFirst()), lookupName) { return false }
                } else if GlobPattern.matches(pattern, lookupName) {
                    matched = true
                }
            }
            return matched
        }
    }
}

enum KnownHostsParser {
    /// Parses one file; malformed lines are skipped (and reported), later lines still count.
    static func parse(_ text: String, path: String) -> (entries: [KnownHostsEntry], warnings: [String]) {
        var entries: [KnownHostsEntry] = []
        var warnings: [String] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingWhitespaceAndNewlines()  // also drops a CR
            if line.isEmpty || line.hasPrefix("#") { continue }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var marker = KnownHostsEntry.Marker.none
            if fields.first == "@revoked" { marker = .revoked; fields.removeFirst() }
            else if fields.first == "@cert-authority" { marker = .certAuthority; fields.removeFirst() }
            let location = FileLocation(path: path, line: index + 1)
            guard fields.count >= 3, let blob = Data(base64Encoded: fields[2]), let key = HostKey(blob: [UInt8](blob)) else {
                warnings.append("\(location): not a known_hosts line; skipped")
                continue
            }
            guard key.algorithm == fields[1] else { continue }  // a type we cannot compare
            let hosts: KnownHostsEntry.Hosts
            if fields[0].hasPrefix("|1|") {
                let parts = fields[0].split(separator: "|")
                guard parts.count == 3, let salt = Data(base64Encoded: String(parts[1])), let hash = Data(base64Encoded: String(parts[2])) else {
                    warnings.append("\(location): malformed hashed host; skipped")
                    continue
                }
                hosts = .hashed(salt: [UInt8](salt), hash: [UInt8](hash))
            } else {
                hosts = .patterns(fields[0].split(separator: ",").map { $0.lowercased() })
            }
            entries.append(KnownHostsEntry(marker: marker, hosts: hosts, key: key, location: location))
        }
        return (entries, warnings)
    }
}

/// ssh_config's `StrictHostKeyChecking`, and the host-key policy built on known_hosts files.
public struct KnownHostsPolicy: HostKeyPolicy {
    public enum Strictness: Sendable {
        /// `yes` and `ask` (stagefix never prompts): unknown keys are refused.
        case strict
        /// `accept-new`: an unknown key is recorded and accepted; a changed one is refused.
        case acceptNew
        /// `no`/`off`: an unknown key is accepted without recording; a changed one is still refused.
        case off
    }

    public var strictness: Strictness
    public var userFiles: [String]
    public var globalFiles: [String]
    public var hashNewEntries: Bool
    public var trace: (@Sendable (String) -> Void)?

    public init(strictness: Strictness, userFiles: [String], globalFiles: [String], hashNewEntries: Bool = false, trace: (@Sendable (String) -> Void)? = nil) {
        self.strictness = strictness
        self.userFiles = userFiles
        self.globalFiles = globalFiles
        self.hashNewEntries = hashNewEntries
        self.trace = trace
    }

    public func validate(hostKey: HostKey, for endpoint: HostKeyEndpoint) throws {
        let name = endpoint.knownHostsName.lowercased()
        var entries: [KnownHostsEntry] = []
        for path in userFiles + globalFiles {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let parsed = KnownHostsParser.parse(text, path: path)
            parsed.warnings.forEach { trace?($0) }
            entries += parsed.entries.filter { $0.marker != .certAuthority && $0.matches(name) }
        }
        if let revoked = entries.first(where: { $0.marker == .revoked && $0.key == hostKey }) {
            throw SSHError.hostKeyRevoked(host: endpoint.knownHostsName, fingerprint: hostKey.fingerprint, at: revoked.location)
        }
        let usable = entries.filter { $0.marker == .none }
        if usable.contains(where: { $0.key == hostKey }) { return }
        if let changed = usable.first(where: { $0.key.algorithm == hostKey.algorithm }) {
            throw SSHError.hostKeyChanged(host: endpoint.knownHostsName, offered: hostKey.fingerprint, recorded: changed.key.fingerprint, at: changed.location)
        }
        switch strictness {
        case .strict:
            throw SSHError.hostKeyUnknown(host: endpoint.knownHostsName, fingerprint: hostKey.fingerprint, knownHostsFiles: userFiles)
        case .off:
            trace?("host key \(hostKey.fingerprint) for \(endpoint.knownHostsName) accepted without checking (StrictHostKeyChecking no)")
        case .acceptNew:
            guard let file = userFiles.first else {
                throw SSHError.hostKeyUnknown(host: endpoint.knownHostsName, fingerprint: hostKey.fingerprint, knownHostsFiles: [])
            }
            try KnownHostsWriter.append(hostKey, for: name, to: file, hashed: hashNewEntries)
            trace?("recorded the new host key \(hostKey.fingerprint) for \(endpoint.knownHostsName) in \(file)")
        }
    }
}

enum KnownHostsWriter {
    /// Appends one line in a single write (O_APPEND), creating the file 0600 and its folder 0700.
    static func append(_ key: HostKey, for name: String, to path: String, hashed: Bool) throws {
        try FileManager.default.createDirectory(atPath: PathText.deletingLastComponent(path), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var hostField = name
        if hashed {
            var generator = SystemRandomNumberGenerator()
            let salt = (0..<20).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let code = HMAC<Insecure.SHA1>.authenticationCode(for: Array(name.utf8), using: SymmetricKey(data: salt))
            hostField = "|1|\(Data(salt).base64EncodedString())|\(Data(code).base64EncodedString())"
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SSHError.configuration(message: "cannot record the new host key in \(path): \(String(cString: strerror(errno)))", at: nil)
        }
        defer { close(descriptor) }
        var needsNewline = false
        var size = stat()
        if fstat(descriptor, &size) == 0, size.st_size > 0, let handle = FileHandle(forReadingAtPath: path) {
            handle.seek(toFileOffset: UInt64(size.st_size - 1))
            needsNewline = handle.readData(ofLength: 1) != Data("\n".utf8)
            try? handle.close()
        }
        let line = (needsNewline ? "\n" : "") + "\(hostField) \(key.openSSHString)\n"
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// `*` and `?` globs, as ssh_config `Host` and known_hosts patterns use them (case-insensitive).
public enum GlobPattern {
    /// `exactCase`: ssh_config's `Host` matching lowercases only the pattern, not the name typed.
    public static func matches(_ pattern: String, _ text: String, exactCase: Bool = false) -> Bool {
        let p = Array(pattern.lowercased().utf8), t = Array((exactCase ? text : text.lowercased()).utf8)
        var pi = 0, ti = 0, star = -1, resume = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] { pi += 1; ti += 1 }
            else if pi < p.count, p[pi] == UInt8(ascii: "*") { star = pi; resume = ti; pi += 1 }
            else if star >= 0 { pi = star + 1; resume += 1; ti = resume }
            else { return false }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}

/// Keys recorded for an endpoint, for evidence other than trust (the guard's production keys).
public enum KnownHostsLookup {
    public static func keys(for endpoint: HostKeyEndpoint, in files: [String]) -> [HostKey] {
        let name = endpoint.knownHostsName.lowercased()
        return files.flatMap { path -> [HostKey] in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
            return KnownHostsParser.parse(text, path: path).entries.filter { $0.marker == .none && $0.matches(name) }.map(\.key)
        }
    }
}
