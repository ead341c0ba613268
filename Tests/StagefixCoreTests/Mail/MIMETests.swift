import Foundation
import Testing

@testable import StagefixCore

@Suite("MIME structure and transfer encodings")
struct MIMETests {
    @Test("Nested multipart/mixed, related and alternative find the first text and html parts")
    func nestedMultiparts() throws {
        let raw = """
            From: a@example.com
            Content-Type: multipart/mixed; boundary=outer

            This is the preamble.
            --outer
            Content-Type: multipart/related; boundary="related boundary"

            --related boundary
            Content-Type: multipart/alternative; boundary=alt

            --alt
            Content-Type: text/plain; charset=utf-8

            plain text
            --alt
            Content-Type: text/html; charset=utf-8

            <p>html text</p>
            --alt--
            --related boundary
            Content-Type: image/png
            Content-Transfer-Encoding: base64

            iVBORw0KGgo=
            --related boundary--
            --outer
            Content-Type: text/plain

            second text part
            --outer--
            This is the epilogue.
            """
        let message = try MailMessage.parse(raw.bytes)
        #expect(message.textBody == "plain text")
        #expect(message.htmlBody == "<p>html text</p>")
    }

    @Test("Preamble and epilogue are ignored")
    func preambleAndEpilogue() throws {
        let raw = "Content-Type: multipart/alternative; boundary=b\n\nhttps://preamble.example.com\n--b\n\nbody\n--b--\nhttps://epilogue.example.com\n"
        let message = try MailMessage.parse(raw.bytes)
        #expect(message.textBody == "body")
        #expect(message.links.isEmpty)
    }

    @Test("A boundary that prefixes another boundary does not split the inner part")
    func boundaryPrefix() throws {
        let raw = """
            Content-Type: multipart/mixed; boundary="b"

            --b
            Content-Type: multipart/alternative; boundary="b-inner"

            --b-inner
            Content-Type: text/plain

            inner text
            --b-inner--
            --b--
            """
        #expect(try MailMessage.parse(raw.bytes).textBody == "inner text")
    }

    @Test("A truncated multipart without a close delimiter still yields its parts")
    func missingCloseDelimiter() throws {
        let raw = "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nfirst\n--b\nContent-Type: text/html\n\n<b>cut he"
        let message = try MailMessage.parse(raw.bytes)
        #expect(message.textBody == "first")
        #expect(message.htmlBody == "<b>cut he")
    }

    @Test("A multipart without a boundary parameter has no bodies")
    func missingBoundary() throws {
        let message = try MailMessage.parse("Content-Type: multipart/mixed\n\n--b\n\ntext\n--b--\n".bytes)
        #expect(message.textBody == nil)
        #expect(message.htmlBody == nil)
    }

    @Test("Parts without headers default to text/plain")
    func partWithoutHeaders() throws {
        let message = try MailMessage.parse("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nimplicit text\n--b--\n".bytes)
        #expect(message.textBody == "implicit text")
    }

    @Test("A message without Content-Type is text/plain; a text/html message has an html body")
    func singlePartMessages() throws {
        #expect(try MailMessage.parse("Subject: x\n\nhello\n".bytes).textBody == "hello\n")
        let html = try MailMessage.parse("Content-Type: text/html; charset=utf-8\n\n<a href='https://x.example.com/'>x</a>".bytes)
        #expect(html.textBody == nil)
        #expect(html.htmlBody == "<a href='https://x.example.com/'>x</a>")
        #expect(html.links == ["https://x.example.com/"])
        let image = try MailMessage.parse("Content-Type: image/png\n\nPNG".bytes)
        #expect(image.textBody == nil)
    }

    @Test("A malformed Content-Type falls back to text/plain")
    func malformedContentType() throws {
        #expect(try MailMessage.parse("Content-Type: garbage\n\nhello".bytes).textBody == "hello")
        #expect(try MailMessage.parse("Content-Type: ;;;==\n\nhello".bytes).textBody == "hello")
    }

    @Test("Attachments are skipped for bodies, inline parts are not")
    func attachments() throws {
        let raw = """
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain
            Content-Disposition: ATTACHMENT; filename="a.txt"

            attached
            --b
            Content-Type: text/html
            Content-Disposition: attachment

            <p>attached</p>
            --b
            Content-Type: text/plain
            Content-Disposition: inline

            inline text
            --b--
            """
        let message = try MailMessage.parse(raw.bytes)
        #expect(message.textBody == "inline text")
        #expect(message.htmlBody == nil)
    }

    @Test("Quoted-printable: soft breaks, lowercase hex, literal '=' and trailing whitespace")
    func quotedPrintable() {
        #expect(decodeQuotedPrintable("caf=C3=A9 soft=\nbreak".bytes[...]) == "caf\u{E9} softbreak".bytes)
        #expect(decodeQuotedPrintable("caf=c3=a9".bytes[...]) == "caf\u{E9}".bytes)
        #expect(decodeQuotedPrintable("soft= \t\r\nbreak".bytes[...]) == "softbreak".bytes)
        #expect(decodeQuotedPrintable("a=\r\nb\r\nc".bytes[...]) == "ab\nc".bytes)
        #expect(decodeQuotedPrintable("1+1=2 and =ZZ and =4".bytes[...]) == "1+1=2 and =ZZ and =4".bytes)
        #expect(decodeQuotedPrintable("trailing   \nspace\t\n".bytes[...]) == "trailing\nspace\n".bytes)
        #expect(decodeQuotedPrintable("end=".bytes[...]) == "end".bytes)
        #expect(decodeQuotedPrintable("=3D=3d".bytes[...]) == "==".bytes)
    }

