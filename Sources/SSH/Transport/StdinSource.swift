// Where a remote command's stdin comes from: fixed bytes (env data, file contents) or a local stream.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum StdinChunk {
    case data([UInt8])
    /// Nothing yet; more may come.
    case pending
    case end
}

public protocol StdinSource: AnyObject {
    /// The next bytes to send; called whenever the channel can take more.
    func next() -> StdinChunk
}

/// Fixed bytes, then EOF.
public final class FixedStdin: StdinSource {
    private var bytes: [UInt8]?

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func next() -> StdinChunk {
        guard let pending = bytes else { return .end }
        bytes = nil
        return pending.isEmpty ? .end : .data(pending)
    }
}

/// A local file descriptor (stdin) read on a helper thread, so a pipe that never closes cannot
/// hold up a command that never reads it: the command ending ends the relay, as with ssh.
public final class StreamingStdin: StdinSource, @unchecked Sendable {
    private let lock = NSLock()
    private var queued: [[UInt8]] = []
    private var finished = false
    private var queuedBytes = 0
    private let room = DispatchSemaphore(value: 0)

    public init(descriptor: Int32) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                lock.lock()
                if count <= 0 {
                    finished = true
                    lock.unlock()
                    return
                }
                queued.append(Array(buffer[0..<count]))
                queuedBytes += count
                let full = queuedBytes > 4 << 20
                lock.unlock()
                // Bounded memory: wait for the channel to take some before reading more.
                if full { room.wait() }
            }
        }
        thread.start()
    }

    public func next() -> StdinChunk {
        lock.lock()
        defer { lock.unlock() }
        if !queued.isEmpty {
            let chunk = queued.removeFirst()
            let wasFull = queuedBytes > 4 << 20
            queuedBytes -= chunk.count
            if wasFull && queuedBytes <= 4 << 20 { room.signal() }
            return .data(chunk)
        }
        return finished ? .end : .pending
    }
}
