// Playbooks are checked whole before connecting: every mistake names file:line:column and what was expected.
import Foundation
@testable import StagefixCore
import Testing

struct PlaybookParserTests {
    private func parse(_ yaml: String) throws -> Playbook { try PlaybookParser.parse(yaml: yaml, path: "p.yml") }

    private func error(_ yaml: String) -> String {
        do {
            _ = try parse(yaml)
            return "parsed"
        } catch {
            return String(describing: error)
        }
    }

    @Test func aFullPlaybookParsesEveryStepKind() throws {
        let book = try parse("""
            name: everything
            description: all step kinds
            hosts: [staging.example.com]
            vars:
              users: [a@example.com, b@example.com]
              page: /whoami/
              base:
                required: true
            steps:
              - flush: {}
              - create_session: { emails: "{{ users }}" }
                register: logins
              - env_set:
                  SITENAME: "{{ host }}"
                  EMAIL_PASSWORD: { from_local: EMAIL_PASSWORD }
              - env_ensure:
                  DJANGO_SECRET_KEY: { generate: true }
              - manage: migrate --noinput
              - manage: [shell, -c, "print(1 + 1)"]
              - exec: "ls {{ page | quote }}"
              - check:
              - http_get: { url: "{{ base }}{{ page }}", session: logins, status: 200, contains: logged in }
            """)
        #expect(book.name == "everything")
        #expect(book.steps.map(\.action.kind) == ["flush", "create_session", "env_set", "env_ensure", "manage", "manage", "exec", "check", "http_get"])
        #expect(book.steps[1].register == "logins")
        #expect(book.changesHosts)
        #expect(book.variables.first { $0.name == "base" }?.defaultValue == nil)
        if case .manage(let words) = book.steps[4].action { #expect(words.map(\.source) == ["migrate", "--noinput"]) } else { Issue.record("not manage") }
    }

    @Test(arguments: [
        ("steps:\n  - flsh: {}\n", "p.yml:2:5: unknown key `flsh` in step 1"),
        ("steps:\n  - flush: {}\n    register: x\n", "p.yml:3:15: step 1 (flush): only create_session"),
        ("steps:\n  - create_session: { emails: a@x.org }\n  - http_get: { url: http://x/, session: logins }\n", "p.yml:3:5: step 2 (http_get): session `logins` is not registered"),
        ("steps:\n  - exec: \"echo {{ nope }}\"\n", "p.yml:2:11: unknown variable `{{ nope }}`"),
        ("steps:\n  - http_get: { url: http://x/, status: nine }\n", "p.yml:2:41: step 1 (http_get).status must be an HTTP status code"),
        ("steps:\n  - flush: {}\n    exec: ls\n", "p.yml:2:5: step 1 has several actions (flush, exec)"),
        ("vars:\n  x:\n    description: no default\nsteps:\n  - flush: {}\n", "p.yml:2:3: vars.x needs `default:` or `required: true`"),
        ("steps: []\n", "p.yml:1:8: `steps` must be a non-empty list"),
        ("name: x\n", "p.yml:1:1: the playbook has no `steps:`"),
        ("steps:\n  - env_set: { 9BAD: x }\n", "p.yml:2:16: step 1 (env_set): `9BAD` is not a valid env key"),
        ("steps:\n  - flush: [1]\n", "p.yml:2:12: step 1 (flush) takes no options"),
        ("steps:\n  - exec: \"{{ host \"\n", "p.yml:2:11: unclosed `{{`"),
        ("steps:\n  - exec: [a, b]\n", "p.yml:2:11: step 1 (exec) must be a single value, not a list"),
        ("steps:\n  - flush: {}\n  bad\n", "p.yml:4:1: not valid YAML: could not find expected ':'"),
    ])
    func mistakesNameTheirPosition(yaml: String, expected: String) {
        let message = error(yaml)
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test func aMissingRequiredVarNamesItsDeclaration() throws {
        let book = try parse("vars:\n  base:\n    required: true\n    description: the site URL\nsteps:\n  - exec: \"curl {{ base }}\"\n")
        #expect(throws: PlaybookError.self) { try VariableValues.resolve(book, overrides: []) }
        do {
            _ = try VariableValues.resolve(book, overrides: [])
        } catch {
            #expect(String(describing: error) == "p.yml:2:3: var `base` is required: pass --var base=VALUE (the site URL)")
        }
        #expect(try VariableValues.resolve(book, overrides: [("base", "http://x")])["base"] == .string("http://x"))
    }

    @Test func anUndeclaredVarOnTheCommandLineIsAUsageError() throws {
        let book = try parse("steps:\n  - flush: {}\n")
        #expect(throws: StagefixError.self) { try VariableValues.resolve(book, overrides: [("users", "a")]) }
    }

    @Test func listVarsExpandInListFieldsAndSplitOnCommas() throws {
        let book = try parse("vars:\n  users: [a@example.com]\nsteps:\n  - create_session: { emails: \"{{ users }}\" }\n")
        let values = try VariableValues.resolve(book, overrides: [("users", "x@example.com, o'brien@example.com")])
        let plan = try PlaybookPlanner.plan(book, host: "staging.example.com", values: values, localEnvironment: [:])
        guard case .createSession(let emails) = plan.steps[0].action else { Issue.record("not a session step"); return }
        #expect(emails.map(\.value) == ["x@example.com", "o'brien@example.com"])
    }

    @Test func anInvalidEmailFromAVarFailsBeforeConnectingWithItsPosition() throws {
        let book = try parse("vars:\n  user: a@example.com\nsteps:\n  - create_session: [\"{{ user }}\"]\n")
        let values = try VariableValues.resolve(book, overrides: [("user", "a@b.c;touch /tmp/x")])
        #expect {
            try PlaybookPlanner.plan(book, host: "h", values: values, localEnvironment: [:])
        } throws: { String(describing: $0).hasPrefix("p.yml:4:22: step 1 (create_session):") }
    }

    @Test func quotedVarsAreOneShellWordAndBareListsInStringsAreRefused() throws {
        let position = SourcePosition(file: "p.yml", line: 1, column: 1)
        let values: [String: VariableValue] = ["name": .string("it's; rm -rf /"), "users": .list(["a", "b c"])]
        #expect(try Template("echo {{ name | quote }}", position: position).render(values) == "echo 'it'\\''s; rm -rf /'")
        #expect(try Template("ls {{ users | quote }}", position: position).render(values) == "ls a 'b c'")
        #expect(throws: PlaybookError.self) { try Template("ls {{ users }}", position: position).render(values) }
        #expect(throws: PlaybookError.self) { try Template("{{ name | upper }}", position: position) }
    }

    @Test func defaultsMayNameTheHostButGivenValuesAreTakenAsIs() throws {
        let book = try parse("vars:\n  base: \"https://{{ host }}\"\nsteps:\n  - http_get: \"{{ base }}/\"\n")
        let defaults = try VariableValues.resolve(book, overrides: [])
        let plan = try PlaybookPlanner.plan(book, host: "staging.example.com", values: defaults, localEnvironment: [:])
        guard case .httpGet(let url, _, _, _, _, _) = plan.steps[0].action else { Issue.record("not http_get"); return }
        #expect(url == "https://staging.example.com/")
    }

    @Test func secretsFromTheLocalEnvironmentAreMaskedInThePlan() throws {
        let book = try parse("steps:\n  - env_set:\n      SITENAME: \"{{ host }}\"\n      MAIL_PASS: { from_local: DEPLOY_MAIL }\n      NOTE: { from_local: NOTE_SOURCE }\n")
        let plan = try PlaybookPlanner.plan(book, host: "staging.example.com", values: [:], localEnvironment: ["DEPLOY_MAIL": "hunter22", "NOTE_SOURCE": "plain-but-local"])
        let shown = PlaybookRunner.dryRun([plan])[0].steps[0].summary
        #expect(shown.contains("SITENAME=staging.example.com"))
        #expect(!shown.contains("hunter22"))
        #expect(!shown.contains("plain-but-local"))
        #expect(throws: PlaybookError.self) { try PlaybookPlanner.plan(book, host: "h", values: [:], localEnvironment: [:]) }
    }

    @Test func shippedPlaybooksAreValid() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("playbooks")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yml") }.sorted()
        #expect(names == ["fresh-login.yml", "provision-env.yml", "reset.yml", "smoke.yml"])
        for name in names { _ = try PlaybookParser.load(path: folder.appendingPathComponent(name).path) }
    }

    @Test func theReadmesExamplePlaybookIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\n# every step kind"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let book = try PlaybookParser.parse(yaml: String(readme[readme.index(after: readme.index(start.lowerBound, offsetBy: 6))..<end.lowerBound]), path: "README.md")
        #expect(Set(book.steps.map(\.action.kind)) == Set(PlaybookParser.stepKinds))
    }

    @Test func theWorstHostDecidesTheExitCode() {
        let step = PlaybookStep(index: 1, label: nil, action: .flush, register: nil, position: SourcePosition(file: "p", line: 1, column: 1))
        func host(_ error: (any Error)?) -> HostResult {
            HostResult(host: "h", steps: [StepResult(step: step, summary: "", status: error == nil ? .ok : .failed, milliseconds: 0, error: error, output: [:])], error: error, milliseconds: 0, registered: [:])
        }
        #expect(PlaybookReport.exitStatus([host(nil), host(nil)]) == .success)
        #expect(PlaybookReport.exitStatus([host(nil), host(StagefixError.timedOut("t")), host(StagefixError.refusedByGuard(["r"]))]) == .refusedByGuard)
    }
}

struct HostLockTests {
    let owner = LockOwner(owner: "ci@runner", machine: "runner", pid: 42, pidStart: "100", command: "stagefix play x", acquired: "2026-11-24T00:00:00Z", nonce: "abc", staleAfterSeconds: 60)