    @Test("Base64 tolerates whitespace, line breaks, garbage and concatenated chunks")
    func base64() {
        #expect(decodeBase64("aGVs\r\nbG8g d29y\tbGQ=".bytes) == "hello world".bytes)
        #expect(decodeBase64("aGVsbG8".bytes) == "hello".bytes)
        #expect(decodeBase64("aGk=aGk=".bytes) == "hihi".bytes)
        #expect(decodeBase64("!!a*G*k=".bytes) == "hi".bytes)
        #expect(decodeBase64("".bytes).isEmpty)
        #expect(decodeBase64("=".bytes).isEmpty)
    }

    @Test(
        "Text bodies decode their charset",
        arguments: [
            ("utf-8", [0x63, 0x61, 0x66, 0xC3, 0xA9], "caf\u{E9}"),
            ("\"UTF-8\"", [0x63, 0x61, 0x66, 0xC3, 0xA9], "caf\u{E9}"),
            ("iso-8859-1", [0x63, 0x61, 0x66, 0xE9], "caf\u{E9}"),
            ("latin1", [0x63, 0x61, 0x66, 0xE9], "caf\u{E9}"),
            ("windows-1252", [0x93, 0x78, 0x94, 0x80, 0x81], "\u{201C}x\u{201D}\u{20AC}\u{81}"),
            ("cp1252", [0x96], "\u{2013}"),
            ("us-ascii", [0x61, 0x62], "ab"),
            ("iso-8859-15", [0xA4], "\u{20AC}"),
            ("iso-8859-2", [0xB1], "\u{105}"),
            ("koi8-r", [0xC1], "\u{430}"),
            ("x-unknown-charset", [0x61, 0xFF], "a\u{FFFD}"),
        ] as [(String, [UInt8], String)])
    func charsets(charset: String, bytes: [UInt8], expected: String) throws {
        let raw = "Content-Type: text/plain; charset=\(charset)\nContent-Transfer-Encoding: 8bit\n\n".bytes + bytes
        #expect(try MailMessage.parse(raw).textBody == expected)
    }

    @Test("Base64 and quoted-printable part bodies decode before the charset")
    func encodedParts() throws {
        let raw = """
            Content-Type: multipart/alternative; boundary=b

            --b
            Content-Type: text/plain; charset=iso-8859-1
            Content-Transfer-Encoding: BASE64

            Y2Fm6SBjcmxmDQpuZXh0
            --b
            Content-Type: text/html; charset="windows-1252"
            Content-Transfer-Encoding: Quoted-Printable

            =93hi=94=
             there
            --b--
            """
        let message = try MailMessage.parse(raw.bytes)
        #expect(message.textBody == "caf\u{E9} crlf\nnext")
        #expect(message.htmlBody == "\u{201C}hi\u{201D} there")
    }

    @Test("Content-Type parameters: quoting, comments, case, RFC 2231 continuations and charsets")
    func parameters() {
        let a = parseParameterizedValue("Multipart/Mixed (comment); BOUNDARY=\"a \\\"b\\\" ;c\"; charset=utf-8".bytes)
        #expect(a.value == "multipart/mixed")
        #expect(a.parameters["boundary"] == "a \"b\" ;c")
        #expect(a.parameters["charset"] == "utf-8")

        let b = parseParameterizedValue("attachment; filename*=utf-8''%E2%82%AC%20rates.txt".bytes)
        #expect(b.value == "attachment")
        #expect(b.parameters["filename"] == "\u{20AC} rates.txt")

        let c = parseParameterizedValue("multipart/mixed; boundary*0=\"abc\"; boundary*1=def; boundary*2*=%41".bytes)
        #expect(c.parameters["boundary"] == "abcdefA")

        let d = parseParameterizedValue("text/plain; title*0*=iso-8859-1'fr'caf%E9; title*1=\" au lait\"".bytes)
        #expect(d.parameters["title"] == "caf\u{E9} au lait")

        let e = parseParameterizedValue("text/plain; ; =x; novalue; charset".bytes)
        #expect(e.value == "text/plain")
        #expect(e.parameters.isEmpty)
    }

    @Test("An RFC 2231 boundary parameter splits the multipart")
    func rfc2231Boundary() throws {
        let raw = "Content-Type: multipart/alternative;\n boundary*0=\"long-\";\n boundary*1=\"boundary\"\n\n--long-boundary\n\ntext\n--long-boundary--\n"
        #expect(try MailMessage.parse(raw.bytes).textBody == "text")
    }

    @Test("Deeply nested multiparts stop at a depth limit instead of overflowing the stack")
    func deepNesting() throws {
        var raw = "Content-Type: multipart/mixed; boundary=b\n\n"
        for _ in 0..<10_000 { raw += "--b\nContent-Type: multipart/mixed; boundary=b\n\n" }
        #expect(try MailMessage.parse(raw.bytes).textBody == nil)
    }
}
