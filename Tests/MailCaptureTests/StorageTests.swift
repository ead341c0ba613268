// The Maildir delivery and the capture headers, on a real temporary folder.
import Foundation
import Testing
@testable import MailCapture

@Suite("Maildir storage")
struct StorageTests {
    private func temporaryMaildir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("maildir-\(UUID().uuidString)").path
    }

    @Test func prepareCreatesTheThreeFolders() throws {
        let path = temporaryMaildir() + "/nested/box"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Maildir(path: path, host: "h").prepare()
        for folder in ["tmp", "new", "cur"] {
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: path + "/" + folder, isDirectory: &isDirectory) && isDirectory.boolValue)
        }
    }

    @Test func aMaildirUnderAFileIsUnusable() throws {
        let file = temporaryMaildir()
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect {
            try Maildir(path: file + "/box", host: "h").prepare()
        } throws: { error in
            guard case .maildirUnusable(let path, _) = error as? MailCaptureError else { return false }
            return path == file + "/box" && "\(error)".hasSuffix("; give a folder you can write to")
        }
    }

    @Test func deliveryLandsInNewWithAUniqueNameAndNothingLeftInTmp() throws {
        let path = temporaryMaildir()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let maildir = Maildir(path: path, host: "box/host:1")
        try maildir.prepare()
        let first = try maildir.deliver(headers: Array("H: 1\r\n".utf8), content: Array("body\r\n".utf8))
        let second = try maildir.deliver(headers: [], content: [])
        #expect(first.uniqueName != second.uniqueName)
        #expect(first.path == path + "/new/" + first.uniqueName)
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.path)) == Data("H: 1\r\nbody\r\n".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: path + "/tmp") == [])
        // SECONDS.M<micros>P<pid>Q<counter>.HOST, with "/" and ":" escaped as the Maildir convention says.
        let pattern = #/^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.box\\057host\\0721$/#
        #expect(first.uniqueName.wholeMatch(of: pattern) != nil, "\(first.uniqueName)")
    }

    @Test func captureHeadersEscapeControlCharacters() {
        let headers = CaptureHeaders.render(peer: "127.0.0.1:1", mailFrom: "a\r\nX-Evil: 1", recipients: ["b@x", "c\n@y"])
        #expect(String(decoding: headers, as: UTF8.self)
            == "X-Peer: 127.0.0.1:1\r\nX-MailFrom: <a\\x0D\\x0AX-Evil: 1>\r\nX-RcptTo: b@x, c\\x0A@y\r\n")
    }

    @Test func captureHeadersForTheNullSender() {
        let headers = CaptureHeaders.render(peer: "[::1]:2", mailFrom: "", recipients: ["b@x"])
        #expect(String(decoding: headers, as: UTF8.self) == "X-Peer: [::1]:2\r\nX-MailFrom: <>\r\nX-RcptTo: b@x\r\n")
    }
}
