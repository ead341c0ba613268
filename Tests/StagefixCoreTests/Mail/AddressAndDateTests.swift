import Foundation
import Testing

@testable import StagefixCore

@Suite("Addresses")
struct AddressTests {
    func recipients(_ headers: String) throws -> [String] {
        try MailMessage.parse((headers + "\n\n").bytes).recipients
    }

    @Test("Display names, quotes and comments are dropped and addresses lowercased")
    func displayForms() throws {
        #expect(try recipients("To: \"Edith O'Brien\" <Edith@Example.com>") == ["edith@example.com"])
        #expect(try recipients("To: Edith O'Brien <edith@example.com>") == ["edith@example.com"])
        #expect(try recipients("To: edith@example.com (Edith O'Brien)") == ["edith@example.com"])
        #expect(try recipients("To: \"Doe, John\" <john@example.com>, jane@example.com") == ["john@example.com", "jane@example.com"])
        #expect(try recipients("To: <@relay.example.org,@other.example:route@example.com>") == ["route@example.com"])
        #expect(try recipients("To: \"quoted local\"@example.com") == ["\"quoted local\"@example.com"])
        #expect(try recipients("To: a @ example . com") == ["a@example.com"])
        #expect(try recipients("To: x@[192.0.2.1]") == ["x@[192.0.2.1]"])
        #expect(try recipients("To: Name (with, comma) <n@example.com>") == ["n@example.com"])
    }

    @Test("Groups contribute their members; empty groups nothing")
    func groups() throws {
        #expect(try recipients("To: undisclosed-recipients:;") == [])
        #expect(try recipients("To: Team: a@example.com, \"B\" <b@example.com>;, c@example.com") == ["a@example.com", "b@example.com", "c@example.com"])
    }

    @Test("Encoded display names containing specials do not confuse address parsing")
    func encodedDisplayNames() throws {
        let headers = "To: =?utf-8?q?Doe=2C_=22J=22_=3C?= <john@example.com>, =?utf-8?b?WsO2ZQ==?= <zoe@example.com>"
        let message = try MailMessage.parse((headers + "\n\n").bytes)
        #expect(message.header("To") == "Doe, \"J\" < <john@example.com>, Z\u{F6}e <zoe@example.com>")
        #expect(message.recipients == ["john@example.com", "zoe@example.com"])
    }

    @Test("To, Cc and delivery headers are combined and deduplicated in order")
    func combined() throws {
        let headers = """
            Delivered-To: edith@example.com
            X-Original-To: orig@example.com
            Cc: C <c@example.com>, EDITH@example.com
            To: Edith <edith@example.com>
            X-RcptTo: rcpt@example.com
            Bcc: hidden@example.com
            """
        #expect(try recipients(headers) == ["edith@example.com", "c@example.com", "rcpt@example.com", "orig@example.com"])
    }

    @Test("Things that are not addresses are skipped")
    func notAddresses() throws {
        #expect(try recipients("To: just a name") == [])
        #expect(try recipients("To: <>, @example.com, local@, <a@b>") == ["a@b"])
        #expect(try recipients("To: \"unterminated <x@example.com>") == [])
        #expect(try recipients("To: <unterminated@example.com") == ["unterminated@example.com"])
    }

    @Test("From is the first mailbox's addr-spec with its case kept")
    func from() throws {
        let message = try MailMessage.parse("From: \"Super Lists\" <NoReply@Superlists.example>, other@example.com\n\n".bytes)
        #expect(message.from == "NoReply@Superlists.example")
        #expect(try MailMessage.parse("Subject: x\n\n".bytes).from == nil)
    }

    @Test("The Message-ID is the msg-id with angle brackets")
    func messageID() throws {
        #expect(try MailMessage.parse("Message-ID:  <abc@host> (comment)\n\n".bytes).messageID == "<abc@host>")
        #expect(try MailMessage.parse("Message-Id: no-brackets@host\n\n".bytes).messageID == "no-brackets@host")
        #expect(try MailMessage.parse("Subject: x\n\n".bytes).messageID == nil)
    }
}

@Suite("Dates")
struct DateTests {
    func date(_ value: String) throws -> Date? {
        try MailMessage.parse("Date: \(value)\n\n".bytes).date
    }

    @Test(
        "RFC 5322 dates and their obsolete forms parse",
        arguments: [
            ("Tue, 02 Apr 2024 09:15:30 +0200", 1_712_042_130),
            ("2 Apr 2024 07:15:30 +0000", 1_712_042_130),
            ("Tue, 2 Apr 2024 07:15:30 GMT", 1_712_042_130),
            ("Tue, 02 Apr 2024 07:15:30 -0000", 1_712_042_130),
            ("Tue, 02 Apr 2024 07:15:30 UT", 1_712_042_130),
            ("Tue, 02 Apr 2024 03:15:30 EDT", 1_712_042_130),
            ("Tue, 02 Apr 2024 00:15:30 PDT (Pacific)", 1_712_042_130),
            ("Tue, 02 Apr 24 07:15:30 Z", 1_712_042_130),
            ("tue,02 apr 2024 07:15:30 +0000", 1_712_042_130),
            ("Tue, 02 April 2024 07:15 +0000", 1_712_042_100),
            ("Tue, 02 Apr 2024 07:15:30", 1_712_042_130),
            ("Thu, 01 Jan 1970 00:00:00 +0000", 0),
            ("Wed, 31 Dec 1969 23:59:59 +0000", -1),
            ("Sat, 01 Jan 00 00:00:00 +0000", 946_684_800),
            ("Thu, 1 Jan 70 00:00:00 +0000", 0),
            ("Thu, 29 Feb 2024 12:00:00 +0000", 1_709_208_000),
        ] as [(String, Int)])
    func valid(value: String, epoch: Int) throws {
        #expect(try date(value) == Date(timeIntervalSince1970: TimeInterval(epoch)))
    }

    @Test(
        "Malformed dates are nil",
        arguments: [
            "", "yesterday", "Tue, 02 Apr 2024", "Tue, 31 Apr 2024 07:15:30 +0000", "Thu, 29 Feb 2023 12:00:00 +0000",
            "Tue, 02 Foo 2024 07:15:30 +0000", "Tue, 02 Apr 2024 24:00:00 +0000", "Tue, 02 Apr 2024 07:60:00 +0000",
            "Tue, 02 Apr 2024 07:15:30 +02", "Tue, 02 Apr 2024 07:15:30 +0260", "Tue, 02 Apr 99999 07:15:30 +0000",
            "Tue, 99999999999999999999 Apr 2024 07:15:30 +0000", "2024-04-02T07:15:30Z", "Tue, 02 Apr 2024 7:15:30:1 +0000",
        ])
    func invalid(value: String) throws {
        #expect(try date(value) == nil)
    }

    @Test("A message without a Date header has no date")
    func missing() throws {
        #expect(try MailMessage.parse("Subject: x\n\n".bytes).date == nil)
    }
}
