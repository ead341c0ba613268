// Public API: MailMessage, MailHeader, MailParseError; plus the header-level helpers behind it
// (address lists, RFC 5322 dates, link extraction).

import Foundation

/// The input could not be parsed as a mail message.
public struct MailParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public init(message: String) {
        self.message = message
    }

    public var description: String { "MailParseError: \(message)" }
}

/// One header field: its name as written and its unfolded, RFC 2047-decoded value.
public struct MailHeader: Sendable, Equatable {
    public var name: String
    public var value: String {
        didSet { rawValue = nil }
    }
    /// The unfolded value before RFC 2047 decoding, kept for address parsing (a decoded display
    /// name may contain `,`, `<` or `"`). Cleared when `value` is changed.
    var rawValue: String?

    public init(name: String, value: String) {
        self.name = name
        self.value = value
        self.rawValue = nil
    }

    init(name: String, value: String, rawValue: String) {
        self.name = name
        self.value = value
        self.rawValue = rawValue
    }

    public static func == (lhs: MailHeader, rhs: MailHeader) -> Bool {
        lhs.name == rhs.name && lhs.value == rhs.value
    }
}

/// A parsed RFC 5322 / MIME message.
public struct MailMessage: Sendable, Equatable {
    /// Header fields in order, unfolded, RFC 2047 encoded-words decoded.
    public var headers: [MailHeader]
    /// The first text/plain part that is not an attachment, decoded to a String (line breaks as
    /// LF); for a non-multipart text/plain message its body.
    public var textBody: String?
    /// The first text/html part that is not an attachment, decoded likewise.
    public var htmlBody: String?
    /// http(s) URLs in the text body, then the `href`s of `<a>`/`<area>` in the html body
    /// (entities decoded), in order, deduplicated.
    public var links: [String]

    /// Parses a message. Throws `MailParseError` when the input has no header section (it must
    /// start with a header field; every line before the first empty line must be a header field
    /// or a continuation line). Never traps, whatever the bytes.
    public static func parse(_ bytes: [UInt8]) throws -> MailMessage {
        let (fields, body) = try parseHeaderSection(bytes[...], strict: true)
        let headers = fields.map { field in
            MailHeader(name: field.name, value: field.decodedText, rawValue: field.rawText)
        }
        var finder = BodyFinder()
        finder.visit(MIMEEntity(fields: fields, body: body))
        return MailMessage(
            headers: headers,
            textBody: finder.text,
            htmlBody: finder.html,
            links: extractLinks(text: finder.text, html: finder.html)
        )
    }

    /// The value of the first header called `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }

