// A server's public host key as sent in the handshake, and its OpenSSH-style fingerprint.
import Crypto
import Foundation

public struct HostKey: Sendable, Hashable {
    /// The SSH key type name: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ...
    public var algorithm: String
    /// The key in SSH wire format (what known_hosts stores base64-encoded).
    public var blob: [UInt8]

    public init(algorithm: String, blob: [UInt8]) {
        self.algorithm = algorithm
        self.blob = blob
    }

    /// `SHA256:` + unpadded base64 of the SHA-256 of the blob, exactly as `ssh-keygen -l` prints it.
    public var fingerprint: String {
        let digest = SHA256.hash(data: blob)
        var b64 = Data(digest).base64EncodedString()
        while b64.hasSuffix("=") { b64.removeLast() }
        return "SHA256:" + b64
    }

    /// The key as a known_hosts line's key part: `ssh-ed25519 AAAA...`.
    public var openSSHString: String {
        "\(algorithm) \(Data(blob).base64EncodedString())"
    }
}

/// Where the transport connected, as the host-key policy sees it.
public struct HostKeyEndpoint: Sendable, Equatable {
    /// The name known_hosts is searched for: `HostKeyAlias`, else the ssh_config `HostName`.
    public var hostName: String
    public var port: Int
    /// The numeric address actually connected to.
    public var address: String

    public init(hostName: String, port: Int, address: String) {
        self.hostName = hostName
        self.port = port
        self.address = address
    }

    /// The host as known_hosts writes it: `host` for port 22, `[host]:port` otherwise.
    public var knownHostsName: String {
        port == 22 ? hostName : "[\(hostName)]:\(port)"
    }
}

/// Asked once per connection, after the key exchange and before authentication or any channel.
/// Throw (an `SSHError.hostKey*` case) to refuse the server: the transport disconnects at once.
/// Modelled on swift-nio-ssh's `NIOSSHClientServerAuthenticationDelegate`.
public protocol HostKeyPolicy: Sendable {
    func validate(hostKey: HostKey, for endpoint: HostKeyEndpoint) throws
}

/// Every policy must accept the key; the first refusal wins. Lets the production guard add its own
/// host-key evidence on top of known_hosts without touching the transport.
public struct AllOfHostKeyPolicies: HostKeyPolicy {
    public var policies: [any HostKeyPolicy]

    public init(_ policies: [any HostKeyPolicy]) {
        self.policies = policies
    }

    public func validate(hostKey: HostKey, for endpoint: HostKeyEndpoint) throws {
        for policy in policies {
            try policy.validate(hostKey: hostKey, for: endpoint)
        }
    }
}
