// The audit log: one parseable JSON line per record, none lost or interleaved under concurrency.
import Foundation
import StagefixCore
import Testing

struct AuditLogTests {
    @Test func concurrentAppendsGiveOneWholeLineEach() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-audit-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = AuditLog(path: directory + "/state/audit.jsonl")
        let long = String(repeating: "x", count: 5000)
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let record = AuditRecord(time: Date(), localUser: "tester", host: "staging.example.com", address: "127.0.0.2", hostKeyFingerprint: "SHA256:abc", command: "db flush \(index) \(long)", exitStatus: 0, durationSeconds: 0.1234)
            try? log.append(record)
        }
        let lines = try String(contentsOfFile: log.path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 64)
        let commands = try lines.map { line -> String in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["command"] as? String ?? ""
        }
        #expect(Set(commands).count == 64)
        let mode = try FileManager.default.attributesOfItem(atPath: log.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func thePathFollowsXDGStateHome() {
        #expect(AuditLog.defaultPath(environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]) == "/s/stagefix/audit.jsonl")
        #expect(AuditLog.defaultPath(environment: ["HOME": "/h"]) == "/h/.local/state/stagefix/audit.jsonl")
    }
}
