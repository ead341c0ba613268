// The Django runner against real sites: any site gets working sessions (its own command checked, or
// stagefix's), the server's cookie settings reach every format, one interpreter serves an invocation,
// and the database's own marker refuses production even behind a staging name.
import Crypto
import Foundation
import SSH
import StagefixCore
import Testing

extension Rig {
    static let plain: Rig? = ProcessInfo.processInfo.environment["STAGEFIX_PLAIN_RIG_ENV"].flatMap { Rig.load(path: $0) }
    static let book: Rig? = ProcessInfo.processInfo.environment["STAGEFIX_BOOK_RIG_ENV"].flatMap { Rig.load(path: $0) }
}

/// A second site folder on the staging rig sharing its code and venv, with its own .env: how tests
/// point a staging-named site at another database or give it unusual env values.
func mirrorSite(_ rig: Rig, name: String, replacing: [String: String], appending: String = "") throws -> (sshConfig: String, directory: String) {
    let directory = rig["RIG_HOME"] + "/sites/" + name
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for entry in ["manage.py", "stagefix_site", "accounts", "rigtools", ".venv"] {
        try FileManager.default.createSymbolicLink(atPath: directory + "/" + entry, withDestinationPath: rig["RIG_SITE_DIR"] + "/" + entry)
    }
    var lines = try String(contentsOfFile: rig["RIG_SITE_DIR"] + "/.env", encoding: .utf8).components(separatedBy: "\n")
    for (key, value) in replacing {
        lines = lines.map { $0.hasPrefix(key + "=") ? "\(key)=\(value)" : $0 }
    }
    try (lines.joined(separator: "\n") + appending).write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
    try runLocal("/bin/chown", ["-hR", "\(rig.user):\(rig.user)", directory])
    try runLocal("/bin/chmod", ["600", directory + "/.env"])
    let config = try String(contentsOfFile: rig.sshConfig, encoding: .utf8).replacingOccurrences(of: "Host \(rig.host)", with: "Host \(name)")
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("mirror-\(UUID().uuidString.prefix(8))-ssh_config").path
    try config.write(toFile: path, atomically: true, encoding: .utf8)
    return (path, directory)
}

@Suite(.serialized, .enabled(if: Stagefix.isAvailable && Rig.plain != nil && Rig.book != nil, "needs the variant rigs: run scripts/test"))
struct RunnerVariantTests {
    let plain = Rig.plain!
    let book = Rig.book!

