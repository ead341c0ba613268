// Server text in text mode: no raw control character reaches the terminal, and what is shown reads
// back to exactly what the server said.
import PropertyBased
@testable import StagefixCore
import Testing

struct TerminalTextTests {
    @Test(arguments: [
        ("staging.example.com", "staging.example.com"),
        ("first\nsecond", #""first\nsecond""#),
        ("\u{1B}[31mred\u{1B}[0m", #""\x1b[31mred\x1b[0m""#),
        ("tab\there", #""tab\there""#),
        ("del\u{7F} csi\u{9B}", #""del\x7f csi\u{9b}""#),
        ("quote\" and \\ with\u{7}", #""quote\" and \\ with\x07""#),
        ("Zoë 雪", "Zoë 雪"),
        (#""a\nb""#, #""\"a\\nb\"""#),
        (#"a\nb"#, #"a\nb"#),
    ])
    func controlCharactersAreEscapedAndPlainTextIsLeftAlone(_ input: String, _ shown: String) {
        #expect(TerminalText.escaped(input) == shown)
    }

    /// Any scalar, control characters and quotes made likely.
    static let scalar = Gen.oneOf(
        Gen.int(in: 0...0x20).map { Unicode.Scalar(UInt8($0)) },
        Gen.int(in: 0x7F...0x9F).map { Unicode.Scalar(UInt8($0)) },
        Gen.always(Unicode.Scalar("\"")), Gen.always(Unicode.Scalar("\\")), Gen.always(Unicode.Scalar("x")),
        Gen.always(Unicode.Scalar("é")), Gen.always(Unicode.Scalar("雪")))

    @Test func noControlCharacterSurvivesAndTheEscapesReadBack() async {
        await propertyCheck(input: Self.scalar.array(of: 0...30)) { scalars in
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars)
            let input = String(text)
            let shown = TerminalText.escaped(input)
            #expect(!shown.unicodeScalars.contains(where: TerminalText.isControl))
            #expect(Self.unescape(shown) == input)
            let lines = TerminalText.escapedKeepingLines(input)
            #expect(!lines.unicodeScalars.contains { TerminalText.isControl($0) && $0 != "\n" && $0 != "\t" })
            // Counted in scalars: "\r\n" is one Character, which a Character split would not see as a line end.
            #expect(lines.unicodeScalars.filter { $0 == "\n" }.count == input.unicodeScalars.filter { $0 == "\n" }.count)
        }
    }

    /// The reverse of `escaped`, as a reader of the output would apply it.
    static func unescape(_ shown: String) -> String {
        guard shown.hasPrefix("\""), shown.count >= 2 else { return shown }
        var scalars = Array(shown.unicodeScalars.dropFirst().dropLast())
        var result = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            guard scalars[index] == "\\" else { result.append(scalars[index]); index += 1; continue }
            let kind = scalars[index + 1]
            switch kind {
            case "n": result.append("\n"); index += 2
            case "r": result.append("\r"); index += 2
            case "t": result.append("\t"); index += 2
            case "\"", "\\": result.append(kind); index += 2
            case "x":
                result.append(Unicode.Scalar(UInt8(String(String.UnicodeScalarView(scalars[(index + 2)..<(index + 4)])), radix: 16)!))
                index += 4
            default:  // u{...}
                let close = scalars[index...].firstIndex(of: "}")!
                result.append(Unicode.Scalar(UInt32(String(String.UnicodeScalarView(scalars[(index + 3)..<close])), radix: 16)!)!)
                index = close + 1
            }
        }
        scalars = []
        return String(result)
    }
}
