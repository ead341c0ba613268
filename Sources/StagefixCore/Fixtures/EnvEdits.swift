// `env set` arguments, checked before connecting, and applied to the server's file in one atomic write.
import Foundation
import SSH

public struct EnvEdits: Sendable, Equatable {
    public enum Edit: Sendable, Equatable {
        case set(key: String, value: String)
        /// Only when the key is missing (playbooks' `env_ensure`): an existing value is kept.
        case setIfMissing(key: String, value: String)
        /// A random secret, only when the key is missing.
        case generate(key: String)

        var key: String {
            switch self {
            case let .set(key, _), let .setIfMissing(key, _), let .generate(key): return key
            }
        }
    }

    public var edits: [Edit]

    public init(edits: [Edit]) {
        self.edits = edits
    }

    /// `KEY=VALUE` words, `--from-local KEY` (this machine's environment), `--generate KEY`.
    /// Everything is validated here, before any connection (65 for bad input).
    public static func parse(assignments: [String], fromLocal: [String], generate: [String], localEnvironment: [String: String]) throws -> EnvEdits {
        var edits: [Edit] = []
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "=") else {
                throw StagefixError.invalidData("'\(assignment)' is not KEY=VALUE")
            }
            edits.append(.set(key: try validKey(String(assignment[..<equals])), value: String(assignment[assignment.index(after: equals)...])))
        }
        for key in fromLocal {
            guard let value = localEnvironment[try validKey(key)] else {
                throw StagefixError.invalidData("--from-local \(key): \(key) is not set in this machine's environment")
            }
            edits.append(.set(key: key, value: value))
        }
        for key in generate { edits.append(.generate(key: try validKey(key))) }
        let keys = edits.map(\.key)
        if let duplicate = keys.first(where: { key in keys.filter { $0 == key }.count > 1 }) {
            throw StagefixError.invalidData("\(duplicate) is given more than once")
        }
        return EnvEdits(edits: edits)
    }

    private static func validKey(_ key: String) throws -> String {
        guard EnvFile.isValidKey(key) else {
            throw StagefixError.invalidData("'\(key)' is not a valid env key; use letters, digits and _ (not starting with a digit)")
        }
        return key
    }

    /// 50 characters from the system CSPRNG (getrandom), from an alphabet that never needs quoting.
    public static func randomSecret(length: Int = 50) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }
}

public struct EnvEditOutcome: Sendable {
    public var path: String
    public var changedKeys: [String]
    public var unchangedKeys: [String]
}

extension StagingSite {
    /// Applies the edits; writes (atomically, keeping the mode) only when the text changes, so the
    /// same `env set` twice leaves the file byte-identical. A missing file is created (mode 0600).
    public func applyEnvEdits(_ edits: EnvEdits) throws -> EnvEditOutcome {
        guard let path = layout.envFilePath else {
            throw StagefixError.configuration("\(host) has env_file: none in stagefix.yml; there is no env file to edit")
        }
        let sftp = try SFTPClient(session: session, timeout: timeout)
        try waitForFixtureLock(sftp)
        // One editor at a time, each applying its edits to the file as it is now (not as it was when
        // this connection read it): parallel `env set`s never lose each other's keys.
        return try EnvEditLock(sftp: sftp, envPath: path, timeout: timeout).holding {
            let bytes: [UInt8]?
            do {
                bytes = try sftp.readFile(path, maxBytes: 4 << 20)
            } catch SSHError.remoteFile(_, "no such file") {
                bytes = nil
            }
            let current = EnvFile(parsing: bytes.map { String(decoding: $0, as: UTF8.self) } ?? "", environment: [:])
            return try apply(edits, to: current, exists: bytes != nil, path: path, sftp: sftp)
        }
    }

    private func apply(_ edits: EnvEdits, to current: EnvFile, exists: Bool, path: String, sftp: SFTPClient) throws -> EnvEditOutcome {
        var assignments: [(key: String, value: String)] = []
        var changed: [String] = []
        var unchanged: [String] = []
        for edit in edits.edits {
            switch edit {
            case let .set(key, value):
                assignments.append((key, value))
                if current.value(of: key) == value { unchanged.append(key) } else { changed.append(key) }
            case let .setIfMissing(key, value):
                if current.value(of: key) != nil {
                    unchanged.append(key)
                } else {
                    assignments.append((key, value))
                    changed.append(key)
                }
            case let .generate(key):
                if current.value(of: key) != nil {
                    unchanged.append(key)
                } else {
                    assignments.append((key, EnvEdits.randomSecret()))
                    changed.append(key)
                }
            }
        }
        let text: String
        do {
            text = try current.setting(assignments)
        } catch {
            throw StagefixError.invalidData("cannot edit \(path) safely: \(error)")
        }
        if text != current.text || !exists {
            try sftp.writeFileAtomically(path, contents: Array(text.utf8), newFileMode: 0o600)
            cachedEnvironment = ServerEnvironment(path: path, text: text)
            // A runner already started has the old values: the next Django step starts one with these.
            closeRunner()
        }
        return EnvEditOutcome(path: path, changedKeys: changed, unchangedKeys: unchanged)
    }

