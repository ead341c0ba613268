// Issue 16, text output: what the server says (env keys and values, its identity in refusals and
// check lines, cookie settings quoted in errors) reaches the terminal with every control character
// escaped; JSON stays JSON; `env show --format dotenv` names a key it cannot write (65).
import Foundation
import Testing

extension SiteDatabaseTests.HostileServerTests {
    private static let escape = "\u{1B}"

    private func noRawEscape(_ result: CommandResult, _ what: String) {
        #expect(!(result.stdout + result.stderr).contains(Self.escape), "\(what): a raw ESC reached the terminal")
    }

    @Test func envShowAndGetEscapeWhatTheServersEnvHolds() async throws {
        let name = "staging-escapes.rig.test"
        let mirror = try mirrorSite(rig, name: name, replacing: ["SITENAME": name], appending: """

            TITLE="red \(Self.escape)[31malert\(Self.escape)[0m"
            MULTI="harmless\\nSITENAME=www.example.com"
            bad-key=1

            """)
        let show = try await Stagefix.run(["env", "show", "-F", mirror.sshConfig, name, "--reveal"])
        #expect(show.status == 0, "\(show.stderr)")
        noRawEscape(show, "env show")
        #expect(show.stdout.contains(#"TITLE="red \x1b[31malert\x1b[0m""#), "\(show.stdout)")
        #expect(show.stdout.contains(#"MULTI="harmless\nSITENAME=www.example.com""#))
        #expect(!show.stdout.split(separator: "\n").contains("SITENAME=www.example.com"), "a value cannot forge a line")
        let json = try await Stagefix.run(["env", "show", "-F", mirror.sshConfig, name, "--reveal", "--format", "json"])
        let values = try #require((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["values"] as? [String: String])
        #expect(values["TITLE"] == "red \(Self.escape)[31malert\(Self.escape)[0m", "JSON carries the value exactly")
        let dotenv = try await Stagefix.run(["env", "show", "-F", mirror.sshConfig, name, "--reveal", "--format", "dotenv"])
        #expect(dotenv.status == 65, "\(dotenv.stdout)\(dotenv.stderr)")
        #expect(dotenv.stderr.contains("bad-key"))
        let get = try await Stagefix.run(["env", "get", "-F", mirror.sshConfig, name, "TITLE"])
        #expect(get.status == 0)
        noRawEscape(get, "env get")
        #expect(get.stdout == #""red \x1b[31malert\x1b[0m""# + "\n")
        let raw = try await Stagefix.run(["env", "get", "--raw", "-F", mirror.sshConfig, name, "MULTI"])
        #expect(raw.stdout == "harmless\nSITENAME=www.example.com\n", "--raw is byte for byte, for scripts")
    }

    @Test func aRefusalAndTheCheckQuoteTheServersIdentityEscaped() async throws {
        let name = "staging-identity.rig.test"
        // Another host's name (not a production one: the machine is shared with tests that run
        // commands, which a production identity here would refuse) and escapes that would hide it.
        let mirror = try mirrorSite(rig, name: name, replacing: ["SITENAME": "other.example.com\(Self.escape)[2K\(Self.escape)[1Astaging-identity.rig.test"])
        let guarded = try await Stagefix.run(["guard", "-F", mirror.sshConfig, name])
        #expect(guarded.status == 77, "\(guarded.stdout)\(guarded.stderr)")
        noRawEscape(guarded, "guard")
        #expect(guarded.stdout.contains(#"\x1b[2K"#), "\(guarded.stdout)")
        let flush = try await Stagefix.run(["db", "flush", "-F", mirror.sshConfig, name, "--yes"])
        #expect(flush.status == 77)
        noRawEscape(flush, "db flush refusal")
        let check = try await Stagefix.run(["check", "-F", mirror.sshConfig, name])
        noRawEscape(check, "check")
    }

    @Test func aCookieSettingWithEscapeIsQuotedEscapedInTheRefusal() async throws {
        let name = "staging-cookiepath.rig.test"
        let mirror = try mirrorSite(rig, name: name, replacing: ["SITENAME": name], appending: "\nSTAGEFIX_RIG_COOKIE_PATH=\"/\(Self.escape)]0;owned\u{7}\"\n")
        let result = try await Stagefix.run(["session", "create", "-F", mirror.sshConfig, name, "path@example.com"])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stderr.contains("SESSION_COOKIE_PATH"))
        noRawEscape(result, "session create")
        #expect(!result.stderr.contains("\u{7}"))
    }
}
