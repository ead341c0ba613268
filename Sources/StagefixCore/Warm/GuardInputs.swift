// What the guard's verdict on a warm connection was drawn from on this machine: the caller's
// stagefix.yml, the ssh_config files read and the known_hosts files consulted. The agent reuses a
// connection only while their fingerprint is unchanged; any edit means judging the guard again.
import Crypto
import Foundation
import SSH

struct GuardInputs: Equatable, Sendable {
    /// SHA-256, hex.
    let fingerprint: String

    /// Reads the files now; the request's config is its text, as the caller sent it.
    init(request: FixtureRequest, config: StagefixConfig, environment: [String: String] = ProcessInfo.processInfo.environment) {
        var digest = FieldDigest()
        digest.add(request.host)
        digest.add(request.config.map { "file " + $0.path } ?? "no stagefix.yml")
        digest.add(request.config?.text ?? "")
        digest.add(request.sshConfig ?? "default ssh_config")
        do {
            for file in try Self.files(for: request, config: config, environment: environment) {
                digest.add(file)
                // A missing file is part of the picture too: creating one later is a change.
                if let contents = FileManager.default.contents(atPath: file) {
                    digest.add("present")
                    digest.add(contents)
                } else {
                    digest.add("absent")
                }
            }
        } catch {
            // The connection cannot open either; the fingerprint still differs from any good state.
            digest.add("unreadable: \(error)")
        }
        fingerprint = digest.hex
    }

    /// Every ssh_config file read (Includes too), then the known_hosts files of the host asked for
    /// and of each production host, which is where the guard learns production's keys.
    static func files(for request: FixtureRequest, config: StagefixConfig, environment: [String: String]) throws -> [String] {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let localUser = environment["USER"] ?? environment["LOGNAME"] ?? LocalAccount.userName()
        let sshConfig = try SSHConfig.load(explicitPath: request.sshConfig, homeDirectory: home)
        var files = sshConfig.files
        let target = (try? Destination(parsing: request.host))?.host ?? request.host
        for name in [target] + config.productionHostNames {
            let resolved = try sshConfig.resolve(host: name, localUser: localUser, homeDirectory: home)
            files += resolved.userKnownHostsFiles + resolved.globalKnownHostsFiles
        }
        var seen: Set<String> = []
        return files.filter { seen.insert($0).inserted }
    }
}

/// SHA-256 over length-prefixed fields, so that no two different field lists hash alike.
private struct FieldDigest {
    private var hasher = SHA256()

    mutating func add(_ text: String) { add(Data(text.utf8)) }

    mutating func add(_ bytes: Data) {
        withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: bytes)
    }

    var hex: String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
}
