// A size as messages state a bound: "16 MiB", "64 KiB", "870 bytes".

public struct ByteCount: Sendable, Equatable, CustomStringConvertible {
    public var bytes: Int

    public init(_ bytes: Int) {
        self.bytes = bytes
    }

    public var description: String {
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] where bytes >= 1 << shift {
            let whole = bytes >> shift
            if whole << shift == bytes { return "\(whole) \(unit)" }
            let tenths = ((bytes - (whole << shift)) * 10) >> shift
            return "\(whole).\(tenths) \(unit)"
        }
        return bytes == 1 ? "1 byte" : "\(bytes) bytes"
    }
}