    @Test func aLiveOwnerWithAFreshHeartbeatHoldsTheLock() {
        #expect(LockStaleness.reason(holder: owner, age: 5, localMachine: "runner", isAlive: { _, _ in true }) == nil)
        #expect(LockStaleness.reason(holder: owner, age: 5, localMachine: "elsewhere", isAlive: { _, _ in false }) == nil)
    }

    @Test func aDeadOwnerOnThisMachineIsStaleAtOnce() {
        #expect(LockStaleness.reason(holder: owner, age: 1, localMachine: "runner", isAlive: { _, _ in false })?.contains("pid 42") == true)
    }

    @Test func aLeaseWithoutHeartbeatIsStaleFromAnyMachine() {
        #expect(LockStaleness.reason(holder: owner, age: 61, localMachine: "elsewhere", isAlive: { _, _ in true })?.contains("no heartbeat") == true)
    }

    @Test func anUnreadableLockIsStaleOnlyWhenOld() {
        #expect(LockStaleness.reason(holder: nil, age: 2, localMachine: "m", isAlive: { _, _ in true }) == nil)
        #expect(LockStaleness.reason(holder: nil, age: 31, localMachine: "m", isAlive: { _, _ in true }) != nil)
    }

    @Test func theServersAnswerIsParsed() throws {
        let text = "held 1000 990\n" + String(decoding: try JSONEncoder().encode(owner), as: UTF8.self) + "\n"
        let (age, holder) = HostLock.parseHeld(text)
        #expect(age == 10)
        #expect(holder == owner)
        #expect(HostLock.parseHeld("held 1000 990\n").holder == nil)
    }

    @Test func lockPathsAreSafeFileNames() {
        #expect(HostLock.path(for: "Staging.Example.com") == ".stagefix/locks/staging.example.com.lock")
        #expect(HostLock.path(for: "u@../../etc:22") == ".stagefix/locks/u_.._.._etc_22.lock")
    }

    @Test func tokensForNestedRunsKeepTheParentsAndAddOurs() {
        #expect(HostLock.inheritedTokens(["STAGEFIX_LOCK_TOKENS": "a.example=1,b.example=2"]) == ["a.example": "1", "b.example": "2"])
    }
}
