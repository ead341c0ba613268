// `env show` output from a server's env: text never passes a control character through, and dotenv
// refuses (65) a key it cannot write instead of printing nothing.
@testable import StagefixCore
import Testing

struct EnvListingTests {
    @Test func textEscapesKeysAndValuesAndQuotesAMultiLineValue() throws {
        let environment = ServerEnvironment(path: "~/sites/x/.env", text: "SITENAME=staging.example.com\nMULTI=\"line\\nSITENAME=www.example.com\"\nCOLOUR=\"\\x1b[31m\"\nESC=\"a\u{1B}[2Jb\"\n")
        let text = try EnvListing.render(environment, format: .text, reveal: true)
        #expect(text == "SITENAME=staging.example.com\nMULTI=\"line\\nSITENAME=www.example.com\"\nCOLOUR=\\x1b[31m\nESC=\"a\\x1b[2Jb\"\n")
        #expect(!text.unicodeScalars.contains { TerminalText.isControl($0) && $0 != "\n" })
        #expect(text.split(separator: "\n").count == 4, "one line per key")
    }

    @Test func dotenvNamesTheKeyItCannotWriteAndExits65() {
        let environment = ServerEnvironment(path: "~/sites/x/.env", text: "GOOD=1\nmy-key=2\n")
        #expect {
            _ = try EnvListing.render(environment, format: .dotenv, reveal: true)
        } throws: { error in
            guard let error = error as? StagefixError, case let .invalidData(message) = error else { return false }
            return error.exitStatus == .invalidData && message.contains("my-key") && message.contains("~/sites/x/.env")
        }
    }

    @Test func dotenvOfValidKeysReadsBack() throws {
        let environment = ServerEnvironment(path: "p", text: "A=1\nB=\"two\\nlines\"\n")
        let written = try EnvListing.render(environment, format: .dotenv, reveal: true)
        #expect(EnvFile(parsing: written).values == ["A": "1", "B": "two\nlines"])
    }
}
