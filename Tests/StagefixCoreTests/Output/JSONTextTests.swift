// JSONText and InternetDateTime against the Foundation classes they stand in for, on generated values.
import Foundation
@testable import StagefixCore
import Testing

struct JSONTextTests {
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func element<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    static let keyAlphabet = ["a", "b", "z", "_", "0", "1", "9", "00", "01", "10", "2", "ab", "_a", "A", "B", "Z", "aB", "Only", "1844674407370955161", "9999999999999999999", "18446744073709551617"]

    static func key(_ random: inout Random) -> String {
        (0..<random.below(6)).map { _ in random.element(keyAlphabet) }.joined()
    }

    static func string(_ random: inout Random) -> String {
        let pieces = ["a", "Z", " ", "/", "\\", "\"", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{0}", "\u{1}", "\u{1f}", "\u{7f}", "é", "e\u{301}", "💥", "\u{2028}", "</", "{}", "[]"]
        return (0..<random.below(8)).map { _ in random.element(pieces) }.joined()
    }

    static func value(_ random: inout Random, depth: Int) -> Any {
        switch random.below(depth > 2 ? 7 : 9) {
        case 0: return string(&random)
        case 1: return random.below(2) == 0
        case 2: return Int(bitPattern: UInt(random.next())) >> random.below(64)
        case 3: return random.element([0.0, -0.0, 1.5, 0.1, 1e-7, 1e21, 123456789.125, -2.5e-300, 3.0, 1e16, 0.3333333333333333])
        case 4: return Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF) * (random.below(2) == 0 ? 1 : -1)
        case 5: return NSNull()
        case 6: return Int32(truncatingIfNeeded: random.next())
        case 7: return (0..<random.below(4)).map { _ in value(&random, depth: depth + 1) }
        default:
            var object: [String: Any] = [:]
            for _ in 0..<random.below(6) { object[key(&random)] = value(&random, depth: depth + 1) }
            return object
        }
    }

    static func foundation(_ value: Any, _ options: JSONSerialization.WritingOptions) -> String? {
        guard JSONSerialization.isValidJSONObject(value), let data = try? JSONSerialization.data(withJSONObject: value, options: options) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    @Test func serializationMatchesJSONSerialization() {
        var random = Random(state: 42)
        var fastPath = 0
        for _ in 0..<3000 {
            var object: [String: Any] = [:]
            for _ in 0..<random.below(8) { object[Self.key(&random)] = Self.value(&random, depth: 0) }
            let top: Any = random.below(4) == 0 ? [object, Self.value(&random, depth: 1)] : object
            let expected = Self.foundation(top, [.sortedKeys, .withoutEscapingSlashes])
            if let text = JSONText.serialize(top, escapingSlashes: false) {
                fastPath += 1
                #expect(text == expected)
                #expect(JSONText.serialize(top, escapingSlashes: true) == Self.foundation(top, [.sortedKeys]))
            }
            #expect(JSONOutput.encode(top) == expected ?? "{}")
        }
        // Keys with runs of over 19 digits go to JSONSerialization; enough still take the fast path.
        #expect(fastPath > 800)
    }

    @Test func simpleKeysSortAsFoundationDoes() {
        var random = Random(state: 7)
        for _ in 0..<20000 {
            let a = Self.key(&random), b = Self.key(&random)
            guard JSONKeyOrder.isSimple(Array(a.utf8)), JSONKeyOrder.isSimple(Array(b.utf8)) else {
                #expect(a.utf8.count > 19 || b.utf8.count > 19)
                continue
            }
            let expected = a.compare(b, options: [.numeric, .caseInsensitive, .forcedOrdering], range: a.startIndex..<a.endIndex, locale: NSLocale.system)
            guard let order = JSONKeyOrder.compare(Array(a.utf8), Array(b.utf8)) else {
                // Only keys whose order would hinge on case are left to the collator.
                #expect(a != b && (a != a.lowercased() || b != b.lowercased()), "\(a) \(b)")
                #expect((JSONKeyOrder.compare(Array(a.lowercased().utf8), Array(b.lowercased().utf8)) ?? 2) < 2, "\(a) \(b)")
                continue
            }
            #expect(order == expected.rawValue, "\(a) \(b)")
        }
    }

    @Test func otherValuesAreLeftToJSONSerialization() {
        #expect(JSONText.serialize(["key": 1, "Key": 1], escapingSlashes: false) == nil)
        #expect(JSONText.serialize(["a-b": 1], escapingSlashes: false) == nil)
        #expect(JSONText.serialize(["a": NSNumber(value: 1)], escapingSlashes: false) == nil)
        #expect(JSONText.serialize(["a": Double.nan], escapingSlashes: false) == nil)
        #expect(JSONText.serialize(["a": Optional("x") as Any], escapingSlashes: false) == nil)
        #expect(JSONText.serialize("top", escapingSlashes: false) == nil)
        // What JSONOutput then writes is JSONSerialization's own.
        #expect(JSONOutput.encode(["Key": 1, "a": "/"]) == #"{"a":"/","Key":1}"#)
        // Mixed case on the fast path: a cookie as Selenium takes it.
        let cookie: [String: Any] = ["name": "sessionid", "value": "k", "httpOnly": true, "sameSite": "Lax", "secure": false, "path": "/", "domain": "x"]
        #expect(JSONText.serialize(cookie, escapingSlashes: false) == Self.foundation(cookie, [.sortedKeys, .withoutEscapingSlashes]))
        #expect(JSONText.serialize(cookie, escapingSlashes: false) != nil)
        #expect(JSONOutput.encode(["a": Double.nan]) == "{}")
        // The runner's messages: other keys in byte order.
        #expect(JSONText.serialize(["env": ["b": "1", "B": "2", "A_1": "/"]], escapingSlashes: true, otherKeys: .byteOrder) == #"{"env":{"A_1":"\/","B":"2","b":"1"}}"#)
    }

    @Test func timestampsMatchISO8601DateFormatter() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var random = Random(state: 9)
        var dates = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 0.9995), Date(timeIntervalSince1970: -0.0005),
                     Date(timeIntervalSince1970: 951_782_400), Date(timeIntervalSince1970: 253_402_300_799.999), Date(),
                     // Around the Gregorian calendar's start (ICU is Julian before it), and well before.
                     Date(timeIntervalSince1970: -12_219_292_800), Date(timeIntervalSince1970: -12_219_292_800.001),
                     Date(timeIntervalSince1970: -12_219_379_200), Date(timeIntervalSince1970: -30_000_000_000)]
        for _ in 0..<20000 {
            let seconds = Double(random.below(4_000_000_000)) - 500_000_000 + Double(random.below(1_000_000)) / 1_000_000
            dates.append(Date(timeIntervalSince1970: seconds))
            dates.append(Date(timeIntervalSinceReferenceDate: Double(bitPattern: random.next() & 0x41DF_FFFF_FFFF_FFFF)))
        }
        for date in dates {
            #expect(AuditRecord.timestamp(date) == formatter.string(from: date), "\(date.timeIntervalSinceReferenceDate)")
        }
    }
}
