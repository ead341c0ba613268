// Quoting must make any string one literal word for POSIX sh: checked against a real /bin/sh.
import Foundation
import PropertyBased
import SSH
import Testing

struct ShellQuotingTests {
    @Test(arguments: [
        ("plain", "plain"),
        ("", "''"),
        ("o'brien@example.com", #"'o'\''brien@example.com'"#),
        ("a b", "'a b'"),
        ("$(touch /tmp/x)", "'$(touch /tmp/x)'"),
        ("a=b", "'a=b'"),
        ("~/sites", "'~/sites'"),
    ])
    func wordsAreQuotedOnlyWhenNeeded(word: String, quoted: String) {
        #expect(ShellQuoting.quote(word) == quoted)
    }

    @Test func generatedStringsSurviveARealShellByteForByte() async throws {
        // Everything but NUL (no argv can hold it) and 0x1E (the separator below).
        let characters = Gen.oneOf(
            Gen.character(in: "\u{01}"..."\u{1d}"), Gen.character(in: "\u{1f}"..."\u{7f}"),
            Gen.always("'"), Gen.always("\""), Gen.always("$"), Gen.always("`"), Gen.always("\\"),
            Gen.always("\n"), Gen.always("é"), Gen.always("💥"))
        var words: [String] = []
        await propertyCheck(count: 200, input: characters.string(of: 0...24)) { word in
            words.append(word)
        }
        // One sh process for all words: each printed between separators, then compared.
        let script = words.map { "printf '%s\\036' \(ShellQuoting.quote($0))" }.joined(separator: "\n")
        let output = try runShell(script)
        let printed = output.split(separator: "\u{1e}", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(printed == words)
    }

    @Test func joinQuotesEveryWord() throws {
        let words = ["printf", "%s|", "a b", "'", "$HOME", ""]
        #expect(try runShell(ShellQuoting.join(words)) == "a b|'|$HOME||")
    }

    private func runShell(_ script: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
