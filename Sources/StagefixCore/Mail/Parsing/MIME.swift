// Byte-level RFC 5322 / MIME machinery: header sections, folding, RFC 2047 encoded-words,
// Content-Type parameters (with RFC 2231), multipart splitting, transfer encodings, charsets.
//
// Everything here works on `[UInt8]` / `ArraySlice<UInt8>` with explicit bounds checks, because
// the parser must never trap on arbitrary input. Foundation is used only for charsets that are
// not decoded by hand (see `decodeCharset`).

import Foundation

// MARK: - Bytes

enum Byte {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22  // "
    static let apostrophe: UInt8 = 0x27  // '
    static let openParen: UInt8 = 0x28  // (
    static let closeParen: UInt8 = 0x29  // )
    static let asterisk: UInt8 = 0x2A  // *
    static let comma: UInt8 = 0x2C  // ,
    static let dash: UInt8 = 0x2D  // -
    static let dot: UInt8 = 0x2E  // .
    static let colon: UInt8 = 0x3A  // :
    static let semicolon: UInt8 = 0x3B  // ;
    static let lessThan: UInt8 = 0x3C  // <
    static let equals: UInt8 = 0x3D  // =
    static let greaterThan: UInt8 = 0x3E  // >
    static let question: UInt8 = 0x3F  // ?
    static let at: UInt8 = 0x40  // @
    static let openBracket: UInt8 = 0x5B  // [
    static let backslash: UInt8 = 0x5C  // \
    static let closeBracket: UInt8 = 0x5D  // ]
    static let underscore: UInt8 = 0x5F  // _
    static let percent: UInt8 = 0x25  // %

    @inline(__always) static func isWSP(_ b: UInt8) -> Bool { b == space || b == tab }
    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool { b == space || b == tab || b == cr || b == lf }
    /// RFC 5322 ftext: printable US-ASCII except ":".
    @inline(__always) static func isFieldNameByte(_ b: UInt8) -> Bool { b >= 33 && b <= 126 && b != colon }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b + 0x20 : b }
}

extension BidirectionalCollection where Element == UInt8 {
    /// Trims ASCII whitespace (SP, HTAB, CR, LF) from both ends.
    func trimmingASCIIWhitespace() -> SubSequence {
        var s = self[...]
        while let f = s.first, Byte.isWhitespace(f) { s = s.dropFirst() }
        while let l = s.last, Byte.isWhitespace(l) { s = s.dropLast() }
        return s
    }
}

/// Lowercases ASCII letters only (locale independent, never changes byte length).
func asciiLowercased(_ s: String) -> String {
    String(decoding: s.utf8.map(Byte.lower), as: UTF8.self)
}

/// Compares two strings case-insensitively for ASCII letters.
func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { Byte.lower($0) == Byte.lower($1) }
}

/// Header bytes to text: UTF-8 when valid (RFC 6532), otherwise windows-1252 (legacy 8-bit headers).
func decodeHeaderBytes<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    if let s = String(validating: bytes, as: UTF8.self) { return s }
    return decodeWindows1252(bytes)
}

// MARK: - Lines

/// One line of an entity: `content` excludes the line terminator (LF or CRLF).
struct Line {
    var start: Int
    var contentEnd: Int
    var next: Int
}

/// The line starting at `start` (which must be < end).
@inline(__always)
func line(in bytes: ArraySlice<UInt8>, from start: Int) -> Line {
    var i = start
    let end = bytes.endIndex
    while i < end && bytes[i] != Byte.lf { i += 1 }
    if i < end {
        var contentEnd = i
        if contentEnd > start && bytes[contentEnd - 1] == Byte.cr { contentEnd -= 1 }
        return Line(start: start, contentEnd: contentEnd, next: i + 1)
    }
    var contentEnd = end
    if contentEnd > start && bytes[contentEnd - 1] == Byte.cr { contentEnd -= 1 }
    return Line(start: start, contentEnd: contentEnd, next: end)
}

// MARK: - Header sections

/// A header field as found in the message: name and the unfolded (CRLF removed, WSP kept),
/// not yet decoded value bytes.
struct RawField {
    var name: String
    var value: [UInt8]

    /// The unfolded value, trimmed, as text (no RFC 2047 decoding).
    var rawText: String { decodeHeaderBytes(value.trimmingASCIIWhitespace()) }
    /// The unfolded value with RFC 2047 encoded-words decoded, trimmed.
    var decodedText: String { decodeEncodedWords(Array(value.trimmingASCIIWhitespace())) }
}

