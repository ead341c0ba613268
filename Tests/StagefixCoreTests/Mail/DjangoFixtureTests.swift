import Foundation
import Testing

@testable import StagefixCore

@Suite("Messages written by Django and Python's email package")
struct DjangoFixtureTests {
    @Test("A Django EmailMultiAlternatives with 8bit bodies parses completely")
    func djangoAlternatives8bit() throws {
        let message = try MailMessage.parse(try Fixture.djangoAlternatives8bit.bytes)
        #expect(message.subject == Sample.subject)
        #expect(message.header("to") == "\"Edith O'Brien\" <edith@example.com>")
        #expect(message.recipients == ["edith@example.com", "francis@example.com"])
        #expect(message.from == "noreply@superlists.example")
        #expect(message.date == Sample.date)
        #expect(message.messageID == "<171234567890.1234.5678@superlists.example>")
        #expect(message.textBody == Sample.text)
        #expect(message.htmlBody == Sample.html)
        #expect(message.links == [Sample.loginURL])
    }

    @Test("Headers keep their order and the folded Content-Type is unfolded")
    func headerOrderAndUnfolding() throws {
        let message = try MailMessage.parse(try Fixture.djangoAlternatives8bit.bytes)
        #expect(message.headers.map(\.name) == ["Content-Type", "MIME-Version", "Subject", "From", "To", "Cc", "Message-ID", "Date"])
        let contentType = try #require(message.header("content-type"))
        #expect(contentType.hasPrefix("multipart/alternative; boundary=\"===============") == true)
    }

    @Test("A URL that quoted-printable soft-wraps comes out whole")
    func quotedPrintableWrappedURL() throws {
        let bytes = try Fixture.djangoAlternativesQP.bytes
        // The fixture really is wrapped inside the URL.
        #expect(String(decoding: bytes, as: UTF8.self).contains("https://staging.=\nexample.com/accounts/login?token=3Dabc123&next=3D/lists/"))

        let message = try MailMessage.parse(bytes)
        let text = try #require(message.textBody)
        #expect(text.hasPrefix(Sample.text))
        #expect(text.contains(Array(repeating: "superlists", count: 120).joined(separator: " ")))
        #expect(message.links == [Sample.loginURL])
    }

    @Test("An iso-8859-1 quoted-printable message decodes body, subject and a wrapped &amp; href")
    func latin1QuotedPrintable() throws {
        let bytes = try Fixture.djangoLatin1QP.bytes
        #expect(String(decoding: bytes, as: UTF8.self).contains("&amp=\n;next=3D"))

        let message = try MailMessage.parse(bytes)
        #expect(message.subject == "Votre lien de connexion \u{E0} superlists")
        #expect(message.textBody == Sample.text.replacingOccurrences(of: "\u{2014}", with: "--"))
        #expect(message.htmlBody?.contains("Se connecter \u{E0} superlists") == true)
        #expect(message.links == [Sample.loginURL])
    }

    @Test("Attachments are not bodies and a URL's trailing full stop is punctuation")
    func attachmentsAreSkipped() throws {
        let message = try MailMessage.parse(try Fixture.djangoWithAttachments.bytes)
        #expect(message.textBody == "Your export is attached.\nSee \(Sample.loginURL).\n")
        #expect(message.htmlBody == nil)
        #expect(message.links == [Sample.loginURL])
        #expect(message.recipients == ["edith@example.com"])
        #expect(message.date != nil)
    }

    @Test("Python's base64 text part and quoted-printable html part decode exactly")
    func stdlibBase64AndQuotedPrintable() throws {
        let message = try MailMessage.parse(try Fixture.stdlibBase64TextQPHTML.bytes)
        #expect(message.subject == Sample.subject)
        #expect(message.recipients == ["edith@example.com", "bob@example.org"])
        #expect(message.from == "noreply@superlists.example")
        #expect(message.date == Sample.date)
        #expect(message.messageID?.hasSuffix("@superlists.example>") == true)
        #expect(message.textBody == Sample.text)
        #expect(message.htmlBody == Sample.html)
        #expect(message.links == [Sample.loginURL])
    }

    @Test("A windows-1252 body after an attachment is the text body")
    func windows1252AfterAttachment() throws {
        let message = try MailMessage.parse(try Fixture.stdlibWindows1252AfterAttachment.bytes)
        #expect(message.subject == "Caf\u{E9} \u{201C}quotes\u{201D}")
        #expect(message.textBody == "Caf\u{E9} \u{201C}quotes\u{201D} \u{2013} \u{20AC}5\nhttps://shop.example.net/cart?id=7.\n")
        #expect(message.links == ["https://shop.example.net/cart?id=7"])
    }

    @Test("An address hidden in one encoded-word (Python compat32) is still a recipient")
    func wholeAddressEncodedWord() throws {
        let message = try MailMessage.parse(try Fixture.stdlibWindows1252AfterAttachment.bytes)
        #expect(message.header("To") == "Z\u{F6}e <zoe@example.net>")
        #expect(message.recipients == ["zoe@example.net"])
    }

    @Test("Every fixture message parses with CRLF line endings too", arguments: Fixture.messages)
    func crlfLineEndings(fixture: Fixture) throws {
        let lf = try fixture.bytes
        var crlf: [UInt8] = []
        for b in lf {
            if b == 0x0A { crlf.append(0x0D) }
            crlf.append(b)
        }
        let a = try MailMessage.parse(lf)
        let b = try MailMessage.parse(crlf)
        #expect(a == b)
        #expect(b.textBody?.contains("\r") != true)
    }
}
