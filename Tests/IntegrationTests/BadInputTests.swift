// Issue 18's cases through the binary, against the rig: each bad input is one readable line with
// its documented exit code, and nothing is done on the server.
import Foundation
import Testing

@Suite(.enabled(if: Stagefix.isAvailable && !(Rig.shared?["RIG_SITE_URL"].isEmpty ?? true), "needs the rig with its site: run scripts/test"))
struct BadInputTests {
    let rig = Rig.shared!

    private func expectOneLine(_ result: CommandResult, status: Int32, containing text: String, _ context: String) {
        #expect(result.status == status, "\(context): exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains(text), "\(context): \(result.stderr)")
        #expect(!result.stderr.contains("Traceback") && !result.stderr.contains("\u{1b}"), "\(context): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count <= 2, "\(context): one line: \(result.stderr)")
    }

    @Test func anEmailThatLooksLikeAnOptionIs65BeforeConnecting() async throws {
        for email in ["-rf@x.test", "--verbosity=3@x.test"] {
            let result = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "--", email])
            expectOneLine(result, status: 65, containing: "starts with '-'", email)
        }
        let long = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, String(repeating: "\u{1b}[31m", count: 20_000)])
        expectOneLine(long, status: 65, containing: "characters)", "a 100 KB email")
        #expect(long.stderr.utf8.count < 500)
    }

    @Test func aHundredKilobyteCommandRunsAsWithOpenSSH() async throws {
        let payload = String(repeating: "a", count: 100_000)
        let result = try await Stagefix.run(["exec", "-F", rig.sshConfig, rig.host, "--", "x=\(payload); printf '%s\\n' \"${#x}\""])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "100000\n", "\(result.stdout)")
    }

    @Test func envFileProblemsAreNamedWithTheirCode() async throws {
        let nul = try mirrorSite(rig, name: "staging-nul.rig.test", replacing: ["SITENAME": "staging-nul.rig.test"], appending: "\nBAD=a\u{0}b\n")
        expectOneLine(try await Stagefix.run(["db", "flush", "-F", nul.sshConfig, "staging-nul.rig.test", "--yes"]), status: 65, containing: "NUL byte on line", "NUL in .env")

        let folder = try mirrorSite(rig, name: "staging-folder.rig.test", replacing: [:])
        try FileManager.default.removeItem(atPath: folder.directory + "/.env")
        try FileManager.default.createDirectory(atPath: folder.directory + "/.env", withIntermediateDirectories: false)
        expectOneLine(try await Stagefix.run(["db", "flush", "-F", folder.sshConfig, "staging-folder.rig.test", "--yes"]), status: 78, containing: "is a folder", ".env folder")

        let big = try mirrorSite(rig, name: "staging-big.rig.test", replacing: ["SITENAME": "staging-big.rig.test"], appending: "\nPAD=" + String(repeating: "x", count: 5 << 20) + "\n")
        expectOneLine(try await Stagefix.run(["db", "flush", "-F", big.sshConfig, "staging-big.rig.test", "--yes"]), status: 78, containing: "MiB an env file may have", "oversized .env")

        let closed = try mirrorSite(rig, name: "staging-closed.rig.test", replacing: ["SITENAME": "staging-closed.rig.test"])
        try runLocal("/bin/chmod", ["000", closed.directory + "/.env"])
        expectOneLine(try await Stagefix.run(["db", "flush", "-F", closed.sshConfig, "staging-closed.rig.test", "--yes"]), status: 78, containing: "permission denied", "unreadable .env")
    }

    @Test func aConfigThatIsNotUTF8Is78NamingTheByte() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("latin1-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // `# Zoë server` saved as Latin-1: ë is the single byte 0xEB at offset 4.
        try Data(Array("# Zo".utf8) + [0xEB] + Array(" server\nhosts: {}\n".utf8)).write(to: URL(fileURLWithPath: directory + "/stagefix.yml"))
        let result = try await Stagefix.run(["guard", "-F", rig.sshConfig, "-c", directory + "/stagefix.yml", rig.host])
        expectOneLine(result, status: 78, containing: "not UTF-8 (byte offset 4", "latin-1 stagefix.yml")
    }

    @Test func aTimedOutRunnerEndsOnTheServer() async throws {
        let name = "staging-spin.rig.test"
        let site = try mirrorSite(rig, name: name, replacing: ["SITENAME": name])
        // Timed to the process's exit (a parallel test's child can hold our pipes open longer).
        let result = try Stagefix.runTimed(["manage", "-F", site.sshConfig, "--timeout", "3", name, "--", "spin"])
        #expect(result.status == 75, "\(result.stderr)")
        #expect(result.milliseconds < 4500, "took \(result.milliseconds) ms")
        #expect(result.stderr.contains("3 s"), "the real time: \(result.stderr)")
        // The runner (its working folder is the site's) is gone once stagefix is: no runaway spin.
        var left: [String] = []
        for _ in 0..<30 {
            left = Self.processes(workingIn: site.directory)
            if left.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(left.isEmpty, "still running on the server: \(left)")
    }

    @Test func anUnusableAuditLogIsOneWarningAndTheUserComesFromTheSystem() async throws {
        // The command already ran when its record is written: one warning line, never silence.
        // (A session, not a flush: other suites' sessions live in this staging database.)
        let unusable = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "audited@example.com"], environment: ["XDG_STATE_HOME": "/dev/null"])
        #expect(unusable.status == 0, "\(unusable.stderr)")
        #expect(unusable.stderr.contains("warning: not audited") && unusable.stderr.contains("/dev/null/stagefix"), "\(unusable.stderr)")
        #expect(!unusable.stderr.contains("NSCocoaErrorDomain") && unusable.stderr.split(separator: "\n").count == 1, "\(unusable.stderr)")
        #expect(!unusable.stdout.isEmpty, "the session key is still printed")
        // $USER is whatever the caller set; the record names the account.
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString.prefix(8))").path
        let spoofed = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "audited@example.com"], environment: ["XDG_STATE_HOME": state, "USER": "mallory"])
        #expect(spoofed.status == 0, "\(spoofed.stderr)")
        let record = try String(contentsOfFile: state + "/stagefix/audit.jsonl", encoding: .utf8)
        #expect(record.contains("\"user\":\"\(NSUserName())\"") && !record.contains("mallory"), "\(record)")
    }

    static func processes(workingIn folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { Int($0) != nil }.filter { pid in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) == folder
        }
    }

    @Test func mailResetBeforeTheSitesFirstEmailMakesTheFolder() async throws {
        let name = "staging-nomail.rig.test"
        let site = try mirrorSite(rig, name: name, replacing: ["SITENAME": name])
        let reset = try await Stagefix.run(["mail", "reset", "-F", site.sshConfig, name, "--source", "django-files:~/sites/\(name)/sent_emails"])
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(reset.stdout.hasPrefix("mark:"))
        var isFolder: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: site.directory + "/sent_emails", isDirectory: &isFolder) && isFolder.boolValue)
        let owner = try FileManager.default.attributesOfItem(atPath: site.directory + "/sent_emails")[.ownerAccountName] as? String
        #expect(owner == rig.user)
        for command in ["reset", "list", "wait"] {
            let typo = try await Stagefix.run(["mail", command, "-F", site.sshConfig, name, "--source", "django-files:~/sites/\(name)/no/such/sent_emails", "--timeout", "5"]
                + (command == "wait" ? ["--to", "edith@example.com"] : []))
            expectOneLine(typo, status: 78, containing: "does not exist", "mail \(command): a source whose parent is missing")
        }
        // Before the first email, list shows an empty mailbox.
        let empty = try await Stagefix.run(["mail", "list", "-F", site.sshConfig, name, "--source", "django-files:~/sites/\(name)/not_yet"])
        #expect(empty.status == 0, "\(empty.stderr)")
    }
}
