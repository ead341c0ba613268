// Property-based generators of env files and values, built from a small grammar of dotenv syntax.

import PropertyBased

enum DotEnvGrammar {
    // MARK: Pieces of a line

    static let key = choice([
        "A", "B", "KEY_1", "a.b", "DUP", "HOME", "FROM_ENV", "SHADOWED", "x", "ключ", "export",
        "'quoted key'", "'Q'", "k-e-y", "_",
    ])
    static let indent = weighted([(8, ""), (1, "  "), (1, "\t")])
    static let exportPrefix = weighted([(5, ""), (2, "export "), (1, "export\t\t")])
    static let spacing = weighted([(6, ""), (1, " "), (1, "\t ")])
    static let trailer = weighted([(6, ""), (1, "  "), (1, " # note"), (1, "# tight"), (1, " junk"), (1, "\t#")])

    /// What an unquoted value is made of: words, comment starts, quotes, references.
    static let unquotedPiece = choice([
        "a", "xyz", "1", " ", "  ", "\t", "#", " #", " # c", "=", "'", "\"", "\\", "\\n",
        "${A}", "${HOME}", "${MISSING:-d}", "${DUP}", "${", "}", "$", "é", "😀", "\u{A0}", ":-",
    ])
    static let singleQuotedPiece = choice([
        "a", "b c", "\\'", "\\\\", "\\", "\\n", "\n", "\r\n", "#", "\"", "${A}", "${:-x}", "$", " ", "'",
    ])
    static let doubleQuotedPiece = choice([
        "a", "b c", "\\\"", "\\\\", "\\", "\\n", "\\t", "\\x", "\\a", "\\'", "\n", "#", "'", "${A}", "${B:-b}", "\"", " ",
    ])

    static let unquotedValue = unquotedPiece.array(of: 0...4).map { $0.joined() }
    static let singleQuotedValue = singleQuotedPiece.array(of: 0...4).map { "'" + $0.joined() + "'" }
    static let doubleQuotedValue = doubleQuotedPiece.array(of: 0...4).map { "\"" + $0.joined() + "\"" }
    static let value = Gen.oneOf(unquotedValue, singleQuotedValue, doubleQuotedValue)

    // MARK: Lines

    static let assignment = zip(indent, exportPrefix, key, spacing, spacing, value, trailer)
        .map { indent, export, key, before, after, value, trailer in "\(indent)\(export)\(key)\(before)=\(after)\(value)\(trailer)" }
    static let bareKey = zip(indent, exportPrefix, key, trailer).map { indent, export, key, trailer in "\(indent)\(export)\(key)\(trailer)" }
    static let comment = zip(indent, choice(["# comment", "#", "# A=1", "#'quote"])).map { $0 + $1 }
    static let blank = choice(["", " ", "\t"])
    static let unparseable = choice([
        "=x", "A B", "'", "\"", "'unterminated", "\"unterminated", "export =1", "A='x'y", ":", "  =  ", "A=\"x\" B", "''=1",
    ])
    /// Any mix of the characters that mean something to the parser, for what the grammar misses.
    static let noise = choice([
        "A", "b", "=", " ", "\t", "\n", "\r", "#", "'", "\"", "\\", "$", "{", "}", ":-", "export ", "\u{A0}", "\u{85}", "\u{0B}", "\u{FEFF}",
    ]).array(of: 1...12).map { $0.joined() }
    static let line = Gen.frequency((6, assignment), (1, bareKey), (1, comment), (1, blank), (1, unparseable), (1, noise))

    // MARK: Files

    enum LineBreaks: CaseIterable, Sendable {
        case lf, crlf, cr, mixed

        func lineBreak(after index: Int) -> String {
            switch self {
            case .lf: "\n"
            case .crlf: "\r\n"
            case .cr: "\r"
            case .mixed: ["\n", "\r\n", "\r"][index % 3]
            }
        }
    }

    static let lineBreaks = Gen.frequency((5, Gen.always(LineBreaks.lf)), (2, Gen.always(LineBreaks.crlf)), (1, Gen<LineBreaks>.case))

    static let file = zip(line.array(of: 0...10), lineBreaks, Gen.bool(0.1), Gen.bool(0.8)).map { lines, lineBreaks, hasByteOrderMark, endsWithLineBreak in
        var text = hasByteOrderMark ? "\u{FEFF}" : ""
        for (index, line) in lines.enumerated() {
            text += line
            if index < lines.count - 1 || endsWithLineBreak {
                text += lineBreaks.lineBreak(after: index)
            }
        }
        return text
    }

    // MARK: Values to write

    /// Strings `env set` must write so python-dotenv reads them back exactly.
    static let awkwardPiece = choice([
        "'", "\"", "$", "{", "}", "${A}", "${", "${HOME}", "${:-}", "#", " #", " ", "\t", "\n", "\r", "\r\n", "\\", "\\'",
        "\\\"", "\\n", "=", ":", "-", "a", "Z9", "é", "✓", "😀", "\u{2028}", "\u{85}", "\u{A0}", "\u{FEFF}", "\u{0B}", "\u{07}",
    ])
    static let anyScalar = Gen.oneOf(
        Gen.unicodeScalar(in: "\u{20}"..."\u{7E}"),
        Gen.unicodeScalar(in: "\u{0}"..."\u{D7FF}"),
        Gen.unicodeScalar(in: "\u{E000}"..."\u{10FFFF}")
    ).map { String($0) }
    static let valueToWrite = Gen.frequency((3, awkwardPiece), (1, anyScalar)).array(of: 0...10).map { $0.joined() }

    // MARK: Helpers

    static func choice(_ options: [String]) -> Generator<String, Shrink.None<String?>> {
        Gen<String?>.element(of: options).map { $0! }
    }

    static func weighted(_ options: [(Double, String)]) -> Generator<String, AnySequence<(index: Int, value: Any)>> {
        Gen.frequency(options.map { weight, text in (weight: weight, gen: Gen.always(text).eraseToAny()) })
    }
}
