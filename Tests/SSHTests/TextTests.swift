// The Foundation-free text helpers against the Foundation methods they replace.
import Foundation
@testable import SSH
import PropertyBased
import Testing

struct TextTests {
    /// Text of 0 to 11 pieces from `alphabet`: ASCII, whitespace of every kind and other scalars (not
    /// combining marks, where Foundation's grapheme-aware search differs on purpose: see Text.swift).
    static func words(_ alphabet: [String]) -> Generator<String, some SendableSequenceType> {
        Gen<String?>.element(of: alphabet).array(of: 0...11).map { pieces in pieces.compactMap { $0 }.joined() }
    }

    static let whitespaceScalars = (0...0x3000).compactMap(Unicode.Scalar.init).filter {
        CharacterSet.whitespacesAndNewlines.contains($0)
    }

    @Test func everyScalarIsClassifiedAsCharacterSetDoes() {
        for value in 0...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            #expect(scalar.isWhitespace == CharacterSet.whitespaces.contains(scalar), "U+\(String(value, radix: 16))")
            #expect(scalar.isWhitespaceOrNewline == CharacterSet.whitespacesAndNewlines.contains(scalar), "U+\(String(value, radix: 16))")
        }
    }

    @Test func trimmingMatchesFoundation() async {
        let alphabet = ["a", "b", "#", "=", "\"", "é", "💥", "中"] + Self.whitespaceScalars.map { String($0) }
        await propertyCheck(count: 5000, input: Self.words(alphabet)) { text in
            #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces), "\(text.debugDescription)")
            #expect(text.trimmingWhitespaceAndNewlines() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
            let sub = text.dropFirst(text.isEmpty ? 0 : 1)
            #expect(sub.trimmingWhitespace() == sub.trimmingCharacters(in: .whitespaces))
        }
    }

    @Test func replacingAndContainingMatchFoundation() async {
        let alphabet = ["%", "h", "%h", "%%", "'", "a", "\u{0}", "é", "💥", " ", "\n", "ab"]
        let targets = ["%h", "%%", "'", "\u{0}", "a", "ab", "%l", "é", "aa"]
        await propertyCheck(count: 5000, input: Self.words(alphabet)) { text in
            for target in targets {
                #expect(text.replacingEvery(target, with: "<\(target.count)>") == text.replacingOccurrences(of: target, with: "<\(target.count)>"), "\(text.debugDescription) \(target.debugDescription)")
                #expect(text.containsBytes(target) == text.contains(target), "\(text.debugDescription) \(target.debugDescription)")
            }
        }
    }

    /// The one place the two differ, on purpose: Foundation does not see `'` before a combining mark,
    /// which let `'\u{301}` end a quoted shell word.
    @Test func anApostropheBeforeACombiningMarkIsStillReplaced() {
        #expect("a'\u{301}b".replacingOccurrences(of: "'", with: "X") == "a'\u{301}b")
        #expect("a'\u{301}b".replacingEvery("'", with: "X") == "aX\u{301}b")
        #expect(ShellQuoting.quote("x'\u{301}; touch /tmp/p; '") == "'x'\\''\u{301}; touch /tmp/p; '\\'''")
    }

    /// A table rather than a comparison with NSString: on this Foundation `("a" as NSString)
    /// .deletingLastPathComponent` traps (one-character names) and `"//"` gives "" rather than "/".
    @Test(arguments: [
        ("", "", ""), ("/", "/", "/"), ("//", "/", "/"), ("a", "", "a"), ("a/", "", "a"), ("a//", "", "a"),
        ("/a", "/", "a"), ("/a/", "/", "a"), ("a//b//", "a", "b"), ("known_hosts", "", "known_hosts"),
        ("sites/x/.env", "sites/x", ".env"), ("/tmp/x/state/audit.jsonl", "/tmp/x/state", "audit.jsonl"),
        ("~/.ssh/known_hosts", "~/.ssh", "known_hosts"), ("./a", ".", "a"), ("../b.c", "..", "b.c"),
        ("a/\u{301}b", "a", "\u{301}b"), ("é/ü/\u{301}", "é/ü", "\u{301}"),
    ])
    func pathComponents(path: String, parent: String, last: String) {
        #expect(PathText.deletingLastComponent(path) == parent)
        #expect(PathText.lastComponent(path) == last)
    }

    @Test func theUserNameIsNSUserName() {
        #expect(LocalAccount.userName() == NSUserName())
    }
}
