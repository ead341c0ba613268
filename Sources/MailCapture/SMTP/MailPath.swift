// The argument of MAIL FROM: and RCPT TO:, `<address> [KEY[=VALUE] ...]`, parsed and checked.

struct MailPath: Equatable, Sendable {
    struct Parameter: Equatable, Sendable {
        /// Upper-cased: ESMTP keywords are case-insensitive.
        var keyword: String
        var value: String?
    }

    /// Without the angle brackets; "" for the null path `<>`.
    var address: String
    var parameters: [Parameter]

    /// `keyword` is "FROM:" or "TO:"; only MAIL may have the null path (bounces are sent from `<>`).
    static func parse(_ argument: String, keyword: String, allowsNullPath: Bool) throws(CommandSyntaxError) -> MailPath {
        let isSender = keyword == "FROM:"
        let usage = isSender ? "5.5.4 Syntax: MAIL FROM:<address>" : "5.5.4 Syntax: RCPT TO:<address>"
        let scalars = Array(argument.unicodeScalars)
        let keywordScalars = Array(keyword.unicodeScalars)
        guard scalars.count >= keywordScalars.count,
              zip(scalars, keywordScalars).allSatisfy({ uppercasedASCII($0) == $1 })
        else { throw CommandSyntaxError(501, usage) }

        var index = keywordScalars.count
        // "MAIL FROM: <a@b>" breaks RFC 5321, but enough clients send it that refusing helps nobody.
        while index < scalars.count, scalars[index] == " " {
            index += 1
        }
        guard index < scalars.count, scalars[index] == "<" else { throw CommandSyntaxError(501, usage) }
        guard let close = closingBracket(in: scalars, after: index) else { throw CommandSyntaxError(501, usage) }

        var address = String(String.UnicodeScalarView(scalars[(index + 1)..<close]))
        let badAddress = isSender
            ? CommandSyntaxError(501, "5.1.7 Bad sender address syntax")
            : CommandSyntaxError(501, "5.1.3 Bad recipient address syntax")
        // The address goes into a stored header line: a control character (a lone CR above all) could forge headers.
        if address.unicodeScalars.contains(where: isControl) {
            throw badAddress
        }
        if address.isEmpty, !allowsNullPath {
            throw badAddress
        }
        // RFC 5321 4.1.1.3: a source route (`<@relay:user@host>`) is accepted and ignored.
        if address.hasPrefix("@"), let colon = address.firstIndex(of: ":") {
            address = String(address[address.index(after: colon)...])
        }

        let rest = scalars[(close + 1)...]
        guard rest.isEmpty || rest.first == " " else { throw CommandSyntaxError(501, usage) }
        var parameters: [Parameter] = []
        for word in String(String.UnicodeScalarView(rest)).split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = parts[0].uppercased()
            guard !key.isEmpty, key.unicodeScalars.allSatisfy(isKeywordCharacter) else {
                throw CommandSyntaxError(501, "5.5.4 Bad parameter syntax")
            }
            parameters.append(Parameter(keyword: key, value: parts.count == 2 ? String(parts[1]) : nil))
        }
        return MailPath(address: address, parameters: parameters)
    }

    /// The `>` that ends the path; a `>` inside a quoted local part (`<"a>b"@c>`) does not count.
    private static func closingBracket(in scalars: [Unicode.Scalar], after open: Int) -> Int? {
        var inQuotes = false
        var index = open + 1
        while index < scalars.count {
            switch scalars[index] {
            case "\\" where inQuotes:
                index += 1
            case "\"":
                inQuotes.toggle()
            case ">" where !inQuotes:
                return index
            default:
                break
            }
            index += 1
        }
        return nil
    }

    private static func uppercasedASCII(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        ("a"..."z").contains(scalar) ? Unicode.Scalar(scalar.value - 32)! : scalar
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7F
    }

    private static func isKeywordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-")
    }
}