/// Finds the first field called `name` (case-insensitive).
func firstField(_ fields: [RawField], _ name: String) -> RawField? {
    fields.first { asciiCaseInsensitiveEquals($0.name, name) }
}

/// Splits an entity into its header fields and body.
///
/// - `strict` (the top-level message): the first line must be a header field (an mbox `From ` line
///   is skipped), and every line up to the first empty line must be a field or a continuation;
///   otherwise the input is not a message.
/// - lenient (MIME parts): an invalid line ends the header section and starts the body, like
///   Python's `email.feedparser`.
func parseHeaderSection(_ bytes: ArraySlice<UInt8>, strict: Bool) throws(MailParseError) -> (fields: [RawField], body: ArraySlice<UInt8>) {
    var fields: [RawField] = []
    var i = bytes.startIndex
    let end = bytes.endIndex
    var isFirstLine = true
    while i < end {
        let l = line(in: bytes, from: i)
        if l.contentEnd == l.start {
            // The empty line separating header section and body.
            if strict && fields.isEmpty {
                throw MailParseError("no header section: the input starts with an empty line")
            }
            return (fields, bytes[l.next..<end])
        }
        let first = bytes[l.start]
        if Byte.isWSP(first) {
            if fields.isEmpty {
                if strict { throw MailParseError("the input starts with a continuation line, not a header field") }
                return (fields, bytes[l.start..<end])
            }
            // Unfolding: drop the line break, keep the whitespace.
            fields[fields.count - 1].value.append(contentsOf: bytes[l.start..<l.contentEnd])
        } else if let field = parseFieldLine(bytes[l.start..<l.contentEnd]) {
            fields.append(field)
        } else if strict && isFirstLine && bytes[l.start..<l.contentEnd].starts(with: Array("From ".utf8)) {
            // mbox "From " envelope line: not a header field, skip it.
        } else {
            if strict {
                let lineNumber = bytes[bytes.startIndex..<l.start].reduce(1) { $0 + ($1 == Byte.lf ? 1 : 0) }
                throw MailParseError("line \(lineNumber) of the header section is neither a header field nor a continuation line")
            }
            return (fields, bytes[l.start..<end])
        }
        isFirstLine = false
        i = l.next
    }
    if strict && fields.isEmpty {
        throw MailParseError("no header fields found")
    }
    return (fields, bytes[end..<end])
}

/// `name ":" value`; tolerates whitespace between the name and the colon (obsolete syntax).
private func parseFieldLine(_ l: ArraySlice<UInt8>) -> RawField? {
    var i = l.startIndex
    while i < l.endIndex && Byte.isFieldNameByte(l[i]) { i += 1 }
    let nameEnd = i
    guard nameEnd > l.startIndex else { return nil }
    while i < l.endIndex && Byte.isWSP(l[i]) { i += 1 }
    guard i < l.endIndex && l[i] == Byte.colon else { return nil }
    let name = String(decoding: l[l.startIndex..<nameEnd], as: UTF8.self)
    return RawField(name: name, value: Array(l[(i + 1)...]))
}

// MARK: - RFC 2047 encoded-words

private struct HeaderPiece {
    /// nil for literal text.
    var charset: String?
    var bytes: [UInt8]
}

/// Decodes RFC 2047 encoded-words (`=?charset?B|Q?text?=`) in an unfolded header value.
/// Lenient like Python's `email.header.decode_header`: encoded-words are recognised anywhere
/// (also inside quoted strings or glued to other text); whitespace between two adjacent
/// encoded-words is dropped; adjacent words in the same charset are joined before charset
/// decoding, so a multi-byte character split across two words survives.
func decodeEncodedWords(_ value: [UInt8]) -> String {
    var pieces: [HeaderPiece] = []
    var literal: [UInt8] = []
    var i = 0
    let n = value.count
    while i < n {
        if value[i] == Byte.equals, i + 1 < n, value[i + 1] == Byte.question,
            let (word, next) = parseEncodedWord(value, at: i)
        {
            let previousIsEncoded = pieces.last?.charset != nil
            if !literal.isEmpty {
                // Whitespace-only text between two encoded-words is not displayed.
                if !(previousIsEncoded && literal.allSatisfy(Byte.isWhitespace)) {
                    pieces.append(HeaderPiece(charset: nil, bytes: literal))
                }
                literal.removeAll(keepingCapacity: true)
            }
            if let last = pieces.last?.charset, let charset = word.charset, asciiCaseInsensitiveEquals(charset, last) {
                pieces[pieces.count - 1].bytes.append(contentsOf: word.bytes)
            } else {
                pieces.append(word)
            }
            i = next
        } else {
            literal.append(value[i])
            i += 1
        }
    }
    if !literal.isEmpty { pieces.append(HeaderPiece(charset: nil, bytes: literal)) }

    var result = ""
    for piece in pieces {
        if let charset = piece.charset {
            result += decodeCharset(piece.bytes, charset: charset)
        } else {
            result += decodeHeaderBytes(piece.bytes)
        }
    }
    return result
}

