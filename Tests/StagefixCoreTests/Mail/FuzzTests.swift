import Foundation
import PropertyBased
import Testing

@testable import StagefixCore

/// Parses `bytes` and reads every derived property. The only acceptable failure is a thrown
/// `MailParseError`; anything that traps takes the whole test process down.
private func parseAndTouchEverything(_ bytes: [UInt8]) {
    do {
        let message = try MailMessage.parse(bytes)
        _ = message.subject
        _ = message.recipients
        _ = message.from
        _ = message.date
        _ = message.messageID
        _ = message.headerValues("Received")
        _ = message.header("content-type")
        #expect(message.headers.isEmpty == false)
        for link in message.links {
            #expect(link.lowercased().hasPrefix("http"))
        }
    } catch is MailParseError {
        // Not a message: fine.
    } catch {
        Issue.record("unexpected error type: \(error)")
    }
    let (messages, _) = DjangoMailFile.split(bytes)
    #expect(messages.allSatisfy { !$0.isEmpty })
    #expect(messages.reduce(0) { $0 + $1.count + DjangoMailFile.separator.count } <= bytes.count)
}

/// Fragments that steer random input into the interesting parts of the parser.
private let fragments: [[UInt8]] = [
    "Content-Type: multipart/mixed; boundary=b\n", "Content-Type: multipart/alternative; boundary=\"b\"\n",
    "Content-Type: text/plain; charset=utf-8\n", "Content-Type: text/html; charset=windows-1252\n",
    "Content-Type: text/plain; charset*0*=iso-8859-1''%E9; charset*1=x\n",
    "Content-Transfer-Encoding: quoted-printable\n", "Content-Transfer-Encoding: base64\n",
    "Content-Disposition: attachment; filename*=utf-8''%E2%82\n", "Subject: =?utf-8?q?caf=C3=A9?= =?iso-8859-1?b?6Q==?=\n",
    "To: \"A, B\" <a@b.example>, Group: c@d;, (comment (nested)) <@route:e@f>\n", "Date: Tue, 02 Apr 2024 09:15:30 +0200\n",
    "Message-ID: <x@y>\n", "From: <>\n", "--b\n", "--b--\n", "--b", "\n", "\r\n", "\n\n", " ", "\t", ":", ";", "=",
    "=?", "?=", "=?utf-8?q?", "=?utf-8?b?", "=\n", "=3D", "=C3", "&amp;", "&#", "<a href=\"", "<a href='https://x.example/?a=1&amp;b'>",
    "\">", "https://", "http://example.com/(x)", "<!--", "-->", "<script>", "\"", "\\", "(", ")", "<", ">", "@", ",",
    "\n" + String(repeating: "-", count: 79) + "\n",
].map { Array($0.utf8) }

/// Random concatenations of mail fragments and random bytes.
private let structuredGarbage = Generator<[UInt8], Shrink.None<[UInt8]>>(run: { rng in
    var bytes: [UInt8] = []
    let pieces = Int.random(in: 0...60, using: &rng)
    for _ in 0..<pieces {
        if Int.random(in: 0..<4, using: &rng) == 0 {
            for _ in 0..<Int.random(in: 1...8, using: &rng) { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
        } else {
            bytes += fragments[Int.random(in: 0..<fragments.count, using: &rng)]
        }
    }
    return bytes
})

/// Valid messages with 1–4 random mutations: truncation, bit flips, deleted/duplicated ranges,
/// deleted boundaries, inserted fragments, line-ending changes.
private func mutations(of seeds: [[UInt8]]) -> Generator<[UInt8], Shrink.None<[UInt8]>> {
    Generator(run: { rng in
        var bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !bytes.isEmpty else { break }
            let position = Int.random(in: 0..<bytes.count, using: &rng)
            let length = min(bytes.count - position, Int.random(in: 1...64, using: &rng))
            switch Int.random(in: 0..<8, using: &rng) {
            case 0:
                bytes.removeSubrange(position...)
            case 1:
                for _ in 0..<Int.random(in: 1...16, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                }
            case 2:
                bytes.removeSubrange(position..<(position + length))
            case 3:
                bytes.insert(contentsOf: bytes[position..<(position + length)], at: position)
            case 4:
                // Delete every delimiter line, or just one.
                let text = String(decoding: bytes, as: UTF8.self)
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                let delimiters = lines.indices.filter { lines[$0].hasPrefix("--") }
                guard let victim = delimiters.randomElement(using: &rng) else { break }
                let removeAll = Bool.random(using: &rng)
                let kept = lines.indices.filter { !(removeAll ? delimiters.contains($0) : $0 == victim) }.map { lines[$0] }
                bytes = Array(kept.joined(separator: "\n").utf8)
            case 5:
                bytes.insert(contentsOf: fragments[Int.random(in: 0..<fragments.count, using: &rng)], at: position)
            case 6:
                var converted: [UInt8] = []
                for b in bytes {
                    if b == 0x0A && Bool.random(using: &rng) { converted.append(0x0D) }
                    converted.append(b)
                }
                bytes = converted
            default:
                bytes[position] = UInt8.random(in: 0...255, using: &rng)
            }
        }
        return bytes
    })
}

