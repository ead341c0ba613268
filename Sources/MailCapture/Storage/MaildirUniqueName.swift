// Maildir file names (`SECONDS.M<micros>P<pid>Q<counter>.HOST`): unique per delivery, as the Maildir convention asks.
import Foundation

enum MaildirUniqueName {
    /// Deliveries made by this process; the Q part keeps two deliveries in the same microsecond apart.
    private static let counter = DeliveryCounter()

    static func next(host: String) -> String {
        var now = timeval()
        gettimeofday(&now, nil)
        return "\(now.tv_sec).M\(now.tv_usec)P\(getpid())Q\(counter.next()).\(safeHost(host))"
    }

    /// The Maildir convention: "/" and ":" cannot appear in the host part (":" starts the info suffix in cur/).
    static func safeHost(_ host: String) -> String {
        host.replacingOccurrences(of: "/", with: "\\057").replacingOccurrences(of: ":", with: "\\072")
    }
}

/// A process-wide counter, shared by every server and thread-pool thread, hence the lock.
private final class DeliveryCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
