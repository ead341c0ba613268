// The Foundation-free text helpers against the Foundation methods they replace.
import Foundation
@testable import SSH
import Testing

struct TextTests {
    /// A small deterministic generator (xorshift64*), so that a failure reproduces.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func element<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    /// Text that mixes ASCII, whitespace of every kind, and other scalars (not combining marks,
    /// where Foundation's grapheme-aware search differs on purpose: see Text.swift).
    static func words(_ alphabet: [String], count: Int, seed: UInt64) -> [String] {
        var random = Random(state: seed)
        return (0..<count).map { _ in (0..<random.below(12)).map { _ in random.element(alphabet) }.joined() }
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

    @Test func trimmingMatchesFoundation() {
        let alphabet = ["a", "b", "#", "=", "\"", "é", "💥", "中"] + Self.whitespaceScalars.map { String($0) }
        for text in Self.words(alphabet, count: 5000, seed: 1) {
            #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces), "\(text.debugDescription)")
            #expect(text.trimmingWhitespaceAndNewlines() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
            let sub = text.dropFirst(text.isEmpty ? 0 : 1)
            #expect(sub.trimmingWhitespace() == sub.trimmingCharacters(in: .whitespaces))
        }
    }

    @Test func replacingAndContainingMatchFoundation() {
        let alphabet = ["%", "h", "%h", "%%", "'", "a", "\u{0}", "é", "💥", " ", "\n", "ab"]
        let targets = ["%h", "%%", "'", "\u{0}", "a", "ab", "%l", "é", "aa"]
        for text in Self.words(alphabet, count: 5000, seed: 2) {
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
