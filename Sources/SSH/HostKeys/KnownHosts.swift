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

/// What one known_hosts line is, read as OpenSSH's `hostkeys_foreach_file` reads it: bytes, fields
/// split on space and tab only, so a non-UTF-8 comment or a CR costs at most its own line.
enum KnownHostsLine {
    case entry(KnownHostsEntry)
    /// Blank, a comment, or a key type stagefix cannot compare: not an error, nothing to say.
    case ignored
    /// Skipped alone, with this reason (OpenSSH skips it too).
    case malformed(String)

    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

    static func parse(_ line: BoundedLine, path: String) -> KnownHostsLine {
        var bytes = line.bytes[...]
        if !line.isTruncated, bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }  // CRLF files
        bytes = bytes.drop { $0 == space || $0 == tab }
        guard let first = bytes.first, first != UInt8(ascii: "#") else { return .ignored }
        var marker = KnownHostsEntry.Marker.none
        if first == UInt8(ascii: "@") {
            // OpenSSH's check_markers: the marker, then a space (a tab makes the line an error).
            if bytes.starts(with: "@revoked ".utf8) {
                marker = .revoked
            } else if bytes.starts(with: "@cert-authority ".utf8) {
                marker = .certAuthority
            } else {
                return .malformed("unknown marker")
            }
            _ = field(&bytes)
            if bytes.first == UInt8(ascii: "@") { return .malformed("a second marker") }
        }
        let hostField = field(&bytes)
        let typeField = field(&bytes)
        // The key must end inside what was kept: a key cut off by the bound cannot be compared.
        let blobComplete = !line.isTruncated || bytes.contains { $0 == space || $0 == tab }
        let blobField = field(&bytes)
        guard !hostField.isEmpty, !typeField.isEmpty, typeField.first != UInt8(ascii: "#") else {
            return .malformed("no key")
        }
        guard !blobField.isEmpty, blobComplete else {
            return .malformed(line.isTruncated ? "longer than \(line.bytes.count) bytes before its key ends" : "no key")
        }
        // OpenSSH's base64 decoder skips white space (a CR before a CRLF file's LF, a stray VT or FF).
        let base64 = blobField.filter { !(0x0A...0x0D).contains($0) }
        guard let decoded = Data(base64Encoded: Data(base64)), let key = HostKey(blob: [UInt8](decoded)) else {
            return .malformed("not a known_hosts key")
        }
        guard key.algorithm == String(decoding: typeField, as: UTF8.self) else { return .ignored }  // a type we cannot compare
        let location = FileLocation(path: path, line: line.number)
        let hostText = String(decoding: hostField, as: UTF8.self)
        let hosts: KnownHostsEntry.Hosts
        if hostText.hasPrefix("|1|") {
            let parts = hostText.split(separator: "|")
            guard parts.count == 3, let salt = Data(base64Encoded: String(parts[1])), let hash = Data(base64Encoded: String(parts[2])) else {
                return .malformed("malformed hashed host")
            }
            hosts = .hashed(salt: [UInt8](salt), hash: [UInt8](hash))
        } else {
            // A pattern that is not UTF-8 keeps U+FFFD where its bytes were: it matches no host name
            // stagefix can be asked for, and its neighbours in the list still count.
            hosts = .patterns(hostText.split(separator: ",").map { $0.lowercased() })
        }
        return .entry(KnownHostsEntry(marker: marker, hosts: hosts, key: key, location: location))
    }

    /// The next field (up to a space or tab), and the white space after it.
    private static func field(_ bytes: inout ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let end = bytes.firstIndex { $0 == space || $0 == tab } ?? bytes.endIndex
        let word = bytes[..<end]
        bytes = bytes[end...].drop { $0 == space || $0 == tab }
        return word
    }
}

/// known_hosts files read line by line: a line that cannot be parsed is skipped alone, never the file.
enum KnownHostsFiles {
    /// A line may be this long in memory; a longer one keeps its start, which still holds the host,
    /// type and key of any real entry (an RSA-16384 key is under 3 KB of base64).
    static let maximumKeptLineBytes = 1 << 20

    /// The usable entries of `paths` that `keep` selects, and a warning per skipped line.
    static func entries(in paths: [String], warn: ((String) -> Void)?, keep: (KnownHostsEntry) -> Bool) -> [KnownHostsEntry] {
        var entries: [KnownHostsEntry] = []
        for path in paths {
            BoundedFileLines.forEach(inFileAt: path, keptLimit: maximumKeptLineBytes) { line in
                switch KnownHostsLine.parse(line, path: path) {
                case let .entry(entry): if keep(entry) { entries.append(entry) }
                case .ignored: break
                case let .malformed(reason): warn?("\(path):\(line.number): \(reason); line skipped")
                }
            }
        }
        return entries
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
        let entries = KnownHostsFiles.entries(in: userFiles + globalFiles, warn: trace) { $0.marker != .certAuthority && $0.matches(name) }
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
    public static func keys(for endpoint: HostKeyEndpoint, in files: [String], trace: (@Sendable (String) -> Void)? = nil) -> [HostKey] {
        let name = endpoint.knownHostsName.lowercased()
        return KnownHostsFiles.entries(in: files, warn: trace) { $0.marker == .none && $0.matches(name) }.map(\.key)
    }
}
