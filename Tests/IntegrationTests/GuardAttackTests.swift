// Issue 15's attacks, each against the real rigs: production on its own machine (own login user and
// home, a canary), and the book's shared machine (staging and live sites under one user, the live
// database marked production). Every refused attempt is 77 (the lock: 75 after waiting), and
// production's files, database and sshd log are unchanged afterwards.
import Foundation
import Testing

@Suite(.serialized, .enabled(if: Stagefix.isAvailable && Rig.production != nil && Rig.sharedMachineStaging != nil && Rig.sharedMachineLive != nil,
                             "needs the production and shared-machine rigs: run scripts/test"))
struct GuardAttackTests {
    let production = Rig.production!
    let staging = Rig.sharedMachineStaging!
    let live = Rig.sharedMachineLive!

    // MARK: what must not change

    private struct ProductionState: Equatable {
        var files: [String: Data]
        var commandSessions: Int
    }

    private func digest(_ path: String) -> Data {
        FileManager.default.contents(atPath: path) ?? Data("missing".utf8)
    }

    private func productionState() -> ProductionState {
        var files: [String: Data] = [:]
        for site in [production["RIG_SITE_DIR"], live["RIG_SITE_DIR"]] {
            for name in ["db.sqlite3", ".env"] { files[site + "/" + name] = digest(site + "/" + name) }
        }
        return ProductionState(files: files, commandSessions: production.commandSessionsInLog)
    }

    /// Runs `attack`, expects its exit status, and that production is exactly as before.
    @discardableResult
    private func expectRefused(_ arguments: [String], status expected: Int32 = 77, environment: [String: String] = [:], _ context: String) async throws -> CommandResult {
        let before = productionState()
        let result = try await Stagefix.run(arguments, environment: environment)
        #expect(result.status == expected, "\(context): exit \(result.status): \(result.stderr)")
        #expect(!result.stderr.contains("Traceback"), "\(context): \(result.stderr)")
        #expect(productionState() == before, "\(context): production changed")
        let page = try fetchPage(production, path: "whoami/", sessionKey: production["RIG_CANARY_KEY"])
        #expect(page.contains("logged in as \(production["RIG_CANARY_EMAIL"])"), "canary gone after: \(context)")
        return result
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-attack-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        return directory + "/" + name
    }

    /// An ssh_config entry reaching `rig`'s machine under another name.
    private func alias(_ name: String, to rig: Rig) -> String {
        "Host \(name)\n    HostName \(rig.address)\n    Port \(rig.port)\n    User \(rig.user)\n    IdentityFile \(rig.clientKey)\n    IdentitiesOnly yes\n    UserKnownHostsFile \(rig.knownHosts)\n    StrictHostKeyChecking yes\n"
    }

    // MARK: 1. every command that can write checks the database marker, in the process that writes

    @Test func manageAndItsPlaybookStepCheckTheMarker() async throws {
        try staging.markDatabase("production")
        defer { try? staging.markDatabase(nil) }
        let host = staging.host, config = staging.sshConfig
        try await expectRefused(["db", "flush", "-F", config, host, "--yes"], "db flush on a production-marked database")
        let manage = try await expectRefused(["manage", "-F", config, host, "--yes", "--", "flush", "--noinput"], "manage flush on a production-marked database")
        #expect(manage.stderr.contains("marked production"), "\(manage.stderr)")
        try await expectRefused(["manage", "-F", config, host, "--", "shell", "-c", "print('read')"], "manage shell on a production-marked database")
        let playbook = try write("manage.yml", "name: manage-flush\nsteps:\n  - name: flush through manage\n    manage: flush --noinput\n")
        try await expectRefused(["play", playbook, "-F", config, "--host", host], "a playbook manage step")
        // The users are still there: the staging site's database was not flushed either.
        let users = try staging.runAsUser("import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from auth_user').fetchone()[0])", [staging["RIG_SITE_DIR"] + "/db.sqlite3"])
        #expect((Int(users.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0)
    }

    @Test func aStagingNamedSiteOnProductionsDatabaseIsRefusedEvenForReads() async throws {
        // The shared-database accident with the database production really owns (marked production).
        let name = "staging-wrongdb.shared.rig.test"
        let mirror = try mirrorSite(staging, name: name, replacing: ["SITENAME": name, "DJANGO_DB_PATH": live["RIG_SITE_DIR"] + "/db.sqlite3"])
        let strict = try write("stagefix.yml", "guard:\n  require_db_marker: true\n")
        let read = try await expectRefused(["manage", "-F", mirror.sshConfig, "-c", strict, name, "--", "shell", "-c", "from accounts.models import User; print(User.objects.count())"], "manage shell reading production's database")
        #expect(read.stdout.isEmpty, "nothing of production's database was printed: \(read.stdout)")
        try await expectRefused(["session", "create", "--flush", "--yes", "-F", mirror.sshConfig, name, "intruder@example.com"], "session create --flush on production's database")
    }