/// 0–5 small messages (header fields, then body lines that include dash rules and header-like
/// text), plus a seed for a cut point.
private let djangoFile = Generator<([[UInt8]], Int), Shrink.None<([[UInt8]], Int)>>(run: { rng in
    let bodyLines = ["hello", "", String(repeating: "-", count: 79), "Thanks,", "--", " folded"]
    var messages: [[UInt8]] = []
    for _ in 0..<Int.random(in: 0...5, using: &rng) {
        var text = ""
        for h in 0..<Int.random(in: 1...3, using: &rng) { text += "X-Header-\(h): value \(h)\n" }
        text += "\n"
        // A rule followed by header-like lines and an empty line is a real ambiguity (see
        // DjangoMailFile.split); the generator keeps a non-header line somewhere after each rule.
        var lines: [String] = []
        for _ in 0..<Int.random(in: 0...6, using: &rng) {
            let line = bodyLines.randomElement(using: &rng)!
            lines.append(line)
            if line.hasPrefix("---") && Bool.random(using: &rng) { lines += ["a: b?", "Thanks,"] }
        }
        text += lines.joined(separator: "\n")
        messages.append(Array(text.utf8))
    }
    return (messages, Int.random(in: 0...100_000, using: &rng))
})

@Suite("Generated inputs never crash the parser")
struct FuzzTests {
    @Test("Random byte arrays parse or throw MailParseError")
    func randomBytes() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...400)) { bytes in
            parseAndTouchEverything(bytes)
        }
    }

    @Test("Random mail-like fragments parse or throw MailParseError")
    func structuredFragments() async {
        await propertyCheck(count: 3000, input: structuredGarbage) { bytes in
            parseAndTouchEverything(bytes)
        }
    }

    @Test("Mutated Django and Python messages parse or throw MailParseError")
    func mutatedFixtures() async throws {
        let seeds = try Fixture.allCases.map { try $0.bytes }
        await propertyCheck(count: 5000, input: mutations(of: seeds)) { bytes in
            parseAndTouchEverything(bytes)
        }
    }

    @Test("Every prefix of every fixture parses or throws")
    func everyPrefix() throws {
        for fixture in Fixture.messages {
            let bytes = try fixture.bytes
            for cut in stride(from: 0, through: bytes.count, by: 5) {
                parseAndTouchEverything(Array(bytes[..<cut]))
            }
        }
    }

    @Test("Messages joined the way Django writes them split back into the same messages")
    func djangoFileRoundTrip() async {
        await propertyCheck(count: 500, input: djangoFile) { messages, cutSeed in
            var bytes: [UInt8] = []
            var ends: [Int] = []
            for m in messages {
                bytes += m + DjangoMailFile.separator
                ends.append(bytes.count)
            }
            let split = DjangoMailFile.split(bytes)
            #expect(split.messages == messages)
            #expect(split.incompleteTail == false)

            // A cut just after a body's dash rule is ambiguous (documented); elsewhere a cut
            // keeps exactly the messages whose separator survived.
            let cut = bytes.isEmpty ? 0 : cutSeed % (bytes.count + 1)
            let partial = DjangoMailFile.split(Array(bytes[..<cut]))
            let survivors = ends.filter { $0 <= cut }.count
            #expect(partial.messages.count >= survivors)
            #expect(Array(partial.messages.prefix(survivors)) == Array(messages.prefix(survivors)))
            if partial.messages.count == survivors {
                #expect(partial.incompleteTail == !(cut == 0 || ends.contains(cut)))
            }
        }
    }
}

@Suite("Pathological inputs")
struct PathologicalInputTests {
    // Each input is ~100–300 KB; a quadratic path would take minutes, not milliseconds.

    @Test("A URL followed by a hundred thousand closing parentheses")
    func manyParentheses() throws {
        let raw = "Subject: x\n\nhttps://example.com/" + String(repeating: ")", count: 100_000)
        #expect(try MailMessage.parse(raw.bytes).links == ["https://example.com/"])
    }

    @Test("Tens of thousands of adjacent encoded-words in one header")
    func manyEncodedWords() throws {
        let raw = "Subject: " + String(repeating: "=?utf-8?q?ab?= ", count: 30_000) + "\n\n"
        #expect(try MailMessage.parse(raw.bytes).subject == String(repeating: "ab", count: 30_000))
    }

    @Test("Many unterminated encoded-word starts in one header")
    func manyEncodedWordStarts() throws {
        let raw = "Subject: " + String(repeating: "=?u?q?", count: 30_000) + "\n\n"
        #expect(try MailMessage.parse(raw.bytes).subject?.isEmpty == false)
    }

    @Test("An angle address full of quotes and comments")
    func quotesInAngleAddress() throws {
        let raw = "To: <" + String(repeating: "\"a\"(c)", count: 30_000) + "@example.com>\n\n"
        #expect(try MailMessage.parse(raw.bytes).recipients.count == 1)
    }

    @Test("Huge header sections, bodies, and files of separators")
    func hugeInputs() throws {
        let headers = String(repeating: "X-A: b\n c\n", count: 20_000)
        #expect(try MailMessage.parse((headers + "\n" + String(repeating: "=41", count: 50_000)).bytes).headers.count == 20_000)
        let html = "Content-Type: text/html\n\n" + String(repeating: "<a href=\"https://e.example/?a&amp;b\"><!-- ", count: 5_000)
        #expect(try MailMessage.parse(html.bytes).links == ["https://e.example/?a&b"])
        let file = String(repeating: "\n" + String(repeating: "-", count: 79) + "\n", count: 5_000)
        #expect(DjangoMailFile.split(file.bytes).messages.count < 5_000)
        let separators = String(repeating: "--b\n", count: 50_000)
        #expect(try MailMessage.parse(("Content-Type: multipart/mixed; boundary=b\n\n" + separators).bytes).textBody == "")
    }
}
