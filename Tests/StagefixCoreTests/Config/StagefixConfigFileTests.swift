// stagefix.yml by content: found from the caller's folder (or -c), and parsed from the text alone.
import Foundation
import StagefixCore
import Testing

struct StagefixConfigFileTests {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-configfile-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root + "/project/tests/deep", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try "hosts:\n  www.example.com:\n    role: production\n".write(toFile: root + "/project/stagefix.yml", atomically: true, encoding: .utf8)
    }

    @Test func theNearestStagefixYmlAboveTheFolderIsFoundWithItsText() throws {
        let file = try #require(try StagefixConfigFile.find(explicitPath: nil, searchFrom: root + "/project/tests/deep"))
        #expect(file.path == root + "/project/stagefix.yml")
        #expect(file.text.contains("role: production"))
    }

    @Test func aFolderWithoutOneHasNone() throws {
        #expect(try StagefixConfigFile.find(explicitPath: nil, searchFrom: root + "/elsewhere") == nil)
        #expect(try StagefixConfig(file: nil).productionHostNames.isEmpty)
    }

    @Test func aRelativeDashCIsReadFromTheCallersFolder() throws {
        let file = try #require(try StagefixConfigFile.find(explicitPath: "../project/stagefix.yml", searchFrom: root + "/elsewhere"))
        #expect(file.path == root + "/project/stagefix.yml")
    }

    @Test func aMissingDashCFileIsAConfigurationError() {
        #expect {
            _ = try StagefixConfigFile.find(explicitPath: "missing.yml", searchFrom: root + "/elsewhere")
        } throws: { error in
            ExitStatus(for: error) == .configuration && "\(error)".contains(root + "/elsewhere/missing.yml")
        }
    }

    @Test func theConfigComesFromTheTextNotFromTheFileOnDisk() throws {
        let sent = StagefixConfigFile(path: root + "/project/stagefix.yml", text: "hosts:\n  staging.example.com:\n    role: production\n")
        #expect(try StagefixConfig(file: sent).productionHostNames == ["staging.example.com"])
    }

    @Test func errorsNameThePathTheCallerRead() {
        let sent = StagefixConfigFile(path: "/caller/stagefix.yml", text: "hosts:\n  a:\n    rol: staging\n")
        #expect {
            _ = try StagefixConfig(file: sent)
        } throws: { error in
            "\(error)".contains("/caller/stagefix.yml:3:5")
        }
    }
}
