// python-dotenv 1.x's parser.py ported statement by statement: its regular expressions become scans.
//
// python-dotenv works on a Python `str`, so this works on Unicode scalars: every index here counts
// scalars, as Python's `len` counts code points. Comments quote the regular expression each scan
// stands for; where Python's backtracking decides the outcome, the scan says how.

/// One statement as python-dotenv cuts the file: from where the previous one ended to where this one
/// ends, so a statement owns the blank lines before it.
struct DotEnvStatement: Sendable {
    enum Content: Sendable {
        /// Only whitespace was left: the end of the file.
        case nothing
        /// A comment, or `export # ...`: no key.
        case comment
        case binding(DotEnvRawBinding)
        /// python-dotenv logs "could not parse statement starting at line N" and skips to `range.upperBound`.
        case unparseable
    }

    var content: Content
    /// The line python-dotenv reports: where the previous statement ended, blank lines included.
    var reportedLine: Int
    /// The line where this statement's text begins, after any blank lines.
    var textLine: Int
    /// The line of the statement's last character.
    var lastLine: Int
    var range: Range<Int>
}

/// A `KEY` or `KEY=value` statement, with the places an edit needs.
struct DotEnvRawBinding: Sendable {
    var key: String
    /// Decoded from its quotes and escapes, before `${...}` expansion; nil for a bare `KEY`.
    var value: String?
    var isExported: Bool
    /// Just after the key (and its closing quote if quoted): where `=value` goes for a bare `KEY`.
    var keyEnd: Int
    /// The value as written, quotes included, without an inline comment or trailing whitespace.
    var valueRange: Range<Int>?
}

/// Reads statements from text whose line breaks are already `\n` (see `UniversalNewlines`).
struct DotEnvReader {
    /// A regular expression that did not match: python-dotenv's `Error`.
    struct NoMatch: Error {}

    let text: [Unicode.Scalar]
    private(set) var position = 0
    private(set) var line = 1

    init(text: [Unicode.Scalar]) {
        self.text = text
    }

    var hasNext: Bool { position < text.count }

    /// Every statement up to the end: `parse_stream`.
    mutating func readAll() -> [DotEnvStatement] {
        var statements: [DotEnvStatement] = []
        while hasNext {
            statements.append(readStatement())
        }
        return statements
    }

    /// `parse_binding`: one statement, or on failure the rest of the line where reading stopped.
    mutating func readStatement() -> DotEnvStatement {
        let start = position
        let reportedLine = line
        var textLine = line
        do throws(NoMatch) {
            advance(to: multilineWhitespaceEnd())
            textLine = line
            guard hasNext else {
                return DotEnvStatement(content: .nothing, reportedLine: reportedLine, textLine: textLine, lastLine: line, range: start..<position)
            }
            let exportEnd = exportPrefixEnd()
            let isExported = exportEnd > position
            advance(to: exportEnd)
            let key = try readKey()
            let keyEnd = position
            advance(to: horizontalWhitespaceEnd(from: position))
            var value: String?
            var valueRange: Range<Int>?
            if peek() == "=" {
                advance(to: horizontalWhitespaceEnd(from: position + 1))  // `(=[^\S\r\n]*)`
                (value, valueRange) = try readValue()
            }
            advance(to: commentEnd())
            let lastLine = line
            advance(to: try endOfLineEnd())
            let content: DotEnvStatement.Content
            if let key {
                content = .binding(DotEnvRawBinding(key: key, value: value, isExported: isExported, keyEnd: keyEnd, valueRange: valueRange))
            } else {
                content = .comment
            }
            return DotEnvStatement(content: content, reportedLine: reportedLine, textLine: textLine, lastLine: lastLine, range: start..<position)
        } catch {
            // Resumes from where reading stopped, not from the statement's start (as python-dotenv).
            advance(to: restOfLineEnd())
            let lastLine = text[start..<position].last == "\n" ? line - 1 : line
            return DotEnvStatement(content: .unparseable, reportedLine: reportedLine, textLine: textLine, lastLine: lastLine, range: start..<position)
        }
    }

    // MARK: Keys and values

