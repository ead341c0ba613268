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

    /// An agent started by hand, once its socket is there.
    private func startAgent(_ socket: String, idle: Int) async throws -> Process {
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: Stagefix.binary)
        agent.arguments = ["agent", "--socket", socket, "--idle", String(idle)]
        try agent.run()
        for _ in 0..<50 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(50)) }
        return agent
    }

    private func startsLogged() throws -> Int {
        // Only this site's starts: mirror sites share the file (their SITENAME differs).
        try String(contentsOfFile: rig["RIG_SITE_DIR"] + "/starts.log", encoding: .utf8).split(separator: "\n").filter { $0.hasSuffix(" " + rig.host) }.count
    }

    private func warm(_ socket: String, _ arguments: [String]) async throws -> CommandResult {
        try await Stagefix.run(arguments + ["--warm"], environment: ["STAGEFIX_AGENT_SOCKET": socket])
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
}
}
