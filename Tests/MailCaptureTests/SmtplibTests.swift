// The real server on a socket, driven by Python's smtplib; the checks read the bytes that landed in new/.
import Foundation
import Testing
@testable import MailCapture

@Suite("Capture server with smtplib")
struct SmtplibTests {
    private func run(_ fixture: CaptureFixture, _ script: String) async throws -> [String: Any] {
        let result = try await runSMTPClient(port: fixture.port, script)
        try #require(result.status == 0, "python failed:\n\(result.output)")
        return try decodeJSON(result)
    }

    private func base64(_ value: Any?) throws -> [UInt8] {
        let text = try #require(value as? String)
        return Array(try #require(Data(base64Encoded: text)))
    }

    @Test func aSimpleMessageIsStoredWithItsEnvelope() async throws {
        try await withCaptureServer { fixture in
            let json = try await run(fixture, #"""
            msg = b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\nHello Bob.\r\nNo newline at the end"
            s = smtplib.SMTP("127.0.0.1", port, timeout=5)
            s.login("user", "any password")
            s.mail("alice@example.com")
            s.rcpt("bob@example.com")
            code, text = s.data(msg)
            local_port = s.sock.getsockname()[1]
            s.quit()
            print(json.dumps({"code": code, "text": text.decode(), "local_port": local_port}))
            """#)
            #expect(json["code"] as? Int == 250)
            let text = try #require(json["text"] as? String)
            #expect(text.hasPrefix("2.0.0 Ok: queued as "))
            let id = String(text.dropFirst("2.0.0 Ok: queued as ".count))

            let files = try fixture.newMessages()
            #expect(Array(files.keys) == [id])
            let stored = try StoredFile(try #require(files[id]))
            let localPort = try #require(json["local_port"] as? Int)
            #expect(stored.peer == "127.0.0.1:\(localPort)")
            #expect(stored.mailFrom == "<alice@example.com>")
            #expect(stored.rcptTo == "bob@example.com")
            // smtplib ends the last line with CRLF before the "."; that CRLF is part of the message.
            let expected = Array("From: alice@example.com\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\nHello Bob.\r\nNo newline at the end\r\n".utf8)
            #expect(stored.message == expected)
            #expect(try fixture.tmpFiles() == [])

            #expect(fixture.notified.all == [StoredMessage(
                id: id,
                path: fixture.maildir + "/new/" + id,
                mailFrom: "alice@example.com",
                recipients: ["bob@example.com"],
                peer: "127.0.0.1:\(localPort)",
                size: expected.count
            )])
        }
    }

    @Test func twoMessagesOverOneConnection() async throws {
        try await withCaptureServer { fixture in
            _ = try await run(fixture, #"""
            s = smtplib.SMTP("127.0.0.1", port, timeout=5)
            s.ehlo()
            # AUTH LOGIN with the username as initial response, then the 334 password prompt.
            s.user, s.password = "user", "pw"
            s.auth("LOGIN", s.auth_login)
            s.sendmail("one@example.com", ["x@example.com"], b"Subject: first\r\n\r\nbody one\r\n")
            s.sendmail("two@example.com", ["y@example.com"], b"Subject: second\r\n\r\nbody two\r\n")
            s.quit()
            print(json.dumps({}))
            """#)
            let stored = try fixture.newMessages().values.map(StoredFile.init).sorted { $0.mailFrom < $1.mailFrom }
            #expect(stored.map(\.mailFrom) == ["<one@example.com>", "<two@example.com>"])
            #expect(stored.map(\.rcptTo) == ["x@example.com", "y@example.com"])
            #expect(stored.map(\.message) == [
                Array("Subject: first\r\n\r\nbody one\r\n".utf8),
                Array("Subject: second\r\n\r\nbody two\r\n".utf8),
            ])
            // Both came over one connection: the same client port.
            #expect(Set(stored.map(\.peer)).count == 1)
        }
    }

    @Test func linesStartingWithADotArriveUnstuffed() async throws {
        try await withCaptureServer { fixture in
            _ = try await run(fixture, #"""
            msg = b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\n..\r\nend.\r\n"
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as s:
                s.sendmail("dots@example.com", ["r@example.com"], msg)
            print(json.dumps({}))
            """#)
            let stored = try fixture.newMessages().values.map(StoredFile.init)
            #expect(stored.map(\.message) == [Array("Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\n..\r\nend.\r\n".utf8)])
        }
    }

    @Test func threeRecipientsAreAllInTheHeader() async throws {
        try await withCaptureServer { fixture in
            let json = try await run(fixture, #"""
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as s:
                refused = s.sendmail("", ["a@example.com", "b@example.org", "c@example.net"], b"Subject: many\r\n\r\nhi\r\n")
            print(json.dumps({"refused": refused}))
            """#)
            #expect((json["refused"] as? [String: Any])?.isEmpty == true)
            let stored = try fixture.newMessages().values.map(StoredFile.init)
            #expect(stored.map(\.rcptTo) == ["a@example.com, b@example.org, c@example.net"])
            #expect(stored.map(\.mailFrom) == ["<>"])
            #expect(stored.map(\.message) == [Array("Subject: many\r\n\r\nhi\r\n".utf8)])
        }
    }

    @Test func anInternationalMessageWithSMTPUTF8() async throws {
        try await withCaptureServer { fixture in
            let json = try await run(fixture, #"""
            import email.generator, io
            from email.message import EmailMessage
            m = EmailMessage()
            m["From"] = "jörg@example.com"
            m["To"] = "zoë@example.org"
            m["Subject"] = "Grüße aus Köln ✓"
            m.set_content("Héllo wörld, ça va?\n.a line with a leading dot\n", cte="8bit")
            s = smtplib.SMTP("127.0.0.1", port, timeout=5)
            # Non-ASCII addresses make smtplib send MAIL FROM with SMTPUTF8 and BODY=8BITMIME.
            s.send_message(m)
            encoding = s.command_encoding
            s.quit()
            # The bytes smtplib sent: it flattens an international message with this generator.
            sent = io.BytesIO()
            email.generator.BytesGenerator(sent, policy=m.policy.clone(utf8=True)).flatten(m, linesep="\r\n")
            print(json.dumps({"sent": base64.b64encode(sent.getvalue()).decode(), "encoding": encoding}))
            """#)
            #expect(json["encoding"] as? String == "utf-8", "smtplib used SMTPUTF8")
            let sent = try base64(json["sent"])
            let stored = try fixture.newMessages().values.map(StoredFile.init)
            try #require(stored.count == 1)
            #expect(stored[0].mailFrom == "<jörg@example.com>")
            #expect(stored[0].rcptTo == "zoë@example.org")
            #expect(stored[0].message == sent)
            // Raw UTF-8 in the header and 8-bit body, not encoded words or quoted-printable.
            let text = String(decoding: stored[0].message, as: UTF8.self)
            #expect(text.contains("\r\nSubject: Grüße aus Köln ✓\r\n"))
            #expect(text.contains("\r\n\r\nHéllo wörld, ça va?\r\n.a line with a leading dot\r\n"))
        }
    }
}