    /// `parse_key`: nil for a comment.
    private mutating func readKey() throws(NoMatch) -> String? {
        switch peek() {
        case "#":
            return nil
        case "'":
            // `'([^']+)'`: up to the next quote, which may be lines away.
            guard let close = firstIndex(from: position + 1, where: { $0 == "'" }), close > position + 1 else { throw NoMatch() }
            let key = string(position + 1..<close)
            advance(to: close + 1)
            return key
        default:
            // `([^=\#\s]+)`
            let end = firstIndex(from: position, where: { $0 == "=" || $0 == "#" || PythonWhitespace.contains($0) }) ?? text.count
            guard end > position else { throw NoMatch() }
            let key = string(position..<end)
            advance(to: end)
            return key
        }
    }

    /// `parse_value`, with the range the value occupies in the text.
    private mutating func readValue() throws(NoMatch) -> (String, Range<Int>) {
        let start = position
        switch peek() {
        case "'":
            let (content, end) = try quotedValue(quote: "'")
            advance(to: end)
            return (EscapeDecoding.singleQuoted(text[content]), start..<end)
        case "\"":
            let (content, end) = try quotedValue(quote: "\"")
            advance(to: end)
            return (EscapeDecoding.doubleQuoted(text[content]), start..<end)
        case nil, "\n", "\r":
            return ("", start..<start)
        default:
            // `([^\r\n]*)`, then `re.sub(r"\s+#.*", "", part).rstrip()`.
            let lineEnd = firstIndex(from: start, where: isLineBreak) ?? text.count
            var end = inlineCommentStart(in: start..<lineEnd) ?? lineEnd
            while end > start, PythonWhitespace.contains(text[end - 1]) {
                end -= 1
            }
            advance(to: lineEnd)
            return (string(start..<end), start..<end)
        }
    }

    /// `'((?:\\'|[^'])*)'` (or with `"`): the content's range and the index after the closing quote.
    ///
    /// The greedy loop pairs every backslash-quote, so the first lone quote closes the value. When
    /// no lone quote is left in the whole file, backtracking undoes the last pair instead: its
    /// backslash ends the content and its quote closes the value.
    private func quotedValue(quote: Unicode.Scalar) throws(NoMatch) -> (Range<Int>, Int) {
        let contentStart = position + 1
        var index = contentStart
        var lastPairedQuote: Int?
        while index < text.count {
            if text[index] == "\\", index + 1 < text.count, text[index + 1] == quote {
                lastPairedQuote = index + 1
                index += 2
            } else if text[index] == quote {
                return (contentStart..<index, index + 1)
            } else {
                index += 1
            }
        }
        guard let close = lastPairedQuote else { throw NoMatch() }
        return (contentStart..<close, close + 1)
    }

    /// Where `\s+#` first matches in an unquoted value: the inline comment, with the whitespace before it.
    private func inlineCommentStart(in range: Range<Int>) -> Int? {
        var index = range.lowerBound
        while index < range.upperBound {
            guard PythonWhitespace.contains(text[index]) else {
                index += 1
                continue
            }
            let runEnd = firstIndex(from: index, where: { !PythonWhitespace.contains($0) }) ?? text.count
            if runEnd < range.upperBound, text[runEnd] == "#" {
                return index
            }
            index = runEnd
        }
        return nil
    }

    // MARK: The other regular expressions, as the index where each match ends

    /// `\s*`, newlines included.
    private func multilineWhitespaceEnd() -> Int {
        firstIndex(from: position, where: { !PythonWhitespace.contains($0) }) ?? text.count
    }

    /// `[^\S\r\n]*`
    private func horizontalWhitespaceEnd(from start: Int) -> Int {
        firstIndex(from: start, where: { !PythonWhitespace.isHorizontal($0) }) ?? text.count
    }

    /// `(?:export[^\S\r\n]+)?`
    private func exportPrefixEnd() -> Int {
        let word: [Unicode.Scalar] = ["e", "x", "p", "o", "r", "t"]
        let afterWord = position + word.count
        guard afterWord < text.count, Array(text[position..<afterWord]) == word, PythonWhitespace.isHorizontal(text[afterWord]) else {
            return position
        }
        return horizontalWhitespaceEnd(from: afterWord)
    }

    /// `(?:[^\S\r\n]*#[^\r\n]*)?`: nothing at all unless a `#` follows the whitespace.
    private func commentEnd() -> Int {
        let hash = horizontalWhitespaceEnd(from: position)
        guard hash < text.count, text[hash] == "#" else { return position }
        return firstIndex(from: hash, where: isLineBreak) ?? text.count
    }

    /// `[^\S\r\n]*(?:\r\n|\n|\r|$)`
    private func endOfLineEnd() throws(NoMatch) -> Int {
        let end = horizontalWhitespaceEnd(from: position)
        if end == text.count { return end }
        if text[end] == "\r", end + 1 < text.count, text[end + 1] == "\n" { return end + 2 }
        if isLineBreak(text[end]) { return end + 1 }
        throw NoMatch()
    }