    // MARK: 2. the guard judges the site acted on, not an env file

    @Test func aConfigAimingAtProductionsFolderIsRefused() async throws {
        let host = staging.host
        let typo = try write("stagefix.yml", "guard:\n  identity_keys: [SITE_NAME]\nhosts:\n  \(host):\n    site:\n      path: ~/sites/\(live.host)\n")
        let flush = try await expectRefused(["db", "flush", "-F", staging.sshConfig, "-c", typo, host, "--yes"], "identity_keys typo + production's folder")
        #expect(flush.stderr.contains("named like a production site"), "\(flush.stderr)")
        let check = try await Stagefix.run(["check", "-F", staging.sshConfig, "-c", typo, host])
        #expect(check.status == 77 && check.stdout.contains("FAIL guard"), "\(check.stdout)")

        let borrowed = try write("stagefix.yml", "hosts:\n  \(host):\n    site:\n      path: ~/sites/\(live.host)\n      env_file: ~/sites/\(host)/.env\n")
        let env = try await expectRefused(["manage", "-F", staging.sshConfig, "-c", borrowed, host, "--", "check"], "staging's env with production's folder")
        #expect(env.stderr.contains("outside the site folder"), "\(env.stderr)")

        // A site path where the server has no site: nothing there says staging.
        let sshConfig = try write("ssh_config", alias("staging-copy.rig.test", to: production))
        let nowhere = try write("stagefix.yml", "defaults:\n  site:\n    path: /srv/{host}\n")
        try await expectRefused(["exec", "-F", sshConfig, "-c", nowhere, "staging-copy.rig.test", "--", "true"], "exec with a site path that does not exist")
        try await expectRefused(["db", "flush", "-F", sshConfig, "-c", nowhere, "staging-copy.rig.test", "--yes"], "flush with a site path that does not exist")
    }

    // MARK: 3. machines, not only sites

    @Test func onTheSharedMachineSiteCommandsWorkAndAShellIsRefused() async throws {
        let host = staging.host, config = staging.sshConfig
        let exec = try await expectRefused(["exec", "-F", config, host, "--", "touch", "sites/\(live.host)/pwned"], "exec on the shared machine")
        #expect(exec.stderr.contains(live.host), "names the production site it found: \(exec.stderr)")
        #expect(!FileManager.default.fileExists(atPath: live["RIG_SITE_DIR"] + "/pwned"))

        let key = try await Stagefix.run(["session", "create", "-F", config, host, "shared@example.com", "--flush", "--yes"])
        #expect(key.status == 0, "\(key.stderr)")
        #expect(try fetchPage(staging, path: "whoami/", sessionKey: lastLine(key.stdout)).contains("logged in as shared@example.com"))
        let flush = try await Stagefix.run(["db", "flush", "-F", config, host, "--yes"])
        #expect(flush.status == 0, "\(flush.stderr)")
        let set = try await Stagefix.run(["env", "set", "-F", config, host, "SHARED_MACHINE_OK=1"])
        #expect(set.status == 0, "\(set.stderr)")
        let maildir = FileManager.default.temporaryDirectory.appendingPathComponent("attack-mail-\(UUID().uuidString.prefix(8))").path
        let mail = try await Stagefix.run(["mail", "serve", "-F", config, "--via", host, "--listen", "127.0.0.1:0", "--maildir", maildir, "--duration", "1"])
        #expect(mail.status == 77, "mail serve --via opens a port on the machine: \(mail.stderr)")
    }

    @Test func aStagingAliasForTheProductionMachineIsRefused() async throws {
        // No stagefix.yml: the alias looks like staging, but the machine is production's.
        let sshConfig = try write("ssh_config", alias("staging.example.com", to: production))
        try await expectRefused(["exec", "-F", sshConfig, "staging.example.com", "--", "true"], "exec through a staging alias")
        try await expectRefused(["session", "create", "-F", sshConfig, "staging.example.com", "intruder@example.com"], "session through a staging alias")
        // With production in the user's own ssh_config, its address and key are known without stagefix.yml.
        let both = try write("ssh_config", alias("staging.example.com", to: production) + "\n" + alias(production.host, to: production))
        let guardReport = try await Stagefix.run(["guard", "-F", both, "staging.example.com", "--format", "json"])
        #expect(guardReport.status == 77)
        #expect(guardReport.stdout.contains("production-machine"), "\(guardReport.stdout)")
        #expect(guardReport.stdout.contains("the production host \(production.host)"), "\(guardReport.stdout)")
    }

