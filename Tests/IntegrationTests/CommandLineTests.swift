// The binary as users run it: ssh_config, known_hosts, exit codes from CONTRACT.md.
import Foundation
import Testing

@Suite(.enabled(if: Stagefix.isAvailable, "needs the rig and the binary: run scripts/test"))
struct CommandLineTests {
    let rig = Rig.shared!

    /// An ssh_config for the rig with one line changed, in a fresh folder.
    private func config(replacing old: String? = nil, with new: String = "", extra: String = "") throws -> String {
        var text = try String(contentsOfFile: rig.sshConfig, encoding: .utf8)
        if let old { text = text.replacingOccurrences(of: old, with: new) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-cfg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/ssh_config"
        try (text + extra).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The rig's config with the key file replaced by an agent socket.
    private func agentConfig(_ socket: String) throws -> String {
        try config(replacing: "    IdentityFile \(rig.clientKey)\n    IdentitiesOnly yes\n", with: "    IdentityAgent \(socket)\n")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["STAGEFIX_TEST_AGENT_SOCK"] != nil, "scripts/test starts the agent"))
    func anSSHAgentHoldingTheKeyLogsIn() async throws {
        let path = try agentConfig(ProcessInfo.processInfo.environment["STAGEFIX_TEST_AGENT_SOCK"]!)
        #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("IdentityFile"))
        let result = try await Stagefix.run(["exec", "-v", "-F", path, rig.host, "--", "echo via-agent"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "via-agent\n")
        #expect(result.stderr.contains("authenticated with agent identity stagefix-rig-client"), "\(result.stderr)")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["STAGEFIX_TEST_EMPTY_AGENT_SOCK"] != nil, "scripts/test starts the agent"))
    func anEmptyAgentIs67NamingWhatWasTried() async throws {
        let socket = ProcessInfo.processInfo.environment["STAGEFIX_TEST_EMPTY_AGENT_SOCK"]!
        let result = try await Stagefix.run(["exec", "-F", try agentConfig(socket), rig.host, "--", "true"], environment: ["HOME": "/nonexistent-home"])
        #expect(result.status == 67, "\(result.stderr)")
        #expect(result.stderr.contains("agent"))
        #expect(result.stderr.contains("holds no identities"), "\(result.stderr)")
    }

    @Test func execRelaysOutputAndPassesTheRemoteStatusThrough() async throws {
        let result = try await Stagefix.run(["exec", "-F", rig.sshConfig, rig.host, "--", "echo out; echo err >&2; exit 3"])
        #expect(result.status == 3)
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
    }

    @Test func execRelaysStdin() async throws {
        let result = try await Stagefix.run(["exec", "-F", rig.sshConfig, rig.host, "--", "tr a-z A-Z"], stdin: "hello\n")
        #expect(result.status == 0)
        #expect(result.stdout == "HELLO\n")
    }

    @Test func anUnknownHostKeyExits76AndRunsNothing() async throws {
        let marker = "/tmp/stagefix-marker-\(UUID().uuidString)"
        let path = try config(replacing: rig.knownHosts, with: "/nonexistent/known_hosts")
        let result = try await Stagefix.run(["exec", "-F", path, rig.host, "--", "touch \(marker)"])
        #expect(result.status == 76)
        #expect(result.stderr.contains(rig.hostKeyFingerprint))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func aChangedHostKeyExits76WithBothFingerprintsAndTheLine() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-kh-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try runLocal("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", directory + "/other"])
        let otherKey = try String(contentsOfFile: directory + "/other.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "# comment\n[\(rig.address)]:\(rig.port) \(otherKey)\n".write(toFile: directory + "/known_hosts", atomically: true, encoding: .utf8)
        let path = try config(replacing: rig.knownHosts, with: directory + "/known_hosts")
        let result = try await Stagefix.run(["exec", "-F", path, rig.host, "--", "true"])
        #expect(result.status == 76)
        #expect(result.stderr.contains(rig.hostKeyFingerprint))
        #expect(result.stderr.contains(directory + "/known_hosts:2"))
    }

    @Test func acceptNewRecordsTheKeyThenTrustsIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-kh-\(UUID().uuidString.prefix(8))").path
        let path = try config(replacing: "UserKnownHostsFile \(rig.knownHosts)\n    StrictHostKeyChecking yes", with: "UserKnownHostsFile \(directory)/known_hosts\n    StrictHostKeyChecking accept-new")
        #expect(try await Stagefix.run(["exec", "-F", path, rig.host, "--", "true"]).status == 0)
        let recorded = try String(contentsOfFile: directory + "/known_hosts", encoding: .utf8)
        #expect(recorded.hasPrefix("[\(rig.address)]:\(rig.port) ssh-ed25519 "))
        // OpenSSH itself reads the recorded line.
        #expect(try runLocal("/usr/bin/ssh-keygen", ["-F", "[\(rig.address)]:\(rig.port)", "-f", directory + "/known_hosts"]).contains("ssh-ed25519"))
        #expect(try await Stagefix.run(["exec", "-F", path, rig.host, "--", "true"]).status == 0)
    }

    @Test func acceptNewRefusesAChangedKeyInAFileWithANonUTF8CommentAndLeavesTheFileAlone() async throws {
        // The bar case of issue 16: a Latin-1 comment (`# Zo\xEB server`) once made the whole file
        // unreadable, so the changed key was taken for a new one and recorded (exit 0).
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-kh-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try runLocal("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", directory + "/other"])
        let otherKey = try String(contentsOfFile: directory + "/other.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let knownHosts = directory + "/known_hosts"
        let original = Data("# Zo".utf8) + Data([0xEB]) + Data(" server\r\n[\(rig.address)]:\(rig.port) \(otherKey)\r\n".utf8)
        try original.write(to: URL(fileURLWithPath: knownHosts))
        let path = try config(replacing: "UserKnownHostsFile \(rig.knownHosts)\n    StrictHostKeyChecking yes", with: "UserKnownHostsFile \(knownHosts)\n    StrictHostKeyChecking accept-new")
        let marker = "/tmp/stagefix-marker-\(UUID().uuidString)"
        let result = try await Stagefix.run(["exec", "-F", path, rig.host, "--", "touch \(marker)"])
        #expect(result.status == 76, "\(result.stderr)")
        #expect(result.stderr.contains(rig.hostKeyFingerprint))
        #expect(result.stderr.contains(knownHosts + ":2"), "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: knownHosts)) == original)
        #expect(!FileManager.default.fileExists(atPath: marker))
        // OpenSSH on the same config and file refuses too, and leaves the file as it was.
        let ssh = Process()
        ssh.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
        ssh.arguments = ["-F", path, "-o", "BatchMode=yes", rig.host, "touch \(marker)"]
        ssh.standardInput = FileHandle.nullDevice
        ssh.standardOutput = FileHandle.nullDevice
        ssh.standardError = FileHandle.nullDevice
        try ssh.run()
        ssh.waitUntilExit()
        #expect(ssh.terminationStatus == 255)
        #expect(try Data(contentsOf: URL(fileURLWithPath: knownHosts)) == original)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func aWrongKeyExits67NamingIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-key-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try runLocal("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", directory + "/stranger"])
        let path = try config(replacing: rig.clientKey, with: directory + "/stranger")
        let result = try await Stagefix.run(["exec", "-F", path, rig.host, "--", "true"], environment: ["SSH_AUTH_SOCK": ""])
        #expect(result.status == 67)
        #expect(result.stderr.contains(directory + "/stranger"))
    }

    @Test func aClosedPortAndAnUnresolvableNameExit69() async throws {
        let port = try freePort(on: rig.address)
        let closed = try config(replacing: "Port \(rig.port)", with: "Port \(port)")
        #expect(try await Stagefix.run(["exec", "-F", closed, rig.host, "--", "true"]).status == 69)
        let unresolvable = try config(replacing: "HostName \(rig.address)", with: "HostName no-such-host.invalid")
        let result = try await Stagefix.run(["exec", "-F", unresolvable, rig.host, "--", "true"])
        #expect(result.status == 69)
        #expect(result.stderr.contains("no-such-host.invalid"))
    }

    @Test func aLongCommandTimesOutWith75Quickly() async throws {
        let result = try Stagefix.runTimed(["exec", "-F", rig.sshConfig, "--timeout", "2", rig.host, "--", "sleep 60"])
        #expect(result.status == 75)
        #expect(result.milliseconds < 4000)
        #expect(result.stderr.contains("sleep 60"))
    }

    @Test func aSilentServerTimesOutWith75() async throws {
        let listener = try SilentListener(address: "127.0.0.1")
        let path = try config(replacing: "HostName \(rig.address)\n    Port \(rig.port)", with: "HostName 127.0.0.1\n    Port \(listener.port)")
        let result = try Stagefix.runTimed(["exec", "-F", path, "--timeout", "1.5", rig.host, "--", "true"])
        #expect(result.status == 75)
        #expect(result.milliseconds < 3500)
    }

    @Test func aMalformedProxyJumpIsAConfigurationErrorNamingItsLine() async throws {
        let path = try config(extra: "\nHost \(rig.host)\n    ProxyJump bastion.example.com:ssh\n")
        let result = try await Stagefix.run(["exec", "-F", path, rig.host, "--", "true"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("ProxyJump"))
        #expect(result.stderr.contains(path + ":"))
    }

    @Test func aJumpHostThatDoesNotResolveIsUnreachableNamingIt() async throws {
        let path = try config(extra: "\nHost \(rig.host)\n    ProxyJump bastion.invalid\n")
        let result = try await Stagefix.run(["exec", "-F", path, rig.host, "--", "true"])
        #expect(result.status == 69)
        #expect(result.stderr.contains("bastion.invalid"))
    }

    @Test func streamingAHundredMegabytesKeepsMemoryBounded() async throws {
        // Peak RSS of the binary, measured by the kernel for a child: 100 MB through `exec` must cost
        // about what `exec true` costs (libraries dominate both), nowhere near the data's size.
        let script = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        func peakKilobytes(_ command: String) throws -> Int {
            let output = try runLocal("/usr/bin/python3", ["-c", script, Stagefix.binary, "exec", "-F", rig.sshConfig, "--timeout", "120", rig.host, "--", command])
            return Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? Int.max
        }
        let idle = try peakKilobytes("true")
        let streaming = try peakKilobytes("head -c 104857600 /dev/zero")
        #expect(streaming < idle + 16 * 1024, "peak RSS \(streaming) KiB while streaming 100 MB, \(idle) KiB for `true`")
    }

    @Test func versionAndHelpWork() async throws {
        #expect(try await Stagefix.run(["--version"]).status == 0)
        let help = try await Stagefix.run(["exec", "--help"])
        #expect(help.stdout.contains("Examples:"))
        #expect(try await Stagefix.run(["exec", "-F", rig.sshConfig, rig.host]).status == 64)
    }
}
