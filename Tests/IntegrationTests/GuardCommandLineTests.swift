// The production guard through the binary: refusals (77) change nothing; config errors say where.
import Foundation
import Testing

extension SiteDatabaseTests {
@Suite(.serialized, .enabled(if: Stagefix.isAvailable && !(Rig.shared?["RIG_SITE_URL"].isEmpty ?? true), "needs the rig with its site: run scripts/test"))
struct GuardCommandLineTests {
    let rig = Rig.shared!

    @Test func sessionCreateLogsInAndItsNetscapeJarWorksWithCurl() async throws {
        let key = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "jar@example.com"])
        #expect(key.status == 0)
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: key.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).contains("logged in as jar@example.com"))
        let jar = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "jar@example.com", "--format", "netscape"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jar-\(UUID().uuidString)").path
        try jar.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        let page = try runLocal("/usr/bin/curl", ["-s", "-b", path] + rig.siteCurlOptions + [rig.siteNameURL + "whoami/"])
        #expect(page.contains("logged in as jar@example.com"))
    }

    /// Loads a format's JSON the way the browser tool would read it, and logs in with it over https
    /// (the site at its address, only the rig's CA trusted).
    private static let cookieLoader = """
        import json, ssl, sys, urllib.request
        fmt, url, host, ca = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
        data = json.load(sys.stdin)
        if fmt == "selenium": cookies = [data]                    # driver.add_cookie(dict)
        elif fmt == "playwright": cookies = data                  # context.add_cookies(list)
        elif fmt == "playwright-state": cookies = data["cookies"] # new_context(storage_state=...)
        else: cookies = [s["cookie"] for s in data["sessions"]]  # --format json
        cookie = cookies[0]
        for key in ("name", "value", "domain", "path"): assert key in cookie, key
        assert cookie["domain"] == host and cookie["path"] == "/", cookie
        request = urllib.request.Request(url + "whoami/", headers={"Host": host, "Cookie": cookie["name"] + "=" + cookie["value"]})
        print(urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca)).read().decode())
        """

    @Test(arguments: ["selenium", "playwright", "playwright-state", "json"])
    func everyJSONCookieShapeLogsIn(format: String) async throws {
        let output = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "shape@example.com", "--format", format])
        #expect(output.status == 0, "\(output.stderr)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", Self.cookieLoader, format, rig["RIG_SITE_URL"], rig.host, rig["RIG_SITE_CA"]]
        let input = Pipe(), result = Pipe()
        process.standardInput = input
        process.standardOutput = result
        try process.run()
        input.fileHandleForWriting.write(Data(output.stdout.utf8))
        try input.fileHandleForWriting.close()
        let page = String(decoding: result.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(page.contains("logged in as shape@example.com"), "\(format): \(page)")
    }

    @Test func aHostDeclaredProductionIsRefusedAndNotFlushed() async throws {
        let key = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "survivor@example.com"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let config = try writeStagefixYML("hosts:\n  \(rig.host):\n    role: production\n")
        let result = try await Stagefix.run(["db", "flush", "-F", rig.sshConfig, "-c", config, rig.host, "--yes"])
        #expect(result.status == 77)
        #expect(result.stderr.contains("role: production"))
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: key).contains("logged in as survivor@example.com"))
        let verdict = try await Stagefix.run(["guard", "-F", rig.sshConfig, "-c", config, rig.host, "--format", "json"])
        #expect(verdict.status == 77)
        #expect(verdict.stdout.contains("\"allowed\":false"))
    }

    @Test func anAliasPointingAtProductionIsRefusedByAddressAndHostKey() async throws {
        // "production" is the rig itself under another name; the alias looks like staging.
        let sshConfig = try String(contentsOfFile: rig.sshConfig, encoding: .utf8)
            + "\nHost safe-staging\n    HostName \(rig.address)\n    Port \(rig.port)\n    User \(rig.user)\n    IdentityFile \(rig.clientKey)\n    UserKnownHostsFile \(rig.knownHosts)\n"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-alias-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try sshConfig.write(toFile: directory + "/ssh_config", atomically: true, encoding: .utf8)
        let config = try writeStagefixYML("hosts:\n  \(rig.host):\n    role: production\n  safe-staging:\n    role: staging\n")
        let marker = "/tmp/stagefix-marker-\(UUID().uuidString)"
        let result = try await Stagefix.run(["exec", "-F", directory + "/ssh_config", "-c", config, "safe-staging", "--", "touch \(marker)"])
        #expect(result.status == 77)
        #expect(result.stderr.contains("address"))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func anUnknownHostIsRefusedWithTheLineThatWouldMarkIt() async throws {
        let result = try await Stagefix.run(["exec", "-F", rig.sshConfig, "\(rig.user)@\(rig.address):\(rig.port)", "--", "true"])
        #expect(result.status == 77)
        #expect(result.stderr.contains("\(rig.address): { role: staging }"))
    }

    @Test func aServerNamingAnotherHostIsRefused() async throws {
        // The rig's env says SITENAME=staging.rig.test; reach it under another staging-looking name.
        let sshConfig = try String(contentsOfFile: rig.sshConfig, encoding: .utf8).replacingOccurrences(of: "Host \(rig.host)", with: "Host other-staging.example.com")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-other-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try sshConfig.write(toFile: directory + "/ssh_config", atomically: true, encoding: .utf8)
        let config = try writeStagefixYML("hosts:\n  other-staging.example.com:\n    site:\n      path: ~/sites/\(rig.host)\n")
        let result = try await Stagefix.run(["db", "flush", "-F", directory + "/ssh_config", "-c", config, "other-staging.example.com", "--yes"])
        #expect(result.status == 77)
        #expect(result.stderr.contains("another host"))
    }

    @Test func checkReportsEachStep() async throws {
        let result = try await Stagefix.run(["check", "-F", rig.sshConfig, rig.host, "--format", "json"])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["ok"] as? Bool == true)
        let names = (object?["checks"] as? [[String: Any]])?.map { $0["name"] as? String ?? "" }
        #expect(names == ["ssh config", "reachable", "host key", "authentication", "guard", "env file", "site", "create_session", "database marker"])
    }

    @Test func checkReportsTheSiteTheEnvFileAndCreateSession() async throws {
        let result = try await Stagefix.run(["check", "-F", rig.sshConfig, rig.host])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for name in ["guard", "env file", "site", "create_session"] {
            #expect(result.stdout.contains("ok   \(name)"), "\(name): \(result.stdout)")
        }
        // No site there: nothing can say it is staging, and check says why (the folder is missing).
        let config = try writeStagefixYML("hosts:\n  \(rig.host):\n    site:\n      path: ~/sites/nowhere\n")
        let missing = try await Stagefix.run(["check", "-F", rig.sshConfig, "-c", config, rig.host])
        #expect(missing.status == 77)
        #expect(missing.stdout.contains("FAIL guard"), "\(missing.stdout)")
        #expect(missing.stdout.contains("~/sites/nowhere does not exist"), "\(missing.stdout)")
    }

    @Test func aMistypedConfigKeyIsError78WithItsPosition() async throws {
        let config = try writeStagefixYML("hosts:\n  \(rig.host):\n    rol: staging\n")
        let result = try await Stagefix.run(["exec", "-F", rig.sshConfig, "-c", config, rig.host, "--", "true"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("stagefix.yml:3:5"))
        #expect(result.stderr.contains("unknown key 'rol'"))
    }

    @Test func anInvalidEmailIs65AndNothingRuns() async throws {
        let result = try await Stagefix.run(["session", "create", "-F", rig.sshConfig, rig.host, "a@b.c$(touch /tmp/stagefix-x)", "--format", "json"])
        #expect(result.status == 65)
        #expect(result.stdout.contains("\"kind\":\"invalid_data\""))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/stagefix-x"))
    }
}
}
