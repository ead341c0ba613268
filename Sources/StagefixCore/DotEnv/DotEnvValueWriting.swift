// Spells a value so python-dotenv reads back exactly that string: bare when it can, else quoted.

enum DotEnvValueWriting {
    /// Spellings of `value` in order of preference: bare; single quotes when the value holds no
    /// `'`; double quotes; single quotes with `\'`. The caller keeps the first that reads back
    /// right in its place in the file.
    static func spellings(of value: String) -> [String] {
        let literal = shieldedFromExpansion(value)
        // Inside quotes a final backslash would pair with the closing quote and swallow it, so an
        // empty `${:-}` follows it: it expands to nothing.
        let quotable = literal.unicodeScalars.last == "\\" ? literal + emptyExpansion : literal
        let singleQuoted = "'" + escaped(quotable, [("\\", "\\\\"), ("'", "\\'")]) + "'"
        let doubleQuoted = "\"" + escaped(quotable, [("\\", "\\\\"), ("\"", "\\\""), ("\n", "\\n"), ("\r", "\\r")]) + "\""
        // Single quotes have no escape for a line break, and python-dotenv reads any raw one as `\n`.
        let fitsSingleQuotes = !value.unicodeScalars.contains { $0 == "\n" || $0 == "\r" }
        var spellings: [String] = []
        if isSafeBare(value) { spellings.append(literal) }
        if fitsSingleQuotes, !value.unicodeScalars.contains("'") { spellings.append(singleQuoted) }
        spellings.append(doubleQuoted)
        if fitsSingleQuotes, value.unicodeScalars.contains("'") { spellings.append(singleQuoted) }
        return spellings
    }

    /// Written as is, it reads back as is: no whitespace (trimmed, or ends a line), no quotes
    /// (a leading one starts a quoted value), no `#` (after a space it starts a comment).
    static func isSafeBare(_ value: String) -> Bool {
        !value.unicodeScalars.contains { PythonWhitespace.contains($0) || $0 == "'" || $0 == "\"" || $0 == "#" }
    }

    /// python-dotenv expands `${...}` whatever the quotes, and has no escape for it. A `${` whose
    /// `$` is written `${:-$}` survives: the reference has an empty name, which no key and no
    /// process environment variable can have, so it expands to its default, `$`.
    static func shieldedFromExpansion(_ value: String) -> String {
        let scalars = Array(value.unicodeScalars)
        var result = String.UnicodeScalarView()
        for (index, scalar) in scalars.enumerated() {
            if scalar == "$", index + 1 < scalars.count, scalars[index + 1] == "{" {
                result.append(contentsOf: dollarExpansion.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    private static let dollarExpansion = "${:-$}"
    private static let emptyExpansion = "${:-}"

    private static func escaped(_ text: String, _ replacements: [(Unicode.Scalar, String)]) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if let replacement = replacements.first(where: { $0.0 == scalar }) {
                result.append(contentsOf: replacement.1.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }
}
