// What the transport may offer the server to log in, in order: agent identities, key files, a password.
import Foundation

/// Supplies the passphrase of an encrypted key file (from `STAGEFIX_KEY_PASSPHRASE`, or a prompt).
/// Returns nil when none can be had; the key is then skipped and named in the failure.
public typealias PassphraseProvider = @Sendable (_ keyPath: String) -> String?

public enum AuthenticationMethod: Sendable, CustomStringConvertible {
    /// Identities held by an ssh-agent; `socketPath` nil means `$SSH_AUTH_SOCK`.
    /// `onlyKeys` (for `IdentitiesOnly`) restricts it to identities whose public blob is listed.
    case agent(socketPath: String?, onlyKeys: [[UInt8]]?)
    /// A private key file. `required` is false for OpenSSH's default `~/.ssh/id_*` list: a missing
    /// default file is skipped silently, a missing configured one is named in the failure.
    case privateKey(path: String, required: Bool, passphrase: PassphraseProvider)
    /// A password, taken from the environment by the caller, never from a command line.
    case password(String)

    public var description: String {
        switch self {
        case let .agent(socketPath, _): return "agent \(socketPath ?? "$SSH_AUTH_SOCK")"
        case let .privateKey(path, _, _): return "key \(path)"
        case .password: return "password"
        }
    }
}

/// Facts about a private key file read without decrypting it.
struct PrivateKeyFileInfo {
    var isEncrypted: Bool
    /// `ssh-ed25519`, `ssh-rsa`, ... when it can be told without the passphrase.
    var algorithm: String?
    /// The public key blob, from the `.pub` file or the OpenSSH container's public section.
    var publicBlob: [UInt8]?

    /// Reads `path` (and `path.pub` when present).
    static func inspect(path: String) -> PrivateKeyFileInfo? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var info = PrivateKeyFileInfo(isEncrypted: false, algorithm: nil, publicBlob: nil)
        if let pub = try? String(contentsOfFile: path + ".pub", encoding: .utf8) {
            let fields = pub.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])) {
                info.algorithm = String(fields[0])
                info.publicBlob = [UInt8](blob)
            }
        }
        if text.containsBytes("BEGIN OPENSSH PRIVATE KEY") {
            let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            if let data = Data(base64Encoded: body) {
                var reader = WireReader(bytes: [UInt8](data))
                // "openssh-key-v1\0", ciphername, kdfname, kdfoptions, number of keys, public key.
                if reader.skip(15), let cipher = reader.readString(), reader.readString() != nil,
                    reader.readString() != nil, reader.readUInt32() != nil, let blob = reader.readBytes()
                {
                    info.isEncrypted = String(decoding: cipher, as: UTF8.self) != "none"
                    info.publicBlob = info.publicBlob ?? blob
                    var blobReader = WireReader(bytes: blob)
                    if let name = blobReader.readString() {
                        info.algorithm = info.algorithm ?? String(decoding: name, as: UTF8.self)
                    }
                }
            }
        } else {
            info.isEncrypted = text.containsBytes("ENCRYPTED")
            if text.containsBytes("BEGIN RSA PRIVATE KEY") { info.algorithm = info.algorithm ?? "ssh-rsa" }
            if text.containsBytes("BEGIN EC PRIVATE KEY") { info.algorithm = info.algorithm ?? "ecdsa-sha2" }
            if text.containsBytes("BEGIN DSA PRIVATE KEY") { info.algorithm = info.algorithm ?? "ssh-dss" }
        }
        return info
    }
}

/// Reads SSH wire-format fields (RFC 4251: uint32 big-endian lengths, then bytes).
struct WireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func skip(_ count: Int) -> Bool {
        guard offset + count <= bytes.count else { return false }
        offset += count
        return true
    }

    mutating func readUInt32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        let value = bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        offset += 4
        return value
    }

    mutating func readBytes() -> [UInt8]? {
        guard let length = readUInt32(), offset + Int(length) <= bytes.count else { return nil }
        defer { offset += Int(length) }
        return Array(bytes[offset..<offset + Int(length)])
    }

    mutating func readString() -> [UInt8]? { readBytes() }
}

extension HostKey {
    /// Builds a host key from its wire blob; the algorithm is the blob's first field.
    init?(blob: [UInt8]) {
        var reader = WireReader(bytes: blob)
        guard let name = reader.readString(), !name.isEmpty else { return nil }
        self.init(algorithm: String(decoding: name, as: UTF8.self), blob: blob)
    }
}

public enum PublicKeyFile {
    /// The public blob of a private key file (from its `.pub`, or the OpenSSH container), for
    /// `IdentitiesOnly`: which agent identities may be offered.
    public static func blob(forPrivateKey path: String) -> [UInt8]? {
        PrivateKeyFileInfo.inspect(path: path)?.publicBlob
    }
}
