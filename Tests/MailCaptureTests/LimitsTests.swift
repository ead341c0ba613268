// The capture server's limits against the real server (issue 16): a connection cap, an idle timeout,
// a Maildir quota for the run and a bound on message data held in memory across connections.
import Foundation
import Testing
@testable import MailCapture

@Suite("Capture server limits")
struct LimitsTests {
    private func openInData(_ port: Int) throws -> RawSMTPClient {
        let client = try RawSMTPClient(port: port)
        _ = try client.readReply()
        try client.send("EHLO limits.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        #expect(try (0..<4).map { _ in try client.readReply().code } == [250, 250, 250, 354])
        return client
    }

    @Test func oneConnectionOverTheCapIsAnswered421AndClosed() async throws {
        try await withCaptureServer(configure: { $0.maxConnections = 2 }) { fixture in
            let first = try RawSMTPClient(port: fixture.port)
            let second = try RawSMTPClient(port: fixture.port)
            #expect(try first.readReply().code == 220)
            #expect(try second.readReply().code == 220)
            let third = try RawSMTPClient(port: fixture.port)
            #expect(try third.readReply().code == 421)
            #expect(try third.readToEnd() == [])
            // A served connection ending makes room again.
            try first.send("QUIT\r\n")
            #expect(try first.readReply().code == 221)
            _ = try first.readToEnd()
            try await Task.sleep(for: .milliseconds(100))
            let fourth = try RawSMTPClient(port: fixture.port)
            #expect(try fourth.readReply().code == 220)
        }
    }

    @Test func aSilentConnectionIsClosedAfterTheIdleTimeout() async throws {
        try await withCaptureServer(configure: { $0.idleTimeoutSeconds = 0.3 }) { fixture in
            let client = try openInData(fixture.port)
            try client.send("Subject: slow\r\n\r\nand then noth")  // a slowloris stops mid-message
            let started = Date()
            let reply = try client.readReply()
            #expect(reply.code == 421)
            #expect(Date().timeIntervalSince(started) < 3)
            #expect(try client.readToEnd() == [])
            #expect(try fixture.newMessages().isEmpty)
        }
    }

    @Test func aMessagePastTheRunsQuotaIsRefused452AndNotStored() async throws {
        try await withCaptureServer(configure: { $0.maildirQuotaBytes = 100 }) { fixture in
            let client = try openInData(fixture.port)
            try client.send("Subject: small\r\n\r\nfits\r\n.\r\n")
            #expect(try client.readReply().code == 250)
            try client.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
            #expect(try (0..<3).map { _ in try client.readReply().code } == [250, 250, 354])
            try client.send("Subject: big\r\n\r\n" + String(repeating: "x", count: 200) + "\r\n.\r\n")
            #expect(try client.readReply().code == 452)
            #expect(try fixture.newMessages().count == 1)
        }
    }

    @Test func messageDataHeldAcrossConnectionsIsBounded() async throws {
        try await withCaptureServer(configure: { $0.maxBufferedBytes = 4096 }) { fixture in
            let first = try openInData(fixture.port)
            try first.send(String(repeating: "a", count: 3000) + "\r\n")
            let second = try openInData(fixture.port)
            try second.send(String(repeating: "b", count: 3000) + "\r\n")
            // The second would take the held data past 4 KiB: refused and closed; the first goes on.
            #expect(try second.readReply().code == 452)
            #expect(try second.readToEnd() == [])
            try first.send(".\r\n")
            #expect(try first.readReply().code == 250)
            // Its data is released once stored: a new message fits again.
            let third = try openInData(fixture.port)
            try third.send(String(repeating: "c", count: 3000) + "\r\n.\r\n")
            #expect(try third.readReply().code == 250)
        }
    }
}
