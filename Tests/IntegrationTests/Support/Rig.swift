// Access to the throwaway staging rig (scripts/rig): the shared one from scripts/test, or private ones.
import Foundation
import SSH
import Subprocess
import Testing

/// One rig's facts, as `scripts/rig` writes them to `rig.env`.
struct Rig: Sendable {
    let values: [String: String]

    subscript(_ key: String) -> String { values[key] ?? "" }

    var host: String { self["RIG_HOST"] }
    var address: String { self["RIG_ADDR"] }
    var port: Int { Int(self["RIG_PORT"]) ?? 0 }
    var user: String { self["RIG_USER"] }
    var sshConfig: String { self["RIG_SSH_CONFIG"] }
    var knownHosts: String { self["RIG_KNOWN_HOSTS"] }
    var clientKey: String { self["RIG_CLIENT_KEY"] }
    var hostKeyFingerprint: String { self["RIG_HOST_KEY_SHA256"] }
    var directory: String { self["RIG_DIR"] }

    /// The site by its name over https (`https://NAME:PORT/`), as a browser opens it.
    var siteNameURL: String { self["RIG_SITE_NAME_URL"] }
    /// curl options for the site by its name: the name resolved to the rig's address, only the rig's CA trusted.
    var siteCurlOptions: [String] { ["--cacert", self["RIG_SITE_CA"], "--resolve", "\(host):\(self["RIG_SITE_PORT"]):\(address)"] }
    /// The environment under which a playbook's http_get (curl) trusts the rig's CA.
    var siteTrustEnvironment: [String: String] { ["CURL_CA_BUNDLE": self["RIG_SITE_CA"]] }

    static func load(path: String) -> Rig? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return Rig(values: values)
    }

    /// The rig `scripts/test` brought up (STAGEFIX_RIG_ENV), or nil when the tests run without one.
    static let shared: Rig? = ProcessInfo.processInfo.environment["STAGEFIX_RIG_ENV"].flatMap { Rig.load(path: $0) }

    static var isAvailable: Bool { shared != nil }

    /// The production host `scripts/test` brings up beside it (STAGEFIX_PROD_RIG_ENV), with its canary.
    static let production: Rig? = ProcessInfo.processInfo.environment["STAGEFIX_PROD_RIG_ENV"].flatMap { Rig.load(path: $0) }

    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Brings up a private rig (its own sshd, no site) for tests that break or reconfigure sshd.
    static func startPrivate(sshdOptions: [String] = [], withSite: Bool = false) async throws -> Rig {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-rig-\(UUID().uuidString.prefix(8))").path
        let address = "127.0.\(Int.random(in: 10...250)).\(Int.random(in: 2...250))"
        var arguments = ["up", directory, "--addr", address, "--host", "private-\(address.replacingOccurrences(of: ".", with: "-")).staging.test"]
        for option in sshdOptions { arguments += ["--sshd-option", option] }
        if !withSite { arguments.append("--no-site") }
        let result = try await Subprocess.run(
            .path(.init(packageRoot + "/scripts/rig")), arguments: .init(arguments),
            output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
        guard result.terminationStatus.isSuccess, let rig = Rig.load(path: directory + "/rig.env") else {
            throw RigFailure(message: "scripts/rig up failed: \(result.standardError)")
        }
        return rig
    }

    func stop() async {
        _ = try? await Subprocess.run(
            .path(.init(Rig.packageRoot + "/scripts/rig")), arguments: ["down", directory],
            output: .discarded, error: .discarded)
    }

    /// Connection options that authenticate with the rig's client key and trust exactly its host key.
    func connectionOptions(timeout: Double = 10, policy: (any HostKeyPolicy)? = nil, authentication: [AuthenticationMethod]? = nil) -> ConnectionOptions {
        ConnectionOptions(
            host: address, port: port, user: user, timeout: timeout,
            authentication: authentication ?? [.privateKey(path: clientKey, required: true, passphrase: { _ in nil })],
            hostKeyPolicy: policy ?? PinnedHostKey(fingerprint: hostKeyFingerprint))
    }
}

struct RigFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Trusts exactly one fingerprint: lets the transport be tested apart from known_hosts.
struct PinnedHostKey: HostKeyPolicy {
    var fingerprint: String
    func validate(hostKey: HostKey, for endpoint: HostKeyEndpoint) throws {
        guard hostKey.fingerprint == fingerprint else {
            throw SSHError.hostKeyRefused(host: endpoint.hostName, fingerprint: hostKey.fingerprint, reason: "not the pinned key \(fingerprint)")
        }
    }
}

extension Rig {
    /// The book's shared machine (scripts/test): a staging site and a live site under one login user.
    static let sharedMachineStaging: Rig? = ProcessInfo.processInfo.environment["STAGEFIX_SHARED_STAGING_RIG_ENV"].flatMap { Rig.load(path: $0) }
    static let sharedMachineLive: Rig? = ProcessInfo.processInfo.environment["STAGEFIX_SHARED_LIVE_RIG_ENV"].flatMap { Rig.load(path: $0) }

    /// Runs Python as the rig's login user (its files stay its own).
    func runAsUser(_ code: String, _ arguments: [String] = []) throws -> String {
        try runLocal("/usr/sbin/runuser", ["-u", user, "--", "/usr/bin/python3", "-c", code] + arguments)
    }

    /// The role the site's database records (nil when unmarked).
    func markDatabase(_ role: String?, database: String? = nil) throws {
        let code = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.execute('CREATE TABLE IF NOT EXISTS stagefix_environment (id integer PRIMARY KEY, role varchar(20) NOT NULL)')
            c.execute('DELETE FROM stagefix_environment')
            if sys.argv[2]: c.execute("INSERT INTO stagefix_environment (id, role) VALUES (1, ?)", (sys.argv[2],))
            c.commit()
            """
        _ = try runAsUser(code, [database ?? self["RIG_SITE_DIR"] + "/db.sqlite3", role ?? ""])
    }

    /// Lines in this rig's sshd log that start a command (exec) session.
    var commandSessionsInLog: Int {
        ((try? String(contentsOfFile: self["RIG_SSHD_LOG"], encoding: .utf8)) ?? "").components(separatedBy: "Starting session: command").count - 1
    }
}
