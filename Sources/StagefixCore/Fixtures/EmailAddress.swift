// Checks an email before it goes anywhere near the server (65 when it is not an address).

public struct EmailAddress: Sendable, Equatable, CustomStringConvertible {
    public let value: String

    /// Accepts what Django's EmailValidator accepts for ordinary addresses: an RFC 5322 dot-atom local
    /// part (so `o'brien` and `a+tag` pass) and a domain of letter/digit/hyphen labels.
    public init(_ text: String) throws {
        let invalid = StagefixError.invalidData("'\(EmailAddress.shown(text))' is not an email address; give one like user@example.com")
        guard let at = text.lastIndex(of: "@"), text.utf8.count <= 254 else { throw invalid }
        let local = text[..<at]
        let domain = text[text.index(after: at)...]
        let atext = Set("!#$%&'*+-/=?^_`{|}~".utf8)
        let isAtext: (UInt8) -> Bool = { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || atext.contains(byte) || byte >= 0x80
        }
        let localParts = local.split(separator: ".", omittingEmptySubsequences: false)
        guard !local.isEmpty, local.utf8.count <= 64, localParts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isAtext) }) else { throw invalid }
        // Valid in RFC 5322, but a site's `create_session EMAIL` would read `-rf@x` as an option.
        guard !local.hasPrefix("-") else {
            throw StagefixError.invalidData("'\(EmailAddress.shown(text))' starts with '-', which a management command would read as an option; give another address")
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        let isLabel: (Substring) -> Bool = { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.utf8.allSatisfy { byte in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte >= 0x80
                }
        }
        guard labels.count >= 2 || domain == "localhost", labels.allSatisfy(isLabel) else { throw invalid }
        value = text
    }

    public var description: String { value }

    /// A bad argument as an error line shows it: control bytes escaped, a long one cut with its length.
    static func shown(_ text: String, limit: Int = 80) -> String {
        let count = text.unicodeScalars.count
        guard count > limit else { return TerminalText.escaped(text) }
        return TerminalText.escaped(String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit)))) + "... (\(count) characters)"
    }
}
