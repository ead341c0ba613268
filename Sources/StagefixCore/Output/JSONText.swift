// JSON text byte for byte as JSONSerialization writes it with `.sortedKeys`, for the values stagefix
// builds itself, without what JSONSerialization's key sort loads: an ICU collator (about 5 MB of
// resident memory on a `session create`). Anything else is left to JSONSerialization (`nil`).
// StagefixCoreTests compares the two on generated values.
import Foundation

enum JSONText {
    struct Unsupported: Error {}

    enum OtherKeys {
        /// Keys beyond lowercase letters, digits and `_` make the value unsupported (JSONSerialization
        /// orders them with a collator).
        case unsupported
        /// Such keys are ordered by their UTF-8 bytes (for a peer that reads JSON into a dictionary).
        case byteOrder
    }

    /// The text JSONSerialization would write, or nil when the value holds anything beyond strings,
    /// booleans, integers, finite doubles, arrays, dictionaries with string keys and NSNull.
    static func serialize(_ value: Any, escapingSlashes: Bool, otherKeys: OtherKeys = .unsupported) -> String? {
        guard value is [Any] || value is [String: Any] else { return nil }
        var writer = Writer(escapingSlashes: escapingSlashes, otherKeys: otherKeys)
        do {
            try writer.write(value)
        } catch {
            return nil
        }
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private struct Writer {
        let escapingSlashes: Bool
        let otherKeys: OtherKeys
        var bytes: [UInt8] = []

        init(escapingSlashes: Bool, otherKeys: OtherKeys) {
            self.escapingSlashes = escapingSlashes
            self.otherKeys = otherKeys
        }

        mutating func write(_ value: Any) throws {
            // NSNumber casts to Bool and to Int alike, and an optional's payload casts like the payload:
            // JSONSerialization has its own rules for both.
            if type(of: value) is NSNumber.Type || value is OptionalValue { throw Unsupported() }
            switch value {
            case let string as String: writeString(string)
            case let bool as Bool: append(bool ? "true" : "false")
            case let number as Int: append(number.description)
            case let number as Int8: append(number.description)
            case let number as Int16: append(number.description)
            case let number as Int32: append(number.description)
            case let number as Int64: append(number.description)
            case let number as UInt: append(number.description)
            case let number as UInt8: append(number.description)
            case let number as UInt16: append(number.description)
            case let number as UInt32: append(number.description)
            case let number as UInt64: append(number.description)
            case let array as [Any]:
                bytes.append(UInt8(ascii: "["))
                for (index, element) in array.enumerated() {
                    if index > 0 { bytes.append(UInt8(ascii: ",")) }
                    try write(element)
                }
                bytes.append(UInt8(ascii: "]"))
            case let dictionary as [String: Any]:
                bytes.append(UInt8(ascii: "{"))
                for (index, key) in try sortedKeys(dictionary).enumerated() {
                    if index > 0 { bytes.append(UInt8(ascii: ",")) }
                    writeString(key)
                    bytes.append(UInt8(ascii: ":"))
                    try write(dictionary[key]!)
                }
                bytes.append(UInt8(ascii: "}"))
            case let number as Double: try writeFloat(number)
            case let number as Float: try writeFloat(number)
            case is NSNull: append("null")
            default: throw Unsupported()
            }
        }

        private func sortedKeys(_ dictionary: [String: Any]) throws -> [String] {
            let keys = dictionary.keys.map { Array($0.utf8) }
            if keys.allSatisfy(JSONKeyOrder.isSimple) {
                let sorted = keys.sorted { (JSONKeyOrder.compare($0, $1) ?? 0) < 0 }
                // Keys this model cannot order (they differ only in case) are left to the collator.
                if zip(sorted, sorted.dropFirst()).allSatisfy({ JSONKeyOrder.compare($0, $1) != nil }) {
                    return sorted.map { String(decoding: $0, as: UTF8.self) }
                }
            }
            switch otherKeys {
            case .unsupported: throw Unsupported()
            case .byteOrder: return keys.sorted { $0.lexicographicallyPrecedes($1) }.map { String(decoding: $0, as: UTF8.self) }
            }
        }

        private mutating func writeFloat<T: FloatingPoint & LosslessStringConvertible>(_ number: T) throws {
            guard number.isFinite else { throw Unsupported() }
            var text = number.description
            if text.hasSuffix(".0") { text.removeLast(2) }
            append(text)
        }

        private mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

        private mutating func writeString(_ string: String) {
            bytes.append(UInt8(ascii: "\""))
            for scalar in string.unicodeScalars {
                switch scalar.value {
                case 0x22: append("\\\"")
                case 0x5C: append("\\\\")
                case 0x2F: append(escapingSlashes ? "\\/" : "/")
                case 0x08: append("\\b")
                case 0x0C: append("\\f")
                case 0x0A: append("\\n")
                case 0x0D: append("\\r")
                case 0x09: append("\\t")
                case 0x00...0x0F: append("\\u000" + String(scalar.value, radix: 16))
                case 0x10...0x1F: append("\\u00" + String(scalar.value, radix: 16))
                default: bytes.append(contentsOf: String(scalar).utf8)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }
    }
}

private protocol OptionalValue {}
extension Optional: OptionalValue {}

/// The order JSONSerialization's `.sortedKeys` gives keys made of ASCII letters, digits and `_`:
/// CFStringCompare with `.numeric`, `.caseInsensitive` and `.forcedOrdering` in the root locale.
/// Runs of digits compare by value, equal values with fewer digits first when nothing else differs;
/// otherwise the first difference decides, letters without regard to case, with the root
/// collation's order `_` < digits < letters. Keys that differ only in case are not modelled (nil).
enum JSONKeyOrder {
    /// ASCII letters, digits and `_`, with no run of more than 19 digits (longer runs overflow
    /// CoreFoundation's UInt64, and the collator then sees digits this model does not).
    static func isSimple(_ key: [UInt8]) -> Bool {
        var digits = 0
        for byte in key {
            if isDigit(byte) {
                digits += 1
                if digits > 19 { return false }
            } else {
                digits = 0
                guard isLetter(byte) || byte == UInt8(ascii: "_") else { return false }
            }
        }
        return true
    }

    /// -1, 0 or 1, for two simple keys (runs of at most 19 digits cannot overflow); nil when the
    /// order would hinge on case alone (`a` and `A`), which the collator's forced ordering decides.
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        var i = 0
        var j = 0
        var forced = 0
        var caseDiffers = false
        while i < a.count && j < b.count {
            if isDigit(a[i]) && isDigit(b[j]) {
                let start1 = i
                let start2 = j
                var value1: UInt64 = 0
                var value2: UInt64 = 0
                while i < a.count && isDigit(a[i]) { value1 = value1 * 10 + UInt64(a[i] - UInt8(ascii: "0")); i += 1 }
                while j < b.count && isDigit(b[j]) { value2 = value2 * 10 + UInt64(b[j] - UInt8(ascii: "0")); j += 1 }
                if value1 != value2 { return value1 < value2 ? -1 : 1 }
                if forced == 0 && (i - start1) != (j - start2) { forced = (i - start1) < (j - start2) ? -1 : 1 }
                continue
            }
            if rank(a[i]) != rank(b[j]) { return rank(a[i]) < rank(b[j]) ? -1 : 1 }
            if a[i] != b[j] { caseDiffers = true }
            i += 1
            j += 1
        }
        if i < a.count { return 1 }
        if j < b.count { return -1 }
        return caseDiffers ? nil : forced
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func rank(_ byte: UInt8) -> Int {
        if byte == UInt8(ascii: "_") { return 0 }
        if isDigit(byte) { return 1 }
        return 2 + Int(byte | 0x20)  // letters without regard to case
    }
}

/// `ISO8601DateFormatter` with `[.withInternetDateTime, .withFractionalSeconds]` (UTC, milliseconds),
/// computed as its ICU calendar does; nil before the Gregorian calendar's start (1582-10-15, where
/// ICU switches to the Julian calendar) and after year 9999.
enum InternetDateTime {
    static func string(from date: Date) -> String? {
        // CoreFoundation's UDate, milliseconds since 1970 plus a half (it rounds); ICU takes the floor.
        let udate = (date.timeIntervalSinceReferenceDate + 978_307_200.0) * 1000.0 + 0.5
        guard udate.isFinite else { return nil }
        let days = (udate / 86_400_000.0).rounded(.down)
        let millisecondsInDay = Int(udate - days * 86_400_000.0)
        guard days >= -141_427, days < 4_000_000, (0..<86_400_000).contains(millisecondsInDay) else { return nil }
        let (year, month, day) = civil(fromDays: Int(days))
        guard (1...9999).contains(year) else { return nil }
        let hour = millisecondsInDay / 3_600_000
        let minute = millisecondsInDay / 60_000 % 60
        let second = millisecondsInDay / 1000 % 60
        let millisecond = millisecondsInDay % 1000
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(hour, 2) + ":" + pad(minute, 2) + ":" + pad(second, 2) + "." + pad(millisecond, 3) + "Z"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's days_from_civil inverse).
    private static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