    /// `env set` is destructive: it waits while another run holds the host's fixture lock.
    private func waitForFixtureLock(_ sftp: SFTPClient) throws {
        guard let gate = lockGate else { return }
        try gate.waitWhileHeld(trace: nil) { nonces in
            guard let attributes = try sftp.attributes(of: gate.path) else { return }
            let text = (try? sftp.readFile(gate.path, maxBytes: 64 << 10)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            if nonces.contains(where: { !$0.isEmpty && text.contains($0) }) { return }
            let record = text.split(separator: "\n").first.map(String.init) ?? ""
            let age = Int(Date().timeIntervalSince1970) - Int(clamping: attributes.modificationTime)
            throw LockHeld(age: max(0, age), holder: try? JSONDecoder().decode(LockOwner.self, from: Data(record.utf8)))
        }
    }
}

/// A small lock file beside the env file, created with O_EXCL over SFTP, held only while one edit
/// re-reads and rewrites the file (milliseconds); one left by a crashed editor is broken after 30 s.
struct EnvEditLock {
    let sftp: SFTPClient
    let envPath: String
    let timeout: Double
    static let staleAfterSeconds = 30.0

    var path: String { envPath + ".stagefix-edit.lock" }

    func holding<T>(_ body: () throws -> T) throws -> T {
        let started = Date()
        var seen: (mtime: UInt64, since: Date)?
        while true {
            if try sftp.createExclusively(path, contents: Array("\(getpid())@\(HostLock.localMachine)\n".utf8)) { break }
            guard let attributes = try sftp.attributes(of: path) else { continue }  // released meanwhile
            if seen?.mtime != attributes.modificationTime { seen = (attributes.modificationTime, Date()) }
            if let seen, Date().timeIntervalSince(seen.since) > Self.staleAfterSeconds {
                try? sftp.remove(path)  // the same lock file for 30 s: its editor is gone
                continue
            }
            if Date().timeIntervalSince(started) > timeout {
                throw StagefixError.timedOut("waited \(formatSeconds(Date().timeIntervalSince(started))) for another env edit to finish (\(path) on the server)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        defer { try? sftp.remove(path) }
        return try body()
    }
}

/// `env show` output.
public enum EnvShowFormat: String, Sendable, CaseIterable {
    case text, json, dotenv
}

public enum EnvListing {
    /// Text shows each key and value escaped (a server's value cannot reach the terminal raw, and a
    /// multi-line one prints quoted on one line); dotenv names a key it cannot write (65).
    public static func render(_ environment: ServerEnvironment, format: EnvShowFormat, reveal: Bool) throws -> String {
        let shown = environment.values.map { pair in
            (key: pair.key, value: reveal ? pair.value : SecretRedaction.redacted(value: pair.value, forKey: pair.key))
        }
        switch format {
        case .text:
            return shown.map { "\(TerminalText.escaped($0.key))=\(TerminalText.escaped($0.value))\n" }.joined()
        case .json:
            var values: [String: String] = [:]
            for pair in shown { values[pair.key] = pair.value }
            return JSONOutput.encode([
                "ok": true, "path": environment.path, "redacted": !reveal,
                "keys": shown.map(\.key), "values": values,
                "problems": environment.problems.map { ["line": $0.line, "message": $0.message] as [String: Any] },
            ]) + "\n"
        case .dotenv:
            // Written by the same editor `env set` uses, so python-dotenv reads it back exactly.
            if let bad = shown.first(where: { !EnvFile.isValidKey($0.key) }) {
                throw StagefixError.invalidData("\(environment.path): the key \(TerminalText.escaped(bad.key)) is not a name a dotenv file can hold (letters, digits and _); cannot write the file as dotenv")
            }
            let written: String
            do {
                written = try EnvFile(parsing: "", environment: [:]).setting(shown.map { ($0.key, $0.value) })
            } catch {
                throw StagefixError.invalidData("\(environment.path): cannot write it as dotenv: \(error)")
            }
            return written.hasSuffix("\n") || written.isEmpty ? written : written + "\n"
        }
    }
}

extension EnvEdits.Edit: CustomStringConvertible {
    /// For the audit log: the key and how it was set, never the value.
    public var description: String {
        switch self {
        case let .set(key, _): return "\(key)=<value>"
        case let .setIfMissing(key, _): return "\(key)=<value if missing>"
        case let .generate(key): return "--generate \(key)"
        }
    }
}
