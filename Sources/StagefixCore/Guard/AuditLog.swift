// One JSON line per destructive command, appended so that concurrent runs never interleave.
import Foundation
import SSH
#if canImport(Glibc)
import Glibc
#endif

public struct AuditRecord: Sendable {
    public var time: Date
    public var localUser: String
    public var host: String
    public var address: String
    public var hostKeyFingerprint: String
    /// Already redacted: never an env value.
    public var command: String
    public var exitStatus: Int32
    public var durationSeconds: Double

    public init(time: Date, localUser: String, host: String, address: String, hostKeyFingerprint: String, command: String, exitStatus: Int32, durationSeconds: Double) {
        self.time = time
        self.localUser = localUser
        self.host = host
        self.address = address
        self.hostKeyFingerprint = hostKeyFingerprint
        self.command = command
        self.exitStatus = exitStatus
        self.durationSeconds = durationSeconds
    }

    var jsonLine: String {
        return JSONOutput.encode([
            "time": Self.timestamp(time), "user": localUser, "host": host, "address": address,
            "host_key": hostKeyFingerprint, "command": command, "exit_status": Int(exitStatus),
            "duration_s": (durationSeconds * 1000).rounded() / 1000,
        ]) + "\n"
    }

    /// ISO 8601 in UTC with milliseconds, as ISO8601DateFormatter writes it.
    static func timestamp(_ time: Date) -> String {
        if let text = InternetDateTime.string(from: time) { return text }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: time)
    }
}

public struct AuditLog: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// `$XDG_STATE_HOME/stagefix/audit.jsonl`, else `~/.local/state/stagefix/audit.jsonl`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/stagefix/audit.jsonl" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/stagefix/audit.jsonl"
    }

    /// Appends one record: O_APPEND plus an exclusive lock, and the whole line in one write.
    public func append(_ record: AuditRecord) throws {
        let directory = PathText.deletingLastComponent(path)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            // Foundation's text names an NSError domain; say what a person can act on.
            throw StagefixError.configuration("cannot write the audit log \(path): its folder \(directory) cannot be created; set audit_log in stagefix.yml or XDG_STATE_HOME")
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StagefixError.configuration("cannot write the audit log \(path): \(String(cString: strerror(errno))); set audit_log in stagefix.yml")
        }
        defer { close(descriptor) }
        flock(descriptor, LOCK_EX)
        defer { flock(descriptor, LOCK_UN) }
        let bytes = Array(record.jsonLine.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw StagefixError.configuration("cannot write the audit log \(path): short write")
        }
    }
}