    // MARK: sites that name themselves otherwise keep working

    @Test func aThirdEditionSiteWithoutSitenameWorksAndOneWithNoIdentityIsMarkedOnce() async throws {
        let rig = Rig.shared!
        // The book's 3rd edition: DJANGO_ALLOWED_HOST, no SITENAME; no stagefix.yml.
        let third = "staging-third.rig.test"
        let thirdSite = try mirrorSite(rig, name: third, replacing: ["SITENAME": ""], appending: "\nDJANGO_ALLOWED_HOST=\(third)\n")
        let key = try await Stagefix.run(["session", "create", "-F", thirdSite.sshConfig, third, "third@example.com"])
        #expect(key.status == 0, "\(key.stderr)")
        #expect(try fetchPage(rig, path: "whoami/", sessionKey: lastLine(key.stdout)).contains("logged in as third@example.com"))

        // No identity key at all: refused with what to do, until its database is marked staging.
        let bare = "staging-bare.rig.test"
        let bareSite = try mirrorSite(rig, name: bare, replacing: ["SITENAME": "", "DJANGO_DB_PATH": rig["RIG_HOME"] + "/sites/\(bare)/db.sqlite3"])
        try FileManager.default.copyItem(atPath: rig["RIG_SITE_DIR"] + "/db.sqlite3", toPath: bareSite.directory + "/db.sqlite3")
        try runLocal("/bin/chown", ["\(rig.user):\(rig.user)", bareSite.directory + "/db.sqlite3"])
        try rig.markDatabase(nil, database: bareSite.directory + "/db.sqlite3")
        let refused = try await Stagefix.run(["db", "flush", "-F", bareSite.sshConfig, bare, "--yes"])
        #expect(refused.status == 77, "\(refused.stderr)")
        #expect(refused.stderr.contains("identity_keys") && refused.stderr.contains("db mark \(bare) staging"), "\(refused.stderr)")
        let exec = try await Stagefix.run(["exec", "-F", bareSite.sshConfig, bare, "--", "true"])
        #expect(exec.status == 77, "a shell needs the site's identity: \(exec.stderr)")
        let mark = try await Stagefix.run(["db", "mark", "-F", bareSite.sshConfig, bare, "staging"])
        #expect(mark.status == 0, "\(mark.stderr)")
        let flush = try await Stagefix.run(["db", "flush", "-F", bareSite.sshConfig, bare, "--yes"])
        #expect(flush.status == 0, "\(flush.stderr)")
        let guardReport = try await Stagefix.run(["guard", "-F", bareSite.sshConfig, bare])
        #expect(guardReport.stdout.contains("marked staging"), "\(guardReport.stdout)")
    }

    @Test func markingStagingOnTheSharedMachineNeedsTheSitesIdentity() async throws {
        // Staging's database pointed at production's on the shared machine: no mark can label it.
        let name = "staging-marks.shared.rig.test"
        let mirror = try mirrorSite(staging, name: name, replacing: ["SITENAME": "", "DJANGO_DB_PATH": live["RIG_SITE_DIR"] + "/db.sqlite3"])
        try await expectRefused(["db", "mark", "-F", mirror.sshConfig, name, "staging"], "db mark staging without identity on the shared machine")
    }

    // MARK: 6. the lock binds every destructive command