/// Parses one encoded-word starting at `start` (`=?`). Returns nil when it is not one.
private func parseEncodedWord(_ v: [UInt8], at start: Int) -> (HeaderPiece, Int)? {
    let n = v.count
    let limit = min(n, start + 1024)  // RFC 2047 says 75; bound the scan to stay linear-ish.
    var i = start + 2
    let charsetStart = i
    while i < limit && v[i] != Byte.question {
        let b = v[i]
        if b <= Byte.space || b >= 0x7F || b == Byte.equals { return nil }
        i += 1
    }
    guard i < limit, i > charsetStart else { return nil }
    var charset = String(decoding: v[charsetStart..<i], as: UTF8.self)
    if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }  // RFC 2231 language
    i += 1
    guard i + 1 < limit, v[i + 1] == Byte.question else { return nil }
    let encoding = Byte.lower(v[i])
    guard encoding == 0x62 || encoding == 0x71 else { return nil }  // b / q
    i += 2
    let textStart = i
    while i + 1 < limit && !(v[i] == Byte.question && v[i + 1] == Byte.equals) {
        if v[i] == Byte.cr || v[i] == Byte.lf { return nil }
        i += 1
    }
    guard i + 1 < limit else { return nil }
    let text = v[textStart..<i]
    let bytes: [UInt8]
    if encoding == 0x62 {
        bytes = decodeBase64(text)
    } else {
        bytes = decodeQEncoding(text)
    }
    return (HeaderPiece(charset: charset, bytes: bytes), i + 2)
}

/// RFC 2047 "Q" encoding: like quoted-printable, with "_" meaning a space.
private func decodeQEncoding(_ text: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(text.count)
    var i = text.startIndex
    while i < text.endIndex {
        let b = text[i]
        if b == Byte.underscore {
            out.append(Byte.space)
            i += 1
        } else if b == Byte.equals, i + 2 < text.endIndex, let hi = Byte.hexValue(text[i + 1]), let lo = Byte.hexValue(text[i + 2]) {
            out.append(hi << 4 | lo)
            i += 3
        } else {
            out.append(b)
            i += 1
        }
    }
    return out
}

// MARK: - Transfer encodings

/// Quoted-printable (RFC 2045 6.7): `=XX` (either case), soft line breaks (`=` at end of line,
/// trailing whitespace after it tolerated), trailing whitespace on lines removed, an `=` not
/// followed by two hex digits kept literally. Line breaks come out as LF.
func decodeQuotedPrintable(_ input: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(input.count)
    var i = input.startIndex
    let end = input.endIndex
    while i < end {
        let l = line(in: input, from: i)
        var contentEnd = l.contentEnd
        while contentEnd > l.start && Byte.isWSP(input[contentEnd - 1]) { contentEnd -= 1 }
        var softBreak = false
        var j = l.start
        while j < contentEnd {
            let b = input[j]
            if b == Byte.equals {
                if j + 1 == contentEnd {
                    softBreak = true
                    j += 1
                } else if j + 2 < contentEnd, let hi = Byte.hexValue(input[j + 1]), let lo = Byte.hexValue(input[j + 2]) {
                    out.append(hi << 4 | lo)
                    j += 3
                } else {
                    out.append(b)
                    j += 1
                }
            } else {
                out.append(b)
                j += 1
            }
        }
        let hadLineBreak = l.next > l.start && input[l.next - 1] == Byte.lf
        if hadLineBreak && !softBreak { out.append(Byte.lf) }
        i = l.next
    }
    return out
}

