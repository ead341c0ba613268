// Text helpers for the hot paths that Foundation's NSString methods would otherwise serve: the same
// results (SSHTests compares them with Foundation's), without loading NSString's machinery.
#if canImport(Glibc)
import Glibc
#endif

extension Unicode.Scalar {
    /// A member of `CharacterSet.whitespaces`: tab, the space separators (general category Zs) and,
    /// as Foundation has it, U+200B ZERO WIDTH SPACE.
    package var isWhitespace: Bool {
        value == 0x09 || value == 0x200B || properties.generalCategory == .spaceSeparator
    }

    /// A member of `CharacterSet.whitespacesAndNewlines`: U+0009–U+000D, U+0085, U+200B and category Z*.
    package var isWhitespaceOrNewline: Bool {
        switch value {
        case 0x09...0x0D, 0x20, 0x85, 0x200B: return true
        case 0...0x7F: return false
        default:
            switch properties.generalCategory {
            case .spaceSeparator, .lineSeparator, .paragraphSeparator: return true
            default: return false
            }
        }
    }
}

extension StringProtocol {
    /// `trimmingCharacters(in: .whitespaces)`.
    package func trimmingWhitespace() -> String { trimmingScalars(where: \.isWhitespace) }

    /// `trimmingCharacters(in: .whitespacesAndNewlines)`.
    package func trimmingWhitespaceAndNewlines() -> String { trimmingScalars(where: \.isWhitespaceOrNewline) }

    private func trimmingScalars(where isTrimmed: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isTrimmed($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isTrimmed($0) })!
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: scalars[first...last])
        return String(kept)
    }

    /// Every non-overlapping occurrence of a non-empty `target`, left to right, compared byte by byte.
    /// Like `replacingOccurrences(of:with:)` except that Foundation skips an occurrence that a
    /// combining mark follows (`'` in `'\u{301}`); this does not (shell quoting must not).
    package func replacingEvery(_ target: String, with replacement: String) -> String {
        let text = Array(utf8)
        let needle = Array(target.utf8)
        guard !needle.isEmpty, text.count >= needle.count else { return String(self) }
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var index = 0
        var changed = false
        while index < text.count {
            if text[index] == needle[0], index + needle.count <= text.count, text[index..<(index + needle.count)].elementsEqual(needle) {
                result.append(contentsOf: replacement.utf8)
                index += needle.count
                changed = true
            } else {
                result.append(text[index])
                index += 1
            }
        }
        return changed ? String(decoding: result, as: UTF8.self) : String(self)
    }

    /// Whether the UTF-8 of `other` occurs in this text's (Foundation's `contains` also skips an
    /// occurrence that a combining mark follows).
    package func containsBytes(_ other: String) -> Bool {
        let needle = Array(other.utf8)
        guard !needle.isEmpty else { return true }
        let text = Array(utf8)
        guard text.count >= needle.count else { return false }
        for start in 0...(text.count - needle.count) where text[start] == needle[0] {
            if text[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

/// NSString path helpers, on UTF-8 bytes: a `/` is a separator even where a combining mark follows it.
package enum PathText {
    /// `(path as NSString).deletingLastPathComponent`, except that `//` gives `/` (NSString: "").
    package static func deletingLastComponent(_ path: String) -> String {
        let fixed = fixingSlashes(path)
        if fixed == [slash] { return "/" }
        guard let last = fixed.lastIndex(of: slash) else { return "" }
        if last == 0 { return "/" }
        return String(decoding: fixed[..<last], as: UTF8.self)
    }

    /// `(path as NSString).lastPathComponent`.
    package static func lastComponent(_ path: String) -> String {
        let fixed = fixingSlashes(path)
        if fixed == [slash] { return "/" }
        guard let last = fixed.lastIndex(of: slash) else { return String(decoding: fixed, as: UTF8.self) }
        return String(decoding: fixed[(last + 1)...], as: UTF8.self)
    }

    private static let slash = UInt8(ascii: "/")

    /// Runs of `/` collapsed to one, and a trailing `/` dropped (but `/` itself kept).
    private static func fixingSlashes(_ path: String) -> [UInt8] {
        var result: [UInt8] = []
        for byte in path.utf8 where !(byte == slash && result.last == slash) {
            result.append(byte)
        }
        if result.count > 1, result.last == slash { result.removeLast() }
        return result
    }
}

/// The local account, as Foundation's NSUserName() reports it.
package enum LocalAccount {
    /// The effective user's login name from the password database, else `$USER`, else "".
    package static func userName() -> String {
        let uid = geteuid() != 0 ? geteuid() : getuid()
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &entry, &buffer, buffer.count, &found) == 0, found != nil, let name = entry.pw_name {
            return String(validatingCString: name) ?? ""
        }
        if let user = getenv("USER") { return String(validatingCString: user) ?? "" }
        return ""
    }
}