    @Test func anotherRunsLockMakesEveryDestructiveCommandWait() async throws {
        let host = staging.host, config = staging.sshConfig
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: Stagefix.binary)
        holder.arguments = ["lock", "-F", config, host, "--", "sleep", "6"]
        holder.standardInput = FileHandle.nullDevice
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        let lockFile = staging["RIG_HOME"] + "/.stagefix/locks/\(host).lock"
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: lockFile) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(FileManager.default.fileExists(atPath: lockFile))

        for (arguments, what) in [(["db", "flush", host, "--yes"], "db flush"), (["session", "create", host, "w@example.com", "--flush", "--yes"], "session create --flush"),
                                  (["env", "set", host, "LOCKED_OUT=1"], "env set"), (["manage", host], "manage")] {
            let started = Date()
            let result = try await Stagefix.run(arguments + ["-F", config, "--lock-timeout", "1"] + (what == "manage" ? ["--", "check"] : []))
            #expect(result.status == 75, "\(what): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("stagefix lock"), "\(what) names the holder: \(result.stderr)")
            #expect(Date().timeIntervalSince(started) >= 1, "\(what) waited")
        }
        // A command run by the lock's holder (its token) does not wait for it.
        let record = try String(contentsOfFile: lockFile, encoding: .utf8)
        let nonce = try #require((try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any])?["nonce"] as? String)
        let inside = try await Stagefix.run(["db", "flush", "-F", config, host, "--yes", "--lock-timeout", "0"], environment: ["STAGEFIX_LOCK_TOKENS": "\(host)=\(nonce)"])
        #expect(inside.status == 0, "\(inside.stderr)")
        holder.waitUntilExit()
        let after = try await Stagefix.run(["db", "flush", "-F", config, host, "--yes", "--lock-timeout", "0"])
        #expect(after.status == 0, "once released: \(after.stderr)")
    }

    // MARK: 7. no lost env updates; mail stays in the staging site

    @Test func twentyParallelEnvSetsKeepAllTwenty() async throws {
        let host = staging.host, config = staging.sshConfig
        let keys = (0..<20).map { "PARALLEL_KEY_\($0)" }
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for key in keys { group.addTask { try await Stagefix.run(["env", "set", "-F", config, host, "\(key)=value-\(key)"]).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 0 }, "\(statuses)")
        let text = try String(contentsOfFile: staging["RIG_SITE_DIR"] + "/.env", encoding: .utf8)
        let kept = keys.filter { text.contains("\($0)=value-\($0)") }
        #expect(kept.count == 20, "kept \(kept.count) of 20")
        #expect(!FileManager.default.fileExists(atPath: staging["RIG_SITE_DIR"] + "/.env.stagefix-edit.lock"))
    }

    @Test func tenParallelPlaybooksThatEditTheEnvKeepAllTen() async throws {
        let keys = (0..<10).map { "PLAYBOOK_KEY_\($0)" }
        let playbooks = try keys.map { key in try write("env.yml", "name: one-key\nsteps:\n  - name: set it\n    env_set:\n      \(key): \"set\"\n") }
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for playbook in playbooks {
                group.addTask { try await Stagefix.run(["play", playbook, "-F", staging.sshConfig, "--host", staging.host, "--lock-timeout", "120"]).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 0 }, "\(statuses)")
        let text = try String(contentsOfFile: staging["RIG_SITE_DIR"] + "/.env", encoding: .utf8)
        #expect(keys.filter { text.contains("\($0)=set") }.count == 10)
    }

    @Test func mailNeverReachesIntoAProductionSitesFolder() async throws {
        let host = staging.host, config = staging.sshConfig
        let liveMail = live["RIG_SITE_DIR"] + "/sent_emails"
        try? FileManager.default.createDirectory(atPath: liveMail, withIntermediateDirectories: true)
        try "Subject: production mail\n\nkeep me\n".write(toFile: liveMail + "/20260101-000000-1.log", atomically: true, encoding: .utf8)
        for source in ["django-files:~/sites/\(live.host)/sent_emails", "maildir:~/sites/\(live.host)/sent_emails", "django-files:~/sites/\(host)/../\(live.host)/sent_emails"] {
            let result = try await expectRefused(["mail", "reset", "-F", config, host, "--source", source], "mail reset --source \(source)")
            #expect(result.stderr.contains("production"), "\(result.stderr)")
        }
        #expect(FileManager.default.fileExists(atPath: liveMail + "/20260101-000000-1.log"), "production's mail is still there")
        #expect(!FileManager.default.fileExists(atPath: liveMail + "/.stagefix-mark"))
    }

    // MARK: a secret given as a playbook variable

    @Test func aPlaybookSummaryMasksAnEnvSecretGivenAsAVariable() async throws {
        let secret = try #require(try String(contentsOfFile: staging["RIG_SITE_DIR"] + "/.env", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("DJANGO_SECRET_KEY=") }.map { String($0.dropFirst("DJANGO_SECRET_KEY=".count)) })
        let playbook = try write("leak.yml", "name: leak\nvars:\n  tag:\n    description: a tag\nsteps:\n  - name: check with a tag\n    manage: check --tag {{ tag }}\n")
        let result = try await Stagefix.run(["play", playbook, "-F", staging.sshConfig, "--host", staging.host, "--var", "tag=\(secret)", "--format", "json"])
        #expect(result.status != 0)
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "\(result.stdout)")
    }
}
