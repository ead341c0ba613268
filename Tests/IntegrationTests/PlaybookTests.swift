// Playbooks through the binary against the rig: the shipped ones work, validation touches no host,
// a failing host does not stop the others, and the host lock serialises concurrent runs.
import Foundation
import Testing

extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && !(Rig.shared?["RIG_SITE_URL"].isEmpty ?? true), "needs the rig with its site: run scripts/test"))
struct PlaybookTests {
    let rig = Rig.shared!
    var playbooks: String { Rig.packageRoot + "/playbooks" }
    var envFile: String { rig["RIG_SITE_DIR"] + "/.env" }
    var baseURL: String { String(rig["RIG_SITE_URL"].dropLast()) }

    private func play(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
        try await Stagefix.run(["play"] + arguments + ["-F", rig.sshConfig], environment: rig.siteTrustEnvironment.merging(environment) { $1 })
    }

    private func temporaryFile(_ name: String, _ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-play-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        return directory + "/" + name
    }

    private func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Lines sshd logged for new connections so far (LogLevel VERBOSE).
    private func connectionsLogged() throws -> Int {
        try String(contentsOfFile: rig["RIG_SSHD_LOG"], encoding: .utf8).components(separatedBy: "Connection from ").count - 1
    }

    @Test func freshLoginFlushesAndLogsEveryUserIn() async throws {
        let before = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "stale@example.com"])
        let staleKey = before.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let users = ["ann@example.com", "o'brien@example.com", "a+tag@example.com"]
        let result = try await play([playbooks + "/fresh-login.yml", "--host", rig.host, "--var", "users=" + users.joined(separator: ","), "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = try #require(try json(result.stdout)["hosts"] as? [[String: Any]])
        let sessions = try #require((hosts.first?["registered"] as? [String: Any])?["logins"] as? [String: Any])["sessions"] as? [[String: Any]]
        #expect(sessions?.count == 3)
        for (user, session) in zip(users, sessions ?? []) {
            #expect(session["email"] as? String == user)
            #expect(try fetchPage(rig, path: "whoami/", sessionKey: session["key"] as? String).contains("logged in as \(user)"))
        }
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: staleKey).contains("anonymous"), "flush must end earlier sessions")
    }

    @Test func provisionEnvIsIdempotentAndNeverShowsTheSecret() async throws {
        let secret = "mail-pa$$ 'word' #1"
        let environment = ["EMAIL_PASSWORD": secret]
        let first = try await play([playbooks + "/provision-env.yml", "--host", rig.host], environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        let afterFirst = try Data(contentsOf: URL(fileURLWithPath: envFile))
        let mode = try FileManager.default.attributesOfItem(atPath: envFile)[.posixPermissions] as? Int
        let second = try await play([playbooks + "/provision-env.yml", "--host", rig.host, "--format", "json"], environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: envFile)) == afterFirst, "second run must leave the env file byte-identical")
        #expect(mode == 0o600)
        let steps = try #require((try json(second.stdout)["hosts"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]])
        #expect(steps.allSatisfy { (($0["output"] as? [String: Any])?["changed"] as? [String])?.isEmpty == true })
        for output in [first.stdout, first.stderr, second.stdout, second.stderr] { #expect(!output.contains(secret)) }
        let site = try rigSite(rig)
        #expect(try site.environment().value(for: "EMAIL_PASSWORD") == secret)
        #expect(try fetchPage(rig, path: "", sessionKey: nil).contains("stagefix rig site"), "the site still serves")
    }

    @Test func smokeChecksTheSiteAndProvesTheSessionOverHTTP() async throws {
        let result = try await play([playbooks + "/smoke.yml", "--host", rig.host, "--var", "base_url=" + baseURL, "--var", "page=/whoami/"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        // And it fails (1, remote failure) when the page does not show the user.
        let failing = try await play([playbooks + "/smoke.yml", "--host", rig.host, "--var", "base_url=" + baseURL, "--var", "page=/", "--format", "json"])
        #expect(failing.status == 1)
        let host = try #require((try json(failing.stdout)["hosts"] as? [[String: Any]])?.first)
        #expect((host["error"] as? [String: Any])?["kind"] as? String == "remote_failure")
        #expect((host["steps"] as? [[String: Any]])?.map { $0["status"] as? String } == ["ok", "ok", "ok", "failed"])
    }

    @Test func resetEmptiesTheDatabase() async throws {
        let key = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "reset@example.com"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let result = try await play([playbooks + "/reset.yml", "--host", rig.host])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: key).contains("anonymous"))
    }

    @Test func aMalformedPlaybookIs65WithItsPositionAndContactsNoHost() async throws {
        let before = try connectionsLogged()
        let path = try temporaryFile("bad.yml", "name: bad\nsteps:\n  - flush: {}\n  - create_sesion: [a@example.com]\n")
        let result = try await play([path, "--host", rig.host])
        #expect(result.status == 65)
        #expect(result.stderr.contains("bad.yml:4:5: unknown key `create_sesion` in step 2"), "\(result.stderr)")
        let missingVar = try await play([path.replacingOccurrences(of: "bad.yml", with: "") + "../x.yml", "--host", rig.host])
        #expect(missingVar.status == 65)
        #expect(try connectionsLogged() == before)
    }

    @Test func aDryRunPrintsThePlanAndOpensNoConnection() async throws {
        let before = try connectionsLogged()
        let result = try await play([playbooks + "/provision-env.yml", "--host", rig.host, "--dry-run"], environment: ["EMAIL_PASSWORD": "dry-run-secret"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("SITENAME=\(rig.host)"))
        #expect(result.stdout.contains("DJANGO_SECRET_KEY=<generated if missing>"))
        #expect(!result.stdout.contains("dry-run-secret"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(try connectionsLogged() == before, "a dry run must not connect")
    }

    /// http_get with a path: the host's `site.url` in stagefix.yml gives the site's address (here the
    /// rig's, over https), and the session cookie goes with it.
    @Test func anHTTPGetPathIsFetchedFromTheHostsSiteURL() async throws {
        let book = try temporaryFile("site-url.yml", """
            steps:
              - create_session: { emails: [site-url@example.com] }
                register: login
              - http_get: { url: /whoami/, session: login, contains: ["logged in as site-url@example.com"] }
            """)
        let config = try temporaryFile("stagefix.yml", "hosts:\n  \(rig.host):\n    site:\n      url: \(rig["RIG_SITE_URL"])\n")
        let result = try await play([book, "--host", rig.host, "-c", config, "--format", "json"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let steps = try #require((try json(result.stdout)["hosts"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]])
        #expect((steps.last?["output"] as? [String: Any])?["url"] as? String == rig["RIG_SITE_URL"] + "whoami/", "\(steps)")

        let noSiteURL = try temporaryFile("stagefix.yml", "hosts:\n  \(rig.host):\n    role: staging\n")
        let refused = try await play([book, "--host", rig.host, "-c", noSiteURL, "--format", "json"])
        #expect(refused.status == 65, "\(refused.stderr)")
        let failed = try #require((try json(refused.stdout)["hosts"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]]).last
        #expect(((failed?["error"] as? [String: Any])?["message"] as? String)?.contains("site.url") == true, "\(refused.stdout)")
    }

    @Test func aFailingHostDoesNotStopTheOthers() async throws {
        // A second, staging-looking alias whose port is closed: unreachable (69).
        let closedPort = try freePort(on: rig.address)
        let sshConfig = try String(contentsOfFile: rig.sshConfig, encoding: .utf8)
            + "\nHost down.staging.test\n    HostName \(rig.address)\n    Port \(closedPort)\n    User \(rig.user)\n    IdentityFile \(rig.clientKey)\n    UserKnownHostsFile \(rig.knownHosts)\n"
        let config = try temporaryFile("ssh_config", sshConfig)
        let result = try await Stagefix.run(["play", playbooks + "/fresh-login.yml", "-F", config, "--host", "down.staging.test", "--host", rig.host, "--format", "json"])
        #expect(result.status == 69, "\(result.stderr)")
        let hosts = try #require(try json(result.stdout)["hosts"] as? [[String: Any]])
        #expect(hosts.map { $0["host"] as? String } == ["down.staging.test", rig.host])
        #expect(hosts.map { $0["exit_code"] as? Int } == [69, 0])
        #expect((hosts[0]["error"] as? [String: Any])?["kind"] as? String == "unreachable")
        #expect((hosts[0]["steps"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String == "skipped" } == true)
    }

    @Test func twoConcurrentRunsOnOneHostSerialiseThroughTheLock() async throws {
        let trace = "lock-trace-\(UUID().uuidString.prefix(8))"
        let book = try temporaryFile("slow.yml", """
            vars:
              tag: x
            steps:
              - exec: "echo start {{ tag }} >> \(trace); sleep 1; echo end {{ tag }} >> \(trace)"
            """)
        async let first = play([book, "--host", rig.host, "--var", "tag=A"])
        async let second = play([book, "--host", rig.host, "--var", "tag=B"])
        let results = try await [first, second]
        #expect(results.map(\.status) == [0, 0], "\(results.map(\.stderr))")
        let lines = try String(contentsOfFile: rig["RIG_HOME"] + "/" + trace, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == ["start A", "end A", "start B", "end B"] || lines == ["start B", "end B", "start A", "end A"], "\(lines)")
        #expect(results.contains { $0.stderr.contains("waiting up to 60 s for the fixture lock on \(rig.host), held by") })
    }

    /// A playbook that starts Django has its runner take and release the lock (no lock channel of its
    /// own); that lock excludes a concurrent run as the shell's does, and `stagefix lock` sees it.
    @Test func theDjangoRunnerTakesTheLockAndItSerialisesRunsLikeTheShellsLock() async throws {
        let trace = "runner-lock-trace-\(UUID().uuidString.prefix(8))"
        let book = try temporaryFile("flush-then-slow.yml", """
            vars:
              tag: x
            steps:
              - flush: {}
              - exec: "echo start {{ tag }} >> \(trace); sleep 1; echo end {{ tag }} >> \(trace)"
            """)
        async let first = play([book, "--host", rig.host, "--var", "tag=A", "-v"])
        async let second = play([book, "--host", rig.host, "--var", "tag=B", "-v"])
        let results = try await [first, second]
        #expect(results.map(\.status) == [0, 0], "\(results.map(\.stderr))")
        let lines = try String(contentsOfFile: rig["RIG_HOME"] + "/" + trace, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == ["start A", "end A", "start B", "end B"] || lines == ["start B", "end B", "start A", "end A"], "\(lines)")
        for result in results {
            #expect(result.stderr.contains("acquired by the Django runner"), "\(result.stderr)")
            #expect(result.stderr.contains("released by the Django runner"), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: rig["RIG_HOME"] + "/.stagefix/locks/\(rig.host).lock"), "the lock is released")

        // A shell-taken lock (`stagefix lock`) holds off a runner-taken one, naming its holder.
        async let holder = Stagefix.run(["lock", "-F", rig.sshConfig, rig.host, "--", "sleep", "3"])
        try await Task.sleep(for: .milliseconds(1200))
        let blocked = try await play([book, "--host", rig.host, "--lock-timeout", "0.5", "-v"])
        #expect(blocked.status == 75, "\(blocked.stderr)")
        #expect(blocked.stderr.contains("stagefix lock -- sleep 3"), "\(blocked.stderr)")
        #expect(try await holder.status == 0)
    }

    @Test func aHeldLockTimesOutWith75NamingTheHolderAndNestedRunsPassThrough() async throws {
        async let holder = Stagefix.run(["lock", "-F", rig.sshConfig, rig.host, "--", "sleep", "3"])
        try await Task.sleep(for: .milliseconds(1200))
        let blocked = try await play([playbooks + "/reset.yml", "--host", rig.host, "--lock-timeout", "0.5"])
        #expect(blocked.status == 75)
        #expect(blocked.stderr.contains("held by"), "\(blocked.stderr)")
        #expect(blocked.stderr.contains("stagefix lock -- sleep 3"))
        #expect(try await holder.status == 0)

        // Inside `stagefix lock`, a playbook on the same host runs at once: the lock is its parent's.
        let nested = try await Stagefix.run(["lock", "-F", rig.sshConfig, rig.host, "--lock-timeout", "5", "--",
            Stagefix.binary, "play", playbooks + "/reset.yml", "-F", rig.sshConfig, "--host", rig.host, "--lock-timeout", "0"])
        #expect(nested.status == 0, "\(nested.stderr)")
        #expect(!FileManager.default.fileExists(atPath: rig["RIG_HOME"] + "/" + ".stagefix/locks/\(rig.host).lock"), "the lock is released")
        let exitCode = try await Stagefix.run(["lock", "-F", rig.sshConfig, rig.host, "--", "sh", "-c", "exit 7"])
        #expect(exitCode.status == 7)
    }

    @Test func aStaleLockFromADeadOwnerIsBroken() async throws {
        let lockPath = rig["RIG_HOME"] + "/.stagefix/locks/\(rig.host).lock"
        let hostname = try runLocal("/bin/uname", ["-n"]).trimmingCharacters(in: .whitespacesAndNewlines)
        // A pid that cannot be alive: beyond pid_max.
        let stale = "{\"acquired\":\"2026-01-01T00:00:00Z\",\"command\":\"stagefix play crashed.yml\",\"machine\":\"\(hostname)\",\"nonce\":\"dead\",\"owner\":\"ci@\(hostname)\",\"pid\":99999999,\"stale_after_seconds\":3600}\n"
        try FileManager.default.createDirectory(atPath: (lockPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try stale.write(toFile: lockPath, atomically: true, encoding: .utf8)
        try runLocal("/bin/chown", ["-R", "\(rig.user):\(rig.user)", rig["RIG_HOME"] + "/.stagefix"])
        let result = try await play([playbooks + "/reset.yml", "--host", rig.host, "--lock-timeout", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("breaking the stale fixture lock"))
        #expect(!FileManager.default.fileExists(atPath: lockPath))
    }
}
}