    /// `[^\r\n]*(?:\r|\n|\r\n)?`: `\r` is tried first, so only one character of a `\r\n` goes.
    private func restOfLineEnd() -> Int {
        guard let lineBreak = firstIndex(from: position, where: isLineBreak) else { return text.count }
        return lineBreak + 1
    }

    // MARK: Moving

    private func peek() -> Unicode.Scalar? {
        hasNext ? text[position] : nil
    }

    /// `Position.advance`: counts line breaks as `(\r\n|\n|\r)` does.
    private mutating func advance(to end: Int) {
        var index = position
        while index < end {
            if text[index] == "\r", index + 1 < end, text[index + 1] == "\n" {
                index += 1
            }
            if isLineBreak(text[index]) {
                line += 1
            }
            index += 1
        }
        position = end
    }

    private func firstIndex(from start: Int, where predicate: (Unicode.Scalar) -> Bool) -> Int? {
        var index = start
        while index < text.count {
            if predicate(text[index]) { return index }
            index += 1
        }
        return nil
    }

    private func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\n" || scalar == "\r"
    }

    private func string(_ range: Range<Int>) -> String {
        String(String.UnicodeScalarView(text[range]))
    }
}

/// What Python's `str.isspace()` and `re`'s `\s` accept (they agree): python-dotenv's whitespace.
enum PythonWhitespace {
    static func contains(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `[^\S\r\n]`: whitespace that does not end a line.
    static func isHorizontal(_ scalar: Unicode.Scalar) -> Bool {
        scalar != "\n" && scalar != "\r" && contains(scalar)
    }
}

/// python-dotenv's `decode_escapes`: a left-to-right `re.sub` over two-character escapes.
enum EscapeDecoding {
    /// `\\[\\']` inside single quotes.
    static func singleQuoted(_ content: ArraySlice<Unicode.Scalar>) -> String {
        decode(content) { escaped in escaped == "\\" || escaped == "'" ? escaped : nil }
    }

    /// `\\[\\'"abfnrtv]` inside double quotes, decoded as Python's `unicode-escape` codec does.
    static func doubleQuoted(_ content: ArraySlice<Unicode.Scalar>) -> String {
        decode(content) { escaped in
            switch escaped {
            case "\\", "'", "\"": escaped
            case "a": "\u{07}"
            case "b": "\u{08}"
            case "f": "\u{0C}"
            case "n": "\n"
            case "r": "\r"
            case "t": "\t"
            case "v": "\u{0B}"
            default: nil
            }
        }
    }

    private static func decode(_ content: ArraySlice<Unicode.Scalar>, meaning: (Unicode.Scalar) -> Unicode.Scalar?) -> String {
        var result = String.UnicodeScalarView()
        var index = content.startIndex
        while index < content.endIndex {
            if content[index] == "\\", index + 1 < content.endIndex, let decoded = meaning(content[index + 1]) {
                result.append(decoded)
                index += 2
            } else {
                result.append(content[index])
                index += 1
            }
        }
        return String(result)
    }
}

/// Python's `open()` in text mode turns `\r\n` and a lone `\r` into `\n` before python-dotenv sees
/// the text (`dotenv_values(path)`, `load_dotenv(path)`); this does the same and remembers where each
/// scalar came from, so an edit can go back to the original text.
struct UniversalNewlines {
    let normalized: [Unicode.Scalar]
    /// For each normalized index, and one past the end, the index in the original text.
    let originalIndex: [Int]

    init(_ original: [Unicode.Scalar]) {
        var normalized: [Unicode.Scalar] = []
        var originalIndex: [Int] = []
        normalized.reserveCapacity(original.count)
        originalIndex.reserveCapacity(original.count + 1)
        var index = 0
        while index < original.count {
            originalIndex.append(index)
            if original[index] == "\r" {
                normalized.append("\n")
                index += index + 1 < original.count && original[index + 1] == "\n" ? 2 : 1
            } else {
                normalized.append(original[index])
                index += 1
            }
        }
        originalIndex.append(original.count)
        self.normalized = normalized
        self.originalIndex = originalIndex
    }

    func original(_ range: Range<Int>) -> Range<Int> {
        originalIndex[range.lowerBound]..<originalIndex[range.upperBound]
    }
}
