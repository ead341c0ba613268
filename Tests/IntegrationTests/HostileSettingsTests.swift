// Issue 16, the server's settings: SESSION_COOKIE_* values that cannot be a cookie are refused (78)
// before they reach a cookie jar or a request; a SESSION_COOKIE_AGE of 2**63-1 gives a 400-day cookie.
import Foundation
import Testing

extension SiteDatabaseTests.HostileServerTests {
    /// A mirror site whose .env sets the hostile values (python-dotenv reads `\n`, `\t` in double quotes).
    private func siteWith(_ name: String, _ lines: String, of site: Rig? = nil) throws -> (sshConfig: String, directory: String) {
        try mirrorSite(site ?? rig, name: name, replacing: ["SITENAME": name], appending: "\n" + lines + "\n")
    }

    @Test func aCookieDomainWithANewlineIsRefusedWith78InsteadOfForgingAJarLine() async throws {
        let name = "staging-cookiedomain.rig.test"
        let mirror = try siteWith(name, #"STAGEFIX_RIG_COOKIE_DOMAIN="evil.example.com\tFALSE\t/\tFALSE\t0\tsessionid\tforged\n#HttpOnly_.staging.rig.test""#)
        let result = try await Stagefix.run(["session", "create", "-F", mirror.sshConfig, name, "jar@example.com", "--format", "netscape"])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("SESSION_COOKIE_DOMAIN"), "\(result.stderr)")
        #expect(result.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(!result.stderr.contains("\t"))
    }

    @Test func aCookieNameWithCRLFNeverReachesAnHTTPRequest() async throws {
        let name = "staging-cookiename.rig.test"
        let mirror = try siteWith(name, #"STAGEFIX_RIG_COOKIE_NAME="sessionid\r\nX-Injected: yes""#)
        let playbook = FileManager.default.temporaryDirectory.appendingPathComponent("inject-\(UUID().uuidString.prefix(8)).yml").path
        try """
            name: inject
            steps:
              - create_session:
                  emails: [inject@example.com]
                register: login
              - http_get:
                  url: "\(rig["RIG_SITE_URL"])whoami/"
                  session: login
            """.write(toFile: playbook, atomically: true, encoding: .utf8)
        let result = try await Stagefix.run(["play", playbook, "--host", name, "-F", mirror.sshConfig])
        #expect(result.status == 78, "\(result.stdout)\n\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("SESSION_COOKIE_NAME"))
        let session = try await Stagefix.run(["session", "create", "-F", mirror.sshConfig, name, "inject@example.com", "--format", "json"])
        #expect(session.status == 78)
        #expect(!session.stdout.contains("\r"), "JSON escapes what the refusal quotes: \(session.stdout)")
    }

    @Test func aSessionCookieAgeOf2To63Minus1IsClampedTo400Days() async throws {
        let name = "staging-cookieage.rig.test"
        // The plain rig's site: stagefix makes the session on the cache engine, which takes any age
        // (the db engine's own timedelta would overflow in Django first).
        let mirror = try siteWith(name, "STAGEFIX_RIG_COOKIE_AGE=9223372036854775807", of: Rig.plain!)
        let before = Int(Date().timeIntervalSince1970)
        let result = try await Stagefix.run(["session", "create", "-F", mirror.sshConfig, name, "age@example.com", "--format", "selenium"])
        #expect(result.status == 0, "\(result.stderr)")
        let cookie = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let expiry = try #require(cookie["expiry"] as? Int)
        #expect(expiry >= before + 400 * 86400 && expiry <= Int(Date().timeIntervalSince1970) + 400 * 86400)
        let jar = try await Stagefix.run(["session", "create", "-F", mirror.sshConfig, name, "age@example.com", "--format", "netscape"])
        #expect(jar.status == 0, "\(jar.stderr)")
    }
}