    /// The values of all headers called `name` (case-insensitive), in order.
    public func headerValues(_ name: String) -> [String] {
        headers.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    public var subject: String? { header("Subject") }

    /// addr-specs from To and Cc, then Delivered-To, X-RcptTo and X-Original-To, lowercased,
    /// deduplicated in order. Display names, groups and comments are dropped; only addresses
    /// with a non-empty local part and domain are returned.
    public var recipients: [String] {
        var seen = Set<String>()
        var result: [String] = []
        for name in ["To", "Cc", "Delivered-To", "X-RcptTo", "X-Original-To"] {
            for header in headers where asciiCaseInsensitiveEquals(header.name, name) {
                for address in addresses(in: header) {
                    let lowered = address.lowercased()
                    if seen.insert(lowered).inserted { result.append(lowered) }
                }
            }
        }
        return result
    }

    /// The addr-spec of the first mailbox in From (case preserved).
    public var from: String? {
        headers.first { asciiCaseInsensitiveEquals($0.name, "From") }.flatMap { addresses(in: $0).first }
    }

    /// The Date header as an RFC 5322 date-time (obsolete forms such as two-digit years and
    /// named zones accepted); nil when missing or malformed.
    public var date: Date? {
        header("Date").flatMap(parseRFC5322Date)
    }

    /// The Message-ID header's msg-id, including its angle brackets (`<id@host>`), comments
    /// and surrounding whitespace removed.
    public var messageID: String? {
        guard let value = header("Message-ID") else { return nil }
        let bytes = Array(value.utf8)
        if let open = bytes.firstIndex(of: Byte.lessThan),
            let close = bytes[open...].firstIndex(of: Byte.greaterThan)
        {
            return String(decoding: bytes[open...close], as: UTF8.self)
        }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    private func addresses(in header: MailHeader) -> [String] {
        if let raw = header.rawValue {
            let fromRaw = parseAddressList(Array(raw.utf8))
            if !fromRaw.isEmpty { return fromRaw }
        }
        // Some writers (e.g. Python's compat32 with a non-ASCII str) encode a whole address
        // as one encoded-word; only the decoded value shows the address then.
        return parseAddressList(Array(header.value.utf8))
    }
}

// MARK: - Address lists (RFC 5322 3.4)

private enum AddressToken {
    case word([UInt8])  // atom, quoted-string (quotes kept) or domain-literal
    case special(UInt8)  // "@" or "."
    case space
}

/// addr-specs in an address-list: `a@b, "Name, Jr." <c@d> (comment), Group: e@f, g@h;, <@route:i@j>`.
func parseAddressList(_ s: [UInt8]) -> [String] {
    var result: [String] = []
    var tokens: [AddressToken] = []
    var angle: [UInt8]?
    var i = 0
    let n = s.count

    func flush() {
        if let angle {
            if let spec = addrSpec(fromAngle: angle) { result.append(spec) }
        } else if let spec = addrSpec(fromBare: tokens) {
            result.append(spec)
        }
        tokens.removeAll()
        angle = nil
    }

    while i < n {
        let c = s[i]
        switch c {
        case Byte.space, Byte.tab, Byte.cr, Byte.lf:
            tokens.append(.space)
            i += 1
        case Byte.openParen:
            i = skipComment(s, from: i)
            tokens.append(.space)
        case Byte.quote:
            let start = i
            (_, i) = readQuotedString(s, from: i)
            tokens.append(.word(Array(s[start..<i])))
        case Byte.lessThan:
            var j = i + 1
            var inQuote = false
            while j < n {
                if s[j] == Byte.backslash {
                    j += 2
                    continue
                }
                if s[j] == Byte.quote { inQuote.toggle() }
                if s[j] == Byte.greaterThan && !inQuote { break }
                j += 1
            }
            let contentEnd = min(j, n)
            if angle == nil { angle = Array(s[(i + 1)..<max(i + 1, contentEnd)]) }
            i = min(n, contentEnd + 1)
        case Byte.openBracket:
            let start = i
            while i < n && s[i] != Byte.closeBracket { i += s[i] == Byte.backslash ? 2 : 1 }
            i = min(n, i + 1)
            tokens.append(.word(Array(s[start..<i])))
        case Byte.comma, Byte.semicolon:
            flush()
            i += 1
        case Byte.colon:
            // Group display name ends; its members follow.
            if angle == nil { tokens.removeAll() }
            i += 1
        case Byte.at, Byte.dot:
            tokens.append(.special(c))
            i += 1
        case Byte.greaterThan:
            i += 1
        default:
            let start = i
            while i < n {
                let b = s[i]
                if Byte.isWhitespace(b) || b == Byte.openParen || b == Byte.quote || b == Byte.lessThan || b == Byte.greaterThan
                    || b == Byte.openBracket || b == Byte.comma || b == Byte.semicolon || b == Byte.colon || b == Byte.at
                    || b == Byte.dot
                {
                    break
                }
                i += 1
            }
            tokens.append(.word(Array(s[start..<i])))
        }
    }
    flush()
    return result
}

/// The addr-spec inside `<...>`: route (`@a,@b:`) and comments/whitespace removed.
private func addrSpec(fromAngle content: [UInt8]) -> String? {
    var content = content[...]
    if content.trimmingASCIIWhitespace().first == Byte.at, let colon = content.lastIndex(of: Byte.colon) {
        content = content[(colon + 1)...]
    }
    let chars = Array(content)
    var spec: [UInt8] = []
    var i = 0
    while i < chars.count {
        let c = chars[i]
        if c == Byte.quote {
            let (_, end) = readQuotedString(chars, from: i)
            spec.append(contentsOf: chars[i..<end])
            i = end
        } else if c == Byte.openParen {
            i = skipComment(chars, from: i)
        } else if Byte.isWhitespace(c) {
            i += 1
        } else {
            spec.append(c)
            i += 1
        }
    }
    return validAddrSpec(spec)
}

/// A bare addr-spec: the whitespace-separated run containing "@" (whitespace next to "@" and
/// "." is obsolete CFWS and ignored).
private func addrSpec(fromBare tokens: [AddressToken]) -> String? {
    var runs: [[UInt8]] = [[]]
    var pendingSpace = false
    var lastWasSpecial = true
    for token in tokens {
        switch token {
        case .space:
            pendingSpace = true
        case .special(let c):
            runs[runs.count - 1].append(c)
            pendingSpace = false
            lastWasSpecial = true
        case .word(let w):
            if pendingSpace && !lastWasSpecial { runs.append([]) }
            runs[runs.count - 1].append(contentsOf: w)
            pendingSpace = false
            lastWasSpecial = false
        }
    }
    for run in runs where run.contains(Byte.at) {
        return validAddrSpec(run)
    }
    return nil
}

/// `local@domain` with both parts non-empty and a domain free of whitespace and specials
/// (a domain-literal's brackets aside).
private func validAddrSpec(_ spec: [UInt8]) -> String? {
    guard let at = spec.lastIndex(of: Byte.at), at > 0, at < spec.count - 1 else { return nil }
    let domainIsClean = spec[(at + 1)...].allSatisfy { b in
        b > Byte.space && b != 0x7F && b != Byte.lessThan && b != Byte.greaterThan && b != Byte.quote
            && b != Byte.openParen && b != Byte.closeParen && b != Byte.comma && b != Byte.semicolon && b != Byte.colon
            && b != Byte.backslash
    }
    guard domainIsClean else { return nil }
    return String(decoding: spec, as: UTF8.self)
}

// MARK: - RFC 5322 dates

private let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

private let zoneOffsets: [String: Int] = [
    "ut": 0, "utc": 0, "gmt": 0, "z": 0,
    "edt": -4 * 3600, "est": -5 * 3600, "cdt": -5 * 3600, "cst": -6 * 3600,
    "mdt": -6 * 3600, "mst": -7 * 3600, "pdt": -7 * 3600, "pst": -8 * 3600,
]

/// `[day-of-week ","] day month year hour ":" minute [":" second] zone`, with obsolete syntax:
/// comments, 2/3-digit years, named zones (military zones other than Z are read as +0000, as
/// RFC 5322 4.3 advises), missing zone read as +0000. nil when malformed.
func parseRFC5322Date(_ value: String) -> Date? {
    var bytes = Array(value.utf8)
    guard bytes.count < 256 else { return nil }
    // Drop comments.
    var cleaned: [UInt8] = []
    var i = 0
    while i < bytes.count {
        if bytes[i] == Byte.openParen {
            i = skipComment(bytes, from: i)
            cleaned.append(Byte.space)
        } else {
            cleaned.append(bytes[i])
            i += 1
        }
    }
    bytes = cleaned
    var tokens = bytes.split(whereSeparator: { Byte.isWhitespace($0) || $0 == Byte.comma }).map {
        asciiLowercased(String(decoding: $0, as: UTF8.self))
    }
    guard !tokens.isEmpty else { return nil }
    if let first = tokens.first, first.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic }),
        monthIndex(first) == nil
    {
        tokens.removeFirst()  // day-of-week (not validated)
    }
    guard tokens.count >= 4 else { return nil }

