// Staging behind a bastion (issue 22): every fixture command through one jump, two jumps and a
// ProxyCommand; the guard judges the target, never the bastion; changed keys on either are refused.
// The bastion rig (scripts/test) forwards only; staging and production also answer on addresses
// (127.0.0.11, 127.0.0.12) that these tests name only through it.
import Foundation
import Testing

extension Rig {
    /// The forward-only bastion `scripts/test` brings up (STAGEFIX_BASTION_RIG_ENV).
    static let bastion: Rig? = ProcessInfo.processInfo.environment["STAGEFIX_BASTION_RIG_ENV"].flatMap { Rig.load(path: $0) }

    var logText: String { (try? String(contentsOfFile: self["RIG_SSHD_LOG"], encoding: .utf8)) ?? "" }
}

/// How the test's ssh_config reaches the target behind the bastion.
enum BastionRoute: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case oneJump, twoJumps, proxyCommand
    var testDescription: String { rawValue }
}

extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && Rig.bastion != nil && Rig.production != nil, "needs the bastion rig: run scripts/test"))
struct BastionTests {
    let bastion = Rig.bastion!
    let staging = Rig.shared!
    let production = Rig.production!

    private func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-bastion-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func hostKey(of rig: Rig) throws -> String {
        try String(contentsOfFile: rig["RIG_HOST_KEY_PUB"], encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
    }

    /// A key nobody has: what a changed host key looks like.
    private func strangerKey(in directory: String) throws -> String {
        try runLocal("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "stranger", "-f", directory + "/stranger"])
        return try String(contentsOfFile: directory + "/stranger.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
    }

    /// An ssh_config: the bastion (and the same bastion again, for a chain), production by its own
    /// name and address, and `alias` reaching `target` on its behind-the-bastion address via `route`.
    private func sshConfig(
        _ route: BastionRoute, alias: String, target: Rig, behind: String,
        bastionKey: String? = nil, targetKey: String? = nil
    ) throws -> String {
        let folder = try directory()
        try "[\(bastion.address)]:\(bastion.port) \(try bastionKey ?? hostKey(of: bastion))\n".write(toFile: folder + "/bastion_known_hosts", atomically: true, encoding: .utf8)
        try "[\(behind)]:\(target.port) \(try targetKey ?? hostKey(of: target))\n".write(toFile: folder + "/target_known_hosts", atomically: true, encoding: .utf8)
        let bastionEntry = """
                HostName \(bastion.address)
                Port \(bastion.port)
                User \(bastion.user)
                IdentityFile \(bastion.clientKey)
                IdentitiesOnly yes
                UserKnownHostsFile \(folder)/bastion_known_hosts
                StrictHostKeyChecking yes

            """
        let proxy: String
        switch route {
        case .oneJump: proxy = "ProxyJump bastion.rig.test"
        case .twoJumps: proxy = "ProxyJump bastion.rig.test,again.bastion.rig.test"
        case .proxyCommand: proxy = "ProxyCommand /usr/bin/ssh -F \(folder)/ssh_config -o BatchMode=yes -W %h:%p bastion.rig.test"
        }
        let text = try String(contentsOfFile: production.sshConfig, encoding: .utf8) + """

            Host bastion.rig.test
            \(bastionEntry)
            Host again.bastion.rig.test
            \(bastionEntry)
            Host \(alias)
                HostName \(behind)
                Port \(target.port)
                User \(target.user)
                IdentityFile \(target.clientKey)
                IdentitiesOnly yes
                UserKnownHostsFile \(folder)/target_known_hosts
                StrictHostKeyChecking yes
                \(proxy)

            """
        try text.write(toFile: folder + "/ssh_config", atomically: true, encoding: .utf8)
        return folder + "/ssh_config"
    }

    private func stagingConfig(_ route: BastionRoute) throws -> String {
        try sshConfig(route, alias: staging.host, target: staging, behind: bastion["RIG_STAGING_BEHIND"])
    }

    /// Connections the target's sshd took on its behind-the-bastion address (sshd -E writes CRLF lines).
    private func connectionsBehind(_ target: Rig, _ behind: String) -> Int {
        target.logText.split(whereSeparator: \.isNewline).filter { $0.contains("Connection from ") && $0.contains(" on \(behind) port \(target.port) ") }.count
    }

    /// The bastion ran nothing (no session, exec, shell or subsystem), and every connection the
    /// target took on its hidden address was one the bastion forwarded.
    private func expectOnlyForwarding(_ context: String) {
        let log = bastion.logText
        #expect(!log.contains("Starting session"), "\(context): the bastion started a session")
        for (target, behind) in [(staging, bastion["RIG_STAGING_BEHIND"]), (production, bastion["RIG_PRODUCTION_BEHIND"])] {
            let forwarded = log.components(separatedBy: "target \(behind) port \(target.port)").count - 1
            #expect(connectionsBehind(target, behind) <= forwarded, "\(context): \(behind) was reached around the bastion")
        }
    }

    /// Runs stagefix with `-F config` (and `-c stagefixConfig`) before any `--`.
    private func run(_ arguments: [String], config: String, stagefixConfig: String? = nil) async throws -> CommandResult {
        var full = arguments
        let options = ["-F", config] + (stagefixConfig.map { ["-c", $0] } ?? [])
        full.insert(contentsOf: options, at: arguments.firstIndex(of: "--") ?? arguments.count)
        return try await Stagefix.run(full)
    }

    @Test(arguments: BastionRoute.allCases)
    func everyFixtureCommandWorksThroughTheBastion(route: BastionRoute) async throws {
        let config = try stagingConfig(route)
        let before = connectionsBehind(staging, bastion["RIG_STAGING_BEHIND"])
        let email = "jumped-\(route.rawValue.lowercased())@example.com"

        let created = try await run(["session", "create", staging.host, email], config: config)
        #expect(created.status == 0, "session create: \(created.stderr)")
        let key = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try fetchPage(staging, path: "whoami/", sessionKey: key).contains("logged in as \(email)"))

        let flushed = try await run(["db", "flush", staging.host, "--yes"], config: config)
        #expect(flushed.status == 0, "db flush: \(flushed.stderr)")
        #expect(try fetchPage(staging, path: "whoami/", sessionKey: key).contains("anonymous"))

        let mark = "through-\(route.rawValue)"
        // The site's env file as it was, put back afterwards (other suites read it).
        let envFile = staging["RIG_SITE_DIR"] + "/.env"
        let saved = try directory() + "/env"
        try runLocal("/bin/cp", ["-p", envFile, saved])
        defer { _ = try? runLocal("/bin/cp", ["-p", saved, envFile]) }
        let set = try await run(["env", "set", staging.host, "STAGEFIX_BASTION_ROUTE=\(mark)"], config: config)
        #expect(set.status == 0, "env set: \(set.stderr)")
        let got = try await run(["env", "get", staging.host, "STAGEFIX_BASTION_ROUTE"], config: config)
        #expect(got.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == mark, "env get: \(got.stderr)")

        let managed = try await run(["manage", staging.host, "--", "shell", "-c", "import os; print('env says', os.environ['STAGEFIX_BASTION_ROUTE'][::-1])"], config: config)
        // Reversed: output showing an env value is masked.
        #expect(managed.status == 0 && managed.stdout.contains("env says \(String(mark.reversed()))"), "manage: \(managed.stdout) \(managed.stderr)")

        let executed = try await run(["exec", staging.host, "--", "echo", "ran as $(whoami)"], config: config)
        #expect(executed.status == 0 && executed.stdout == "ran as \(staging.user)\n", "exec: \(executed.stdout) \(executed.stderr)")

        let played = try await run(["play", Rig.packageRoot + "/playbooks/fresh-login.yml", "--host", staging.host, "--var", "users=played@example.com"], config: config)
        #expect(played.status == 0, "play: \(played.stdout) \(played.stderr)")
        let playedKey = played.stdout.split(separator: "\n").last { $0.contains("played@example.com") }?.split(separator: " ").last.map(String.init) ?? ""
        #expect(try fetchPage(staging, path: "whoami/", sessionKey: playedKey).contains("logged in as played@example.com"), "play output: \(played.stdout)")

        // Each command above reached staging's hidden address through the bastion.
        #expect(connectionsBehind(staging, bastion["RIG_STAGING_BEHIND"]) >= before + 7)
        expectOnlyForwarding("fixture commands via \(route)")
    }

    @Test(arguments: BastionRoute.allCases)
    func productionUnderAStagingLookingAliasIsRefusedThroughTheBastion(route: BastionRoute) async throws {
        let alias = "staging-copy.rig.test"
        let config = try sshConfig(route, alias: alias, target: production, behind: bastion["RIG_PRODUCTION_BEHIND"])
        let folder = try directory()
        try "hosts:\n  \(production.host):\n    role: production\n".write(toFile: folder + "/stagefix.yml", atomically: true, encoding: .utf8)
        let marker = "/tmp/stagefix-bastion-marker-\(UUID().uuidString)"
        for command in [
            ["db", "flush", alias, "--yes"], ["session", "create", alias, "intruder@example.com"],
            ["exec", alias, "--", "touch", marker], ["manage", alias, "--yes", "--", "flush", "--noinput"],
            ["env", "set", alias, "SITENAME=\(alias)"],
        ] {
            let result = try await run(command, config: config, stagefixConfig: folder + "/stagefix.yml")
            #expect(result.status == 77, "\(command.prefix(2).joined(separator: " ")) via \(route): exit \(result.status): \(result.stderr)")
            // Judged on the target's own key, not the bastion's.
            #expect(result.stderr.contains(production.hostKeyFingerprint) || result.stderr.contains(production.host), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
        let page = try fetchPage(production, path: "whoami/", sessionKey: production["RIG_CANARY_KEY"])
        #expect(page.contains("logged in as \(production["RIG_CANARY_EMAIL"])"), "the canary is gone")
        expectOnlyForwarding("production via \(route)")
    }

    @Test func productionsOwnAddressThroughTheBastionIsRefusedByAddress() async throws {
        // The jump host is asked for production's planned address: the guard sees it before connecting.
        let config = try sshConfig(.oneJump, alias: "staging-copy.rig.test", target: production, behind: production.address)
        let folder = try directory()
        try "hosts:\n  \(production.host):\n    role: production\n".write(toFile: folder + "/stagefix.yml", atomically: true, encoding: .utf8)
        let result = try await run(["db", "flush", "staging-copy.rig.test", "--yes"], config: config, stagefixConfig: folder + "/stagefix.yml")
        #expect(result.status == 77, "\(result.stderr)")
        #expect(result.stderr.contains("\(production.address) port \(production.port) is where the production host \(production.host) is"), "\(result.stderr)")
    }

    @Test(arguments: [BastionRoute.oneJump, .twoJumps])
    func aChangedKeyOnTheBastionIs76AndNothingReachesTheTarget(route: BastionRoute) async throws {
        let folder = try directory()
        let config = try sshConfig(route, alias: staging.host, target: staging, behind: bastion["RIG_STAGING_BEHIND"], bastionKey: try strangerKey(in: folder))
        let before = connectionsBehind(staging, bastion["RIG_STAGING_BEHIND"])
        let marker = "/tmp/stagefix-bastion-marker-\(UUID().uuidString)"
        let result = try await run(["exec", staging.host, "--", "touch", marker], config: config)
        #expect(result.status == 76, "\(result.stderr)")
        #expect(result.stderr.contains("HOST KEY FOR [\(bastion.address)]:\(bastion.port) HAS CHANGED"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(connectionsBehind(staging, bastion["RIG_STAGING_BEHIND"]) == before)
        expectOnlyForwarding("changed bastion key")
    }

    @Test(arguments: BastionRoute.allCases)
    func aChangedKeyOnTheTargetIs76(route: BastionRoute) async throws {
        let folder = try directory()
        let config = try sshConfig(route, alias: staging.host, target: staging, behind: bastion["RIG_STAGING_BEHIND"], targetKey: try strangerKey(in: folder))
        let marker = "/tmp/stagefix-bastion-marker-\(UUID().uuidString)"
        let result = try await run(["exec", staging.host, "--", "touch", marker], config: config)
        #expect(result.status == 76, "\(result.stderr)")
        #expect(result.stderr.contains("HOST KEY FOR [\(bastion["RIG_STAGING_BEHIND"])]:\(staging.port) HAS CHANGED"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        expectOnlyForwarding("changed target key")
    }

    @Test func checkShowsEachHopOnItsOwnLine() async throws {
        let result = try await run(["check", staging.host], config: try stagingConfig(.twoJumps))
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let jumps = lines.filter { $0.hasPrefix("ok   jump ") }
        #expect(jumps.count == 2, "\(result.stdout)")
        #expect(jumps.allSatisfy { $0.contains("\(bastion.user)@\(bastion.address) port \(bastion.port)") && $0.contains(bastion.hostKeyFingerprint) })
        #expect(lines.contains { $0.hasPrefix("ok   host key") && $0.contains(staging.hostKeyFingerprint) }, "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("ok   guard") }, "\(result.stdout)")
        expectOnlyForwarding("check")
    }

    @Test func aJumpHostThatCannotReachTheTargetIs69NamingIt() async throws {
        let unused = try freePort(on: "127.0.0.11")
        let config = try sshConfig(.oneJump, alias: staging.host, target: staging, behind: bastion["RIG_STAGING_BEHIND"])
        let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "Port \(staging.port)\n", with: "Port \(unused)\n")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await run(["exec", staging.host, "--", "true"], config: config)
        #expect(result.status == 69, "\(result.stderr)")
        #expect(result.stderr.contains("the jump host \(bastion.address) could not open a connection there"), "\(result.stderr)")
    }
}
}
