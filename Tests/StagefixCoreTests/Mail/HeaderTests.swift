import Foundation
import Testing

@testable import StagefixCore

@Suite("Header sections")
struct HeaderTests {
    @Test("Folded headers are unfolded with LF line endings")
    func foldingLF() throws {
        let message = try MailMessage.parse("Subject: a long\n  subject line\nX-Empty:\nTo: a@example.com\n\nbody".bytes)
        #expect(message.subject == "a long  subject line")
        #expect(message.header("x-empty") == "")
        #expect(message.textBody == "body")
    }

    @Test("Folded headers are unfolded with CRLF line endings")
    func foldingCRLF() throws {
        let message = try MailMessage.parse("Subject: a long\r\n\tsubject\r\nTo: a@example.com\r\n\r\nline 1\r\nline 2\r\n".bytes)
        #expect(message.subject == "a long\tsubject")
        #expect(message.textBody == "line 1\nline 2\n")
    }

    @Test("Header lookup ignores case and keeps every value in order")
    func caseInsensitiveLookup() throws {
        let message = try MailMessage.parse("Received: one\nRECEIVED: two\nreceived: three\nSubject: s\n\n".bytes)
        #expect(message.header("received") == "one")
        #expect(message.headerValues("Received") == ["one", "two", "three"])
        #expect(message.headerValues("X-Missing").isEmpty)
        #expect(message.header("X-Missing") == nil)
        #expect(message.headers.map(\.name) == ["Received", "RECEIVED", "received", "Subject"])
    }

    @Test("A message that is only headers parses with an empty body")
    func headersOnly() throws {
        let message = try MailMessage.parse("Subject: only headers\nTo: a@example.com".bytes)
        #expect(message.subject == "only headers")
        #expect(message.textBody == "")
        #expect(message.links.isEmpty)
    }

    @Test("Whitespace before the colon is tolerated")
    func spaceBeforeColon() throws {
        let message = try MailMessage.parse("Subject : spaced\n\n".bytes)
        #expect(message.subject == "spaced")
    }

    @Test("An mbox From_ line before the headers is skipped")
    func mboxFromLine() throws {
        let message = try MailMessage.parse("From someone@example.com Tue Apr  2 09:15:30 2024\nSubject: hi\n\nbody\n".bytes)
        #expect(message.headers.count == 1)
        #expect(message.subject == "hi")
    }

    @Test("Raw UTF-8 in headers is kept and raw latin-1 is read as windows-1252")
    func eightBitHeaders() throws {
        let utf8 = try MailMessage.parse("Subject: caf\u{E9} \u{2014} ok\n\n".bytes)
        #expect(utf8.subject == "caf\u{E9} \u{2014} ok")
        let latin1 = try MailMessage.parse([UInt8]("Subject: caf".utf8) + [0xE9, 0x20, 0x80] + [UInt8]("\n\n".utf8))
        #expect(latin1.subject == "caf\u{E9} \u{20AC}")
    }

    @Test(
        "Inputs without a header section are rejected",
        arguments: [
            "",
            "\n",
            "\r\n\r\nbody",
            " continuation first\n\n",
            "just some text\nwith lines\n",
            "Subject: ok\nthis line is not a header\n\nbody",
            ": empty name\n\n",
            "Subject ok\n\n",
        ])
    func rejectsNonMessages(input: String) {
        #expect(throws: MailParseError.self) { try MailMessage.parse(input.bytes) }
    }

    @Test("Binary garbage is rejected with a MailParseError")
    func rejectsBinary() {
        let garbage: [UInt8] = [0x00, 0xFF, 0x13, 0x37, 0x0A, 0x80, 0x3A, 0x0A, 0x0A]
        #expect(throws: MailParseError.self) { try MailMessage.parse(garbage) }
    }

    @Test("MailParseError describes itself with its message")
    func errorDescription() throws {
        do {
            _ = try MailMessage.parse("no colon here\n\n".bytes)
            Issue.record("expected an error")
        } catch let error as MailParseError {
            #expect(error.message.contains("line 1"))
            #expect(error.description == "MailParseError: \(error.message)")
        }
    }

    @Test("Changing a header's value is reflected by the accessors")
    func editableHeaders() throws {
        var message = try MailMessage.parse("To: a@example.com\n\n".bytes)
        message.headers[0].value = "b@example.com"
        #expect(message.recipients == ["b@example.com"])
        message.headers.append(MailHeader(name: "Cc", value: "C <c@example.com>"))
        #expect(message.recipients == ["b@example.com", "c@example.com"])
    }
}

@Suite("RFC 2047 encoded-words")
struct EncodedWordTests {
    func subject(_ raw: String) throws -> String? {
        try MailMessage.parse("Subject: \(raw)\n\n".bytes).subject
    }

    @Test("Q and B encoded-words decode in utf-8, iso-8859-1 and windows-1252")
    func charsets() throws {
        #expect(try subject("=?utf-8?q?Votre_lien_de_connexion_=E2=80=94_superlists?=") == Sample.subject)
        #expect(try subject("=?UTF-8?B?Vm90cmUgbGllbiBkZSBjb25uZXhpb24g4oCUIHN1cGVybGlzdHM=?=") == Sample.subject)
        #expect(try subject("=?iso-8859-1?q?caf=E9?=") == "caf\u{E9}")
        #expect(try subject("=?ISO-8859-1?B?Y2Fm6Q==?=") == "caf\u{E9}")
        #expect(try subject("=?windows-1252?Q?=93quoted=94_=80?=") == "\u{201C}quoted\u{201D} \u{20AC}")
        #expect(try subject("=?iso-8859-15?q?=A4?=") == "\u{20AC}")
        #expect(try subject("=?us-ascii?q?plain?=") == "plain")
    }

    @Test("Whitespace between adjacent encoded-words disappears, other text stays")
    func adjacentWords() throws {
        #expect(try subject("=?utf-8?q?a?= =?utf-8?q?b?=") == "ab")
        #expect(try subject("=?utf-8?q?a?=\n   =?utf-8?q?b?=") == "ab")
        #expect(try subject("=?utf-8?q?a?= b =?utf-8?q?c?=") == "a b c")
        #expect(try subject("Re: =?utf-8?q?caf=C3=A9?= ok") == "Re: caf\u{E9} ok")
    }

    @Test("A character split across two encoded-words is reassembled")
    func splitCharacter() throws {
        #expect(try subject("=?utf-8?q?=E2=80?= =?utf-8?q?=94?=") == "\u{2014}")
    }

    @Test("An RFC 2231 language suffix on the charset is ignored")
    func languageSuffix() throws {
        #expect(try subject("=?utf-8*fr?q?=C3=A0?=") == "\u{E0}")
    }

    @Test("An unknown charset decodes as lossy UTF-8")
    func unknownCharset() throws {
        #expect(try subject("=?x-klingon?q?caf=C3=A9_=FF?=") == "caf\u{E9} \u{FFFD}")
    }

    @Test("Malformed encoded-words are left as written")
    func malformed() throws {
        #expect(try subject("=?utf-8?x?abc?=") == "=?utf-8?x?abc?=")
        #expect(try subject("=?utf-8?q?unterminated") == "=?utf-8?q?unterminated")
        #expect(try subject("=??q?abc?=") == "=??q?abc?=")
        #expect(try subject("a =? b ?= c") == "a =? b ?= c")
    }
}
