// Emails are checked before anything connects; a bad one is one readable line.
import StagefixCore
import Testing

struct EmailAddressTests {
    @Test(arguments: ["-rf@x.test", "--verbosity=3@x.test", "-@example.com"])
    func anAddressAManagementCommandWouldReadAsAnOptionIsRefused(text: String) {
        #expect(throws: StagefixError.self) { try EmailAddress(text) }
        #expect((try? EmailAddress(text)) == nil)
    }

    @Test(arguments: ["o'brien@example.com", "a+tag@example.com", "x-y@example.com"])
    func ordinaryAddressesPass(text: String) throws {
        #expect(try EmailAddress(text).value == text)
    }

    @Test func controlBytesAreEscapedAndLongValuesCutWithTheirLength() {
        let escaped = String(describing: (try? EmailAddress("a\u{1b}[31mred\n@x")).map { _ in "" } ?? errorText("a\u{1b}[31mred\n@x"))
        #expect(!escaped.contains("\u{1b}") && !escaped.contains("\n"))
        #expect(escaped.contains("\\x1b"))
        let long = errorText(String(repeating: "x", count: 100_000))
        #expect(long.utf8.count < 400)
        #expect(long.contains("100000 characters"))
    }

    private func errorText(_ text: String) -> String {
        do {
            _ = try EmailAddress(text)
            return ""
        } catch {
            return String(describing: error)
        }
    }
}
