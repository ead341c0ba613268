// The warm agent's reason to judge the guard again: any change to the caller's stagefix.yml, an
// ssh_config file read (Includes too) or a known_hosts file the guard uses changes the fingerprint.
import Foundation
@testable import StagefixCore
import Testing

struct GuardInputsTests {
    let folder: String
    let production = "hosts:\n  www.example.test:\n    role: production\n"

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-inputs-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder + "/conf.d", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/home/.ssh", withIntermediateDirectories: true)
        try write("ssh_config", """
            Include \(folder)/conf.d/*.conf
            Host staging.example.test
                HostName 127.0.0.1
                UserKnownHostsFile \(folder)/known_hosts
            Host www.example.test
                UserKnownHostsFile \(folder)/production_known_hosts

            """)
        try write("conf.d/one.conf", "Host other.example.test\n    Port 2222\n")
        try write("known_hosts", "staging.example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
        try write("production_known_hosts", "www.example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnC0d3bfrU2R3jhmcMu6FsqJbQ2PJYVPrHbzQxXdcd0\n")
        try write("unrelated.txt", "nothing the guard reads\n")
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
    }

    /// `withoutDashF`: the default files under the test's HOME, as with no `-F`.
    private func inputs(config text: String? = nil, withoutDashF: Bool = false) throws -> GuardInputs {
        let file = text.map { StagefixConfigFile(path: folder + "/stagefix.yml", text: $0) }
        let request = FixtureRequest(host: "staging.example.test", sshConfig: withoutDashF ? nil : folder + "/ssh_config", config: file, timeout: 30, action: .databaseFlush(json: false))
        return GuardInputs(request: request, config: try StagefixConfig(file: file), environment: ["HOME": folder + "/home", "USER": "tester"])
    }

    @Test func unchangedInputsGiveTheSameFingerprint() throws {
        #expect(try inputs(config: production) == inputs(config: production))
        try write("unrelated.txt", "edited\n")
        #expect(try inputs(config: production) == inputs(config: production))
    }

    @Test func markingTheHostProductionInTheCallersConfigChangesIt() throws {
        let staging = try inputs(config: "hosts:\n  staging.example.test:\n    role: staging\n")
        #expect(try inputs(config: "hosts:\n  staging.example.test:\n    role: production\n") != staging)
    }

    @Test func noConfigDiffersFromAnyConfig() throws {
        #expect(try inputs(config: nil) != inputs(config: ""))
    }

    @Test(arguments: ["ssh_config", "conf.d/one.conf", "known_hosts", "production_known_hosts"])
    func editingAFileTheGuardReadsChangesIt(name: String) throws {
        let before = try inputs(config: production)
        let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
        try write(name, text + "# edited\n")
        #expect(try inputs(config: production) != before)
    }

    @Test func aNewFileAnIncludeMatchesChangesIt() throws {
        let before = try inputs(config: production)
        try write("conf.d/two.conf", "Host staging.example.test\n    HostName 10.0.0.9\n")
        #expect(try inputs(config: production) != before)
    }

    @Test func theDefaultFilesCountWithoutDashF() throws {
        let home = folder + "/home/.ssh/"
        let before = try inputs(withoutDashF: true)
        try "staging.example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n".write(toFile: home + "known_hosts", atomically: true, encoding: .utf8)
        let withKnownHosts = try inputs(withoutDashF: true)
        #expect(withKnownHosts != before)
        try "Host staging.example.test\n    Port 2200\n".write(toFile: home + "config", atomically: true, encoding: .utf8)
        #expect(try inputs(withoutDashF: true) != withKnownHosts)
    }

    @Test func theFilesReadAreTheSSHConfigsThenTheKnownHostsOfTheTargetAndOfProduction() throws {
        let request = FixtureRequest(host: "staging.example.test", sshConfig: folder + "/ssh_config", config: nil, timeout: 30, action: .databaseFlush(json: false))
        let files = try GuardInputs.files(for: request, config: StagefixConfig(file: StagefixConfigFile(path: "x", text: production)), environment: ["HOME": folder + "/home", "USER": "tester"])
        #expect(files.prefix(2) == [folder + "/ssh_config", folder + "/conf.d/one.conf"])
        #expect(files.contains(folder + "/known_hosts"))
        #expect(files.contains(folder + "/production_known_hosts"))
        #expect(!files.contains(folder + "/unrelated.txt"))
    }
}