    guard let day = smallNumber(tokens[0], maxDigits: 2),
        let month = monthIndex(tokens[1]),
        var year = smallNumber(tokens[2], maxDigits: 4)
    else { return nil }
    switch tokens[2].count {
    case 2: year += year < 50 ? 2000 : 1900
    case 3: year += 1900
    case 4: break
    default: return nil
    }

    let timeParts = tokens[3].split(separator: ":", omittingEmptySubsequences: false)
    guard timeParts.count == 2 || timeParts.count == 3,
        let hour = smallNumber(String(timeParts[0]), maxDigits: 2),
        let minute = smallNumber(String(timeParts[1]), maxDigits: 2)
    else { return nil }
    var second = 0
    if timeParts.count == 3 {
        guard let s = smallNumber(String(timeParts[2]), maxDigits: 2) else { return nil }
        second = s
    }
    guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
        (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
    else { return nil }

    var offset = 0
    if tokens.count >= 5 {
        let zone = tokens[4]
        let zb = Array(zone.utf8)
        if zb.count == 5, zb[0] == UInt8(ascii: "+") || zb[0] == UInt8(ascii: "-"),
            let hh = smallNumber(String(decoding: zb[1...2], as: UTF8.self), maxDigits: 2),
            let mm = smallNumber(String(decoding: zb[3...4], as: UTF8.self), maxDigits: 2), mm < 60
        {
            offset = (hh * 3600 + mm * 60) * (zb[0] == UInt8(ascii: "-") ? -1 : 1)
        } else if let named = zoneOffsets[zone] {
            offset = named
        } else if zb.count == 1, zb[0] >= UInt8(ascii: "a"), zb[0] <= UInt8(ascii: "z"), zb[0] != UInt8(ascii: "j") {
            offset = 0  // military zone: "-0000" per RFC 5322 4.3
        } else {
            return nil
        }
    }

    let days = daysFromCivil(year: year, month: month, day: day)
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
    return Date(timeIntervalSince1970: TimeInterval(seconds))
}

private func monthIndex(_ token: String) -> Int? {
    guard token.utf8.count >= 3 else { return nil }
    let prefix = String(token.prefix(3))
    guard let index = monthNames.firstIndex(of: prefix) else { return nil }
    return index + 1
}

/// A non-negative decimal number of at most `maxDigits` ASCII digits.
private func smallNumber(_ token: String, maxDigits: Int) -> Int? {
    let utf8 = token.utf8
    guard !utf8.isEmpty, utf8.count <= maxDigits, utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return utf8.reduce(0) { $0 * 10 + Int($1 - 0x30) }
}

private func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
private func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

// MARK: - Links

/// http(s) URLs in the text, then href values in the html, deduplicated in order.
func extractLinks(text: String?, html: String?) -> [String] {
    var seen = Set<String>()
    var links: [String] = []
    func add(_ url: String) {
        if seen.insert(url).inserted { links.append(url) }
    }
    if let text { urlsInText(text).forEach(add) }
    if let html { hrefsInHTML(html).forEach(add) }
    return links
}

/// Bare http:// and https:// URLs in plain text. A URL ends at whitespace, `<`, `>`, `"`,
/// non-ASCII or a character never valid in URLs; trailing `.,;:!?'*` and unbalanced closing
/// brackets are punctuation, not part of the URL.
func urlsInText(_ text: String) -> [String] {
    let s = Array(text.utf8)
    let n = s.count
    var urls: [String] = []
    var i = 0
    while i < n {
        guard s[i] == UInt8(ascii: "h") || s[i] == UInt8(ascii: "H") else {
            i += 1
            continue
        }
        let schemeLength: Int
        if hasPrefixIgnoringCase(s, at: i, "https://") {
            schemeLength = 8
        } else if hasPrefixIgnoringCase(s, at: i, "http://") {
            schemeLength = 7
        } else {
            i += 1
            continue
        }
        if i > 0, isASCIIAlphanumeric(s[i - 1]) {
            i += schemeLength
            continue
        }
        var end = i + schemeLength
        while end < n, isURLByte(s[end]) { end += 1 }
        let trimmedEnd = trimTrailingPunctuation(s, start: i, end: end)
        if trimmedEnd > i + schemeLength {
            urls.append(String(decoding: s[i..<trimmedEnd], as: UTF8.self))
        }
        i = max(end, i + 1)
    }
    return urls
}

/// `prefix` must be lowercase ASCII.
private func hasPrefixIgnoringCase(_ s: [UInt8], at i: Int, _ prefix: String) -> Bool {
    let p = prefix.utf8
    guard i >= 0, i + p.count <= s.count else { return false }
    return zip(s[i...], p).allSatisfy { Byte.lower($0) == $1 }
}

private func isASCIIAlphanumeric(_ b: UInt8) -> Bool {
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
}

private func isURLByte(_ b: UInt8) -> Bool {
    guard b > 0x20 && b < 0x7F else { return false }
    switch b {
    case Byte.lessThan, Byte.greaterThan, Byte.quote, UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "}"),
        UInt8(ascii: "|"), Byte.backslash, UInt8(ascii: "^"):
        return false
    default:
        return true
    }
}