    private func jsonCookies(_ output: String, format: String) throws -> [[String: Any]] {
        let data = try JSONSerialization.jsonObject(with: Data(output.utf8))
        switch format {
        case "selenium": return [try #require(data as? [String: Any])]
        case "playwright": return try #require(data as? [[String: Any]])
        case "playwright-state": return try #require((data as? [String: Any])?["cookies"] as? [[String: Any]])
        default: return try #require((data as? [String: Any])?["sessions"] as? [[String: Any]]).compactMap { $0["cookie"] as? [String: Any] }
        }
    }

    @Test func aSiteWithoutCreateSessionGetsStagefixsSessionsWithItsOwnCookieName() async throws {
        for format in ["json", "selenium", "playwright", "playwright-state"] {
            let result = try await Stagefix.run(["session", "create", "-F", plain.sshConfig, plain.host, "plain-\(format)@example.com", "--format", format])
            #expect(result.status == 0, "\(format): \(result.stderr)")
            let cookie = try #require(try jsonCookies(result.stdout, format: format).first)
            #expect(cookie["name"] as? String == "plainsid", "\(format): the server's SESSION_COOKIE_NAME")
            let page = try fetchPage(plain, path: "whoami/", sessionKey: cookie["value"] as? String, cookieName: "plainsid")
            #expect(page.contains("logged in as plain-\(format)@example.com"), "\(format): \(page)")
        }
        // netscape: curl's own jar, with the server's cookie name.
        let jar = try await Stagefix.run(["session", "create", "-F", plain.sshConfig, plain.host, "jar@example.com", "--format", "netscape"])
        #expect(jar.stdout.contains("\tplainsid\t"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plain-jar-\(UUID().uuidString)").path
        try jar.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        let page = try runLocal("/usr/bin/curl", ["-s", "-b", path] + plain.siteCurlOptions + [plain.siteNameURL + "whoami/"])
        #expect(page.contains("logged in as jar@example.com"))
    }

    @Test func builtinSessionsAreIdempotentAndCarryStaffAndGroups() async throws {
        for _ in 0..<2 {
            let result = try await Stagefix.run(["session", "create", "-F", plain.sshConfig, plain.host, "admin@example.com", "--staff", "--group", "editors"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try fetchPage(plain, path: "whoami/", sessionKey: lastLine(result.stdout), cookieName: "plainsid").contains("logged in as admin@example.com"))
        }
        let query = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"select count(*), max(is_staff), (select count(*) from auth_user_groups g join auth_group n on n.id=g.group_id where n.name='editors' and g.user_id=max(u.id)) from auth_user u where email='admin@example.com'\").fetchone())"
        let row = try runLocal("/usr/bin/python3", ["-c", query, plain["RIG_SITE_DIR"] + "/db.sqlite3"])
        #expect(row.trimmingCharacters(in: .whitespacesAndNewlines) == "(1, 1, 1)", "one user, staff, in editors: \(row)")
    }

    @Test func theBooksFragileCommandIsExplainedNotHandedOut() async throws {
        let result = try await Stagefix.run(["session", "create", "-F", book.sshConfig, book.host, "fragile@example.com", "--format", "json"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("_auth_user_hash"), "\(result.stderr)")
        #expect(result.stderr.contains("--builtin"))
        #expect(!result.stdout.contains("\"key\""))
        let builtin = try await Stagefix.run(["session", "create", "-F", book.sshConfig, book.host, "fragile@example.com", "--builtin"])
        #expect(builtin.status == 0, "\(builtin.stderr)")
        #expect(try fetchPage(book, path: "whoami/", sessionKey: lastLine(builtin.stdout)).contains("logged in as fragile@example.com"), "a signed-cookie session logs in")
    }
}

extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && !(Rig.shared?["RIG_SITE_URL"].isEmpty ?? true), "needs the rig with its site: run scripts/test"))
struct RunnerTests {
    let rig = Rig.shared!

    private func startsLogged() throws -> Int {
        // Only this site's starts: mirror sites share the file (their SITENAME differs).
        try String(contentsOfFile: rig["RIG_SITE_DIR"] + "/starts.log", encoding: .utf8).split(separator: "\n").filter { $0.hasSuffix(" " + rig.host) }.count
    }

