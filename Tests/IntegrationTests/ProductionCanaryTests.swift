// The guard's bar: a real production host (its own sshd, address, host key and site) holds a canary
// user and session; every way of aiming a destructive command at it is refused (77) and the canary
// still logs in afterwards.
import Foundation
import Testing

// Under SiteDatabaseTests: its playbooks make sessions on the staging rig's database too, which
// FixtureTests counts after a flush.
extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && Rig.production != nil, "needs the production rig: run scripts/test"))
struct ProductionCanaryTests {
    let production = Rig.production!
    let staging = Rig.shared!

    /// An ssh_config reaching production under its own name, a staging-looking alias, and its address.
    private func sshConfig() throws -> String {
        let base = try String(contentsOfFile: production.sshConfig, encoding: .utf8)
        let reach = "    HostName \(production.address)\n    Port \(production.port)\n    User \(production.user)\n    IdentityFile \(production.clientKey)\n    UserKnownHostsFile \(production.knownHosts)\n"
        return try write("ssh_config", base + "\nHost staging-copy.rig.test\n" + reach + "\nHost \(production.address)\n" + reach)
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-canary-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        return directory + "/" + name
    }

    private func expectCanaryAlive(_ context: String) throws {
        let page = try fetchPage(production, path: "whoami/", sessionKey: production["RIG_CANARY_KEY"])
        #expect(page.contains("logged in as \(production["RIG_CANARY_EMAIL"])"), "canary gone after: \(context)")
    }

    @discardableResult
    private func attempt(_ arguments: [String], config: String? = nil, _ context: String) async throws -> CommandResult {
        var full = arguments
        full.insert(contentsOf: ["-F", try sshConfig()] + (config.map { ["-c", $0] } ?? []), at: arguments.firstIndex(of: "--") ?? arguments.count)
        let result = try await Stagefix.run(full)
        #expect(result.status == 77, "\(context): exit \(result.status): \(result.stderr)")
        try expectCanaryAlive(context)
        return result
    }

    @Test func theCanaryIsAliveBeforeAnyAttempt() throws {
        try expectCanaryAlive("setup")
    }

    @Test func byNameEvenWithYes() async throws {
        let result = try await attempt(["db", "flush", production.host, "--yes"], "db flush www.rig.test --yes")
        #expect(result.stderr.contains("www.*"))
    }

    @Test func byAStagingLookingAliasThroughEveryDestructiveCommand() async throws {
        let alias = "staging-copy.rig.test"
        try await attempt(["db", "flush", alias, "--yes"], "db flush via alias")
        try await attempt(["manage", alias, "--yes", "--", "flush", "--noinput"], "manage flush via alias")
        try await attempt(["exec", alias, "--", "rm", "-f", "sites/\(production.host)/db.sqlite3"], "exec rm via alias")
        try await attempt(["session", "create", alias, "intruder@example.com"], "session create via alias")
        try await attempt(["env", "set", alias, "SITENAME=\(alias)"], "env set via alias")
        try await attempt(["lock", alias, "--", "true"], "lock via alias")
        let result = try await attempt(["play", Rig.packageRoot + "/playbooks/reset.yml", "--host", alias], "play reset via alias")
        // What refused it: the server's own env says it is www.rig.test.
        #expect(result.stdout.contains("another host") || result.stdout.contains(production.host), "\(result.stdout)")
    }

    @Test func byAddressWithAConfigThatMislabelsTheAddressStaging() async throws {
        let config = try write("stagefix.yml", "hosts:\n  \(production.host):\n    role: production\n  \"\(production.address)\":\n    role: staging\n")
        let result = try await attempt(["db", "flush", production.address, "--yes"], config: config, "db flush by address")
        #expect(result.stderr.contains("address"))
    }

    @Test func withAConfigThatCallsProductionStaging() async throws {
        let config = try write("stagefix.yml", "hosts:\n  \(production.host):\n    role: staging\n  staging-copy.rig.test:\n    role: staging\n")
        try await attempt(["db", "flush", production.host, "--yes"], config: config, "mislabelled by name")
        try await attempt(["db", "flush", "staging-copy.rig.test", "--yes"], config: config, "mislabelled alias")
    }

    @Test func aPlaybookAimedAtProductionAndStagingRefusesOnlyProduction() async throws {
        let sshConfig = try sshConfig()
        let combined = try write("ssh_config", try String(contentsOfFile: sshConfig, encoding: .utf8) + "\n" + (try String(contentsOfFile: staging.sshConfig, encoding: .utf8)))
        let result = try await Stagefix.run(["play", Rig.packageRoot + "/playbooks/fresh-login.yml", "-F", combined, "--host", production.host, "--host", staging.host, "--format", "json"])
        #expect(result.status == 77, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let hosts = try #require(document["hosts"] as? [[String: Any]])
        #expect(hosts.map { $0["exit_code"] as? Int } == [77, 0])
        try expectCanaryAlive("play on production and staging")
    }

    @Test func byHostKeyThroughARelayOnAnotherAddress() async throws {
        // Name and address look like staging; only the server's key (production's, from its
        // known_hosts entry) gives it away, during the handshake, before anything is opened.
        let relayAddress = "127.0.0.7"
        let relayPort = try freePort(on: relayAddress)
        let relay = Process()
        relay.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        relay.arguments = [Rig.packageRoot + "/Tests/Fixtures/tools/tcp_relay.py", relayAddress, String(relayPort), production.address, String(production.port)]
        let control = Pipe(), ready = Pipe()
        relay.standardInput = control
        relay.standardOutput = ready
        try relay.run()
        defer {
            try? control.fileHandleForWriting.close()
            relay.waitUntilExit()
        }
        #expect(String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("ready"))

        let productionKey = try String(contentsOfFile: production.knownHosts, encoding: .utf8).split(separator: " ").dropFirst().prefix(2).joined(separator: " ")
        let knownHosts = try write("known_hosts", "[\(relayAddress)]:\(relayPort) \(productionKey)\n")
        let config = try String(contentsOfFile: production.sshConfig, encoding: .utf8)
            + "\nHost relay.staging.rig.test\n    HostName \(relayAddress)\n    Port \(relayPort)\n    User \(production.user)\n    IdentityFile \(production.clientKey)\n    UserKnownHostsFile \(knownHosts)\n"
        let sshConfig = try write("ssh_config", config)
        let stagefixConfig = try write("stagefix.yml", "hosts:\n  \(production.host):\n    role: production\n")
        let result = try await Stagefix.run(["db", "flush", "-F", sshConfig, "-c", stagefixConfig, "relay.staging.rig.test", "--yes"])
        #expect(result.status == 77, "\(result.stderr)")
        #expect(result.stderr.contains("host key"), "\(result.stderr)")
        #expect(result.stderr.contains("the production host \(production.host)"))
        try expectCanaryAlive("flush through a relay")
        // Without the production declaration the relay is reachable: the key alone was the evidence.
        let unguarded = try await Stagefix.run(["guard", "-F", sshConfig, "relay.staging.rig.test"])
        #expect(!unguarded.stdout.contains("host key  the server's key"), "\(unguarded.stdout)")
    }

    @Test func theGuardCommandSaysProductionAndWhy() async throws {
        let result = try await Stagefix.run(["guard", "-F", try sshConfig(), "staging-copy.rig.test", "--format", "json"])
        #expect(result.status == 77)
        #expect(result.stdout.contains("\"allowed\":false"))
        try expectCanaryAlive("guard")
    }
}
}