private func trimTrailingPunctuation(_ s: [UInt8], start: Int, end: Int) -> Int {
    var end = end
    var parens = 0  // "(" minus ")" in s[start..<end]
    var brackets = 0
    for b in s[start..<end] {
        switch b {
        case Byte.openParen: parens += 1
        case Byte.closeParen: parens -= 1
        case Byte.openBracket: brackets += 1
        case Byte.closeBracket: brackets -= 1
        default: break
        }
    }
    while end > start {
        switch s[end - 1] {
        case Byte.dot, Byte.comma, Byte.semicolon, Byte.colon, UInt8(ascii: "!"), Byte.question, Byte.apostrophe, Byte.asterisk:
            end -= 1
        case Byte.closeParen where parens < 0:
            parens += 1
            end -= 1
        case Byte.closeBracket where brackets < 0:
            brackets += 1
            end -= 1
        default:
            return end
        }
    }
    return end
}

/// `href` values of `<a>` and `<area>` elements that are http(s) URLs, entities decoded.
/// Comments, and the contents of `<script>` and `<style>`, are skipped.
func hrefsInHTML(_ html: String) -> [String] {
    let s = Array(html.utf8)
    let n = s.count
    var hrefs: [String] = []
    var i = 0
    while i < n {
        guard s[i] == Byte.lessThan else {
            i += 1
            continue
        }
        if hasPrefixIgnoringCase(s, at: i, "<!--") {
            i = indexAfter(s, "-->", from: i + 4)
            continue
        }
        // Tag name.
        var j = i + 1
        let isEndTag = j < n && s[j] == UInt8(ascii: "/")
        if isEndTag { j += 1 }
        let nameStart = j
        while j < n, isASCIIAlphanumeric(s[j]) { j += 1 }
        let name = asciiLowercased(String(decoding: s[nameStart..<j], as: UTF8.self))
        if name.isEmpty {
            i += 1
            continue
        }
        // Attributes up to ">".
        var attributes: [(String, String)] = []
        while j < n && s[j] != Byte.greaterThan {
            if Byte.isWhitespace(s[j]) || s[j] == UInt8(ascii: "/") {
                j += 1
                continue
            }
            let attrStart = j
            while j < n, !Byte.isWhitespace(s[j]), s[j] != Byte.equals, s[j] != Byte.greaterThan, s[j] != UInt8(ascii: "/") {
                j += 1
            }
            let attrName = asciiLowercased(String(decoding: s[attrStart..<j], as: UTF8.self))
            if attrStart == j {
                j += 1  // stray "="
                continue
            }
            var k = j
            while k < n, Byte.isWhitespace(s[k]) { k += 1 }
            guard k < n, s[k] == Byte.equals else {
                attributes.append((attrName, ""))
                continue
            }
            k += 1
            while k < n, Byte.isWhitespace(s[k]) { k += 1 }
            var value: [UInt8] = []
            if k < n, s[k] == Byte.quote || s[k] == Byte.apostrophe {
                let quote = s[k]
                k += 1
                let valueStart = k
                while k < n, s[k] != quote { k += 1 }
                value = Array(s[valueStart..<k])
                k = min(n, k + 1)
            } else {
                let valueStart = k
                while k < n, !Byte.isWhitespace(s[k]), s[k] != Byte.greaterThan { k += 1 }
                value = Array(s[valueStart..<k])
            }
            attributes.append((attrName, String(decoding: value, as: UTF8.self)))
            j = k
        }
        i = min(n, j + 1)
        if isEndTag { continue }
        if name == "a" || name == "area",
            let href = attributes.first(where: { $0.0 == "href" })?.1
        {
            let url = decodeHTMLEntities(href).trimmingCharacters(in: .whitespacesAndNewlines)
            let lowered = url.lowercased()
            if (lowered.hasPrefix("http://") && url.utf8.count > 7) || (lowered.hasPrefix("https://") && url.utf8.count > 8) {
                hrefs.append(url)
            }
        } else if name == "script" || name == "style" {
            i = indexOfIgnoringCase(s, "</" + name, from: i) ?? n
        }
    }
    return hrefs
}

