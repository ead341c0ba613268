// stagefix.yml: defaults merge, host patterns, roles, and errors with file:line:column.
import Foundation
import StagefixCore
import Testing

struct StagefixConfigTests {
    let example = """
        defaults:
          site:
            path: ~/apps/{host}
          session:
            cookie_name: sid
        guard:
          apex_domain: example.com
          identity_keys: [SITENAME, ALLOWED_HOSTS]
        hosts:
          staging.example.com:
            role: staging
            site:
              env_file: none
              command_prefix: docker exec -i superlists python manage.py
          www.example.com:
            role: production
          "*.review.example.com":
            role: staging
            session:
              cookie_secure: true
        """

    @Test func hostsInheritDefaultsAndOverrideThem() throws {
        let config = try StagefixConfig.parse(yaml: example, path: "stagefix.yml")
        let staging = config.hostSettings(for: "staging.example.com")
        #expect(staging.role == .staging)
        #expect(staging.site.projectPath == "~/apps/staging.example.com")
        #expect(staging.site.envFile == nil)
        #expect(staging.site.commandPrefix == ["docker", "exec", "-i", "superlists", "python", "manage.py"])
        #expect(staging.cookie.name == "sid")
        let review = config.hostSettings(for: "pr-12.review.example.com")
        #expect(review.role == .staging)
        #expect(review.cookie.secure)
        #expect(config.hostSettings(for: "unknown.example.net").role == nil)
        #expect(config.productionHostNames == ["www.example.com"])
        #expect(config.guardRules.identityKeys == ["SITENAME", "ALLOWED_HOSTS"])
        #expect(config.guardRules.deny == GuardRules.defaultDeny)
    }

    @Test(arguments: [
        ("hosts:\n  a:\n    rol: staging\n", "stagefix.yml:3:5", "unknown key 'rol'"),
        ("hosts:\n  a:\n    role: prod\n", "stagefix.yml:3:11", "not staging or production"),
        ("guard:\n  deny: www.*\n", "stagefix.yml:2:9", "must be a list"),
        ("nonsense: 1\n", "stagefix.yml:1:1", "unknown key 'nonsense'"),
        ("defaults:\n  session:\n    cookie_secure: maybe\n", "stagefix.yml", "not true or false"),
    ])
    func mistakesAreConfigurationErrorsWithTheirPosition(yaml: String, position: String, message: String) {
        #expect {
            _ = try StagefixConfig.parse(yaml: yaml, path: "stagefix.yml")
        } throws: { error in
            let text = String(describing: error)
            return ExitStatus(for: error) == .configuration && text.contains(position) && text.contains(message)
        }
    }

    @Test func theNearestParentsFileIsUsedAndNoFileMeansDefaults() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-cfg-\(UUID().uuidString)")
        let nested = root.appendingPathComponent("a/b")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(try StagefixConfig.load(explicitPath: nil, searchFrom: nested.path).path == nil)
        try "hosts:\n  x:\n    role: staging\n".write(to: root.appendingPathComponent("stagefix.yml"), atomically: true, encoding: .utf8)
        let found = try StagefixConfig.load(explicitPath: nil, searchFrom: nested.path)
        #expect(found.hostSettings(for: "x").role == .staging)
        #expect(throws: StagefixError.self) { try StagefixConfig.load(explicitPath: root.path + "/missing.yml", searchFrom: nested.path) }
    }
}