private let base64Table: [UInt8] = {
    var t = [UInt8](repeating: 0xFF, count: 256)
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
    // URL-safe alphabet too; harmless for MIME.
    t[Int(UInt8(ascii: "-"))] = 62
    t[Int(UInt8(ascii: "_"))] = 63
    return t
}()

/// Lenient base64: characters outside the alphabet (whitespace, garbage) are skipped; `=` ends a
/// quantum (leftover bits dropped), so concatenated padded chunks decode too.
func decodeBase64<C: Collection>(_ input: C) -> [UInt8] where C.Element == UInt8 {
    var out: [UInt8] = []
    out.reserveCapacity(input.count / 4 * 3 + 3)
    var acc: UInt32 = 0
    var bits = 0
    for c in input {
        if c == Byte.equals {
            acc = 0
            bits = 0
            continue
        }
        let v = base64Table[Int(c)]
        if v == 0xFF { continue }
        acc = (acc << 6 | UInt32(v)) & 0xFFFFFF
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
        }
    }
    return out
}

/// Decodes a body according to its Content-Transfer-Encoding (7bit, 8bit, binary and unknown
/// encodings are passed through).
func decodeTransferEncoding(_ body: ArraySlice<UInt8>, encoding: String?) -> [UInt8] {
    switch encoding.map(asciiLowercased) {
    case "quoted-printable"?: return decodeQuotedPrintable(body)
    case "base64"?: return decodeBase64(body)
    default: return Array(body)
    }
}

// MARK: - Charsets

/// Decodes text in `charset`. utf-8, us-ascii, iso-8859-1 and windows-1252 are decoded by hand
/// (deterministic on every platform); other charsets go through Foundation; unknown charsets and
/// undecodable bytes fall back to lossy UTF-8.
func decodeCharset<C: Collection>(_ bytes: C, charset: String?) -> String where C.Element == UInt8 {
    let name = normalizedCharsetName(charset)
    switch name {
    case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi-x3.4-1968", "iso646-us", "us", "unicode-1-1-utf-8", "x-unknown", "unknown-8bit":
        return decodeUTF8Lossy(bytes)
    case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso-ir-100", "cp819", "ibm819", "iso-8859-1:1987", "8859-1":
        return decodeLatin1(bytes)
    case "windows-1252", "cp1252", "x-cp1252", "ms-ansi", "cp-1252":
        return decodeWindows1252(bytes)
    default:
        if let encoding = foundationEncoding(for: name),
            let s = String(data: Data(bytes), encoding: encoding)
        {
            return s
        }
        return decodeUTF8Lossy(bytes)
    }
}

private func normalizedCharsetName(_ charset: String?) -> String {
    guard let charset else { return "" }
    var s = asciiLowercased(charset).trimmingCharacters(in: .whitespaces)
    s = s.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
    return s.replacingOccurrences(of: "_", with: "-")
}

private func foundationEncoding(for name: String) -> String.Encoding? {
    // NSStringEncoding raw values for CoreFoundation encodings (0x8000_0000 | CFStringEncoding),
    // identical on Darwin and swift-corelibs-foundation.
    func cf(_ value: UInt) -> String.Encoding { String.Encoding(rawValue: 0x8000_0000 | value) }
    switch name {
    case "utf-16": return .utf16
    case "utf-16be": return .utf16BigEndian
    case "utf-16le": return .utf16LittleEndian
    case "utf-32": return .utf32
    case "utf-32be": return .utf32BigEndian
    case "utf-32le": return .utf32LittleEndian
    case "iso-8859-2", "latin2", "l2", "iso8859-2": return .isoLatin2
    case "iso-8859-3", "latin3", "iso8859-3": return cf(0x0203)
    case "iso-8859-4", "latin4", "iso8859-4": return cf(0x0204)
    case "iso-8859-5", "iso8859-5", "cyrillic": return cf(0x0205)
    case "iso-8859-6", "iso8859-6", "arabic": return cf(0x0206)
    case "iso-8859-7", "iso8859-7", "greek": return cf(0x0207)
    case "iso-8859-8", "iso8859-8", "hebrew": return cf(0x0208)
    case "iso-8859-9", "latin5", "iso8859-9": return cf(0x0209)
    case "iso-8859-10", "latin6", "iso8859-10": return cf(0x020A)
    case "iso-8859-13", "iso8859-13", "latin7": return cf(0x020D)
    case "iso-8859-14", "iso8859-14", "latin8": return cf(0x020E)
    case "iso-8859-15", "iso8859-15", "latin9", "latin-9": return cf(0x020F)
    case "iso-8859-16", "iso8859-16", "latin10": return cf(0x0210)
    case "windows-1250", "cp1250": return .windowsCP1250
    case "windows-1251", "cp1251": return .windowsCP1251
    case "windows-1253", "cp1253": return .windowsCP1253
    case "windows-1254", "cp1254": return .windowsCP1254
    case "windows-1255", "cp1255": return cf(0x0505)
    case "windows-1256", "cp1256": return cf(0x0506)
    case "windows-1257", "cp1257": return cf(0x0507)
    case "windows-1258", "cp1258": return cf(0x0508)
    case "koi8-r": return cf(0x0A02)
    case "koi8-u": return cf(0x0A08)
    case "macintosh", "mac", "macroman", "x-mac-roman": return .macOSRoman
    case "shift-jis", "sjis", "shiftjis", "x-sjis", "cp932", "windows-31j": return .shiftJIS
    case "euc-jp": return .japaneseEUC
    case "iso-2022-jp": return .iso2022JP
    case "gb2312", "euc-cn": return cf(0x0930)
    case "gbk", "cp936": return cf(0x0631)
    case "gb18030": return cf(0x0632)
    case "big5": return cf(0x0A03)
    case "euc-kr", "ks-c-5601-1987": return cf(0x0940)
    default: return nil
    }
}

