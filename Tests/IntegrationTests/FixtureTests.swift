// Fixtures against the real Django site: session keys that log in, flush, the env as data.
import Foundation
import SSH
import StagefixCore
import Testing

/// The rig's site through the library (no ssh_config needed): one session per site object.
func rigSite(_ rig: Rig, layout: SiteLayout? = nil) throws -> StagingSite {
    let session = try SSHSession.connect(rig.connectionOptions(timeout: 30))
    return StagingSite(session: session, host: rig.host, layout: layout ?? .defaults(for: rig.host), timeout: 60, trace: nil)
}

/// GET a page of the rig site by its name over https with a session cookie; returns the body.
func fetchPage(_ rig: Rig, path: String, sessionKey: String?, cookieName: String = "sessionid") throws -> String {
    var arguments = ["-s", "--max-time", "10"] + rig.siteCurlOptions
    if let sessionKey { arguments += ["-b", "\(cookieName)=\(sessionKey)"] }
    arguments.append(rig.siteNameURL + path)
    return try runLocal("/usr/bin/curl", arguments)
}

func lastLine(_ text: String) -> String {
    text.split(separator: "\n").last.map(String.init) ?? ""
}

// One suite, serialized: flush empties the database the other tests' sessions live in.
extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Rig.isAvailable && !(Rig.shared?["RIG_SITE_URL"].isEmpty ?? true), "needs the rig with its site: run scripts/test"))
struct FixtureTests {
    let rig = Rig.shared!

