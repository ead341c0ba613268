// A mailbox a hostile server filled (finding 7 of issue 16): folders, FIFOs, unreadable, oversized and
// hard-linked copies of a large message beside the one a test waits for. Each is skipped alone; the
// wanted message is still found, and a scan reads a bounded number of bytes.
import Foundation
import SSH
@testable import StagefixCore
import Testing

struct MailboxBoundsTests {
    let folder: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("stagefix-maildir-\(UUID().uuidString.prefix(8))").path
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true)
        }
    }

    static func message(to: String, subject: String, padding: Int = 0) -> String {
        "From: site@example.com\r\nTo: \(to)\r\nSubject: \(subject)\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\nbody\r\n" + String(repeating: "x", count: padding) + "\r\n"
    }

    /// Reads through a counting wrapper, so the test sees how many bytes a scan read.
    final class CountingFiles: MailboxFiles {
        let local = LocalFiles()
        var bytesRead = 0
        func attributes(of path: String) throws -> RemoteFileAttributes? { try local.attributes(of: path) }
        func listDirectory(_ path: String) throws -> [String]? { try local.listDirectory(path) }
        func readFile(_ path: String, maxBytes: Int) throws -> [UInt8] {
            let bytes = try local.readFile(path, maxBytes: maxBytes)
            bytesRead += bytes.count
            return bytes
        }
        func remove(_ path: String) throws { try local.remove(path) }
        func append(_ path: String, contents: [UInt8], newFileMode: UInt32) throws { try local.append(path, contents: contents, newFileMode: newFileMode) }
        func writeFileAtomically(_ path: String, contents: [UInt8], newFileMode: UInt32) throws { try local.writeFileAtomically(path, contents: contents, newFileMode: newFileMode) }
        func makeDirectory(_ path: String, mode: UInt32) throws { try local.makeDirectory(path, mode: mode) }
    }

    @Test func badEntriesAreSkippedAloneAndTheWantedMessageIsFound() throws {
        let new = folder + "/new"
        try FileManager.default.createDirectory(atPath: new + "/a-folder", withIntermediateDirectories: true)
        #expect(mkfifo(new + "/a-fifo", 0o600) == 0)
        try Self.message(to: "big@example.com", subject: "too big", padding: Mailbox.maximumFileBytes).write(toFile: new + "/big", atomically: false, encoding: .utf8)
        // Just under the per-file bound, linked many times: the scan budget, not the count, decides.
        try Self.message(to: "copy@example.com", subject: "copy", padding: Mailbox.maximumFileBytes - 1024).write(toFile: new + "/copy-0", atomically: false, encoding: .utf8)
        for index in 1..<40 { try FileManager.default.linkItem(atPath: new + "/copy-0", toPath: new + "/copy-\(index)") }
        // The wanted message arrives last (newest mtime): a scan reads newest first.
        let wanted = new + "/wanted"
        try Self.message(to: "edith@example.com", subject: "login link").write(toFile: wanted, atomically: false, encoding: .utf8)
        var later = [timespec(tv_sec: time(nil) + 5, tv_nsec: 0), timespec(tv_sec: time(nil) + 5, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, wanted, &later, 0) == 0)
        let files = CountingFiles()
        let mailbox = Mailbox(files: files, source: .maildir(folder), host: "this machine")
        let entries = try mailbox.messages(since: nil)
        #expect(entries.contains { $0.message.recipients == ["edith@example.com"] })
        #expect(!entries.contains { $0.message.recipients == ["big@example.com"] })
        #expect(files.bytesRead <= Mailbox.maximumBytesPerScan)
        #expect(entries.filter { $0.message.recipients == ["copy@example.com"] }.count < 40)
        // A second scan (a poll) re-reads nothing unchanged.
        let before = files.bytesRead
        _ = try mailbox.messages(since: nil)
        #expect(files.bytesRead == before)
    }

    @Test func aFileWrittenBeforeTheResetIsNotEvenRead() throws {
        let old = folder + "/new/old"
        try Self.message(to: "edith@example.com", subject: "stale").write(toFile: old, atomically: false, encoding: .utf8)
        var earlier = [timespec(tv_sec: time(nil) - 100, tv_nsec: 0), timespec(tv_sec: time(nil) - 100, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, old, &earlier, 0) == 0)
        let files = CountingFiles()
        let entries = try Mailbox(files: files, source: .maildir(folder), host: "this machine").messages(since: Double(time(nil) - 10))
        #expect(entries.isEmpty)
        #expect(files.bytesRead == 0)
    }
}