func decodeUTF8Lossy<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var s = String(decoding: bytes, as: UTF8.self)
    if s.hasPrefix("\u{FEFF}") { s.removeFirst() }
    return s
}

func decodeLatin1<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var scalars = String.UnicodeScalarView()
    for b in bytes { scalars.append(Unicode.Scalar(b)) }
    return String(scalars)
}

/// windows-1252: latin-1 with printable characters in 0x80–0x9F (the five undefined positions
/// map to the C1 control of the same value, like the WHATWG encoding standard).
private let windows1252High: [UInt32] = [
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
]

func decodeWindows1252<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var scalars = String.UnicodeScalarView()
    for b in bytes {
        if b >= 0x80 && b <= 0x9F, let s = Unicode.Scalar(windows1252High[Int(b - 0x80)]) {
            scalars.append(s)
        } else {
            scalars.append(Unicode.Scalar(b))
        }
    }
    return String(scalars)
}

/// Text body bytes to String with line breaks normalised to LF.
func decodeTextBody(_ bytes: [UInt8], charset: String?) -> String {
    let text = decodeCharset(bytes, charset: charset)
    guard text.contains("\r") else { return text }
    return text.replacingOccurrences(of: "\r\n", with: "\n")
}

// MARK: - Structured header values (Content-Type, Content-Disposition)

struct ParameterizedValue {
    /// The value before the first ";" (comments removed, trimmed, lowercased).
    var value: String
    /// Parameter names lowercased; RFC 2231 continuations and charsets resolved.
    var parameters: [String: String]
}

