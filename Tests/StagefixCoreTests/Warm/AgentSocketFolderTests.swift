// The agent's socket folder: only a real folder of ours with no group or other bits is trusted, and
// the agent makes only the last folder of its path, never missing parents.
import Foundation
@testable import StagefixCore
import Testing

struct AgentSocketFolderTests {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-socketfolder-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    private func folder(_ name: String, mode: Int) throws -> String {
        let path = root + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    private func isUntrusted(_ state: AgentSocketFolder.State, saying words: String) -> Bool {
        if case let .untrusted(reason) = state { return reason.contains(words) }
        return false
    }

    @Test func aPrivateFolderOfOursIsTrustedAndAMissingOneIsMissing() throws {
        #expect(AgentSocketFolder.inspect(try folder("private", mode: 0o700)) == .ours)
        #expect(AgentSocketFolder.inspect(root + "/absent") == .missing)
    }

    @Test(arguments: [0o750, 0o705, 0o777, 0o1777])
    func anyGroupOrOtherBitIsRefused(mode: Int) throws {
        #expect(isUntrusted(AgentSocketFolder.inspect(try folder("open", mode: mode)), saying: "not 700"))
    }

    @Test func aSymbolicLinkToAPrivateFolderIsRefused() throws {
        let target = try folder("target", mode: 0o700)
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: target)
        #expect(isUntrusted(AgentSocketFolder.inspect(root + "/link"), saying: "symbolic link"))
    }

    @Test func aFileIsNotAFolder() throws {
        try "x".write(toFile: root + "/file", atomically: true, encoding: .utf8)
        #expect(isUntrusted(AgentSocketFolder.inspect(root + "/file"), saying: "not a folder"))
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give a folder to another user"))
    func anotherUsersPrivateFolderIsRefused() throws {
        let path = try folder("theirs", mode: 0o700)
        #expect(chown(path, 65534, 65534) == 0)
        #expect(isUntrusted(AgentSocketFolder.inspect(path), saying: "belongs to uid 65534"))
        #expect(throws: StagefixError.self) { try AgentSocketFolder.prepare(path) }
    }

    @Test func prepareMakesOnlyTheLastFolderWithMode700() throws {
        try AgentSocketFolder.prepare(root + "/made")
        let attributes = try FileManager.default.attributesOfItem(atPath: root + "/made")
        #expect(attributes[.posixPermissions] as? Int == 0o700)
        #expect {
            try AgentSocketFolder.prepare(root + "/missing-parent/stagefix")
        } throws: { error in
            ExitStatus(for: error) == .configuration && "\(error)".contains("parent folder does not exist")
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/missing-parent"))
    }

    @Test(arguments: [("/run/user/0/stagefix/agent-v3.sock", "/run/user/0/stagefix"), ("/agent.sock", "/"), ("agent.sock", "."), ("sub/agent.sock", "sub")])
    func theFolderJudgedIsTheSocketsOwn(socket: String, folder: String) {
        #expect(AgentSocket.folder(of: socket) == folder)
    }

    @Test func prepareLeavesAnOpenFolderAsItIsAndRefusesIt() throws {
        let open = try folder("shared", mode: 0o755)
        #expect(throws: StagefixError.self) { try AgentSocketFolder.prepare(open) }
        #expect(try FileManager.default.attributesOfItem(atPath: open)[.posixPermissions] as? Int == 0o755)
    }
}
