// A point on the monotonic clock that bounds connecting, authenticating and each remote command.
import Foundation

public struct Deadline: Sendable {
    private let endNanoseconds: UInt64
    /// The bound it was made from, for messages ("timed out after 2 s").
    public let seconds: Double

    public init(secondsFromNow seconds: Double) {
        self.seconds = seconds
        let clamped = max(0, min(seconds, 10 * 365 * 86400))
        endNanoseconds = Deadline.now() &+ UInt64(clamped * 1_000_000_000)
    }

    public static let distantFuture = Deadline(secondsFromNow: 10 * 365 * 86400)

    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    public var hasPassed: Bool { Deadline.now() >= endNanoseconds }

    /// Milliseconds left, for poll(2); 0 once passed, capped so it fits an Int32.
    var remainingMilliseconds: Int32 {
        let now = Deadline.now()
        guard endNanoseconds > now else { return 0 }
        return Int32(min((endNanoseconds - now) / 1_000_000 + 1, UInt64(Int32.max)))
    }

    /// The earlier of two deadlines.
    func earliest(_ other: Deadline) -> Deadline {
        endNanoseconds <= other.endNanoseconds ? self : other
    }
}

/// Elapsed time since a start, for `-v` traces.
public struct Stopwatch: Sendable {
    private let start = Deadline.now()
    public init() {}
    public var milliseconds: Double { Double(Deadline.now() - start) / 1_000_000 }
}