/// Parses `value; name=token; name="quoted"; name*=utf-8''%E2%82%AC; name*0=a; name*1=b`.
func parseParameterizedValue(_ bytes: [UInt8]) -> ParameterizedValue {
    var i = 0
    let n = bytes.count
    var mainValue: [UInt8] = []
    while i < n && bytes[i] != Byte.semicolon {
        if bytes[i] == Byte.openParen {
            i = skipComment(bytes, from: i)
        } else {
            if !Byte.isWhitespace(bytes[i]) { mainValue.append(bytes[i]) }
            i += 1
        }
    }

    // Raw parameters in order, with RFC 2231 sections collected separately.
    var simple: [String: String] = [:]
    var sections: [String: [Int: (extended: Bool, value: [UInt8])]] = [:]

    while i < n {
        // At ";" (or garbage): skip it and whitespace/comments.
        i += 1
        i = skipCFWS(bytes, from: i)
        let nameStart = i
        while i < n, bytes[i] != Byte.equals, bytes[i] != Byte.semicolon, !Byte.isWhitespace(bytes[i]) { i += 1 }
        let rawName = asciiLowercased(String(decoding: bytes[nameStart..<i], as: UTF8.self))
        i = skipCFWS(bytes, from: i)
        guard i < n, bytes[i] == Byte.equals, !rawName.isEmpty else {
            // Not a parameter; skip to the next ";".
            while i < n && bytes[i] != Byte.semicolon { i += 1 }
            continue
        }
        i += 1
        i = skipCFWS(bytes, from: i)
        var value: [UInt8] = []
        if i < n && bytes[i] == Byte.quote {
            (value, i) = readQuotedString(bytes, from: i)
        } else {
            while i < n, bytes[i] != Byte.semicolon, !Byte.isWhitespace(bytes[i]) {
                value.append(bytes[i])
                i += 1
            }
        }
        while i < n && bytes[i] != Byte.semicolon { i += 1 }

        if let star = rawName.firstIndex(of: "*") {
            let base = String(rawName[..<star])
            var rest = rawName[rawName.index(after: star)...]
            var extended = false
            if rest.hasSuffix("*") {
                extended = true
                rest = rest.dropLast()
            }
            var index = 0
            if rest.isEmpty {
                extended = true  // name*=charset'lang'value
            } else if rest.utf8.count <= 4, let number = Int(rest), number >= 0 {
                index = number
            } else {
                continue
            }
            if base.isEmpty { continue }
            if sections[base]?[index] == nil {
                sections[base, default: [:]][index] = (extended, value)
            }
        } else if simple[rawName] == nil {
            simple[rawName] = decodeHeaderBytes(value)
        }
    }

    var parameters = simple
    for (name, parts) in sections {
        var charset: String?
        var collected: [UInt8] = []
        var index = 0
        while let part = parts[index] {
            var value = part.value[...]
            if part.extended {
                if index == 0 {
                    // charset'language'percent-encoded
                    if let q1 = value.firstIndex(of: Byte.apostrophe),
                        let q2 = value[(q1 + 1)...].firstIndex(of: Byte.apostrophe)
                    {
                        charset = String(decoding: value[..<q1], as: UTF8.self)
                        value = value[(q2 + 1)...]
                    }
                }
                collected.append(contentsOf: percentDecode(value))
            } else {
                collected.append(contentsOf: value)
            }
            index += 1
        }
        if index > 0 {
            parameters[name] = decodeCharset(collected, charset: charset)
        }
    }
    return ParameterizedValue(value: asciiLowercased(String(decoding: mainValue, as: UTF8.self)), parameters: parameters)
}

private func percentDecode(_ v: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    var i = v.startIndex
    while i < v.endIndex {
        if v[i] == Byte.percent, i + 2 < v.endIndex, let hi = Byte.hexValue(v[i + 1]), let lo = Byte.hexValue(v[i + 2]) {
            out.append(hi << 4 | lo)
            i += 3
        } else {
            out.append(v[i])
            i += 1
        }
    }
    return out
}

/// Skips a (possibly nested) comment starting at `(`; returns the index after it.
func skipComment(_ b: [UInt8], from start: Int) -> Int {
    var depth = 0
    var i = start
    while i < b.count {
        switch b[i] {
        case Byte.backslash: i += 1
        case Byte.openParen: depth += 1
        case Byte.closeParen:
            depth -= 1
            if depth == 0 { return i + 1 }
        default: break
        }
        i += 1
    }
    return b.count
}

private func skipCFWS(_ b: [UInt8], from start: Int) -> Int {
    var i = start
    while i < b.count {
        if Byte.isWhitespace(b[i]) {
            i += 1
        } else if b[i] == Byte.openParen {
            i = skipComment(b, from: i)
        } else {
            break
        }
    }
    return i
}

/// Reads a quoted-string starting at `"`; returns its unescaped content and the index after it.
func readQuotedString(_ b: [UInt8], from start: Int) -> ([UInt8], Int) {
    var out: [UInt8] = []
    var i = start + 1
    while i < b.count {
        let c = b[i]
        if c == Byte.backslash, i + 1 < b.count {
            out.append(b[i + 1])
            i += 2
        } else if c == Byte.quote {
            return (out, i + 1)
        } else {
            out.append(c)
            i += 1
        }
    }
    return (out, b.count)
}

// MARK: - MIME entities

/// A MIME entity (the message itself or a body part).
struct MIMEEntity {
    var fields: [RawField]
    var body: ArraySlice<UInt8>

