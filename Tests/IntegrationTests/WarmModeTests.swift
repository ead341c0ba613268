// Warm mode against the rig: the agent keeps the connection and Django alive, answers like the
// direct path, restarts after a deploy or a dead runner, serves only its user, and is optional.
import Foundation
import Testing

extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && !(Rig.shared?["RIG_SITE_URL"].isEmpty ?? true), "needs the rig with its site: run scripts/test"))
struct WarmModeTests {
    let rig = Rig.shared!

    private func socketPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-agent-\(UUID().uuidString.prefix(8))").path + "/agent.sock"
    }

    /// An agent started by hand (in `folder`, when given), once its socket is there.
    private func startAgent(_ socket: String, idle: Int, in folder: String? = nil) async throws -> Process {
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: Stagefix.binary)
        agent.arguments = ["agent", "--socket", socket, "--idle", String(idle)]
        if let folder { agent.currentDirectoryURL = URL(fileURLWithPath: folder) }
        try agent.run()
        for _ in 0..<50 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(50)) }
        return agent
    }

    private func startsLogged() throws -> Int {
        // Only this site's starts: mirror sites share the file (their SITENAME differs).
        try String(contentsOfFile: rig["RIG_SITE_DIR"] + "/starts.log", encoding: .utf8).split(separator: "\n").filter { $0.hasSuffix(" " + rig.host) }.count
    }

    private func warm(_ socket: String, _ arguments: [String], in folder: String? = nil) async throws -> CommandResult {
        try await Stagefix.run(arguments + ["--warm"], environment: ["STAGEFIX_AGENT_SOCKET": socket], workingDirectory: folder)
    }

    @Test func warmSessionsLogInWithoutNewDjangoStartsAndTheAgentStartsOnFirstUse() async throws {
        let socket = socketPath()
        // First use starts the agent (idle 600 by default: stop it by hand below via a short-idle one instead).
        let first = try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "warm@example.com"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(first.stdout)).contains("logged in as warm@example.com"))
        let folder = (socket as NSString).deletingLastPathComponent
        #expect((try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int) == 0o700)
        #expect((try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int) == 0o600)

        let before = try startsLogged()
        for _ in 0..<3 {
            #expect(try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "warm@example.com"]).status == 0)
        }
        #expect(try startsLogged() == before, "no new Django start while warm")

        let flushed = try await warm(socket, ["db", "flush", "-F", rig.sshConfig, rig.host, "--yes", "--format", "json"])
        #expect(flushed.status == 0)
        #expect(flushed.stdout.contains("\"flushed\":true"))
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(first.stdout)).contains("anonymous"))
        try stopAgent(socket)
    }

    @Test func sessionCreateWithFlushEmptiesTheDatabaseFirstInOneDjangoStartColdAndWarm() async throws {
        let socket = socketPath()
        defer { try? stopAgent(socket) }
        let host = ["-F", rig.sshConfig, rig.host]
        let old = try await Stagefix.run(["session", "create"] + host + ["before@example.com"])
        #expect(old.status == 0, "\(old.stderr)")

        // Without --yes and without a terminal: refused before connecting, nothing flushed.
        let unconfirmed = try await Stagefix.run(["session", "create", "--flush"] + host + ["after@example.com"])
        #expect(unconfirmed.status == 64, "\(unconfirmed.stderr)")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(old.stdout)).contains("logged in as before@example.com"))

        let starts = try startsLogged()
        let cold = try await Stagefix.run(["session", "create", "--flush", "--yes"] + host + ["after@example.com"])
        #expect(cold.status == 0, "\(cold.stderr)")
        #expect(try startsLogged() == starts + 1, "the flush and the session share one Django start")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(old.stdout)).contains("anonymous"), "the flush logged the earlier user out")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(cold.stdout)).contains("logged in as after@example.com"))

        // Warm: the same, in one request to the agent's runner.
        let warmFirst = try await warm(socket, ["session", "create", "--flush", "--yes", "--format", "json"] + host + ["warm-after@example.com"])
        #expect(warmFirst.status == 0, "\(warmFirst.stderr)")
        let warmStarts = try startsLogged()
        let warmSecond = try await warm(socket, ["session", "create", "--flush", "--yes"] + host + ["warm-again@example.com"])
        #expect(warmSecond.status == 0, "\(warmSecond.stderr)")
        #expect(try startsLogged() == warmStarts, "no new Django start while warm")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(cold.stdout)).contains("anonymous"))
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(warmSecond.stdout)).contains("logged in as warm-again@example.com"))
    }

    /// Ends an agent by its socket (the agent is ours: found by its command line).
    private func stopAgent(_ socket: String) throws {
        for line in try runLocal("/usr/bin/pgrep", ["-f", "agent --socket \(socket)"]).split(separator: "\n") {
            if let pid = Int32(line) { kill(pid, SIGTERM) }
        }
    }

    @Test func aDeployOrADeadRunnerRestartsDjangoOnceAndNothingRunsTwice() async throws {
        let socket = socketPath()
        let agent = try await startAgent(socket, idle: 60)
        defer { agent.terminate(); agent.waitUntilExit() }

        #expect(try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "deploy@example.com"]).status == 0)
        var before = try startsLogged()
        #expect(try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "deploy@example.com"]).status == 0)
        #expect(try startsLogged() == before)

        // A deploy touches the env file: the agent notices and starts Django afresh, once.
        let envFile = rig["RIG_SITE_DIR"] + "/.env"
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: envFile)
        let afterDeploy = try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "deploy@example.com"])
        #expect(afterDeploy.status == 0, "\(afterDeploy.stderr)")
        #expect(try startsLogged() == before + 1)
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(afterDeploy.stdout)).contains("logged in as deploy@example.com"))

        // The runner dies on the server: the next request gets a new one.
        before = try startsLogged()
        _ = try? runLocal("/usr/bin/pkill", ["-u", rig.user, "-f", "stagefix_runner"])
        try await Task.sleep(for: .milliseconds(200))
        let afterKill = try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "deploy@example.com"])
        #expect(afterKill.status == 0, "\(afterKill.stderr)")
        #expect(try startsLogged() == before + 1)
    }

    @Test func theSameGuardOutputsAndExitCodesAsTheDirectPath() async throws {
        let socket = socketPath()
        defer { try? stopAgent(socket) }
        let www = try String(contentsOfFile: rig.sshConfig, encoding: .utf8).replacingOccurrences(of: "Host \(rig.host)", with: "Host www.rig-alias.test")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("warm-www-\(UUID().uuidString.prefix(8))").path
        try www.write(toFile: path, atomically: true, encoding: .utf8)
        let direct = try await Stagefix.run(["db", "flush", "-F", path, "www.rig-alias.test", "--yes", "--format", "json"])
        let warmed = try await warm(socket, ["db", "flush", "-F", path, "www.rig-alias.test", "--yes", "--format", "json"])
        #expect(direct.status == 77)
        #expect(warmed.status == 77)
        #expect(warmed.stdout == direct.stdout)
        #expect(warmed.stderr == direct.stderr)
        let badEmail = try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "not-an-email"])
        #expect(badEmail.status == 65)
        let shapes = try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "shape@example.com", "--format", "playwright"])
        #expect(shapes.status == 0)
        #expect(shapes.stdout.hasPrefix("[{\"domain\":\"\(rig.host)\""))
    }

    @Test func withoutAUsableAgentTheDirectPathDoesTheWork() async throws {
        let result = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "fallback@example.com", "--warm"],
                                            environment: ["STAGEFIX_AGENT_SOCKET": "/proc/no-such-folder/agent.sock"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(result.stdout)).contains("logged in as fallback@example.com"))
    }

    @Test func anIdleAgentEndsAndRemovesItsSocket() async throws {
        let socket = socketPath()
        let agent = try await startAgent(socket, idle: 1)
        #expect(FileManager.default.fileExists(atPath: socket))
        for _ in 0..<60 where agent.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!agent.isRunning)
        #expect(!FileManager.default.fileExists(atPath: socket))
    }

    // MARK: The caller's configuration, judged afresh (issue 15, finding 4)

    /// A fresh folder of the test's own.
    private func scratchFolder(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-warm-\(name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func anAgentStartedInAnotherFolderJudgesEachRequestWithTheCallersOwnConfig() async throws {
        // The rig reached by its address: not a staging name, so only folder A's stagefix.yml allows it
        // (its site's env names the address in DJANGO_EXTRA_ALLOWED_HOSTS). Folder B has no stagefix.yml.
        let folderA = try scratchFolder("a"), folderB = try scratchFolder("b")
        let sshConfig = folderA + "/ssh_config"
        try String(contentsOfFile: rig.sshConfig, encoding: .utf8).replacingOccurrences(of: "Host \(rig.host)", with: "Host \(rig.address)")
            .write(toFile: sshConfig, atomically: true, encoding: .utf8)
        try """
            guard:
              identity_keys: [DJANGO_EXTRA_ALLOWED_HOSTS]
            hosts:
              "\(rig.address)":
                role: staging
                site:
                  path: ~/sites/\(rig.host)

            """.write(toFile: folderA + "/stagefix.yml", atomically: true, encoding: .utf8)
        let socket = socketPath()
        let agent = try await startAgent(socket, idle: 60, in: folderA)
        defer { agent.terminate(); agent.waitUntilExit() }
        let command = ["session", "create", "-F", sshConfig, rig.address, "elsewhere@example.com"]

        let coldInA = try await Stagefix.run(command, workingDirectory: folderA)
        #expect(coldInA.status == 0, "A's stagefix.yml allows the address: \(coldInA.stderr)")
        #expect(try await warm(socket, command, in: folderA).status == 0)
        let coldInB = try await Stagefix.run(command, workingDirectory: folderB)
        #expect(coldInB.status == 77, "with no stagefix.yml the address has no staging signal: \(coldInB.stderr)")

        let warmInB = try await warm(socket, command, in: folderB)
        #expect(warmInB.status == 77, "\(warmInB.stdout)\(warmInB.stderr)")
        #expect(warmInB.stdout.isEmpty)
        #expect(warmInB.stderr == coldInB.stderr)
        // The agent gave that answer: the client did not fall back to the direct path.
        let traced = try await warm(socket, command + ["-v"], in: folderB)
        #expect(traced.status == 77)
        #expect(!traced.stderr.contains("working without it"), "\(traced.stderr)")
    }

    enum LocalChange: String, CaseIterable, Sendable {
        case stagefixYmlMarksItProduction, sshConfigPointsItAtProduction, knownHostsForgetsItsKey
    }

    @Test(arguments: LocalChange.allCases)
    func aKeptConnectionIsJudgedAgainWhenTheCallersFilesChange(_ change: LocalChange) async throws {
        // The caller knows both hosts: staging (its own known_hosts copy) and production.
        let production = try #require(Rig.production)
        let folder = try scratchFolder("change")
        let knownHosts = folder + "/known_hosts"
        try FileManager.default.copyItem(atPath: rig.knownHosts, toPath: knownHosts)
        let sshConfig = folder + "/ssh_config"
        let productionBlock = try String(contentsOfFile: production.sshConfig, encoding: .utf8)
        try (String(contentsOfFile: rig.sshConfig, encoding: .utf8).replacingOccurrences(of: rig.knownHosts, with: knownHosts) + "\n" + productionBlock)
            .write(toFile: sshConfig, atomically: true, encoding: .utf8)
        let roles = "hosts:\n  \(production.host):\n    role: production\n"
        try (roles + "  \(rig.host):\n    role: staging\n").write(toFile: folder + "/stagefix.yml", atomically: true, encoding: .utf8)
        let socket = socketPath()
        defer { try? stopAgent(socket) }
        let command = ["session", "create", "-F", sshConfig, rig.host, "judged@example.com"]
        let first = try await warm(socket, command, in: folder)
        #expect(first.status == 0, "\(first.stderr)")
        let starts = try startsLogged()
        #expect(try await warm(socket, command, in: folder).status == 0)
        #expect(try startsLogged() == starts, "the agent kept the connection")

        let expected: Int32
        switch change {
        case .stagefixYmlMarksItProduction:
            try (roles + "  \(rig.host):\n    role: production\n").write(toFile: folder + "/stagefix.yml", atomically: true, encoding: .utf8)
            expected = 77
        case .sshConfigPointsItAtProduction:
            // The staging name now leads where production is (its address and port, its host key).
            let redirected = productionBlock.replacingOccurrences(of: "Host \(production.host)", with: "Host \(rig.host)") + "\n" + productionBlock
            try redirected.write(toFile: sshConfig, atomically: true, encoding: .utf8)
            expected = 77
        case .knownHostsForgetsItsKey:
            try "".write(toFile: knownHosts, atomically: true, encoding: .utf8)
            expected = 76
        }
        let after = try await warm(socket, command, in: folder)
        #expect(after.status == expected, "\(after.stdout)\(after.stderr)")
        #expect(after.stdout.isEmpty)
        let cold = try await Stagefix.run(command, workingDirectory: folder)
        #expect(cold.status == expected)
        #expect(after.stderr == cold.stderr)
        let canary = try fetchPage(production, path: "whoami/", sessionKey: production["RIG_CANARY_KEY"])
        #expect(canary.contains("logged in as \(production["RIG_CANARY_EMAIL"])"), "canary gone after \(change)")
    }

    // MARK: Only a verified agent is trusted, and it deletes nothing but its own socket (finding 5)

    static let fakeKey = "f4kef4kef4kef4kef4kef4kef4kef4ke"

    /// Listens at a path as it is given (making its folder, as its own, when missing) and answers
    /// every request with a fake session key; says on stdout how many bytes each request had.
    static let fakeAgent = #"""
        import os, socket, sys
        path = sys.argv[1]
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            os.mkdir(folder, 0o700)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o777)
        listener.listen(8)
        while True:
            client, _ = listener.accept()
            data = b""
            while not data.endswith(b"\n"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                data += chunk
            if data:
                print("received", len(data), flush=True)
                client.sendall(b'{"exit":0,"stdout":"\#(fakeKey)\\n","stderr":""}\n')
            client.close()
        """#

    /// The fake agent, run as the rig's login user: another local user than the tests' own.
    private func startFakeAgent(at path: String) async throws -> (process: Process, output: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(rig.user)", "--regid=\(rig.user)", "--init-groups", "/usr/bin/python3", "-c", Self.fakeAgent, path]
        process.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        for _ in 0..<100 where !isSocket(path) { try await Task.sleep(for: .milliseconds(50)) }
        try #require(isSocket(path), "the fake agent did not listen at \(path)")
        return (process, output)
    }

    /// SIGKILL: the test runner's threads block SIGTERM, and its children inherit that mask.
    private func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    private func isSocket(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeSocket
    }

    enum Plant: String, CaseIterable, Sendable {
        case inAnotherUsersFolder, inOurFolderOpenToOthers, byAnotherUserInOurPrivateFolder
    }

    @Test(arguments: Plant.allCases)
    func aSocketPlantedByAnotherUserIsRefusedAndTheCommandWorksDirectly(_ plant: Plant) async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-planted-\(UUID().uuidString.prefix(8))").path
        let socket = base + "/agent.sock"
        let reason: String
        var plantedAt = socket
        switch plant {
        case .inAnotherUsersFolder:
            // The predictable folder, made first by the other user.
            reason = "belongs to uid"
        case .inOurFolderOpenToOthers:
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
            #expect(chmod(base, 0o777) == 0)
            reason = "not 700"
        case .byAnotherUserInOurPrivateFolder:
            // Moved into our private folder below: only the peer's uid can tell.
            plantedAt = base + "-theirs/agent.sock"
            reason = "runs as uid"
        }
        let fake = try await startFakeAgent(at: plantedAt)
        defer { stop(fake.process) }
        if plant == .byAnotherUserInOurPrivateFolder {
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            #expect(rename(plantedAt, socket) == 0)
        }

        let result = try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "planted@example.com"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains(Self.fakeKey))
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(result.stdout)).contains("logged in as planted@example.com"))
        #expect(result.stderr.hasPrefix("stagefix: warning: not using the warm agent: "), "\(result.stderr)")
        #expect(result.stderr.contains(reason), "\(result.stderr)")
        #expect(isSocket(socket), "the planted socket is left where it is")
        #expect((try? runLocal("/usr/bin/pgrep", ["-f", "agent --socket \(socket)"])) == nil, "no agent started into that folder")

        stop(fake.process)
        let heard = String(decoding: fake.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!heard.contains("received"), "the request (with its stagefix.yml) reached the other user: \(heard)")
    }

    enum Occupant: String, CaseIterable, Sendable {
        case regularFile, symbolicLink, folder, anotherUsersSocket
    }

    /// What is at a path, without following a link: kind, inode and the bytes behind it.
    private func describe(_ path: String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map { (path as NSString).deletingLastPathComponent + "/" + $0 } ?? path
        let bytes = FileManager.default.contents(atPath: target).map { String(decoding: $0, as: UTF8.self) } ?? "-"
        return "\(attributes[.type] ?? "?") \(attributes[.systemFileNumber] ?? "?") \(attributes[.ownerAccountID] ?? "?") \(bytes)"
    }

    @Test(arguments: Occupant.allCases)
    func theAgentLeavesWhateverElseIsAtItsSocketPathAlone(_ occupant: Occupant) async throws {
        let folder = try scratchFolder("occupied")
        #expect(chmod(folder, 0o700) == 0)
        let socket = folder + "/agent.sock"
        switch occupant {
        case .regularFile:
            try "precious\n".write(toFile: socket, atomically: false, encoding: .utf8)
        case .symbolicLink:
            try "precious\n".write(toFile: folder + "/target", atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: socket, withDestinationPath: "target")
        case .folder:
            try FileManager.default.createDirectory(atPath: socket, withIntermediateDirectories: false)
            try "precious\n".write(toFile: socket + "/inside", atomically: false, encoding: .utf8)
        case .anotherUsersSocket:
            // A socket nobody listens on, but another user's: not a dead agent of ours.
            try runLocal("/usr/bin/python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socket])
            try runLocal("/usr/bin/chown", ["-h", "\(rig.user):\(rig.user)", socket])
        }
        let before = try describe(socket)

        let agent = try await Stagefix.run(["agent", "--socket", socket, "--idle", "1"])
        #expect(agent.status == 78, "\(agent.stderr)")
        #expect(agent.stderr.hasPrefix("stagefix: \(socket) is "), "\(agent.stderr)")
        #expect(agent.stderr.split(separator: "\n").count == 1)
        #expect(try describe(socket) == before)

        // Through --warm: the agent it starts refuses the path, and the command does the work itself.
        let result = try await warm(socket, ["session", "create", "-F", rig.sshConfig, rig.host, "occupied@example.com"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(result.stdout)).contains("logged in as occupied@example.com"))
        #expect(try describe(socket) == before)
    }

    @Test func aDeadAgentsSocketOfOursIsReplaced() async throws {
        let folder = try scratchFolder("stale")
        #expect(chmod(folder, 0o700) == 0)
        let socket = folder + "/agent.sock"
        try runLocal("/usr/bin/python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socket])
        let agent = try await Stagefix.run(["agent", "--socket", socket, "--idle", "1"])
        #expect(agent.status == 0, "\(agent.stderr)")
        #expect(!FileManager.default.fileExists(atPath: socket), "its own socket is removed when it ends")
    }

    @Test func theAgentMakesItsOwnFolderButNoMissingParent() async throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-noparent-\(UUID().uuidString.prefix(8))").path
        let agent = try await Stagefix.run(["agent", "--socket", parent + "/stagefix/agent.sock", "--idle", "1"])
        #expect(agent.status == 78)
        #expect(agent.stderr.contains("parent folder does not exist"), "\(agent.stderr)")
        #expect(!FileManager.default.fileExists(atPath: parent))
    }
}
}
