// What a capture server lets its clients take from this machine, counted across connections: bytes
// stored in the Maildir this run and message data held in memory. `mail serve --via` lets anyone on
// the server connect, so neither may grow without bound. Lives on the server's one event loop.

final class CaptureLimits {
    let maildirQuotaBytes: Int
    let maxBufferedBytes: Int
    private(set) var storedBytes = 0
    private(set) var bufferedBytes = 0

    init(maildirQuotaBytes: Int, maxBufferedBytes: Int) {
        self.maildirQuotaBytes = maildirQuotaBytes
        self.maxBufferedBytes = maxBufferedBytes
    }

    /// Room in the Maildir for `bytes` more; taken when true.
    func reserveStorage(_ bytes: Int) -> Bool {
        guard bytes <= maildirQuotaBytes - storedBytes else { return false }
        storedBytes += bytes
        return true
    }

    /// A message that was not written gives its room back.
    func releaseStorage(_ bytes: Int) {
        storedBytes -= min(bytes, storedBytes)
    }

    /// Room in memory for `bytes` more of some connection's message; taken when true.
    func reserveBuffer(_ bytes: Int) -> Bool {
        guard bytes <= maxBufferedBytes - bufferedBytes else { return false }
        bufferedBytes += bytes
        return true
    }

    func releaseBuffer(_ bytes: Int) {
        bufferedBytes -= min(bytes, bufferedBytes)
    }
}