    @Test func aSessionKeyFromTheServersEnvLogsAnHTTPClientIn() throws {
        let site = try rigSite(rig)
        let keys = try site.createSessions(for: [try EmailAddress("edith@example.com"), try EmailAddress("o'brien@example.com"), try EmailAddress("a+tag@example.com")])
        #expect(keys.count == 3)
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: keys[0].value).contains("logged in as edith@example.com"))
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: keys[1].value).contains("logged in as o'brien@example.com"))
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: keys[2].value).contains("logged in as a+tag@example.com"))
    }

    @Test func aKeyMadeWithoutTheServersEnvDoesNotLogIn() throws {
        // The control: the book's command run with no env makes a session the live site rejects.
        let session = try SSHSession.connect(rig.connectionOptions())
        let result = try session.capture("cd ~/sites/\(rig.host) && env -i PATH=/usr/bin:/bin .venv/bin/python manage.py create_session control@example.com", timeout: 60)
        let key = String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(SessionKey(key) != nil)
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: key).contains("anonymous"))
    }

    @Test func flushLogsTheUserOutAndEmptiesTheTables() throws {
        let site = try rigSite(rig)
        let key = try site.createSessions(for: [try EmailAddress("flushme@example.com")])[0]
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: key.value).contains("logged in"))
        try site.flushDatabase()
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: key.value).contains("anonymous"))
        let count = try site.manage([["shell", "-c", "from django.contrib.auth import get_user_model; print(get_user_model().objects.count())"]])[0]
        // Django 5.2's shell announces its automatic imports first: the answer is the last line.
        #expect(lastLine(count.stdout) == "0")
    }

    @Test func trickyEnvValuesReachTheCommandByteExact() throws {
        let site = try rigSite(rig)
        let expectedData = try Data(contentsOf: URL(fileURLWithPath: Rig.packageRoot + "/Tests/Fixtures/site/tricky.expected.json"))
        let expected = try JSONSerialization.jsonObject(with: expectedData) as? [String: String] ?? [:]
        let keys = expected.keys.sorted()
        let script = "import os, json; print(json.dumps({k: os.environ.get(k) for k in \(keys)}))"
        let output = try site.manage([["shell", "-c", script]])[0]
        #expect(output.exit.succeeded, "\(output.stderr)")
        let seen = try JSONSerialization.jsonObject(with: Data(lastLine(output.stdout).utf8)) as? [String: String] ?? [:]
        #expect(seen == expected)
    }

    @Test func theSecretIsInNoProcesssArgvDuringASlowCommand() async throws {
        let site = try rigSite(rig)
        let secret = try site.environment().value(for: "DJANGO_SECRET_KEY") ?? ""
        #expect(secret.count > 20)
        // The rig's server is this machine: scan every process's argv while the command sleeps.
        let scan = Task.detached { () -> [String] in
            var offenders: [String] = []
            for _ in 0..<30 {
                for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pid) != nil {
                    guard let argv = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
                    let text = String(decoding: argv.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
                    if text.contains(secret) { offenders.append(text) }
                }
                try? await Task.sleep(nanoseconds: 50_000_000)
            }
            return offenders
        }
        let output = try site.manage([["shell", "-c", "import time; time.sleep(2)"]])[0]
        #expect(output.exit.succeeded)
        let offenders = await scan.value
        #expect(offenders.isEmpty, "secret found in argv: \(offenders.first ?? "")")
    }

    @Test func envSetKeepsTheRestOfTheFileAndItsModeAndIsIdempotent() throws {
        let scratch = "scratch-\(UUID().uuidString.prefix(8)).env"
        let original = "# staging env\r\nexport SITENAME=staging.rig.test\r\nEMAIL_HOST='smtp.example.com' # relay\r\n\r\nKEEP=\"x y\"\r\n"
        let setup = try SSHSession.connect(rig.connectionOptions())
        let path = "sites/\(rig.host)/\(scratch)"
        _ = try setup.capture("cat > \(path) && chmod 640 \(path)", stdin: Array(original.utf8), timeout: 10)
        defer { _ = try? setup.capture("rm -f \(path)", timeout: 10) }

        let layout = SiteLayout(projectPath: "~/sites/\(rig.host)", envFile: scratch)
        let edits = try EnvEdits.parse(assignments: ["EMAIL_HOST=mail.example.com", "NEW_KEY=it's $fine"], fromLocal: [], generate: ["DJANGO_SECRET_KEY"], localEnvironment: [:])
        let first = try rigSite(rig, layout: layout).applyEnvEdits(edits)
        #expect(Set(first.changedKeys) == ["EMAIL_HOST", "NEW_KEY", "DJANGO_SECRET_KEY"])
        let sftp = try SFTPClient(session: setup, timeout: 10)
        let afterFirst = String(decoding: try sftp.readFile(path), as: UTF8.self)
        #expect(afterFirst.hasPrefix("# staging env\r\nexport SITENAME=staging.rig.test\r\nEMAIL_HOST=mail.example.com # relay\r\n\r\nKEEP=\"x y\"\r\n"))
        #expect(try sftp.attributes(of: path)?.permissions == 0o640)
        let parsed = EnvFile(parsing: afterFirst)
        #expect(parsed.value(of: "NEW_KEY") == "it's $fine")
        #expect(parsed.value(of: "DJANGO_SECRET_KEY")?.count == 50)

        let second = try rigSite(rig, layout: layout).applyEnvEdits(edits)
        #expect(second.changedKeys.isEmpty)
        #expect(String(decoding: try sftp.readFile(path), as: UTF8.self) == afterFirst)
    }

    @Test func aBadEnvLineIsReportedAndTheRestStillWorks() throws {
        let scratch = "broken-\(UUID().uuidString.prefix(8)).env"
        let setup = try SSHSession.connect(rig.connectionOptions())
        let path = "sites/\(rig.host)/\(scratch)"
        let real = String(decoding: try SFTPClient(session: setup, timeout: 10).readFile("sites/\(rig.host)/.env"), as: UTF8.self)
        _ = try setup.capture("cat > \(path)", stdin: Array(("this line is broken 'oops\n" + real).utf8), timeout: 10)
        defer { _ = try? setup.capture("rm -f \(path)", timeout: 10) }
        let site = try rigSite(rig, layout: SiteLayout(projectPath: "~/sites/\(rig.host)", envFile: scratch))
        let environment = try site.environment()
        #expect(environment.problems.map(\.line) == [1])
        let key = try site.createSessions(for: [try EmailAddress("badline@example.com")])[0]
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: key.value).contains("logged in as badline@example.com"))
    }

    @Test func aMissingSiteOrInterpreterIsNamedWithTheFix() throws {
        let missing = try rigSite(rig, layout: SiteLayout(projectPath: "~/sites/nowhere.staging.test", envFile: nil))
        #expect {
            _ = try missing.createSessions(for: [try EmailAddress("x@example.com")])
        } throws: { error in
            String(describing: error).contains("site folder ~/sites/nowhere.staging.test does not exist") && ExitStatus(for: error) == .configuration
        }
        let noPython = try rigSite(rig, layout: SiteLayout(projectPath: "~/sites/\(rig.host)", python: "venv/bin/python"))
        #expect {
            try noPython.flushDatabase()
        } throws: { error in
            String(describing: error).contains("interpreter") && String(describing: error).contains("site.python")
        }
    }
}
}
