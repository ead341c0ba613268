// The real server over a plain TCP socket: pipelining in one write, a client hanging up mid-DATA, oversize, binding errors, stop.
import Foundation
import Testing
@testable import MailCapture

@Suite("Capture server over raw TCP")
struct RawSocketTests {
    @Test func pipelinedCommandsInOneWriteAreAnsweredInOrder() async throws {
        try await withCaptureServer { fixture in
            let client = try RawSMTPClient(port: fixture.port)
            #expect(try client.readReply().lines == ["stagefix.capture stagefix capture ESMTP"])
            // Everything, two messages and QUIT, in a single write.
            try client.send(
                "EHLO raw.example\r\nMAIL FROM:<p1@example.com>\r\nRCPT TO:<r1@example.com>\r\nDATA\r\n"
                    + "Subject: one\r\n\r\nfirst\r\n.\r\n"
                    + "MAIL FROM:<p2@example.com>\r\nRCPT TO:<r2@example.com>\r\nRCPT TO:<r3@example.com>\r\nDATA\r\n"
                    + "Subject: two\r\n\r\n..second\r\n.\r\nQUIT\r\n"
            )
            var replies: [ServerReply] = []
            for _ in 0..<11 {
                replies.append(try client.readReply())
            }
            #expect(replies.map(\.code) == [250, 250, 250, 354, 250, 250, 250, 250, 354, 250, 221])
            #expect(replies[0].lines.count == 6)
            #expect(try client.readToEnd() == [], "closed after QUIT")

            let files = try fixture.newMessages()
            let queued = [replies[4], replies[9]].map { String($0.lines[0].dropFirst("2.0.0 Ok: queued as ".count)) }
            #expect(Set(files.keys) == Set(queued))
            let first = try StoredFile(try #require(files[queued[0]]))
            let second = try StoredFile(try #require(files[queued[1]]))
            #expect(first.mailFrom == "<p1@example.com>")
            #expect(first.rcptTo == "r1@example.com")
            #expect(first.message == Array("Subject: one\r\n\r\nfirst\r\n".utf8))
            #expect(second.mailFrom == "<p2@example.com>")
            #expect(second.rcptTo == "r2@example.com, r3@example.com")
            #expect(second.message == Array("Subject: two\r\n\r\n.second\r\n".utf8))
        }
    }

    @Test func aClientThatHangsUpMidDataLeavesNothingStored() async throws {
        try await withCaptureServer { fixture in
            let quitter = try RawSMTPClient(port: fixture.port)
            _ = try quitter.readReply()
            try quitter.send("EHLO raw.example\r\nMAIL FROM:<half@example.com>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n")
            #expect(try (0..<4).map { _ in try quitter.readReply().code } == [250, 250, 250, 354])
            try quitter.send("Subject: half\r\n\r\nthe first half, and then")
            quitter.close()

            // A second client's message goes through the same event loop and file thread after the hang-up.
            let finisher = try RawSMTPClient(port: fixture.port)
            _ = try finisher.readReply()
            try finisher.send("HELO raw.example\r\nMAIL FROM:<whole@example.com>\r\nRCPT TO:<r@example.com>\r\nDATA\r\nwhole\r\n.\r\n")
            #expect(try (0..<5).map { _ in try finisher.readReply().code } == [250, 250, 250, 354, 250])

            let stored = try fixture.newMessages().values.map(StoredFile.init)
            #expect(stored.map(\.mailFrom) == ["<whole@example.com>"])
            #expect(try fixture.tmpFiles() == [])
        }
    }

    @Test func anOversizedMessageGets552AndTheNextOneOnTheConnectionIsStored() async throws {
        try await withCaptureServer(maxMessageBytes: 1024) { fixture in
            let client = try RawSMTPClient(port: fixture.port)
            _ = try client.readReply()
            try client.send("EHLO raw.example\r\nMAIL FROM:<big@example.com>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n")
            #expect(try (0..<4).map { _ in try client.readReply().code } == [250, 250, 250, 354])
            // Longer than the framer's piece size in one line, and many short lines after it.
            let big = "Subject: big\r\n\r\n" + String(repeating: "y", count: 20_000) + "\r\n"
                + String(repeating: "a line of the oversized message\r\n", count: 500)
            try client.send(big + ".\r\n")
            #expect(try client.readReply() == ServerReply(code: 552, lines: ["5.3.4 message too big"]))

            try client.send("MAIL FROM:<small@example.com>\r\nRCPT TO:<r@example.com>\r\nDATA\r\nSubject: small\r\n\r\nfits\r\n.\r\nQUIT\r\n")
            #expect(try (0..<5).map { _ in try client.readReply().code } == [250, 250, 354, 250, 221])

            let stored = try fixture.newMessages().values.map(StoredFile.init)
            #expect(stored.map(\.mailFrom) == ["<small@example.com>"])
            #expect(stored.map(\.message) == [Array("Subject: small\r\n\r\nfits\r\n".utf8)])
        }
    }

    @Test func aTakenPortGivesTheTypedError() async throws {
        try await withCaptureServer { fixture in
            let port = fixture.port
            let error = await #expect(throws: MailCaptureError.addressInUse(host: "127.0.0.1", port: port)) {
                let second = try await SMTPCaptureServer.start(CaptureServerConfiguration(port: port, maildir: fixture.maildir))
                try await second.stop()
            }
            #expect(error?.description
                == "cannot listen on 127.0.0.1:\(port): address already in use; pick another --listen port or 0 for any free one")
        }
    }

    @Test func anAddressNotOnThisMachineGivesTheTypedError() async throws {
        let maildir = FileManager.default.temporaryDirectory.appendingPathComponent("mailcapture-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: maildir) }
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
        await #expect(throws: MailCaptureError.addressNotAvailable(host: "192.0.2.1", port: 2525)) {
            let server = try await SMTPCaptureServer.start(CaptureServerConfiguration(host: "192.0.2.1", port: 2525, maildir: maildir))
            try await server.stop()
        }
    }

    @Test func aBadConfigurationIsRefusedBeforeBinding() async throws {
        await #expect(throws: MailCaptureError.self) {
            _ = try await SMTPCaptureServer.start(CaptureServerConfiguration(maildir: "/tmp/unused", hostname: "two words"))
        }
        await #expect(throws: MailCaptureError.invalidConfiguration("port 70000 is outside 0...65535")) {
            _ = try await SMTPCaptureServer.start(CaptureServerConfiguration(port: 70000, maildir: "/tmp/unused"))
        }
    }

    @Test func stopClosesOpenConnectionsAndTheListener() async throws {
        let maildir = FileManager.default.temporaryDirectory.appendingPathComponent("mailcapture-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: maildir) }
        let server = try await SMTPCaptureServer.start(CaptureServerConfiguration(maildir: maildir))
        let port = server.localAddress.port
        #expect(port > 0)
        #expect(server.localAddress.host == "127.0.0.1")
        let client = try RawSMTPClient(port: port)
        _ = try client.readReply()
        try client.send("EHLO raw.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nhalf a message\r\n")
        #expect(try (0..<4).map { _ in try client.readReply().code } == [250, 250, 250, 354])

        try await server.stop()
        #expect(try client.readToEnd() == [], "the open connection was closed")
        #expect(throws: RawClientError.self) { _ = try RawSMTPClient(port: port) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir + "/new") == [])
        // A second stop has nothing left to do.
        try await server.stop()
    }
}