    @Test func flushAndThreeSessionsCostOneInterpreterStart() async throws {
        var before = try startsLogged()
        let play = try await Stagefix.run(["play", Rig.packageRoot + "/playbooks/fresh-login.yml", "-F", rig.sshConfig, "--host", rig.host, "--var", "users=a@example.com,b@example.com,c@example.com"])
        #expect(play.status == 0, "\(play.stderr)")
        #expect(try startsLogged() - before == 1, "flush + 3 sessions in one playbook run")
        before = try startsLogged()
        let sessions = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "a@example.com", "b@example.com", "c@example.com"])
        #expect(sessions.status == 0)
        #expect(try startsLogged() - before == 1, "3 emails in one session create")
    }

    @Test func theRunnerProtocolSurvivesNewlinesOddTextAndAMegabyteOfEnv() throws {
        let big = String(repeating: "0123456789abcdef", count: 65536)  // 1 MiB
        let odd = "tab\tbell\u{7}esc\u{1B}[0m quote' dq\" back\\\\ $HOME `x` é 雪"
        let mirror = try mirrorSite(rig, name: "staging-bigenv.rig.test", replacing: ["SITENAME": "staging-bigenv.rig.test"],
            appending: "\nBIG_VALUE=\(big)\nMULTI_LINE=\"first\nsecond\n\"\nODD_VALUE='\(odd.replacingOccurrences(of: "'", with: ""))'\n")
        let session = try SSHSession.connect(rig.connectionOptions(timeout: 30))
        let site = StagingSite(session: session, host: "staging-bigenv.rig.test", layout: .defaults(for: "staging-bigenv.rig.test"), timeout: 60, trace: nil)
        defer { site.closeRunner(); session.disconnect() }
        let output = try site.runner().call(["env_digest", "BIG_VALUE", "MULTI_LINE", "ODD_VALUE"]).stdout
        let digests = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [Any]])
        let environment = try site.environment()
        for key in ["BIG_VALUE", "MULTI_LINE", "ODD_VALUE"] {
            let value = try #require(environment.value(for: key))
            let expected = SHA256.hash(data: Data(value.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(digests[key]?.first as? String == expected, "\(key) arrives byte-exact")
        }
        #expect(environment.value(for: "MULTI_LINE") == "first\nsecond\n")
        _ = mirror
    }

    @Test func aManagementCommandThatRaisesIsATypedErrorWithItsLastLine() throws {
        let session = try SSHSession.connect(rig.connectionOptions(timeout: 30))
        let site = StagingSite(session: session, host: rig.host, layout: .defaults(for: rig.host), timeout: 60, trace: nil)
        defer { site.closeRunner(); session.disconnect() }
        #expect {
            try site.runner().call(["fail_loudly"])
        } throws: { error in
            guard let error = error as? StagefixError, case .remoteCommandFailed = error, ExitStatus(for: error) == .remoteCommandFailed else { return false }
            return error.description.contains("ValueError: the rig's fail_loudly command failed on purpose")
        }
        // An exception quoting an env value is shown masked.
        let secret = try #require(try site.environment().value(for: "DJANGO_SECRET_KEY"))
        #expect {
            try site.runner().call(["fail_loudly", "--quote-secret"])
        } throws: { error in
            let text = String(describing: error)
            return !text.contains(secret) && text.contains("cannot connect with key ******")
        }
        // The runner is still there for the next request.
        #expect(try site.runner().marker().database.hasSuffix("db.sqlite3"))
    }

    /// A site whose env lives in its "container": a wrapper that loads it, as `docker exec` would.
    private func containerSite(_ name: String, sitename: String) throws -> (sshConfig: String, config: String) {
        let mirror = try mirrorSite(rig, name: name, replacing: ["SITENAME": sitename])
        try FileManager.default.moveItem(atPath: mirror.directory + "/.env", toPath: mirror.directory + "/.env.container")
        let wrapper = mirror.directory + "/container-python"
        try "#!/bin/sh\nset -a; . \(mirror.directory)/.env.container; set +a\nexec \(mirror.directory)/.venv/bin/python \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
        try runLocal("/bin/chmod", ["755", wrapper])
        try runLocal("/bin/chown", ["-h", "\(rig.user):\(rig.user)", wrapper, mirror.directory + "/.env.container"])
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("container-\(UUID().uuidString.prefix(8)).yml").path
        try "hosts:\n  \(name):\n    site:\n      env_file: none\n      command_prefix: ./container-python manage.py\n".write(toFile: config, atomically: true, encoding: .utf8)
        return (mirror.sshConfig, config)
    }

    @Test func aContainerisedSiteWorksAndItsOwnEnvironmentIsItsIdentity() async throws {
        let name = "staging-container.rig.test"
        let site = try containerSite(name, sitename: name)
        let result = try await Stagefix.run(["session", "create", "-F", site.sshConfig, "-c", site.config, name, "boxed@example.com"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(result.stdout)).contains("logged in as boxed@example.com"))
        let verdict = try await Stagefix.run(["guard", "-F", site.sshConfig, "-c", site.config, name])
        #expect(verdict.stdout.contains("the site's SITENAME names \(name)"), "\(verdict.stdout)")

        // The same wrapper whose environment says it is production, reached by a staging-looking name.
        let disguised = "staging-boxed-copy.rig.test"
        let production = try containerSite(disguised, sitename: "www.rig.test")
        let refused = try await Stagefix.run(["db", "flush", "-F", production.sshConfig, "-c", production.config, disguised, "--yes"])
        #expect(refused.status == 77, "\(refused.stderr)")
        #expect(refused.stderr.contains("names www.rig.test"))
    }

    @Test func anUnmarkedDatabaseIsRefusedWhenTheConfigRequiresAMarkerUntilMarked() async throws {
        let copy = rig["RIG_SITE_DIR"] + "/db.unmarked.sqlite3"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: rig["RIG_SITE_DIR"] + "/db.sqlite3", toPath: copy)
        try runLocal("/usr/bin/python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('drop table if exists stagefix_environment'); c.commit()", copy])
        try runLocal("/bin/chown", ["\(rig.user):\(rig.user)", copy])
        let name = "staging-unmarked.rig.test"
        let mirror = try mirrorSite(rig, name: name, replacing: ["SITENAME": name, "DJANGO_DB_PATH": copy])
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("require-marker-\(UUID().uuidString.prefix(8)).yml").path
        try "guard:\n  require_db_marker: true\n".write(toFile: config, atomically: true, encoding: .utf8)
        let refused = try await Stagefix.run(["db", "flush", "-F", mirror.sshConfig, "-c", config, name, "--yes"])
        #expect(refused.status == 77, "\(refused.stderr)")
        #expect(refused.stderr.contains("no environment marker"))
        let check = try await Stagefix.run(["check", "-F", mirror.sshConfig, "-c", config, name])
        #expect(check.stdout.contains("FAIL database marker"), "\(check.stdout)")
        let mark = try await Stagefix.run(["db", "mark", "-F", mirror.sshConfig, "-c", config, name, "staging"])
        #expect(mark.status == 0, "\(mark.stderr)")
        let flushed = try await Stagefix.run(["db", "flush", "-F", mirror.sshConfig, "-c", config, name, "--yes"])
        #expect(flushed.status == 0, "\(flushed.stderr)")
        let after = try await Stagefix.run(["check", "-F", mirror.sshConfig, "-c", config, name])
        #expect(after.stdout.contains("marked staging"), "flush keeps the marker: \(after.stdout)")
    }
}
}

extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && Rig.sharedMachineStaging != nil && Rig.sharedMachineLive != nil, "needs the shared-machine rig"))
struct DatabaseMarkerTests {
    /// The book's shared machine: the staging site can reach the live site's database file, which
    /// production really owns and its deploy marked production.
    let rig = Rig.sharedMachineStaging!
    let production = Rig.sharedMachineLive!

    @Test func aStagingSiteWhoseDatabaseIsProductionsIsRefusedByTheMarker() async throws {
        let name = "staging-mispointed.shared.rig.test"
        let before = FileManager.default.contents(atPath: production["RIG_SITE_DIR"] + "/db.sqlite3")
        let mirror = try mirrorSite(rig, name: name, replacing: ["SITENAME": name, "DJANGO_DB_PATH": production["RIG_SITE_DIR"] + "/db.sqlite3"])
        for arguments in [["db", "flush", "-F", mirror.sshConfig, name, "--yes"], ["session", "create", "-F", mirror.sshConfig, name, "intruder@example.com"],
                          ["session", "create", "--flush", "--yes", "-F", mirror.sshConfig, name, "intruder@example.com"],
                          ["db", "mark", "-F", mirror.sshConfig, name, "staging"],
                          ["play", Rig.packageRoot + "/playbooks/reset.yml", "-F", mirror.sshConfig, "--host", name]] {
            let result = try await Stagefix.run(arguments)
            #expect(result.status == 77, "\(arguments[0]) \(arguments[1]): \(result.status) \(result.stderr)")
            #expect((result.stderr + result.stdout).contains("marked production"), "\(result.stderr)")
        }
        // The playbook form of the per-test fixture (flush and create_session go as one request): the
        // flush is the step refused, and the sessions never run.
        let fixture = try await Stagefix.run(["play", Rig.packageRoot + "/playbooks/fresh-login.yml", "-F", mirror.sshConfig, "--host", name,
                                              "--var", "users=intruder@example.com", "--format", "json"])
        #expect(fixture.status == 77, "\(fixture.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(fixture.stdout.utf8)) as? [String: Any]
        let steps = ((report?["hosts"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]]) ?? []
        #expect(steps.map { $0["status"] as? String } == ["failed", "skipped"], "\(fixture.stdout)")
        #expect(FileManager.default.contents(atPath: production["RIG_SITE_DIR"] + "/db.sqlite3") == before, "production's database is byte-identical")
    }
}
}