private func indexAfter(_ s: [UInt8], _ needle: String, from start: Int) -> Int {
    guard let found = indexOfIgnoringCase(s, needle, from: start) else { return s.count }
    return found + needle.utf8.count
}

private func indexOfIgnoringCase(_ s: [UInt8], _ needle: String, from start: Int) -> Int? {
    let p = Array(needle.utf8).map(Byte.lower)
    guard !p.isEmpty, start >= 0 else { return nil }
    var i = start
    while i + p.count <= s.count {
        var match = true
        for k in 0..<p.count where Byte.lower(s[i + k]) != p[k] {
            match = false
            break
        }
        if match { return i }
        i += 1
    }
    return nil
}

private let namedEntities: [String: String] = [
    "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}",
    "ndash": "\u{2013}", "mdash": "\u{2014}", "hellip": "\u{2026}", "copy": "\u{00A9}",
    "laquo": "\u{00AB}", "raquo": "\u{00BB}", "eacute": "\u{00E9}", "egrave": "\u{00E8}", "agrave": "\u{00E0}",
]

/// Decodes `&name;`, `&#123;` and `&#x1F;` references; unknown or malformed ones stay as written.
func decodeHTMLEntities(_ text: String) -> String {
    guard text.contains("&") else { return text }
    let s = Array(text.unicodeScalars)
    var out = String.UnicodeScalarView()
    var i = 0
    while i < s.count {
        guard s[i] == "&" else {
            out.append(s[i])
            i += 1
            continue
        }
        // Find ";" within a short distance.
        var j = i + 1
        while j < s.count, j - i <= 32, s[j] != ";", s[j] != "&", !s[j].properties.isWhitespace { j += 1 }
        guard j < s.count, s[j] == ";", j > i + 1 else {
            out.append(s[i])
            i += 1
            continue
        }
        let body = String(String.UnicodeScalarView(s[(i + 1)..<j]))
        var replacement: String?
        if body.hasPrefix("#") {
            let digits = body.dropFirst()
            var value: UInt32?
            if digits.hasPrefix("x") || digits.hasPrefix("X") {
                let hex = digits.dropFirst()
                if !hex.isEmpty, hex.count <= 6 { value = UInt32(hex, radix: 16) }
            } else if !digits.isEmpty, digits.count <= 7 {
                value = UInt32(digits, radix: 10)
            }
            if let value {
                replacement = (value != 0 ? Unicode.Scalar(value) : nil).map { String($0) } ?? "\u{FFFD}"
            }
        } else {
            replacement = namedEntities[body]
        }
        if let replacement {
            out.append(contentsOf: replacement.unicodeScalars)
            i = j + 1
        } else {
            out.append(s[i])
            i += 1
        }
    }
    return String(out)
}
