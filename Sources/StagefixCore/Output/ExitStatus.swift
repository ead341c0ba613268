// The one place that maps every error to its documented exit code (CONTRACT.md, sysexits).
import SSH

public enum ExitStatus: Int32, Sendable {
    case success = 0
    case remoteCommandFailed = 1
    case usage = 64
    case invalidData = 65
    case authenticationFailed = 67
    case unreachable = 69
    case timedOut = 75
    case hostKeyRejected = 76
    case refusedByGuard = 77
    case configuration = 78

    /// The `kind` in `{"ok": false, "error": {"kind": ...}}`.
    public var kind: String {
        switch self {
        case .success: return "ok"
        case .remoteCommandFailed: return "remote_failure"
        case .usage: return "usage"
        case .invalidData: return "invalid_data"
        case .authenticationFailed: return "authentication"
        case .unreachable: return "unreachable"
        case .timedOut: return "timeout"
        case .hostKeyRejected: return "host_key"
        case .refusedByGuard: return "guard"
        case .configuration: return "configuration"
        }
    }

    public init(for error: any Error) {
        switch error {
        case let error as SSHError: self = ExitStatus(for: error)
        case let error as StagefixError: self = error.exitStatus
        case is PlaybookError: self = .invalidData
        default: self = .remoteCommandFailed
        }
    }

    private init(for error: SSHError) {
        switch error {
        case .unresolvable, .connectFailed, .connectionLost: self = .unreachable
        case .timedOut: self = .timedOut
        case .hostKeyUnknown, .hostKeyChanged, .hostKeyRevoked, .hostKeyRefused: self = .hostKeyRejected
        case .authenticationFailed: self = .authenticationFailed
        case .configuration: self = .configuration
        case .remoteFile, .library: self = .remoteCommandFailed
        }
    }
}

/// stagefix's own errors above the SSH layer.
public enum StagefixError: Error, Sendable, CustomStringConvertible {
    case usage(String)
    case invalidData(String)
    case configuration(String)
    /// A remote command ended badly; `stderrTail` is already redacted.
    case remoteCommandFailed(command: String, exit: RemoteExit, stderrTail: String)
    case refusedByGuard([String])
    /// Waited too long for something other than the network (a lock, a message): says what and for whom.
    case timedOut(String)
    /// Could not reach something other than the SSH host (a web page).
    case unreachable(String)

    public var exitStatus: ExitStatus {
        switch self {
        case .usage: return .usage
        case .invalidData: return .invalidData
        case .configuration: return .configuration
        case .remoteCommandFailed: return .remoteCommandFailed
        case .refusedByGuard: return .refusedByGuard
        case .timedOut: return .timedOut
        case .unreachable: return .unreachable
        }
    }

    public var description: String {
        switch self {
        case let .usage(message), let .invalidData(message), let .configuration(message), let .timedOut(message), let .unreachable(message):
            return message
        case let .remoteCommandFailed(command, exit, tail):
            let trimmed = tail.trimmingCharacters(in: .whitespacesAndNewlines)
            return "remote command `\(command)` failed (\(exit))" + (trimmed.isEmpty ? "" : ":\n" + trimmed)
        case let .refusedByGuard(reasons):
            return "refused by the production guard; nothing was run:\n" + reasons.map { "  - \($0)" }.joined(separator: "\n")
        }
    }
}

import Foundation