    /// `type/subtype` lowercased plus parameters; text/plain when missing or malformed
    /// (RFC 2045 5.2), message/rfc822 by default inside multipart/digest.
    func contentType(defaultType: String = "text/plain") -> ParameterizedValue {
        guard let field = firstField(fields, "Content-Type") else {
            return ParameterizedValue(value: defaultType, parameters: [:])
        }
        var parsed = parseParameterizedValue(field.value)
        let pieces = parsed.value.split(separator: "/", omittingEmptySubsequences: false)
        if pieces.count != 2 || pieces[0].isEmpty || pieces[1].isEmpty {
            parsed.value = "text/plain"
        }
        return parsed
    }

    var isAttachment: Bool {
        guard let field = firstField(fields, "Content-Disposition") else { return false }
        return parseParameterizedValue(field.value).value == "attachment"
    }

    var transferEncoding: String? {
        guard let field = firstField(fields, "Content-Transfer-Encoding") else { return nil }
        return parseParameterizedValue(field.value).value
    }
}

/// Bodies (first text/plain and first text/html leaf that is not an attachment) in depth-first
/// order.
struct BodyFinder {
    static let maximumDepth = 32
    var text: String?
    var html: String?

    mutating func visit(_ entity: MIMEEntity, defaultType: String = "text/plain", depth: Int = 0) {
        if text != nil && html != nil { return }
        let contentType = entity.contentType(defaultType: defaultType)
        if contentType.value.hasPrefix("multipart/") {
            guard depth < Self.maximumDepth,
                let boundary = contentType.parameters["boundary"], !boundary.isEmpty
            else { return }
            let childDefault = contentType.value == "multipart/digest" ? "message/rfc822" : "text/plain"
            for part in splitMultipart(entity.body, boundary: Array(boundary.utf8)) {
                // Lenient part headers: cannot throw.
                guard let (fields, body) = try? parseHeaderSection(part, strict: false) else { continue }
                visit(MIMEEntity(fields: fields, body: body), defaultType: childDefault, depth: depth + 1)
                if text != nil && html != nil { return }
            }
            return
        }
        guard contentType.value == "text/plain" || contentType.value == "text/html", !entity.isAttachment else { return }
        let isPlain = contentType.value == "text/plain"
        if isPlain ? text != nil : html != nil { return }
        let decoded = decodeTransferEncoding(entity.body, encoding: entity.transferEncoding)
        let string = decodeTextBody(decoded, charset: contentType.parameters["charset"])
        if isPlain { text = string } else { html = string }
    }
}

/// Splits a multipart body into its parts. The preamble (before the first delimiter) and the
/// epilogue (after the close delimiter) are dropped; the line break before each delimiter belongs
/// to the delimiter. A delimiter line is `--boundary` optionally followed by `--`, then only
/// whitespace. A missing close delimiter (truncated message) ends the last part at the end.
func splitMultipart(_ body: ArraySlice<UInt8>, boundary: [UInt8]) -> [ArraySlice<UInt8>] {
    let delimiter: [UInt8] = [Byte.dash, Byte.dash] + boundary
    var parts: [ArraySlice<UInt8>] = []
    var partStart: Int?  // nil while in the preamble
    var i = body.startIndex
    let end = body.endIndex
    while i < end {
        let l = line(in: body, from: i)
        if let isClose = delimiterKind(body[l.start..<l.contentEnd], delimiter: delimiter) {
            if let start = partStart {
                // The line break preceding the delimiter belongs to it.
                var partEnd = l.start
                if partEnd > start && body[partEnd - 1] == Byte.lf { partEnd -= 1 }
                if partEnd > start && body[partEnd - 1] == Byte.cr { partEnd -= 1 }
                parts.append(body[start..<max(start, partEnd)])
            }
            if isClose { return parts }
            partStart = l.next
        }
        i = l.next
    }
    if let start = partStart, start <= end {
        parts.append(body[start..<end])
    }
    return parts
}

/// nil: not a delimiter line; false: `--boundary`; true: close delimiter `--boundary--`.
private func delimiterKind(_ l: ArraySlice<UInt8>, delimiter: [UInt8]) -> Bool? {
    guard l.count >= delimiter.count, l.starts(with: delimiter) else { return nil }
    var rest = l.dropFirst(delimiter.count)
    var isClose = false
    if rest.starts(with: [Byte.dash, Byte.dash]) {
        isClose = true
        rest = rest.dropFirst(2)
    }
    guard rest.allSatisfy(Byte.isWSP) else { return nil }
    return isClose
}
