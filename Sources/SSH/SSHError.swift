// The SSH layer's typed errors: each case carries what a person needs to fix the problem.
import Foundation

/// One authentication attempt, named in an authentication failure.
public struct AuthenticationAttempt: Sendable, Equatable, CustomStringConvertible {
    /// `publickey`, `agent`, `password`, ...
    public var method: String
    /// The key file, agent identity comment, or nil.
    public var detail: String?
    /// Why it did not work, in words.
    public var outcome: String

    public init(method: String, detail: String? = nil, outcome: String) {
        self.method = method
        self.detail = detail
        self.outcome = outcome
    }

    public var description: String {
        if let detail { return "\(method) \(detail): \(outcome)" }
        return "\(method): \(outcome)"
    }
}

/// A place in a file, for errors that say where to fix something.
public struct FileLocation: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int

    public init(path: String, line: Int) {
        self.path = path
        self.line = line
    }

    public var description: String { "\(path):\(line)" }
}

public enum SSHError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The name did not resolve to any address.
    case unresolvable(host: String, reason: String)
    /// No address of the host accepted a TCP connection.
    case connectFailed(host: String, port: Int, reason: String)
    /// The connection dropped or the peer broke the protocol while `during` was going on.
    case connectionLost(during: String, reason: String)
    /// `during` did not finish within the timeout.
    case timedOut(during: String, seconds: Double)
    /// The server's key is in no known_hosts file and the policy does not accept new keys.
    case hostKeyUnknown(host: String, fingerprint: String, knownHostsFiles: [String])
    /// The server offered a key other than the one recorded for it: possible man-in-the-middle.
    case hostKeyChanged(host: String, offered: String, recorded: String, at: FileLocation)
    /// The server's key is marked `@revoked`.
    case hostKeyRevoked(host: String, fingerprint: String, at: FileLocation)
    /// A host-key policy other than known_hosts refused the key (for example the production guard).
    case hostKeyRefused(host: String, fingerprint: String, reason: String)
    /// Every method was tried and none was accepted.
    case authenticationFailed(user: String, host: String, attempts: [AuthenticationAttempt], hint: String?)
    /// ssh_config (or known_hosts) has something stagefix cannot honour or parse.
    case configuration(message: String, at: FileLocation?)
    /// A remote file operation failed.
    case remoteFile(path: String, reason: String)
    /// Any other libssh2 failure, with libssh2's own message.
    case library(function: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case let .unresolvable(host, reason):
            return "cannot resolve host name '\(host)': \(reason); check the name or the HostName in your ssh_config"
        case let .connectFailed(host, port, reason):
            return "cannot connect to \(host) port \(port): \(reason)"
        case let .connectionLost(during, reason):
            return "connection lost during \(during): \(reason)"
        case let .timedOut(during, seconds):
            return "timed out after \(formatSeconds(seconds)) during \(during); raise --timeout if the host is slow"
        case let .hostKeyUnknown(host, fingerprint, files):
            let where_ = files.isEmpty ? "no known_hosts file" : files.joined(separator: ", ")
            return "host key for \(host) is unknown (\(fingerprint)); nothing was run. "
                + "Verify it, then add it to \(where_) (for example: ssh-keyscan) "
                + "or set 'StrictHostKeyChecking accept-new' for this host"
        case let .hostKeyChanged(host, offered, recorded, at):
            return "HOST KEY FOR \(host) HAS CHANGED: the server offered \(offered) but \(at) records \(recorded); "
                + "nothing was run. If the change is expected, remove line \(at.line) of \(at.path)"
        case let .hostKeyRevoked(host, fingerprint, at):
            return "host key for \(host) (\(fingerprint)) is marked @revoked at \(at); nothing was run"
        case let .hostKeyRefused(host, fingerprint, reason):
            return "host key for \(host) (\(fingerprint)) refused: \(reason); nothing was run"
        case let .authenticationFailed(user, host, attempts, hint):
            let tried = attempts.isEmpty ? "no method was available" : "tried " + attempts.map(\.description).joined(separator: "; ")
            var text = "authentication as \(user) on \(host) failed: \(tried)"
            if let hint { text += ". \(hint)" }
            return text
        case let .configuration(message, at):
            if let at { return "\(at): \(message)" }
            return message
        case let .remoteFile(path, reason):
            return "\(path): \(reason)"
        case let .library(function, code, message):
            return "\(function) failed (libssh2 error \(code)): \(message.isEmpty ? "no detail" : message)"
        }
    }
}

func formatSeconds(_ seconds: Double) -> String {
    if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
    return String(format: "%.1f s", seconds)
}
