// A pipe read to its end on another thread, keeping at most `limit` bytes: for a child's stderr
// while this thread reads its stdout (neither pipe may fill up and stall the child).
import Foundation

final class BoundedPipeRead: @unchecked Sendable {
    private var kept: [UInt8] = []
    private let finished = DispatchSemaphore(value: 0)

    init(_ descriptor: Int32, limit: Int) {
        DispatchQueue.global().async { [self] in
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                kept.append(contentsOf: buffer[0..<min(count, max(limit - kept.count, 0))])
            }
            finished.signal()
        }
    }

    /// Waits for EOF; what was kept.
    func finish() -> [UInt8] {
        finished.wait()
        return kept
    }
}
