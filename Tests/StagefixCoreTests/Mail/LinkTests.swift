import Testing

@testable import StagefixCore

@Suite("Links")
struct LinkTests {
    @Test("Trailing punctuation and brackets around a URL are not part of it")
    func trailingPunctuation() {
        let text = """
            Log in: https://example.com/login?next=/lists/.
            See (https://example.com/a), or <https://example.com/b>, "https://example.com/c"!
            Wikipedia: https://en.wikipedia.org/wiki/Foo_(bar) and https://example.com/d?x=1;
            [https://example.com/e] 'https://example.com/f'
            """
        #expect(urlsInText(text) == [
            "https://example.com/login?next=/lists/",
            "https://example.com/a",
            "https://example.com/b",
            "https://example.com/c",
            "https://en.wikipedia.org/wiki/Foo_(bar)",
            "https://example.com/d?x=1",
            "https://example.com/e",
            "https://example.com/f",
        ])
    }

    @Test("Only http and https URLs count, in any case, and a bare scheme is not a URL")
    func schemes() {
        #expect(urlsInText("HTTP://EXAMPLE.COM/X ftp://example.com mailto:a@b https:// http://.") == ["HTTP://EXAMPLE.COM/X"])
        #expect(urlsInText("xhttps://glued.example.com") == [])
        #expect(urlsInText("caf\u{E9} https://example.com/\u{E9}t\u{E9}") == ["https://example.com/"])
    }

    @Test("href values decode entities like &amp; and ignore non-http links")
    func hrefs() {
        let html = """
            <html><head><link href="https://cdn.example.com/style.css"><style>a { background: url(https://no.example.com) }</style>
            <script>var s = '<a href="https://script.example.com">';</script></head>
            <body><!-- <a href="https://comment.example.com"> -->
            <a class=x HREF="https://example.com/login?token=abc123&amp;next=/lists/">Log in</a>
            <a href='https://example.com/single?a=1&#38;b=2&#x26;c=3'>single</a>
            <A href=https://example.com/unquoted>unquoted</A>
            <a href="mailto:someone@example.com">mail</a> <a href="/relative">rel</a> <a name="anchor">x</a>
            <area href=" https://example.com/area ">
            <p>https://example.com/text-in-html</p>
            </body></html>
            """
        #expect(hrefsInHTML(html) == [
            "https://example.com/login?token=abc123&next=/lists/",
            "https://example.com/single?a=1&b=2&c=3",
            "https://example.com/unquoted",
            "https://example.com/area",
        ])
    }

    @Test("HTML entity decoding handles named, numeric and malformed references")
    func entities() {
        #expect(decodeHTMLEntities("a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;&mdash;") == "a&b<>\"'AB\u{2014}")
        #expect(decodeHTMLEntities("&unknown; &amp &#xZZ; &#99999999999; &#0; &") == "&unknown; &amp &#xZZ; &#99999999999; \u{FFFD} &")
        #expect(decodeHTMLEntities("&#xD800;") == "\u{FFFD}")
    }

    @Test("Links come from the text body first, then the html body, deduplicated")
    func order() throws {
        let raw = """
            Content-Type: multipart/alternative; boundary=b

            --b
            Content-Type: text/plain

            Second https://example.com/2 then https://example.com/1.
            --b
            Content-Type: text/html

            <a href="https://example.com/1">1</a><a href="https://example.com/3?a=1&amp;b=2">3</a><a href="https://example.com/2">2</a>
            --b--
            """
        #expect(try MailMessage.parse(raw.bytes).links == ["https://example.com/2", "https://example.com/1", "https://example.com/3?a=1&b=2"])
    }

    @Test("A quoted-printable URL wrapped mid-query comes out whole")
    func quotedPrintableWrappedLink() throws {
        let raw = """
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: quoted-printable

            Utilisez ce lien pour vous connecter =C3=A0 votre compte : https://staging.=
            example.com/accounts/login?token=3Dabc123&next=3D/lists/
            """
        let message = try MailMessage.parse(raw.bytes)
        #expect(message.links == [Sample.loginURL])
    }
}
